"""AXI4 burst splitter: one (address, byte count) command -> INCR address beats.

The address-channel half shared by ``mem_reader`` (AR) and ``mem_writer`` (AW):
it checks a command, splits it into INCR bursts of at most ``max_burst`` beats
that never cross a 4 KB boundary, and drives the address channel registers
(``ax_valid/ax_addr/ax_len``; size = full width, burst = INCR are constants
of the wrapper).  The wrapper owns the data side and tells this block, through
``room``, whether one more burst may be issued (outstanding-burst limit) and,
through ``drained``, that every earlier command has finished.

Ports
-----
clk, rst                clock; synchronous active-high reset
cmd_valid / cmd_ready   in / out: command handshake; ``cmd_ready`` = idle
cmd_addr   [A]          byte address (A = ``len(cmd_addr)``, the AXI address width)
cmd_bytes  [32]         byte count, a multiple of ``data_bytes`` (0 allowed)
ax_valid / ax_ready     out / in: address channel handshake (registered valid)
ax_addr    [A]          burst address (out, registered)
ax_len     [8]          beats - 1 (out, registered)
issue      [1]          out, combinational: a burst is loaded into ax_* at this edge
issue_len  [8]          out (a register): its beats - 1 (valid with ``issue``)
issue_last [1]          out (a register): it is the last burst of its command
room       [1]          in: the wrapper can take one more burst this cycle
drained    [1]          in: nothing outstanding (used to finish 0-byte / rejected commands in order)
fin        [1]          out, combinational: a 0-byte or rejected command finishes at this edge
fin_code   [4]          out: with ``fin``: 0 (0-byte command) or the error code
active     [1]          out: a command is being split or is waiting to finish

Parameters
----------
data_bytes      AXI data width in bytes (4..64, a power of two)
max_burst       longest burst in beats (1..256)
with_len        drive ``issue_len`` (False: left undriven, for a wrapper that does not need it)

Command checks (in this order, in the cycle after acceptance): ``cmd_addr``
or ``cmd_bytes`` not a multiple of ``data_bytes`` -> ERR_MISALIGNED (6);
``cmd_addr + cmd_bytes > 2**A`` -> ERR_ADDR_RANGE (7) (ending exactly at the top of the
address space is allowed).  A rejected or 0-byte command issues no burst; it
finishes (``fin``) once ``drained`` is high, at the earliest two cycles after
acceptance, so completions stay in command order.

Burst length = min(beats left, ``max_burst``, beats to the next 4 KB boundary).
Pipelined for the clock (every step below is one register stage: at most one
carry chain and a LUT or two between flip-flops):

* acceptance registers the command: its address, its beats, their count
  less one, the end address ``cmd_addr + cmd_bytes`` (one carry chain) and
  the alignment flags;
* ``CHK`` (one cycle) decides from those registers: rejected or 0-byte ->
  ``FLUSH``, else ``ISSUE``;
* the length of the next burst comes from two registers computed every
  cycle: ``lim`` = min(beats to the 4 KB boundary, ``max_burst``) from the
  burst address, then ``blen`` = min(beats left, ``lim``) with its ``last``
  flag.  Each takes one cycle to follow a change of the address or the
  beats left, so a burst is loaded 2 cycles after the previous load (or after
  acceptance) at the earliest, when ``room`` is high and the address
  register is free (``!ax_valid || ax_ready``): one burst per 3 cycles,
  plenty for bursts of 3 beats and more (a 4 KB page is 64 beats at 512 bits).

After the last burst of a command is loaded the block is idle again
(``cmd_ready``), so the next command overlaps the data of this one::

    cycle      0     1     2     3     4     5     6     7
    cmd_valid  ‾‾‾‾‾‾\\_________________________________________   accepted at the end of cycle 0
    cmd_ready  ‾‾‾‾‾‾\\_____________________________/‾‾‾‾‾‾‾‾‾‾‾   idle again once b1 is loaded
    state      IDLE  CHK   ISSUE ISSUE ISSUE ISSUE IDLE  IDLE
    issue      ____________/‾‾‾‾‾\\___________/‾‾‾‾‾\\___________   (comb.) load b0, load b1
    ax_valid   __________________/‾‾‾‾‾\\___________/‾‾‾‾‾\\_____   (ax_ready high)
    ax_addr    ------------------< b0  >-----------< b1  >-----   2 bursts (e.g. a 4 KB crossing)

A 0-byte or rejected command accepted at the end of cycle 0 raises ``fin``
in cycle 2 at the earliest (``fin``/``fin_code`` combinational, idle at the
end of that cycle).
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv, modbv

from ese.regmap import ERR

from .interfaces import BYTES_BITS, ERR_BITS

ERR_NONE = 0
ERR_MISALIGNED = ERR["MISALIGNED"]
ERR_ADDR_RANGE = ERR["ADDR_RANGE"]
ERR_AXI = ERR["AXI_ERROR"]
PAGE = 4096              #: AXI bursts must not cross this boundary


def log2_exact(n: int, what: str) -> int:
    k = n.bit_length() - 1
    assert n >= 1 and (1 << k) == n, f"{what} must be a power of two, got {n}"
    return k


@block
def axi_burst(clk, rst, cmd_valid, cmd_ready, cmd_addr, cmd_bytes,
              ax_valid, ax_ready, ax_addr, ax_len,
              issue, issue_len, issue_last, room, drained,
              fin, fin_code, active, data_bytes, max_burst, with_len=True):
    A = len(cmd_addr)
    lb = log2_exact(data_bytes, "axi_burst: data_bytes")
    assert 4 <= data_bytes <= 64, f"axi_burst: data_bytes must be in 4..64, got {data_bytes}"
    assert 1 <= max_burst <= 256, f"axi_burst: max_burst must be in 1..256 beats, got {max_burst}"
    assert A >= 13, f"axi_burst: address width {A} must be >= 13 (4 KB pages)"
    assert len(cmd_bytes) == BYTES_BITS, f"axi_burst: cmd_bytes must be {BYTES_BITS} bits"
    assert len(ax_addr) == A and len(ax_len) == 8 and len(issue_len) == 8, \
        "axi_burst: ax_addr must be A bits, ax_len and issue_len 8 bits"
    assert len(fin_code) == ERR_BITS, f"axi_burst: fin_code must be {ERR_BITS} bits"
    page_beats = PAGE // data_bytes
    lim_max = min(page_beats, max_burst)
    K = page_beats - lim_max          # the boundary limits a burst from this page offset on
    OB = 12 - lb                      # bits of the beat offset inside a page
    NB = BYTES_BITS - lb              # bits of a beat count

    t_state = enum("IDLE", "CHK", "ISSUE", "FLUSH")
    state = Signal(t_state.IDLE)
    # the command, registered at acceptance
    addr_r = Signal(modbv(0)[A:])                 # next burst address
    beats_left = Signal(intbv(0)[NB:])
    bl_m1 = Signal(modbv(0)[NB:])                 # beats_left - 1
    end_r = Signal(intbv(0)[A + 1:])              # cmd_addr + cmd_bytes
    mis_r = Signal(bool(0))
    # burst length pipeline: lim follows the address, blen/len/last follow lim and beats_left
    off = Signal(intbv(0)[OB:])                   # beat offset in the page of the next burst
    lim_r = Signal(intbv(0, min=0, max=lim_max + 1))      # min(beats to 4 KB, max_burst)
    lim_m1 = Signal(intbv(0, min=0, max=lim_max))         # ... - 1
    blen_r = Signal(intbv(0, min=0, max=lim_max + 1))     # beats of the next burst
    len_r = Signal(intbv(0)[8:])                          # ... - 1
    last_r = Signal(bool(0))                              # it ends the command
    settle = Signal(intbv(0, min=0, max=3))       # cycles until blen_r is valid again
    load = Signal(bool(0))
    code_r = Signal(intbv(0)[ERR_BITS:])

    @always_comb
    def page_offset():
        # at acceptance the command's own address, else the next burst's
        if state == t_state.IDLE:
            off.next = cmd_addr[12:lb]
        else:
            off.next = addr_r[12:lb]

    @always_seq(clk.posedge, reset=rst)
    def split_lim():
        # beats to the boundary = page_beats - off; less one: ~off (OB bits)
        if off >= K:
            lim_r.next = page_beats - off
            lim_m1.next = ~off & (page_beats - 1)
        else:
            lim_r.next = lim_max
            lim_m1.next = lim_max - 1

    @always_seq(clk.posedge, reset=rst)
    def split_lim_page():
        # max_burst >= a page: only the boundary limits a burst
        lim_r.next = page_beats - off
        lim_m1.next = ~off & (page_beats - 1)

    @always_seq(clk.posedge, reset=rst)
    def split_len():
        if beats_left[NB:9] == 0 and beats_left[9:] <= lim_r:
            last_r.next = True
            blen_r.next = beats_left[9:]
            len_r.next = bl_m1[8:]
        else:
            last_r.next = False
            blen_r.next = lim_r
            len_r.next = lim_m1

    @always_comb
    def loading():
        load.next = state == t_state.ISSUE and settle == 0 and (not ax_valid or ax_ready) \
            and room
        fin.next = state == t_state.FLUSH and drained

    @always_comb
    def len_out():
        issue_len.next = len_r

    @always_comb
    def outs():
        issue.next = load
        issue_last.next = last_r
        cmd_ready.next = state == t_state.IDLE
        active.next = state != t_state.IDLE
        fin_code.next = code_r

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if ax_valid and ax_ready:
            ax_valid.next = 0
        if settle != 0:
            settle.next = settle - 1
        if state == t_state.IDLE:
            if cmd_valid:
                addr_r.next = cmd_addr
                beats_left.next = cmd_bytes[BYTES_BITS:lb]
                bl_m1.next = cmd_bytes[BYTES_BITS:lb] - 1
                end_r.next = cmd_addr + cmd_bytes
                mis_r.next = cmd_addr[lb:] != 0 or cmd_bytes[lb:] != 0
                settle.next = 1                   # lim_r is loaded now, blen_r next cycle
                state.next = t_state.CHK
        elif state == t_state.CHK:
            if mis_r:
                code_r.next = ERR_MISALIGNED
                state.next = t_state.FLUSH
            elif end_r[A] and end_r[A:] != 0:
                code_r.next = ERR_ADDR_RANGE
                state.next = t_state.FLUSH
            elif beats_left == 0:
                code_r.next = ERR_NONE
                state.next = t_state.FLUSH
            else:
                code_r.next = ERR_NONE
                state.next = t_state.ISSUE
        elif state == t_state.ISSUE:
            if load:
                ax_valid.next = 1
                ax_addr.next = addr_r
                ax_len.next = len_r
                addr_r.next = addr_r + (blen_r << lb)
                beats_left.next = beats_left - blen_r
                bl_m1.next = bl_m1 - blen_r
                settle.next = 2                   # lim_r, then blen_r follow the new address
                if last_r:
                    state.next = t_state.IDLE
        else:  # FLUSH: finish a 0-byte or rejected command after the earlier ones
            if drained:
                state.next = t_state.IDLE

    gens = [page_offset, split_lim if K > 0 else split_lim_page, split_len, loading, outs, seq]
    if with_len:
        gens.append(len_out)
    return gens


def top(cfg, max_burst: int = 256):
    """Elaborate on fresh signals named like the ports (AXI widths from ``cfg``)."""
    from .interfaces import reset_signal
    A = cfg.axi_addr_bits
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731
    return axi_burst(clk=b(), rst=reset_signal(),
                     cmd_valid=b(), cmd_ready=b(), cmd_addr=u(A), cmd_bytes=u(BYTES_BITS),
                     ax_valid=b(), ax_ready=b(), ax_addr=u(A), ax_len=u(8),
                     issue=b(), issue_len=u(8), issue_last=b(), room=b(), drained=b(),
                     fin=b(), fin_code=u(ERR_BITS), active=b(),
                     data_bytes=cfg.axi_data_bits // 8, max_burst=max_burst)
