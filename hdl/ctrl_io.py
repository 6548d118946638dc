"""Frame movers: input frames DDR -> the channels' input buffers, outputs -> DDR.

Frames in DDR (docs/architecture.md "Frames in DDR"): every value is an
int16, little-endian (the act format, sign-extended); one frame of one
sequence occupies ``stride = roundup(2*width, axi_data_bits/8)`` bytes;
sequence ``b`` frame ``t`` is at ``base + (b*T + t)*stride``.  Inputs have
width ``n_in`` at IN_ADDR, outputs width ``n_out`` at OUT_ADDR (the padding
of an output frame is written as zeros).

Input side: on ``in_frame.req`` for frame ``in_frame.t``, for every active
channel ``c < batch``, one read-port request of ``n_in`` 16-bit items whose
items are written into channel c's input buffer X (``xw``), half t mod 2:
address ``(t mod 2) * x_half + index`` (hdl/stream_if.py).  Output side: on
``out_frame.req`` for frame ``out_frame.t``, for every active channel one
``mem_writer`` command of ``stride_out`` bytes; the words are packed from
channel c's output buffer half t mod 2 (``o_raddr = (t mod 2) * out_half +
index`` / ``o_rdata``), B = ``cfg.vbuf_bank_count`` values per read; values
beyond ``n_out`` are 0.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst                clock; synchronous active-high reset
cancel                  1-cycle pulse: the input side stops (the read port drains);
                        the output side finishes the words of an accepted command
frames, batch, in_addr, out_addr, n_in, n_out     run parameters (stable while busy)
in_frame, out_frame     ``FrameReq``: move frame ``t`` in / out (busy from the cycle after
                        ``req``)
req, i                  ``ReadReq`` / ``ItemStream``: the read port (``rdport``)
xw                      ``StageWrite``: input buffer write (all channels)
w_cmd, w                ``MemCmd`` / ``WordStream``: ``mem_writer``'s command and words
w_done                  ``mem_writer`` done pulse
o_raddr                 output buffer read address (all channels): half * out_half + index,
                        index a multiple of B
o_rdata  [n_ch*B*act_bits] the channels' values index .. index+B-1 (1-cycle latency),
                        channel c's value j in bits (c*B + j)*act_bits ..)

Parameters
----------
cfg                     ese.config.Config

Timing: input: one value per cycle from the read port (``batch * n_in`` cycles
per frame plus a request per channel); output: B values per cycle into the
word register, ``axi_data_bits/16/B + 2`` cycles per word plus the writer's
handshake per channel (model/cycles.py ``mover_cycles``).  Both work while the
next frame computes (double-buffered halves):
they cost run time only when they take longer than a frame.

Addresses without a multiplier (pipelined for the clock): a side's frame
base ``base + t*stride`` is the previous request's plus one stride when ``t``
follows the previous request's frame (ctrl_exec asks for 0, 1, 2, ...: no
cycle is added); for ``t = 0`` (the first frame of every run) or any other
``t`` it is computed by shift and add (``frame_addr``, ``serial_mul``: 2 +
bits of a stride in words cycles), together with ``T * stride``, the step
between channels, so FRAMES and the widths are taken at every ``t = 0``
request.  The strides
follow ``n_in``/``n_out`` one cycle late (registers: the widths are stable
long before a run).  The output buffer address ``o_raddr`` is a register
(the next read's address, advanced with it).
"""

from myhdl import ConcatSignal, Signal, always_comb, always_seq, block, enum, intbv, modbv

from ese.config import Config, clog2

from .interfaces import (FrameReq, ItemStream, MemCmd, ReadReq, StageWrite, WordStream,
                         clock_reset, uint, upto, widths)
from .serial_mul import serial_mul
from .stream_if import out_half, x_half


def stride_bits(cfg: Config) -> int:
    """Bits of a frame stride counted in AXI words: ceil(2 * width / (axi_data_bits/8))."""
    return clog2(max(cfg.max_input, cfg.max_proj) * 2 // (cfg.axi_data_bits // 8) + 2)


@block
def stride_words(clk, rst, n, sw, cfg: Config):
    """``sw`` = ceil(2 * ``n`` / (axi_data_bits/8)), registered: the words of a frame of
    ``n`` int16 values in DDR (``sw`` has :func:`stride_bits` bits)."""
    WB = cfg.axi_data_bits // 8
    LWB = clog2(WB)
    assert len(sw) == stride_bits(cfg), f"stride_words: sw must have {stride_bits(cfg)} bits"

    @always_seq(clk.posedge, reset=rst)
    def reg():
        sw.next = (n * 2 + WB - 1) >> LWB

    return reg


@block
def frame_addr(clk, rst, req, t, frames, sw, addr0, fast, nxt, base, seq, busy, cfg: Config):
    """One mover side's DDR addresses: frame ``t``'s base ``addr0 + t * stride`` and the
    step between channels ``seq = frames * stride`` (stride = ``sw`` AXI words).

    ``req``/``t``: the side's frame request.  ``fast`` (combinational): ``t`` follows the
    previous request's frame, is not 0, no base is being made and ``nxt`` (a register:
    the base + stride, a cycle after the base) is up to date: the frame's base is
    ``nxt``, which the block takes as its base at the edge of ``req``.  Otherwise
    ``busy`` is high from the cycle after ``req`` while ``t * stride`` and ``seq`` are
    made by shift and add (``serial_mul``) and ``t * stride`` is added to ``addr0``: 2 +
    len(sw) cycles; ``base`` and ``seq`` hold the frame's values once ``busy`` is low.  ``frames``,
    ``sw`` and ``addr0`` are stable while a side works (a run's parameters).
    """
    A = len(base)
    LWB = clog2(cfg.axi_data_bits // 8)
    tb = Signal(intbv(0)[A:])                        # t * stride (bytes)
    tn = Signal(intbv(0)[len(t):])                   # the frame after the previous request's
    t_r = Signal(intbv(0)[len(t):])
    mul = Signal(bool(0))                            # the multipliers' start
    nxt_ok = Signal(bool(0))                         # nxt follows the base (a cycle after it)
    busy_t, busy_s = Signal(bool(0)), Signal(bool(0))
    fr_b = Signal(intbv(0)[len(frames) + LWB:])      # frames << LWB
    t_b = Signal(intbv(0)[len(t) + LWB:])            # t << LWB
    muls = [serial_mul(clk, rst, mul, t_b, sw, tb, busy_t),
            serial_mul(clk, rst, mul, fr_b, sw, seq, busy_s)]

    @always_comb
    def operands():
        fr_b.next = frames << LWB
        t_b.next = t_r << LWB
        # (not while a base is being made or nxt is a cycle behind it: after a cancel the
        # next request may come at once)
        fast.next = t == tn and t != 0 and not busy and nxt_ok

    @always_seq(clk.posedge, reset=rst)
    def seq_():
        nxt.next = base + (sw << LWB)
        nxt_ok.next = True
        mul.next = False
        if req:
            tn.next = t + 1
            if fast:
                base.next = nxt
                nxt_ok.next = False
            else:
                t_r.next = t
                mul.next = True
                busy.next = True
        elif busy and not mul and not busy_t and not busy_s:
            base.next = addr0 + tb
            nxt_ok.next = False
            busy.next = False

    return muls, operands, seq_


@block
def ctrl_io(clk, rst, cancel, frames, batch, in_addr, out_addr, n_in, n_out,
            in_frame, out_frame, req, i, xw, w_cmd, w, w_done, o_raddr, o_rdata, cfg: Config):
    DW, A = cfg.axi_data_bits, cfg.axi_addr_bits
    WB = DW // 8
    LWB = clog2(WB)
    NV = DW // 16                         # values per word
    NCH = cfg.n_ch
    assert cfg.act_bits <= 16, "ctrl_io: frames are int16 in DDR: act_bits must be <= 16"
    OB = cfg.vbuf_bank_count              # values per output buffer read
    assert NV % OB == 0, "ctrl_io: axi_data_bits/16 must be a multiple of vbuf_bank_count"
    assert len(o_rdata) == NCH * OB * cfg.act_bits, \
        "ctrl_io: o_rdata must be n_ch * vbuf_bank_count * act_bits"
    for cls, obj, name in ((FrameReq, in_frame, "in_frame"), (FrameReq, out_frame, "out_frame"),
                           (ReadReq, req, "req"), (ItemStream, i, "i"), (StageWrite, xw, "xw"),
                           (MemCmd, w_cmd, "w_cmd"), (WordStream, w, "w")):
        cls.check(obj, cfg, f"ctrl_io {name}")
    AB = cfg.act_bits
    XS, OH = x_half(cfg), out_half(cfg)         # values of one input / output buffer half
    SWB = stride_bits(cfg)
    OV = -(-cfg.max_proj // NV) * NV + OB + 1   # bound of the value index of a frame

    ist = enum("IDLE", "ADDR", "REQ", "RUN")
    ost = enum("IDLE", "ADDR", "CMD", "FILL", "PUSH")
    istate = Signal(ist.IDLE)
    ostate = Signal(ost.IDLE)
    sw_in, sw_out = Signal(intbv(0)[SWB:]), Signal(intbv(0)[SWB:])   # strides in AXI words
    i_sw = stride_words(clk, rst, n_in, sw_in, cfg)
    o_sw = stride_words(clk, rst, n_out, sw_out, cfg)
    # frame bases: the previous one's + stride, or t * stride by shift and add (frame_addr)
    i_fast, i_next, i_base, i_seq, i_busy = _addr_sigs(A)
    o_fast, o_next, o_base, o_seq, o_busy = _addr_sigs(A)
    i_fa = frame_addr(clk, rst, in_frame.req, in_frame.t, frames, sw_in, in_addr, i_fast, i_next,
                      i_base, i_seq, i_busy, cfg=cfg)
    o_fa = frame_addr(clk, rst, out_frame.req, out_frame.t, frames, sw_out, out_addr, o_fast,
                      o_next, o_base, o_seq, o_busy, cfg=cfg)
    ich = Signal(intbv(0, min=0, max=NCH + 1))
    iaddr = Signal(modbv(0)[A:])
    icnt = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    i_last = Signal(bool(0))                      # icnt is the channel's last value
    ihalf = Signal(intbv(0, min=0, max=XS + 1))   # the frame's X half: 0 or x_half
    ohalf = Signal(intbv(0, min=0, max=OH + 1))   # the frame's output half: 0 or out_half
    och = Signal(intbv(0, min=0, max=NCH + 1))
    oaddr = Signal(modbv(0)[A:])
    ov = Signal(intbv(0, min=0, max=OV))           # value index inside the frame
    orem = Signal(intbv(0, min=0, max=cfg.max_proj + 1))   # values left before the padding
    onv = Signal(intbv(0, min=0, max=NV + 1))     # values in the word register
    owords = Signal(intbv(0)[SWB:])                # words left of the command
    word = Signal(intbv(0)[DW:])
    rd_pend = Signal(bool(0))                      # a buffer read is in flight
    rd_zero = Signal(intbv(0)[OB:])                # ... value j beyond n_out: zero
    osh = Signal(intbv(0)[NCH * OB * AB:])
    och_d = Signal(intbv(0, min=0, max=NCH + 1))
    pending = Signal(intbv(0, min=0, max=NCH + 2))  # writer commands not yet done

    @always_comb
    def comb():
        in_frame.busy.next = istate != ist.IDLE
        out_frame.busy.next = ostate != ost.IDLE or pending != 0
        i.ready.next = istate == ist.RUN
        w.valid.next = ostate == ost.PUSH
        w.data.next = word
        w_cmd.addr.next = oaddr
        w_cmd.bytes.next = sw_out << LWB

    @always_comb
    def outsel():
        osh.next = o_rdata >> (och_d * OB * AB)

    # the B values of a read as int16 (sign-extended), 0 beyond n_out; value 0 in the LSBs
    lane_vals = [Signal(intbv(0)[16:]) for _ in range(OB)]
    outvals = [_out_value(osh, rd_zero, j, lane_vals[j], AB) for j in range(OB)]
    vals = ConcatSignal(*reversed(lane_vals)) if OB > 1 else lane_vals[0]

    @always_seq(clk.posedge, reset=rst)
    def inp():
        xw.we.next = False
        if cancel:
            istate.next = ist.IDLE
            req.valid.next = False
        elif istate == ist.IDLE:
            if in_frame.req:
                ich.next = 0
                if in_frame.t[0]:
                    ihalf.next = XS
                else:
                    ihalf.next = 0
                req.valid.next = False
                iaddr.next = i_next
                if i_fast:
                    istate.next = ist.REQ
                else:
                    istate.next = ist.ADDR
        elif istate == ist.ADDR:
            # frame_addr computes the base (busy from this cycle on)
            if not i_busy:
                iaddr.next = i_base
                istate.next = ist.REQ
        elif istate == ist.REQ:
            if ich == batch:
                istate.next = ist.IDLE
            elif req.valid and req.ready:
                req.valid.next = False
                icnt.next = 0
                i_last.next = n_in == 1
                istate.next = ist.RUN
            else:
                req.valid.next = True
                req.addr.next = iaddr
                req.n.next = n_in
                req.wide.next = False
        else:
            if i.valid:
                xw.we.next = True
                xw.ch.next = ich
                xw.addr.next = ihalf + icnt
                xw.data.next = i.data[16:]
                icnt.next = icnt + 1
                i_last.next = icnt + 2 == n_in
                if i_last:
                    ich.next = ich + 1
                    iaddr.next = iaddr + i_seq
                    istate.next = ist.REQ

    @always_seq(clk.posedge, reset=rst)
    def outp():
        w_cmd.valid.next = False
        if w_done and not (ostate == ost.CMD and w_cmd.valid and w_cmd.ready):
            if pending != 0:
                pending.next = pending - 1
        elif (ostate == ost.CMD and w_cmd.valid and w_cmd.ready) and not w_done:
            pending.next = pending + 1
        if ostate == ost.IDLE:
            if out_frame.req:
                och.next = 0
                if out_frame.t[0]:
                    ohalf.next = OH
                else:
                    ohalf.next = 0
                oaddr.next = o_next
                if o_fast:
                    ostate.next = ost.CMD
                else:
                    ostate.next = ost.ADDR
        elif ostate == ost.ADDR:
            if not o_busy:
                oaddr.next = o_base
                ostate.next = ost.CMD
        elif ostate == ost.CMD:
            if och == batch:
                ostate.next = ost.IDLE
            elif w_cmd.valid and w_cmd.ready:
                ov.next = 0
                orem.next = n_out
                o_raddr.next = ohalf
                onv.next = 0
                owords.next = sw_out
                rd_pend.next = False
                ostate.next = ost.FILL
            else:
                w_cmd.valid.next = True
        elif ostate == ost.FILL:
            # B values per cycle: address in cycle n, data in n+1, shifted in at n+1
            if rd_pend:
                word.next = (word >> (16 * OB)) | (vals << (DW - 16 * OB))
            if onv == NV:
                rd_pend.next = False
                if not rd_pend:
                    ostate.next = ost.PUSH
            else:
                for j in range(OB):
                    rd_zero.next[j] = orem <= j
                if orem >= OB:
                    orem.next = orem - OB
                else:
                    orem.next = 0
                och_d.next = och
                rd_pend.next = True
                ov.next = ov + OB
                onv.next = onv + OB
                # the next read's address (o_raddr is a register): beyond the half (padding
                # values, read as zeros) the half's first
                if ov < OH - OB:
                    o_raddr.next = o_raddr + OB
                else:
                    o_raddr.next = ohalf
        else:   # PUSH
            if w.ready:
                onv.next = 0
                owords.next = owords - 1
                if owords == 1:
                    och.next = och + 1
                    oaddr.next = oaddr + o_seq
                    ostate.next = ost.CMD
                else:
                    ostate.next = ost.FILL

    return i_sw, o_sw, i_fa, o_fa, comb, outsel, outvals, inp, outp


@block
def _out_value(osh, zero, j: int, val, ab: int):
    """``val`` = value ``j`` of ``osh`` (``ab`` bits at ``j * ab``) sign-extended to
    int16, or 0 if bit ``j`` of ``zero`` is set.  (Slices are taken here, with
    constant bounds: a slice passed as a port converts to ``x[a:b][c]``, which
    Icarus rejects.)"""
    lo, hi = j * ab, (j + 1) * ab
    ext = 0xFFFF ^ ((1 << ab) - 1)

    @always_comb
    def comb():
        if zero[j]:
            val.next = 0
        elif osh[hi - 1]:
            val.next = osh[hi:lo] | ext
        else:
            val.next = osh[hi:lo]

    return comb


def _addr_sigs(a: int) -> tuple:
    """Fresh (fast, nxt, base, seq, busy) for one :func:`frame_addr`."""
    return (Signal(bool(0)), Signal(modbv(0)[a:]), Signal(modbv(0)[a:]), Signal(intbv(0)[a:]),
            Signal(bool(0)))


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``ctrl_io``."""
    w = widths(cfg)
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), cancel=b(), frames=uint(w.frames).signal(),
                batch=uint(w.batch).signal(), in_addr=uint(w.axi_addr).signal(),
                out_addr=uint(w.axi_addr).signal(), n_in=upto(cfg.max_input + 1).signal(),
                n_out=upto(cfg.max_proj + 1).signal(), in_frame=FrameReq(cfg),
                out_frame=FrameReq(cfg), req=ReadReq(cfg), i=ItemStream(cfg),
                xw=StageWrite(cfg), w_cmd=MemCmd(cfg), w=WordStream(cfg), w_done=b(),
                o_raddr=uint(w.out_addr).signal(),
                o_rdata=uint(cfg.n_ch * cfg.vbuf_bank_count * cfg.act_bits).signal())


def top(cfg: Config):
    """``ctrl_io`` on fresh port signals."""
    return ctrl_io(**ports(cfg), cfg=cfg)
