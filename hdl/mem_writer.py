r"""AXI4 write master: (byte address, byte count) commands + a word stream -> bursts.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst                    clock; synchronous active-high reset
cmd                         ``MemCmd``: (byte address, byte count) commands; ``cmd.ready`` =
                            not splitting a command; address and count multiples of D/8
                            (D = cfg.axi_data_bits), 0 bytes = nothing to write
i                           ``WordStream``: the words to write (exactly bytes/(D/8) per
                            accepted command, in command order; none for 0-byte or
                            rejected commands), little-endian like ``mem_reader``
done        [1]             one-cycle pulse the cycle after the B response of a command's
                            last burst; for a 0-byte or rejected command one cycle after
                            acceptance at the earliest (completions are in command order)
err         [1]             one-cycle pulse: a command was rejected (with its ``done``) or a
                            B response came back with BRESP != OKAY
err_code    [4]             reason of the latest ``err`` (held; 0 after reset):
                            6 MISALIGNED, 7 ADDR_RANGE, 8 AXI_ERROR
busy        [1]             a command is in progress (accepted, not yet ``done``)
m_axi                       ``AxiWrite``: AW (awid = 0, awsize = log2(D/8), awburst = INCR),
                            W (wstrb all ones), B (bid ignored)

Parameters
----------
cfg                 ese.config.Config (axi_data_bits, axi_addr_bits)
max_burst           longest burst in beats, 1..256 (default 256)
max_outstanding     write bursts in flight (AW issued, B not received), 1..32 (default 4)
buf_depth           input buffer words, >= 2 (default 2)

Behaviour
---------
* A command is split into INCR bursts (``hdl/axi_burst.py``): at most
  ``max_burst`` beats, never across a 4 KB boundary; up to ``max_outstanding``
  bursts wait for their B response.  The next command is accepted as soon as
  the last burst address of this one is loaded.
* AW leads W or not: a burst's W beats may start in the cycle its AW becomes
  valid (before the AW handshake), never earlier; W beats follow AW order.
* The input goes through a ``buf_depth``-word FIFO (``hdl/fifo.py``), so
  ``i_ready`` does not depend on ``wready`` combinationally.
* BRESP != OKAY: ``err`` pulses with err_code 8 at the B handshake; the command
  still completes (``done``).  Rejected commands: err_code 6/7 as in
  ``mem_reader``; no AXI traffic, no input word consumed.
* ``bready`` is high while a burst waits for its response.

Timing and throughput: one word per cycle across bursts and commands when
neither side stalls (``max_outstanding`` >= 2 hides the B latency; measured
1.00 word/cycle with cocotbext-axi's AxiRam).  Command accepted at the end of
cycle 0: checked in cycle 1 (``axi_burst``), ``awvalid`` and the first
possible W beat in cycle 3 (a word taken on ``i`` at the end of cycle k can be
on W from cycle k+1); ``done`` the cycle after the B handshake of the
command's last burst (with AxiRam: 3 cycles after the last W beat).

::

    cycle     0    1    2    3    4    5    6    7    8
    cmd_valid ‾‾‾‾\_____________________________________
    i_valid   ‾‾‾‾‾‾‾‾‾\________________________________   (2 words, i_ready high)
    awvalid   _______________/‾‾‾‾\____________________   (awready high)
    wvalid    _______________/‾‾‾‾‾‾‾‾‾\_______________   (wready high)
    wlast     ____________________/‾‾‾‾\_______________
    bvalid    ______________________________/‾‾‾‾\_____
    done      ___________________________________/‾‾‾‾\
"""

from myhdl import Signal, always_comb, always_seq, block, intbv, modbv

from ese.config import Config
from .axi_burst import ERR_AXI, axi_burst, log2_exact
from .fifo import fifo
from .interfaces import ERR_BITS, AxiWrite, MemCmd, WordStream, clock_reset, uint


@block
def mem_writer(clk, rst, cmd, i, done, err, err_code, busy, m_axi, cfg: Config,
               max_burst=256, max_outstanding=4, buf_depth=2):
    D = cfg.axi_data_bits
    nb = D // 8
    lb = log2_exact(nb, "mem_writer: axi_data_bits/8")
    assert 1 <= max_outstanding <= 32, \
        f"mem_writer: max_outstanding must be in 1..32, got {max_outstanding}"
    assert buf_depth >= 2, f"mem_writer: buf_depth must be >= 2, got {buf_depth}"
    MemCmd.check(cmd, cfg, "mem_writer cmd")
    WordStream.check(i, cfg, "mem_writer i")
    AxiWrite.check(m_axi, cfg, "mem_writer m_axi")
    assert len(err_code) == ERR_BITS, f"mem_writer: err_code must be {ERR_BITS} bits"
    STRB = (1 << nb) - 1   # (a sized intbv constant would convert to an undeclared name)

    # -- address side -----------------------------------------------------------
    issue, issue_last, room, drained, fin, active = (Signal(bool(0)) for _ in range(6))
    issue_len = Signal(intbv(0)[8:])
    fin_code = Signal(intbv(0)[ERR_BITS:])
    split = axi_burst(clk, rst, cmd.valid, cmd.ready, cmd.addr, cmd.bytes,
                      m_axi.awvalid, m_axi.awready, m_axi.awaddr, m_axi.awlen,
                      issue, issue_len, issue_last, room, drained, fin, fin_code, active,
                      data_bytes=nb, max_burst=max_burst)

    # -- queues in AW order: beats-1 for the W side, "last of command" for B -----
    qb = max(1, (max_outstanding - 1).bit_length())
    Q = 1 << qb
    lenq = [Signal(intbv(0)[8:]) for _ in range(Q)]
    lastq = [Signal(bool(0)) for _ in range(Q)]
    wq_wp = Signal(modbv(0)[qb:])       # shared write pointer of both queues
    wq_rp = Signal(modbv(0)[qb:])       # W side read pointer (lenq)
    bq_rp = Signal(modbv(0)[qb:])       # B side read pointer (lastq)
    n_w = Signal(intbv(0, min=0, max=max_outstanding + 1))    # bursts whose W is not finished
    n_out = Signal(intbv(0, min=0, max=max_outstanding + 1))  # bursts whose B is not received
    w_cnt = Signal(intbv(0)[8:])
    head_len = Signal(intbv(0)[8:])
    head_last = Signal(bool(0))
    w_act = Signal(bool(0))
    w_hs = Signal(bool(0))
    w_end = Signal(bool(0))
    b_hs = Signal(bool(0))

    # -- data side: i -> FIFO -> W --------------------------------------------------
    f_out = Signal(intbv(0)[D:])
    f_valid, f_ready = Signal(bool(0)), Signal(bool(0))
    f_count = Signal(intbv(0, min=0, max=buf_depth + 1))
    buf = fifo(clk, rst, i.data, i.valid, i.ready, f_out, f_valid, f_ready, f_count,
               width=D, depth=buf_depth)

    @always_comb
    def q_head_len():
        head_len.next = lenq[wq_rp]

    @always_comb
    def q_head_last():
        head_last.next = lastq[bq_rp]

    @always_comb
    def w_side():
        w_act.next = n_w != 0
        m_axi.wvalid.next = f_valid and n_w != 0
        f_ready.next = m_axi.wready and n_w != 0
        m_axi.wdata.next = f_out
        m_axi.wlast.next = w_cnt == head_len
        m_axi.wstrb.next = STRB

    @always_comb
    def hs():
        w_hs.next = f_valid and m_axi.wready and w_act
        w_end.next = f_valid and m_axi.wready and w_act and w_cnt == head_len
        b_hs.next = m_axi.bvalid and n_out != 0

    @always_comb
    def status():
        room.next = n_out < max_outstanding
        drained.next = n_out == 0
        busy.next = active or n_out != 0
        m_axi.bready.next = n_out != 0
        m_axi.awid.next = 0
        m_axi.awsize.next = lb
        m_axi.awburst.next = 1      # INCR

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if issue:
            lenq[wq_wp].next = issue_len
            lastq[wq_wp].next = issue_last
            wq_wp.next = wq_wp + 1
        if w_end:
            wq_rp.next = wq_rp + 1
            w_cnt.next = 0
        elif w_hs:
            w_cnt.next = w_cnt + 1
        if b_hs:
            bq_rp.next = bq_rp + 1
        if issue and not w_end:
            n_w.next = n_w + 1
        elif w_end and not issue:
            n_w.next = n_w - 1
        if issue and not b_hs:
            n_out.next = n_out + 1
        elif b_hs and not issue:
            n_out.next = n_out - 1
        done.next = (b_hs and head_last) or fin
        err.next = 0
        if b_hs and m_axi.bresp != 0:
            err.next = 1
            err_code.next = ERR_AXI
        elif fin and fin_code != 0:
            err.next = 1
            err_code.next = fin_code

    return split, buf, q_head_len, q_head_last, w_side, hs, status, seq


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of :func:`mem_writer`."""
    return dict(**clock_reset(), cmd=MemCmd(cfg), i=WordStream(cfg), done=Signal(bool(0)),
                err=Signal(bool(0)), err_code=uint(ERR_BITS).signal(), busy=Signal(bool(0)),
                m_axi=AxiWrite(cfg))


def top(cfg: Config, **params):
    """Elaborate on fresh signals named like the ports (params: max_burst, max_outstanding, buf_depth)."""
    return mem_writer(**ports(cfg), cfg=cfg, **params)
