"""Controller: START handling, checks, load/run sequencing, errors, counters.

The run itself is scheduled by ``ctrl_exec`` and the frames are moved by
``ctrl_io``; the model is loaded by ``loader``.  This block sits between the
register block (``csr``) and those three:

::

    START --> checks --(LOAD=1)--> loader --> range checks --> ctrl_exec --> DONE (+irq)
                 |                    |              |              |
                 +------ error -------+--------------+-- AXI error -+--> cancel, drain --> DONE+ERROR

Checks at START, in this order (error code in STATUS.ERR_CODE, see
``ese/regmap.py``): LOAD=0 and no model loaded -> 9 NO_MODEL; FRAMES = 0 or >
max_frames -> 4 BAD_FRAMES; BATCH = 0 or > n_ch -> 5 BAD_BATCH; IMAGE_ADDR
(when loading), IN_ADDR or OUT_ADDR not a multiple of axi_data_bits/8 -> 6
MISALIGNED; IMAGE_ADDR + IMAGE_SIZE beyond the AXI address space -> 7
ADDR_RANGE.  The loader's header checks give 1/2/3/7.  After the load:
IN_ADDR + BATCH*FRAMES*stride_in or OUT_ADDR + BATCH*FRAMES*stride_out beyond
the address space -> 7.  Any AXI read or write error (``mem_reader`` /
``mem_writer`` ``err``) -> its code (8 for SLVERR/DECERR): everything is
aborted, the read port drains, the output mover finishes its command, then
DONE and ERROR pulse together.  A run always ends with ``done`` (never a
lock-up short of a hung AXI slave).

Counters (reset by START): ``cycles`` = clock cycles of the run proper (from
the end of the load and checks to the last output written: the section-6
measure); ``macs`` = sum over PEs of the cycles they were busy during the
run (``pe_fetch`` busy: an upper bound of the issued entries, the PE blocks
do not export a per-entry strobe); ``stalls`` = cycles the schedule waited on
the frame movers.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst                 clock; synchronous active-high reset
regs                     ``HostRegs``: the register block's START, LOAD, addresses, sizes
                         (in) and busy, done, error, err_code, counters (out)
ldr                      ``LoaderCtl``: start the loader, its busy / fin / err / loaded
m_n_in, m_n_out          the loaded model's input and output widths (from the loader)
ex                       ``ExecCtl``: start the run (``go``), its ``fin`` and ``stall``
cancel                   1-cycle pulse to loader, ctrl_exec, ctrl_io, rdport
rp_busy, in_busy, out_busy   drained when all low
rd_err, rd_err_code, wr_err, wr_err_code   AXI master errors
pe_busy [n_pe]           the PEs' busy bits
run_frames, run_batch, run_in_addr [A], run_out_addr [A], run_image_addr [A]
                         checked run parameters (held during the run)

Parameters
----------
cfg                      ese.config.Config
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv, modbv

from ese.config import Config, clog2
from ese.regmap import ERR

from .interfaces import (ERR_BITS, ExecCtl, HostRegs, LoaderCtl, clock_reset, uint, upto,
                         widths)

ERR_BAD_FRAMES, ERR_BAD_BATCH, ERR_MISALIGNED, ERR_ADDR_RANGE, ERR_NO_MODEL = (
    ERR[n] for n in ("BAD_FRAMES", "BAD_BATCH", "MISALIGNED", "ADDR_RANGE", "NO_MODEL"))


@block
def controller(clk, rst, regs, ldr, m_n_in, m_n_out, ex, cancel, rp_busy, in_busy, out_busy,
               rd_err, rd_err_code, wr_err, wr_err_code, pe_busy,
               run_frames, run_batch, run_in_addr, run_out_addr, run_image_addr, cfg: Config):
    A = cfg.axi_addr_bits
    WB = cfg.axi_data_bits // 8
    LWB = clog2(WB)
    NPE = cfg.n_pe
    TOP = 1 << A
    assert len(pe_busy) == NPE, f"controller: pe_busy must have n_pe = {NPE} bits"
    HostRegs.check(regs, cfg, "controller regs")
    LoaderCtl.check(ldr, cfg, "controller ldr")
    ExecCtl.check(ex, cfg, "controller ex")

    st = enum("IDLE", "CHK", "LOAD", "CHK2", "RUN", "DONE", "ABORT", "DRAIN", "ERR")
    state = Signal(st.IDLE)
    code = Signal(intbv(0)[8:])
    in_end = Signal(intbv(0)[A + 64:])
    out_end = Signal(intbv(0)[A + 64:])
    img_end = Signal(intbv(0)[66:])
    s_in = Signal(intbv(0)[32:])
    s_out = Signal(intbv(0)[32:])
    cyc = Signal(modbv(0)[64:])
    mac = Signal(modbv(0)[64:])
    stl = Signal(modbv(0)[64:])
    nbusy = Signal(intbv(0, min=0, max=NPE + 1))
    axi_err = Signal(bool(0))
    axi_code = Signal(intbv(0)[4:])

    @always_comb
    def comb():
        regs.busy.next = state != st.IDLE
        regs.cycles.next = cyc
        regs.macs.next = mac
        regs.stalls.next = stl
        s_in.next = ((m_n_in * 2 + WB - 1) >> LWB) << LWB
        s_out.next = ((m_n_out * 2 + WB - 1) >> LWB) << LWB
        img_end.next = regs.image_addr + regs.image_size
        axi_err.next = rd_err or wr_err
        if rd_err:
            axi_code.next = rd_err_code
        else:
            axi_code.next = wr_err_code

    @always_comb
    def ends():
        in_end.next = regs.in_addr + run_batch * run_frames * s_in
        out_end.next = regs.out_addr + run_batch * run_frames * s_out

    @always_comb
    def popcount():
        n = 0
        for i in range(NPE):
            if pe_busy[i]:
                n += 1
        nbusy.next = n

    @always_seq(clk.posedge, reset=rst)
    def seq():
        regs.done.next = False
        regs.error.next = False
        ldr.start.next = False
        ex.go.next = False
        cancel.next = False
        if state == st.RUN:
            cyc.next = cyc + 1
            mac.next = mac + nbusy
            if ex.stall:
                stl.next = stl + 1
        if state == st.IDLE:
            if regs.start:
                cyc.next = 0
                mac.next = 0
                stl.next = 0
                if regs.frames <= cfg.max_frames:
                    run_frames.next = regs.frames[len(run_frames):]
                else:
                    run_frames.next = 0
                if regs.batch <= cfg.n_ch:
                    run_batch.next = regs.batch[len(run_batch):]
                else:
                    run_batch.next = 0
                run_in_addr.next = regs.in_addr[A:]
                run_out_addr.next = regs.out_addr[A:]
                run_image_addr.next = regs.image_addr[A:]
                if not regs.load and not ldr.loaded:
                    code.next = ERR_NO_MODEL
                    state.next = st.ERR
                elif regs.frames == 0 or regs.frames > cfg.max_frames:
                    code.next = ERR_BAD_FRAMES
                    state.next = st.ERR
                elif regs.batch == 0 or regs.batch > cfg.n_ch:
                    code.next = ERR_BAD_BATCH
                    state.next = st.ERR
                elif (regs.load and regs.image_addr[LWB:] != 0) or regs.in_addr[LWB:] != 0 or \
                        regs.out_addr[LWB:] != 0:
                    code.next = ERR_MISALIGNED
                    state.next = st.ERR
                elif regs.load and (img_end > TOP):
                    code.next = ERR_ADDR_RANGE
                    state.next = st.ERR
                elif regs.load:
                    ldr.start.next = True
                    state.next = st.LOAD
                else:
                    state.next = st.CHK2
        elif state == st.LOAD:
            if axi_err:
                code.next = axi_code
                state.next = st.ABORT
            elif ldr.fin:
                if ldr.err != 0:
                    code.next = ldr.err
                    state.next = st.DRAIN
                else:
                    state.next = st.CHK2
        elif state == st.CHK2:
            if in_end > TOP or out_end > TOP:
                code.next = ERR_ADDR_RANGE
                state.next = st.ERR
            else:
                ex.go.next = True
                state.next = st.RUN
        elif state == st.RUN:
            if axi_err:
                code.next = axi_code
                state.next = st.ABORT
            elif ex.fin:
                regs.done.next = True
                state.next = st.IDLE
        elif state == st.ABORT:
            cancel.next = True
            state.next = st.DRAIN
        elif state == st.DRAIN:
            if not cancel and not rp_busy and not in_busy and not out_busy and not ldr.busy:
                state.next = st.ERR
        elif state == st.ERR:
            regs.done.next = True
            regs.error.next = True
            regs.err_code.next = code
            state.next = st.IDLE
        else:
            state.next = st.IDLE

    return comb, ends, popcount, seq


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``controller``."""
    w = widths(cfg)
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), regs=HostRegs(cfg), ldr=LoaderCtl(cfg),
                m_n_in=upto(cfg.max_input + 1).signal(), m_n_out=upto(cfg.max_proj + 1).signal(),
                ex=ExecCtl(cfg), cancel=b(), rp_busy=b(), in_busy=b(), out_busy=b(),
                rd_err=b(), rd_err_code=uint(ERR_BITS).signal(), wr_err=b(),
                wr_err_code=uint(ERR_BITS).signal(), pe_busy=uint(cfg.n_pe).signal(),
                run_frames=uint(w.frames).signal(), run_batch=uint(w.batch).signal(),
                run_in_addr=uint(w.axi_addr).signal(), run_out_addr=uint(w.axi_addr).signal(),
                run_image_addr=uint(w.axi_addr).signal())


def top(cfg: Config):
    """``controller`` on fresh port signals."""
    return controller(**ports(cfg), cfg=cfg)
