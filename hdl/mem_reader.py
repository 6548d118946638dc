r"""AXI4 read master: (byte address, byte count) commands -> a stream of words.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst                    clock; synchronous active-high reset
cmd                         ``MemCmd``: (byte address, byte count) commands; ``cmd.ready`` =
                            not splitting a command; address and count multiples of D/8
                            (D = cfg.axi_data_bits)
o                           ``WordStream`` with ``last``: the words read, little-endian (byte
                            0 of a word is the byte at the lowest address); ``o.last`` with
                            the last word of a command
done        [1]             one-cycle pulse when a command has finished: the cycle after
                            its last word left on ``o``; for a 0-byte or rejected command
                            one cycle after acceptance at the earliest (after every earlier
                            command's done: completions are in command order)
err         [1]             one-cycle pulse: a command was rejected (with its ``done``) or
                            an R beat came back with RRESP != OKAY
err_code    [4]             reason of the latest ``err`` (held until the next one; 0 after
                            reset): 6 MISALIGNED, 7 ADDR_RANGE, 8 AXI_ERROR
busy        [1]             a command is in progress (accepted, not yet ``done``)
m_axi                       ``AxiRead``: AR (arid = 0, arsize = log2(D/8), arburst = INCR)
                            and R (rid ignored)

Parameters
----------
cfg                 ese.config.Config (axi_data_bits, axi_addr_bits)
max_burst           longest burst in beats, 1..256 (default 256)
max_outstanding     read bursts in flight (AR issued, last R beat not received), 1..32 (default 4)
buf_depth           output buffer words, >= 2 (default 2)

Behaviour
---------
* A command is split into INCR bursts of full-width beats (``hdl/axi_burst.py``):
  at most ``max_burst`` beats, never across a 4 KB boundary.  Up to
  ``max_outstanding`` bursts are in flight; one ID (0), so data return in order.
* A command is accepted while the previous one's data are still arriving:
  ``cmd_ready`` rises as soon as its last burst's address is loaded, so
  back-to-back commands stream without a gap.
* Rejected commands (err_code 6: address or count not a multiple of D/8;
  7: ``cmd_addr + cmd_bytes > 2**A``) and 0-byte commands issue no AXI
  traffic, deliver no word and finish with ``done`` (and ``err``).
* RRESP != OKAY (SLVERR/DECERR): the beat is still delivered (its data are what
  the slave returned), so the stream keeps its exact length and nobody waits
  forever; ``err`` pulses with err_code 8 when the beat is received.
* R goes through a ``buf_depth``-word FIFO (``hdl/fifo.py``): ``rready`` does
  not depend on ``o_ready`` combinationally.

Timing and throughput: one word per cycle across bursts and commands when
neither side stalls (``max_outstanding`` >= 2 hides the read latency between
bursts; measured 1.00 word/cycle with cocotbext-axi's AxiRam).  Command
accepted at the end of cycle 0: checked in cycle 1 (``axi_burst``), ``arvalid``
from cycle 3; an R beat accepted at the end of cycle n is on ``o`` in cycle
n+1; ``done`` the cycle after the last word's handshake.  With AxiRam (first R
beat 2 cycles after AR) the first word is on ``o`` in cycle 6.

::

    cycle     0    1    2    3    4    5    6    7    8    9
    cmd_valid ‾‾‾‾\__________________________________________
    arvalid   _______________/‾‾‾‾\_________________________   (2-beat burst, arready high)
    rvalid    _________________________/‾‾‾‾‾‾‾‾‾\___________
    o_valid   ______________________________/‾‾‾‾‾‾‾‾‾\______   (o_ready high)
    o_last    ___________________________________/‾‾‾‾\______
    done      ________________________________________/‾‾‾‾\_
"""

from myhdl import Signal, always_comb, always_seq, block, concat, intbv, modbv

from ese.config import Config
from .axi_burst import ERR_AXI, axi_burst, log2_exact
from .fifo import fifo
from .interfaces import ERR_BITS, AxiRead, MemCmd, WordStream, clock_reset, uint


@block
def mem_reader(clk, rst, cmd, o, done, err, err_code, busy, m_axi, cfg: Config,
               max_burst=256, max_outstanding=4, buf_depth=2):
    D = cfg.axi_data_bits
    nb = D // 8
    lb = log2_exact(nb, "mem_reader: axi_data_bits/8")
    assert 1 <= max_outstanding <= 32, \
        f"mem_reader: max_outstanding must be in 1..32, got {max_outstanding}"
    assert buf_depth >= 2, f"mem_reader: buf_depth must be >= 2, got {buf_depth}"
    MemCmd.check(cmd, cfg, "mem_reader cmd")
    WordStream.check(o, cfg, "mem_reader o", last=True)
    AxiRead.check(m_axi, cfg, "mem_reader m_axi")
    assert len(err_code) == ERR_BITS, f"mem_reader: err_code must be {ERR_BITS} bits"

    # -- address side ---------------------------------------------------------
    issue, issue_last, room, drained, fin, active = (Signal(bool(0)) for _ in range(6))
    issue_len = Signal(intbv(0)[8:])
    fin_code = Signal(intbv(0)[ERR_BITS:])
    split = axi_burst(clk, rst, cmd.valid, cmd.ready, cmd.addr, cmd.bytes,
                      m_axi.arvalid, m_axi.arready, m_axi.araddr, m_axi.arlen,
                      issue, issue_len, issue_last, room, drained, fin, fin_code, active,
                      data_bytes=nb, max_burst=max_burst, with_len=False)

    # -- bursts in flight: "last burst of its command" flags, in AR order -------
    qb = max(1, (max_outstanding - 1).bit_length())          # queue of 2**qb >= max_outstanding
    lastq = [Signal(bool(0)) for _ in range(1 << qb)]
    q_wp = Signal(modbv(0)[qb:])
    q_rp = Signal(modbv(0)[qb:])
    n_out = Signal(intbv(0, min=0, max=max_outstanding + 1))
    head_last = Signal(bool(0))
    r_hs = Signal(bool(0))
    r_end = Signal(bool(0))
    cmd_last = Signal(bool(0))

    # -- data side: R -> FIFO -> o ------------------------------------------------
    f_in = Signal(intbv(0)[D + 1:])
    f_out = Signal(intbv(0)[D + 1:])
    f_count = Signal(intbv(0, min=0, max=buf_depth + 1))
    buf = fifo(clk, rst, f_in, m_axi.rvalid, m_axi.rready, f_out, o.valid, o.ready, f_count,
               width=D + 1, depth=buf_depth)

    @always_comb
    def q_head():
        head_last.next = lastq[q_rp]

    @always_comb
    def r_side():
        r_hs.next = m_axi.rvalid and m_axi.rready
        r_end.next = m_axi.rvalid and m_axi.rready and m_axi.rlast
        cmd_last.next = m_axi.rlast and head_last

    @always_comb
    def f_pack():
        f_in.next = concat(cmd_last, m_axi.rdata)

    @always_comb
    def f_unpack():
        o.data.next = f_out[D:]
        o.last.next = f_out[D]

    @always_comb
    def status():
        room.next = n_out < max_outstanding
        drained.next = n_out == 0 and f_count == 0
        busy.next = active or n_out != 0 or f_count != 0
        m_axi.arid.next = 0
        m_axi.arsize.next = lb
        m_axi.arburst.next = 1      # INCR

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if issue:
            lastq[q_wp].next = issue_last
            q_wp.next = q_wp + 1
        if r_end:
            q_rp.next = q_rp + 1
        if issue and not r_end:
            n_out.next = n_out + 1
        elif r_end and not issue:
            n_out.next = n_out - 1
        done.next = (o.valid and o.ready and o.last) or fin
        err.next = 0
        if r_hs and m_axi.rresp != 0:
            err.next = 1
            err_code.next = ERR_AXI
        elif fin and fin_code != 0:
            err.next = 1
            err_code.next = fin_code

    return split, buf, q_head, r_side, f_pack, f_unpack, status, seq


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of :func:`mem_reader`."""
    return dict(**clock_reset(), cmd=MemCmd(cfg), o=WordStream(cfg, last=True),
                done=Signal(bool(0)), err=Signal(bool(0)), err_code=uint(ERR_BITS).signal(),
                busy=Signal(bool(0)), m_axi=AxiRead(cfg))


def top(cfg: Config, **params):
    """Elaborate on fresh signals named like the ports (params: max_burst, max_outstanding, buf_depth)."""
    return mem_reader(**ports(cfg), cfg=cfg, **params)
