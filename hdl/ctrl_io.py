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
"""

from myhdl import ConcatSignal, Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config, clog2

from .interfaces import (FrameReq, ItemStream, MemCmd, ReadReq, StageWrite, WordStream,
                         clock_reset, uint, upto, widths)
from .stream_if import out_half, x_half


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
    SB = 32
    XS, OH = x_half(cfg), out_half(cfg)         # values of one input / output buffer half

    ist = enum("IDLE", "REQ", "RUN")
    ost = enum("IDLE", "CMD", "FILL", "PUSH")
    istate = Signal(ist.IDLE)
    ostate = Signal(ost.IDLE)
    stride_in = Signal(intbv(0)[SB:])
    stride_out = Signal(intbv(0)[SB:])
    seq_in = Signal(intbv(0)[A + 24:])       # T * stride_in
    seq_out = Signal(intbv(0)[A + 24:])
    ich = Signal(intbv(0, min=0, max=NCH + 1))
    iaddr = Signal(intbv(0)[A + 24:])
    icnt = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    ibase = Signal(intbv(0, min=0, max=XS + 1))   # the frame's X half: 0 or x_half
    obase = Signal(intbv(0, min=0, max=OH + 1))   # the frame's output half: 0 or out_half
    och = Signal(intbv(0, min=0, max=NCH + 1))
    oaddr = Signal(intbv(0)[A + 24:])
    ov = Signal(intbv(0, min=0, max=1 << 24))     # value index inside the frame
    onv = Signal(intbv(0, min=0, max=NV + 1))     # values in the word register
    owords = Signal(intbv(0)[24:])                 # words left of the command
    word = Signal(intbv(0)[DW:])
    rd_pend = Signal(bool(0))                      # a buffer read is in flight
    rd_zero = Signal(intbv(0)[OB:])                # ... value j beyond n_out: zero
    osh = Signal(intbv(0)[NCH * OB * AB:])
    och_d = Signal(intbv(0, min=0, max=NCH + 1))
    pending = Signal(intbv(0, min=0, max=NCH + 2))  # writer commands not yet done

    @always_comb
    def strides():
        stride_in.next = ((n_in * 2 + WB - 1) >> LWB) << LWB
        stride_out.next = ((n_out * 2 + WB - 1) >> LWB) << LWB

    @always_comb
    def seqs():
        seq_in.next = frames * stride_in
        seq_out.next = frames * stride_out

    @always_comb
    def comb():
        in_frame.busy.next = istate != ist.IDLE
        out_frame.busy.next = ostate != ost.IDLE or pending != 0
        i.ready.next = istate == ist.RUN
        w.valid.next = ostate == ost.PUSH
        w.data.next = word
        w_cmd.addr.next = oaddr[A:]
        w_cmd.bytes.next = stride_out

    @always_comb
    def raddr():
        # the buffer read is registered: address ``ov`` now, its word next cycle
        if ov < OH:
            o_raddr.next = obase + ov
        else:
            o_raddr.next = obase

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
                iaddr.next = in_addr + in_frame.t * stride_in
                if in_frame.t[0]:
                    ibase.next = XS
                else:
                    ibase.next = 0
                istate.next = ist.REQ
                req.valid.next = False
        elif istate == ist.REQ:
            if ich == batch:
                istate.next = ist.IDLE
            elif req.valid and req.ready:
                req.valid.next = False
                icnt.next = 0
                istate.next = ist.RUN
            else:
                req.valid.next = True
                req.addr.next = iaddr[A:]
                req.n.next = n_in
                req.wide.next = False
        else:
            if i.valid:
                xw.we.next = True
                xw.ch.next = ich
                xw.addr.next = ibase + icnt
                xw.data.next = i.data[16:]
                icnt.next = icnt + 1
                if icnt + 1 == n_in:
                    ich.next = ich + 1
                    iaddr.next = iaddr + seq_in
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
                oaddr.next = out_addr + out_frame.t * stride_out
                if out_frame.t[0]:
                    obase.next = OH
                else:
                    obase.next = 0
                ostate.next = ost.CMD
        elif ostate == ost.CMD:
            if och == batch:
                ostate.next = ost.IDLE
            elif w_cmd.valid and w_cmd.ready:
                ov.next = 0
                onv.next = 0
                owords.next = stride_out >> LWB
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
                    rd_zero.next[j] = ov + j >= n_out
                och_d.next = och
                rd_pend.next = True
                ov.next = ov + OB
                onv.next = onv + OB
        elif ostate == ost.PUSH:
            if w.ready:
                onv.next = 0
                owords.next = owords - 1
                if owords == 1:
                    och.next = och + 1
                    oaddr.next = oaddr + seq_out
                    ostate.next = ost.CMD
                else:
                    ostate.next = ost.FILL

    return strides, seqs, comb, raddr, outsel, outvals, inp, outp


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
