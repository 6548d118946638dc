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
the address space -> 7.  Every check uses the register values taken at START
(the ones the run uses).  Any AXI read or write error (``mem_reader`` /
``mem_writer`` ``err``) -> its code (8 for SLVERR/DECERR): everything is
aborted, the read port drains, the output mover finishes its command, then
DONE and ERROR pulse together.  A run always ends with ``done`` (never a
lock-up short of a hung AXI slave).

Timing (pipelined for the clock: one carry chain or a few LUT levels per
cycle, no multiplier): START is taken in IDLE with the simple flags (a
constant compare or the low address bits each); ``CHK_SUM`` adds IMAGE_ADDR +
IMAGE_SIZE, ``CHK_CMP`` compares the sum with 2**A (wide ORs), ``CHK``
decides in the order above and starts the load (or goes on).  The range
checks of the frames multiply by shift and add (``serial_mul``, a bit of the
multiplier per cycle): ``MUL_B`` BATCH * FRAMES (2 + bits of BATCH cycles),
``MUL_S`` that times the input and output strides in AXI words (2 + bits of a
stride cycles), ``END_SUM`` adds the base addresses, ``END_CMP`` compares,
``END_CHK`` decides and raises ``ex.go``.  RUN (with ``ex.go``) begins 11 +
bits of BATCH + bits of a stride cycles after the START pulse without a load
(18 on ``tiny`` and ``chip``; 2 before the checks were pipelined), or 3 fewer
after the loader's ``fin``; none of these cycles is counted in CYCLES or
LOAD_CYCLES.

::

    START -> IDLE -> CHK_SUM -> CHK_CMP -> CHK --(LOAD=1)--> LOAD --fin--+
                                            \\--(LOAD=0)-----------------+--> MUL_B -> MUL_S
             -> END_SUM -> END_CMP -> END_CHK --go--> RUN --fin--> DONE (IDLE)
             (an error: -> ERR, or ABORT -> DRAIN -> ERR for an AXI error: DONE + ERROR)

Counters (reset by START): ``cycles`` = clock cycles of the run proper (from
the end of the load and checks to the last output written: the section-6
measure); ``macs`` = multiply-accumulates of the run per channel: the sum of
the core's ``mac_count`` (non-filler entries issued in a cycle, all PEs);
``stalls`` = cycles the schedule waited on the frame movers; ``load_cycles``
= cycles of the load: in the LOAD state, from the loader's ``start`` pulse to
its ``fin`` inclusive (0 after a START without LOAD).

The core (scheduler, PEs, channels) starts every run from a clean pipeline:
``flush`` pulses for one cycle with every accepted START, and the top resets
the core with it (memories keep their contents: the loaded model survives).

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
mac_count                the core's multiply-accumulates of this cycle (all PEs)
flush                    out: one-cycle pulse at every START: reset the core
run_frames, run_batch, run_in_addr [A], run_out_addr [A], run_image_addr [A]
                         checked run parameters (held during the run)

Parameters
----------
cfg                      ese.config.Config
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv, modbv

from ese.config import Config, clog2
from ese.regmap import ERR

from .ctrl_io import stride_bits, stride_words
from .interfaces import (ERR_BITS, ExecCtl, HostRegs, LoaderCtl, clock_reset, uint, upto,
                         widths)
from .serial_mul import serial_mul


def mac_count_bits(cfg: Config) -> int:
    """Bits of the core's ``mac_count``: 0 .. n_pe multiply-accumulates per cycle."""
    return clog2(cfg.n_pe + 1) + 1


ERR_BAD_FRAMES, ERR_BAD_BATCH, ERR_MISALIGNED, ERR_ADDR_RANGE, ERR_NO_MODEL = (
    ERR[n] for n in ("BAD_FRAMES", "BAD_BATCH", "MISALIGNED", "ADDR_RANGE", "NO_MODEL"))


@block
def controller(clk, rst, regs, ldr, m_n_in, m_n_out, ex, cancel, rp_busy, in_busy, out_busy,
               rd_err, rd_err_code, wr_err, wr_err_code, mac_count, flush,
               run_frames, run_batch, run_in_addr, run_out_addr, run_image_addr, cfg: Config):
    A = cfg.axi_addr_bits
    WB = cfg.axi_data_bits // 8
    LWB = clog2(WB)
    assert len(mac_count) == mac_count_bits(cfg), \
        f"controller: mac_count must have {mac_count_bits(cfg)} bits"
    HostRegs.check(regs, cfg, "controller regs")
    LoaderCtl.check(ldr, cfg, "controller ldr")
    ExecCtl.check(ex, cfg, "controller ex")
    FB, BB = len(run_frames), len(run_batch)
    SWB = stride_bits(cfg)                                        # bits of a stride in words
    PB = FB + BB + SWB                                            # bits of BATCH*FRAMES*stride/WB
    AW = len(regs.in_addr)                                        # 64: the registers' width

    st = enum("IDLE", "CHK_SUM", "CHK_CMP", "CHK", "LOAD", "MUL_B", "MUL_S", "END_SUM",
              "END_CMP", "END_CHK", "RUN", "ABORT", "DRAIN", "ERR")
    state = Signal(st.IDLE)
    code = Signal(intbv(0)[8:])
    # the START checks: flags taken at START, the image end over two cycles
    f_nomodel, f_frames, f_batch, f_mis = (Signal(bool(0)) for _ in range(4))
    f_load = Signal(bool(0))
    image_addr = Signal(intbv(0)[AW:])
    image_size = Signal(intbv(0)[len(regs.image_size):])
    img_end = Signal(intbv(0)[AW + 2:])
    img_over = Signal(bool(0))
    # the input and output ranges: BATCH * FRAMES * stride (shift and add), then the ends
    in_addr, out_addr = Signal(intbv(0)[AW:]), Signal(intbv(0)[AW:])
    sw_in, sw_out = Signal(intbv(0)[SWB:]), Signal(intbv(0)[SWB:])   # strides in words
    i_swi = stride_words(clk, rst, m_n_in, sw_in, cfg=cfg)            # (the loaded model's,
    i_swo = stride_words(clk, rst, m_n_out, sw_out, cfg=cfg)          # stable long before)
    bf = Signal(intbv(0)[FB + BB:])                   # BATCH * FRAMES
    p_in, p_out = Signal(intbv(0)[PB:]), Signal(intbv(0)[PB:])      # ... * stride in words
    mul_bf, mul_s = Signal(bool(0)), Signal(bool(0))                # their start pulses
    bf_busy, pi_busy, po_busy = (Signal(bool(0)) for _ in range(3))
    i_bf = serial_mul(clk, rst, mul_bf, run_frames, run_batch, bf, bf_busy)
    i_pin = serial_mul(clk, rst, mul_s, bf, sw_in, p_in, pi_busy)
    i_pout = serial_mul(clk, rst, mul_s, bf, sw_out, p_out, po_busy)
    in_end, out_end = Signal(intbv(0)[AW + 2:]), Signal(intbv(0)[AW + 2:])
    end_over = Signal(bool(0))
    cyc = Signal(modbv(0)[64:])
    mac = Signal(modbv(0)[64:])
    stl = Signal(modbv(0)[64:])
    ldc = Signal(modbv(0)[64:])
    axi_err = Signal(bool(0))
    axi_code = Signal(intbv(0)[4:])

    @always_comb
    def comb():
        regs.busy.next = state != st.IDLE
        regs.cycles.next = cyc
        regs.macs.next = mac
        regs.stalls.next = stl
        regs.load_cycles.next = ldc
        axi_err.next = rd_err or wr_err
        if rd_err:
            axi_code.next = rd_err_code
        else:
            axi_code.next = wr_err_code

    @always_seq(clk.posedge, reset=rst)
    def counters():
        if state == st.IDLE and regs.start:
            cyc.next = 0
            mac.next = 0
            stl.next = 0
            ldc.next = 0
        if state == st.RUN:
            cyc.next = cyc + 1
            mac.next = mac + mac_count
            if ex.stall:
                stl.next = stl + 1
        if state == st.LOAD:
            ldc.next = ldc + 1

    @always_seq(clk.posedge, reset=rst)
    def seq():
        regs.done.next = False
        regs.error.next = False
        ldr.start.next = False
        ex.go.next = False
        cancel.next = False
        flush.next = False
        mul_bf.next = False
        mul_s.next = False
        if state == st.IDLE:
            if regs.start:
                flush.next = True
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
                image_addr.next = regs.image_addr
                image_size.next = regs.image_size
                in_addr.next = regs.in_addr
                out_addr.next = regs.out_addr
                f_load.next = regs.load
                f_nomodel.next = not regs.load and not ldr.loaded
                f_frames.next = regs.frames == 0 or regs.frames > cfg.max_frames
                f_batch.next = regs.batch == 0 or regs.batch > cfg.n_ch
                f_mis.next = (regs.load and regs.image_addr[LWB:] != 0) or \
                    regs.in_addr[LWB:] != 0 or regs.out_addr[LWB:] != 0
                state.next = st.CHK_SUM
        elif state == st.CHK_SUM:
            img_end.next = image_addr + image_size
            state.next = st.CHK_CMP
        elif state == st.CHK_CMP:
            # > 2**A, as wide ORs rather than a carry chain
            img_over.next = img_end[AW + 2:A + 1] != 0 or (img_end[A] and img_end[A:] != 0)
            state.next = st.CHK
        elif state == st.CHK:
            # the START checks in their order of priority
            if f_nomodel:
                code.next = ERR_NO_MODEL
                state.next = st.ERR
            elif f_frames:
                code.next = ERR_BAD_FRAMES
                state.next = st.ERR
            elif f_batch:
                code.next = ERR_BAD_BATCH
                state.next = st.ERR
            elif f_mis:
                code.next = ERR_MISALIGNED
                state.next = st.ERR
            elif f_load and img_over:
                code.next = ERR_ADDR_RANGE
                state.next = st.ERR
            elif f_load:
                ldr.start.next = True
                state.next = st.LOAD
            else:
                mul_bf.next = True
                state.next = st.MUL_B
        elif state == st.LOAD:
            if axi_err:
                code.next = axi_code
                state.next = st.ABORT
            elif ldr.fin:
                if ldr.err != 0:
                    code.next = ldr.err
                    state.next = st.DRAIN
                else:
                    mul_bf.next = True
                    state.next = st.MUL_B
        elif state == st.MUL_B:
            # BATCH * FRAMES, then that times each stride in words (serial_mul: a bit of the
            # multiplier per cycle)
            if not mul_bf and not bf_busy:
                state.next = st.MUL_S
                mul_s.next = True
        elif state == st.MUL_S:
            if not mul_s and not pi_busy and not po_busy:
                state.next = st.END_SUM
        elif state == st.END_SUM:
            in_end.next = in_addr + (p_in << LWB)
            out_end.next = out_addr + (p_out << LWB)
            state.next = st.END_CMP
        elif state == st.END_CMP:
            end_over.next = in_end[AW + 2:A + 1] != 0 or (in_end[A] and in_end[A:] != 0) or \
                out_end[AW + 2:A + 1] != 0 or (out_end[A] and out_end[A:] != 0)
            state.next = st.END_CHK
        elif state == st.END_CHK:
            if end_over:
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

    return i_bf, i_pin, i_pout, i_swi, i_swo, comb, counters, seq


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``controller``."""
    w = widths(cfg)
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), regs=HostRegs(cfg), ldr=LoaderCtl(cfg),
                m_n_in=upto(cfg.max_input + 1).signal(), m_n_out=upto(cfg.max_proj + 1).signal(),
                ex=ExecCtl(cfg), cancel=b(), rp_busy=b(), in_busy=b(), out_busy=b(),
                rd_err=b(), rd_err_code=uint(ERR_BITS).signal(), wr_err=b(),
                wr_err_code=uint(ERR_BITS).signal(), mac_count=uint(mac_count_bits(cfg)).signal(),
                flush=b(),
                run_frames=uint(w.frames).signal(), run_batch=uint(w.batch).signal(),
                run_in_addr=uint(w.axi_addr).signal(), run_out_addr=uint(w.axi_addr).signal(),
                run_image_addr=uint(w.axi_addr).signal())


def top(cfg: Config):
    """``controller`` on fresh port signals."""
    return controller(**ports(cfg), cfg=cfg)
