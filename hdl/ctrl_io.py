"""Frame movers: input frames DDR -> channel staging buffers, outputs -> DDR.

Frames in DDR (docs/architecture.md "Frames in DDR"): every value is an
int16, little-endian (the act format, sign-extended); one frame of one
sequence occupies ``stride = roundup(2*width, axi_data_bits/8)`` bytes;
sequence ``b`` frame ``t`` is at ``base + (b*T + t)*stride``.  Inputs have
width ``n_in`` at IN_ADDR, outputs width ``n_out`` at OUT_ADDR (the padding
of an output frame is written as zeros).

Input side: on ``in_frame.req`` for frame ``in_frame.t``, for every active
channel ``c < batch``, one read-port request of ``n_in`` 16-bit items whose
items are written into channel c's staging buffer (``xw``).  Output side: on
``out_frame.req`` for frame ``out_frame.t``, for every active channel one
``mem_writer`` command of ``stride_out`` bytes; the words are packed from
channel c's output buffer (``o_raddr`` / ``o_rdata`` list), values beyond
``n_out`` are 0.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst                clock; synchronous active-high reset
cancel                  1-cycle pulse: the input side stops (the read port drains);
                        the output side finishes the words of an accepted command
frames, batch, in_addr, out_addr, n_in, n_out     run parameters (stable while busy)
in_frame, out_frame     ``FrameReq``: move frame ``t`` in / out (busy from the cycle after
                        ``req``)
req, i                  ``ReadReq`` / ``ItemStream``: the read port (``rdport``)
xw                      ``StageWrite``: staging buffer write (all channels)
w_cmd, w                ``MemCmd`` / ``WordStream``: ``mem_writer``'s command and words
w_done                  ``mem_writer`` done pulse
o_raddr                 output buffer read address (all channels)
o_rdata  [n_ch*act_bits] the channels' output buffer read data (1-cycle latency),
                        channel c in bits (c+1)*act_bits-1 .. c*act_bits

Parameters
----------
cfg                     ese.config.Config

Timing: input: one item per cycle from the read port; output: one value per
cycle into the word register (``axi_data_bits/16`` cycles per word) plus the
writer's handshake.
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config, clog2

from .interfaces import (FrameReq, ItemStream, MemCmd, ReadReq, StageWrite, WordStream,
                         clock_reset, uint, upto, widths)


@block
def ctrl_io(clk, rst, cancel, frames, batch, in_addr, out_addr, n_in, n_out,
            in_frame, out_frame, req, i, xw, w_cmd, w, w_done, o_raddr, o_rdata, cfg: Config):
    DW, A = cfg.axi_data_bits, cfg.axi_addr_bits
    WB = DW // 8
    LWB = clog2(WB)
    NV = DW // 16                         # values per word
    NCH = cfg.n_ch
    assert cfg.act_bits <= 16, "ctrl_io: frames are int16 in DDR: act_bits must be <= 16"
    assert len(o_rdata) == NCH * cfg.act_bits, "ctrl_io: o_rdata must be n_ch*act_bits"
    for cls, obj, name in ((FrameReq, in_frame, "in_frame"), (FrameReq, out_frame, "out_frame"),
                           (ReadReq, req, "req"), (ItemStream, i, "i"), (StageWrite, xw, "xw"),
                           (MemCmd, w_cmd, "w_cmd"), (WordStream, w, "w")):
        cls.check(obj, cfg, f"ctrl_io {name}")
    AB = cfg.act_bits
    SB = 32

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
    och = Signal(intbv(0, min=0, max=NCH + 1))
    oaddr = Signal(intbv(0)[A + 24:])
    ov = Signal(intbv(0, min=0, max=1 << 24))     # value index inside the frame
    onv = Signal(intbv(0, min=0, max=NV + 1))     # values in the word register
    owords = Signal(intbv(0)[24:])                 # words left of the command
    word = Signal(intbv(0)[DW:])
    rd_pend = Signal(bool(0))                      # a buffer read is in flight
    rd_zero = Signal(bool(0))                      # ... beyond n_out: a zero value
    val = Signal(intbv(0)[16:])
    osh = Signal(intbv(0)[NCH * AB:])
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
        if ov < cfg.max_proj:
            o_raddr.next = ov[len(o_raddr):]
        else:
            o_raddr.next = 0

    @always_comb
    def outsel():
        osh.next = o_rdata >> (och_d * AB)

    @always_comb
    def outval():
        if rd_zero:
            val.next = 0
        elif osh[AB - 1]:
            val.next = osh[AB:] | (0xFFFF ^ ((1 << AB) - 1))    # sign-extend to int16
        else:
            val.next = osh[AB:]

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
                xw.addr.next = icnt
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
            # one value per cycle: address in cycle n, data in n+1, shifted in at n+1
            if rd_pend:
                word.next = (word >> 16) | (val << (DW - 16))
            if onv == NV:
                rd_pend.next = False
                if not rd_pend:
                    ostate.next = ost.PUSH
            else:
                rd_zero.next = ov >= n_out
                och_d.next = och
                rd_pend.next = True
                ov.next = ov + 1
                onv.next = onv + 1
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

    return strides, seqs, comb, raddr, outsel, outval, inp, outp


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
                o_raddr=uint(w.out_addr).signal(), o_rdata=uint(cfg.n_ch * cfg.act_bits).signal())


def top(cfg: Config):
    """``ctrl_io`` on fresh port signals."""
    return ctrl_io(**ports(cfg), cfg=cfg)
