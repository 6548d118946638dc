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

Ports
-----
clk, rst                 clock; synchronous active-high reset
start, load, image_addr [64], image_size [32], in_addr [64], out_addr [64],
frames [32], batch [32]  from the register block
busy, done, error, err_code [8], cycles [64], macs [64], stalls [64]   to it
ld_start, ld_busy, ld_fin, ld_err, ld_loaded, m_n_in, m_n_out     loader
ex_go, ex_fin, ex_stall  ctrl_exec
cancel                    1-cycle pulse to loader, ctrl_exec, ctrl_io, rdport
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

ERR_BAD_FRAMES, ERR_BAD_BATCH, ERR_MISALIGNED, ERR_ADDR_RANGE, ERR_NO_MODEL = 4, 5, 6, 7, 9


@block
def controller(clk, rst, start, load, image_addr, image_size, in_addr, out_addr, frames, batch,
               busy, done, error, err_code, cycles, macs, stalls,
               ld_start, ld_busy, ld_fin, ld_err, ld_loaded, m_n_in, m_n_out,
               ex_go, ex_fin, ex_stall, cancel, rp_busy, in_busy, out_busy,
               rd_err, rd_err_code, wr_err, wr_err_code, pe_busy,
               run_frames, run_batch, run_in_addr, run_out_addr, run_image_addr, cfg: Config):
    A = cfg.axi_addr_bits
    WB = cfg.axi_data_bits // 8
    LWB = clog2(WB)
    NPE = cfg.n_pe
    TOP = 1 << A
    assert len(pe_busy) == NPE

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
        busy.next = state != st.IDLE
        cycles.next = cyc
        macs.next = mac
        stalls.next = stl
        s_in.next = ((m_n_in * 2 + WB - 1) >> LWB) << LWB
        s_out.next = ((m_n_out * 2 + WB - 1) >> LWB) << LWB
        img_end.next = image_addr + image_size
        axi_err.next = rd_err or wr_err
        if rd_err:
            axi_code.next = rd_err_code
        else:
            axi_code.next = wr_err_code

    @always_comb
    def ends():
        in_end.next = in_addr + run_batch * run_frames * s_in
        out_end.next = out_addr + run_batch * run_frames * s_out

    @always_comb
    def popcount():
        n = 0
        for i in range(NPE):
            if pe_busy[i]:
                n += 1
        nbusy.next = n

    @always_seq(clk.posedge, reset=rst)
    def seq():
        done.next = False
        error.next = False
        ld_start.next = False
        ex_go.next = False
        cancel.next = False
        if state == st.RUN:
            cyc.next = cyc + 1
            mac.next = mac + nbusy
            if ex_stall:
                stl.next = stl + 1
        if state == st.IDLE:
            if start:
                cyc.next = 0
                mac.next = 0
                stl.next = 0
                if frames <= cfg.max_frames:
                    run_frames.next = frames[len(run_frames):]
                else:
                    run_frames.next = 0
                if batch <= cfg.n_ch:
                    run_batch.next = batch[len(run_batch):]
                else:
                    run_batch.next = 0
                run_in_addr.next = in_addr[A:]
                run_out_addr.next = out_addr[A:]
                run_image_addr.next = image_addr[A:]
                if not load and not ld_loaded:
                    code.next = ERR_NO_MODEL
                    state.next = st.ERR
                elif frames == 0 or frames > cfg.max_frames:
                    code.next = ERR_BAD_FRAMES
                    state.next = st.ERR
                elif batch == 0 or batch > cfg.n_ch:
                    code.next = ERR_BAD_BATCH
                    state.next = st.ERR
                elif (load and image_addr[LWB:] != 0) or in_addr[LWB:] != 0 or \
                        out_addr[LWB:] != 0:
                    code.next = ERR_MISALIGNED
                    state.next = st.ERR
                elif load and (img_end > TOP):
                    code.next = ERR_ADDR_RANGE
                    state.next = st.ERR
                elif load:
                    ld_start.next = True
                    state.next = st.LOAD
                else:
                    state.next = st.CHK2
        elif state == st.LOAD:
            if axi_err:
                code.next = axi_code
                state.next = st.ABORT
            elif ld_fin:
                if ld_err != 0:
                    code.next = ld_err
                    state.next = st.DRAIN
                else:
                    state.next = st.CHK2
        elif state == st.CHK2:
            if in_end > TOP or out_end > TOP:
                code.next = ERR_ADDR_RANGE
                state.next = st.ERR
            else:
                ex_go.next = True
                state.next = st.RUN
        elif state == st.RUN:
            if axi_err:
                code.next = axi_code
                state.next = st.ABORT
            elif ex_fin:
                done.next = True
                state.next = st.IDLE
        elif state == st.ABORT:
            cancel.next = True
            state.next = st.DRAIN
        elif state == st.DRAIN:
            if not cancel and not rp_busy and not in_busy and not out_busy and not ld_busy:
                state.next = st.ERR
        elif state == st.ERR:
            done.next = True
            error.next = True
            err_code.next = code
            state.next = st.IDLE
        else:
            state.next = st.IDLE

    return comb, ends, popcount, seq


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``controller`` (names = port names)."""
    from myhdl import ResetSignal
    A = cfg.axi_addr_bits
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731
    return dict(
        clk=b(), rst=ResetSignal(0, active=1, isasync=False), start=b(), load=b(),
        image_addr=u(64), image_size=u(32), in_addr=u(64), out_addr=u(64), frames=u(32),
        batch=u(32), busy=b(), done=b(), error=b(), err_code=u(8), cycles=u(64), macs=u(64),
        stalls=u(64), ld_start=b(), ld_busy=b(), ld_fin=b(), ld_err=u(4), ld_loaded=b(),
        m_n_in=Signal(intbv(0, min=0, max=cfg.max_input + 1)),
        m_n_out=Signal(intbv(0, min=0, max=cfg.max_proj + 1)),
        ex_go=b(), ex_fin=b(), ex_stall=b(), cancel=b(), rp_busy=b(), in_busy=b(), out_busy=b(),
        rd_err=b(), rd_err_code=u(4), wr_err=b(), wr_err_code=u(4), pe_busy=u(cfg.n_pe),
        run_frames=u(clog2(cfg.max_frames + 1)), run_batch=u(clog2(cfg.n_ch + 1)),
        run_in_addr=u(A), run_out_addr=u(A), run_image_addr=u(A),
    )


def top(cfg: Config):
    """``controller`` on fresh port signals."""
    return controller(**ports(cfg), cfg=cfg)
