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
issue_len  [8]          out, combinational: its beats - 1 (valid with ``issue``)
issue_last [1]          out, combinational: it is the last burst of its command
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

Command checks (in this order, at acceptance): ``cmd_addr`` or ``cmd_bytes``
not a multiple of ``data_bytes`` -> ERR_MISALIGNED (6); ``cmd_addr +
cmd_bytes > 2**A`` -> ERR_ADDR_RANGE (7) (ending exactly at the top of the
address space is allowed).  A rejected or 0-byte command issues no burst; it
finishes (``fin``) once ``drained`` is high, at the earliest in the cycle after
acceptance, so completions stay in command order.

Burst length = min(beats left, ``max_burst``, beats to the next 4 KB boundary).
A new burst is loaded when ``room`` is high and the address register is free
(``!ax_valid || ax_ready``): back-to-back bursts need no idle cycle.  After
the last burst of a command is loaded the block is idle again
(``cmd_ready``), so the next command overlaps the data of this one::

    cycle       0     1     2     3     4
    cmd_valid  ‾‾‾‾‾\\_______________________   accepted at the end of cycle 0
    cmd_ready  ‾‾‾‾‾\\___________/‾‾‾‾‾‾‾‾‾‾‾   idle again once b1 is loaded
    issue      _____/‾‾‾‾‾‾‾‾‾‾‾\\___________   (comb.) load b0, load b1
    ax_valid   ___________/‾‾‾‾‾‾‾‾‾‾‾\\_____   (ax_ready high)
    ax_addr    -----------< b0  >< b1  >-----   2 bursts (e.g. a 4 KB crossing)

A 0-byte or rejected command accepted at the end of cycle 0 raises ``fin``
in cycle 1 at the earliest (``fin``/``fin_code`` combinational, idle at the
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

    t_state = enum("IDLE", "ISSUE", "FLUSH")
    state = Signal(t_state.IDLE)
    addr_r = Signal(modbv(0)[A:])                                # next burst address
    beats_left = Signal(intbv(0, min=0, max=1 << (BYTES_BITS - lb)))
    to_bnd = Signal(intbv(0, min=0, max=page_beats + 1))        # beats to the 4 KB boundary
    lim = Signal(intbv(0, min=0, max=lim_max + 1))
    blen = Signal(intbv(0, min=0, max=lim_max + 1))              # beats of the next burst
    binc = Signal(intbv(0)[A:])                                  # its bytes
    cmd_end = Signal(intbv(0)[A + 1:])
    mis = Signal(bool(0))
    rng = Signal(bool(0))
    zero = Signal(bool(0))
    load = Signal(bool(0))
    code_r = Signal(intbv(0)[ERR_BITS:])

    @always_comb
    def split_bound():
        to_bnd.next = page_beats - addr_r[12:lb]

    @always_comb
    def split_lim():
        if to_bnd < lim_max:
            lim.next = to_bnd
        else:
            lim.next = lim_max

    @always_comb
    def split_len():
        if beats_left < lim:
            blen.next = beats_left
        else:
            blen.next = lim

    @always_comb
    def split_bytes():
        binc.next = blen * data_bytes

    @always_comb
    def check_a():
        cmd_end.next = cmd_addr + cmd_bytes
        mis.next = cmd_addr[lb:] != 0 or cmd_bytes[lb:] != 0
        zero.next = cmd_bytes == 0

    @always_comb
    def check_b():
        rng.next = cmd_end[A] and cmd_end[A:] != 0

    @always_comb
    def loading():
        load.next = state == t_state.ISSUE and (not ax_valid or ax_ready) and room
        fin.next = state == t_state.FLUSH and drained

    @always_comb
    def len_out():
        if blen != 0:
            issue_len.next = blen - 1
        else:
            issue_len.next = 0

    @always_comb
    def outs():
        issue.next = load
        issue_last.next = beats_left == blen
        cmd_ready.next = state == t_state.IDLE
        active.next = state != t_state.IDLE
        fin_code.next = code_r

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if ax_valid and ax_ready:
            ax_valid.next = 0
        if state == t_state.IDLE:
            if cmd_valid:
                if mis:
                    code_r.next = ERR_MISALIGNED
                    state.next = t_state.FLUSH
                elif rng:
                    code_r.next = ERR_ADDR_RANGE
                    state.next = t_state.FLUSH
                elif zero:
                    code_r.next = ERR_NONE
                    state.next = t_state.FLUSH
                else:
                    code_r.next = ERR_NONE
                    addr_r.next = cmd_addr
                    beats_left.next = cmd_bytes[BYTES_BITS:lb]
                    state.next = t_state.ISSUE
        elif state == t_state.ISSUE:
            if load:
                ax_valid.next = 1
                ax_addr.next = addr_r
                ax_len.next = blen - 1
                addr_r.next = addr_r + binc
                beats_left.next = beats_left - blen
                if beats_left == blen:
                    state.next = t_state.IDLE
        else:  # FLUSH: finish a 0-byte or rejected command after the earlier ones
            if drained:
                state.next = t_state.IDLE

    gens = [split_bound, split_lim, split_len, split_bytes, check_a, check_b, loading, outs, seq]
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
