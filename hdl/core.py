"""Core: the compute side of the accelerator, without the memory side.

``ctrl_exec`` (the stream scheduler) + ``pe_array`` (n_pe PEs of n_ch lanes)
+ ``n_ch`` ``channel``s, wired together.  ``ese_top`` adds the register
block, the controller, the loader, the frame movers and the AXI masters
around it; the core's own bench drives these ports directly.

Ports
-----
clk, rst       clock; synchronous active-high reset (the controller also resets the
               core at the start of every run: a run starts from a clean pipeline)
ex             ``ExecCtl``: go / fin / stall of a run of ``frames`` frames
cancel         stop the run at once
frames         T;  n_layers: the model's layers
lsel, lrow     ``LayerInfo`` of layer ``lsel`` (the loaded layer table)
ld             ``LoadBeat``: PE memories (loader)
pw_we, pw_sel, pw_addr, pw_data   one cell's biases (sel 0) or peepholes (1), every channel
in_frame, out_frame   ``FrameReq``: frame t into the X half t mod 2 / out of the output
               buffer half t mod 2 (the frame movers answer with ``busy``)
xw_we, xw_ch, xw_addr, xw_data    input value into channel ``xw_ch``'s X buffer
               (address half * x_half + index)
o_raddr        output buffer address (half * out_half + index), every channel
o_rdata        [n_ch * B * act_bits] the channels' output values index .. index+B-1
               (1-cycle latency; B = cfg.vbuf_bank_count, index a multiple of B;
               channel c's value j in bits (c*B + j)*act_bits ..)
mac_count      [clog2(n_pe+1)+1] non-filler entries issued per cycle (all PEs)

Parameters
----------
cfg            ese.config.Config
"""

from myhdl import ConcatSignal, Signal, always_comb, block, intbv

from ese.config import Config, clog2

from .channel import channel
from .ctrl_exec import ctrl_exec
from .interfaces import ExecCtl, FrameReq, clock_reset
from .pe_array import pe_array
from .stream_if import (ArrayRead, Bcast, BcRead, EwStep, Gather, LagReport, LayerInfo,
                        LoadBeat, PeCmdPush, PjStep, out_half, stream_widths, x_half)


@block
def core(clk, rst, ex, cancel, frames, n_layers, lsel, lrow, ld, pw_we, pw_sel, pw_addr,
         pw_data, in_frame, out_frame, xw_we, xw_ch, xw_addr, xw_data, o_raddr, o_rdata,
         mac_count, cfg: Config):
    NCH, A, ACC = cfg.n_ch, cfg.act_bits, cfg.acc_bits
    C, L = cfg.bcast_width, cfg.ew_lanes
    w = stream_widths(cfg)
    OB = cfg.vbuf_bank_count
    assert len(o_rdata) == NCH * OB * A, "core: o_rdata must be n_ch * vbuf_bank_count * act_bits"

    cmd, rep, bcr = PeCmdPush(cfg), LagReport(cfg), BcRead(cfg)
    bc = Bcast(cfg)
    rd, gat = ArrayRead(cfg), Gather(cfg)
    ew, pj = EwStep(cfg), PjStep(cfg)
    m_wb, y_wb = [Signal(bool(0)) for _ in range(NCH)], [Signal(bool(0)) for _ in range(NCH)]
    busy = [Signal(bool(0)) for _ in range(NCH)]
    i_ex = ctrl_exec(clk, rst, ex, cancel, frames, n_layers, lsel, lrow, in_frame, out_frame,
                     cmd, rep, bcr, bc.valid, bc.pos, rd, ew, pj, m_wb[0], y_wb[0], busy[0],
                     cfg=cfg)
    i_pa = pe_array(clk, rst, ld, cmd, bc, rd, gat, rep, mac_count, cfg=cfg)

    # the channels' chunks side by side on the broadcast bus (channel 0 in the LSBs)
    CB = C * A
    chunks = [Signal(intbv(0)[CB:]) for _ in range(NCH)]
    outs = [Signal(intbv(0)[OB * A:]) for _ in range(NCH)]
    bc_cat = ConcatSignal(*reversed(chunks)) if NCH > 1 else None
    o_cat = ConcatSignal(*reversed(outs)) if NCH > 1 else None
    GW = 4 * L * ACC
    xw_sel = Signal(intbv(0)[NCH:])      # the input value goes to channel xw_ch only

    @always_comb
    def xw_decode():
        if xw_we:
            xw_sel.next = 1 << xw_ch
        else:
            xw_sel.next = 0

    chans = []
    for c in range(NCH):
        chans.append(channel(clk, rst, gat.valid, gat.data((c + 1) * GW, c * GW), ew, pj,
                             pw_we, pw_sel, pw_addr, pw_data, xw_sel(c), xw_addr, xw_data,
                             bcr, chunks[c], o_raddr, outs[c], m_wb[c], y_wb[c], busy[c],
                             cfg=cfg))

    if NCH > 1:
        @always_comb
        def buses():
            bc.data.next = bc_cat
            o_rdata.next = o_cat
    else:
        chunk0, out0 = chunks[0], outs[0]

        @always_comb
        def buses():
            bc.data.next = chunk0
            o_rdata.next = out0

    return i_ex, i_pa, xw_decode, chans, buses


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``core``."""
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731
    L = cfg.max_layers
    return dict(**clock_reset(), ex=ExecCtl(cfg), cancel=b(),
                frames=u(clog2(cfg.max_frames + 1)),
                n_layers=Signal(intbv(0, min=0, max=L + 1)),
                lsel=Signal(intbv(0, min=0, max=max(L, 2))), lrow=LayerInfo(cfg),
                ld=LoadBeat(cfg), pw_we=b(), pw_sel=b(),
                pw_addr=u(clog2(cfg.max_layers * cfg.max_cells)), pw_data=u(64),
                in_frame=FrameReq(cfg), out_frame=FrameReq(cfg),
                xw_we=b(), xw_ch=u(clog2(cfg.n_ch) + 1), xw_addr=u(clog2(2 * x_half(cfg))),
                xw_data=u(16), o_raddr=u(clog2(2 * out_half(cfg))),
                o_rdata=u(cfg.n_ch * cfg.vbuf_bank_count * cfg.act_bits),
                mac_count=u(clog2(cfg.n_pe + 1) + 1))


def top(cfg: Config):
    """``core`` on fresh port signals for ``cfg``."""
    return core(**ports(cfg), cfg=cfg)
