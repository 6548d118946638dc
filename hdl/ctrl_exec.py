"""Execution controller: the frames x layers schedule (docs/architecture.md "Schedule").

Per frame ``t`` (all channels in lockstep, one sequence each):

1. wait until the input mover has frame ``t`` in every channel's staging
   buffer; copy it into ``X0`` of every lane (``n_in`` cycles); ask the mover
   for frame ``t+1`` (it streams in while this frame computes);
2. per layer ``l``: clear the gate region (and region 2 with a projection);
   ``W_x x`` (vector ``X0`` or ``Y[l-1]``), then at once ``W_r y_{t-1}``
   (vector ``Y[l]``; skipped at ``t = 0`` where y_{-1} = 0) into the same
   region as soon as every PE takes it; wait for every PE's second ``done``
   (first at t = 0); the element-wise pass: one cell per cycle (drain rows
   ``4k..4k+3``, biases, peepholes, c_{t-1}; c_{-1} = 0 at ``t = 0``) whose m
   go into ``M`` (or ``Y[l]`` without projection) of every lane and c into
   the channel's c memory; with a projection, ``W_p m`` is issued at the start
   of that pass with ``avail`` = the m values written so far, so it runs
   behind it; when it is done, drain its P rows through ``requant`` into
   ``Y[l]``;
3. the last layer's y (P words) also go into each channel's output buffer;
   after the frame the output mover writes them to DDR (overlapping the next
   frame; the next write into the output buffer waits for it).

Commands go to every PE at once, in the cycle all of them are ready
(``cmd.ready``); completion is every PE's ``done`` (sticky bits ``dn``, and
``dn2`` for the second of two back-to-back commands: a PE's done pulses come
in command order).

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst            clock; synchronous active-high reset
ex                  ``ExecCtl``: ``ex.go`` 1-cycle pulse: run ``frames`` frames (model
                    loaded, checks done); ``ex.fin`` 1-cycle pulse when the last frame's
                    outputs are written; ``ex.stall`` 1 while waiting for the input/output
                    movers (STALL counter)
cancel              1-cycle pulse: stop at once (error)
frames              T
n_layers, m_n_in    model size (from the loader)
layer_sel           layer whose table row the loader shows on ``layer``
layer               ``LayerRow``: that row (sizes, flags, shifts, pointer bases)
in_frame, out_frame ``FrameReq``: ask the input mover for frame ``t`` / the output mover
                    to write frame ``t``; each is busy until done
cmd                 ``PeCmd`` to every PE; ``cmd.ready`` = every PE's ready
avail               W_p's available columns (all columns otherwise), to every PE
done_bus [n_pe]     the PEs' done pulses
clr                 ``Clear``, to every PE
drn_addr            the PEs' drain address
vec_we, vec_addr    the PEs' vector write strobe and address (the data are the channels'
                    write-back words)
wb_valid            channel 0's write-back valid (all channels are identical)
xr, ew, pj, wbc     ``StageRead``, ``EwCtl``, ``ProjCtl``, ``WbCtl``: to every channel (see
                    hdl/channel.py); the layer constants of ``ew`` and ``pj`` are the
                    selected row's, combinationally

Parameters
----------
cfg                 ese.config.Config (n_pe a multiple of 4)
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config

from .interfaces import (Clear, EwCtl, ExecCtl, FrameReq, LayerRow, PeCmd, ProjCtl, StageRead,
                         WbCtl, clock_reset, uint, upto, widths)


@block
def ctrl_exec(clk, rst, ex, cancel, frames, n_layers, m_n_in, layer_sel, layer,
              in_frame, out_frame, cmd, avail, done_bus, clr, drn_addr, vec_we, vec_addr,
              wb_valid, xr, ew, pj, wbc, cfg: Config):
    NPE = cfg.n_pe
    assert NPE % 4 == 0, f"ctrl_exec: n_pe must be a multiple of 4, got {NPE}"
    assert len(done_bus) == NPE, "ctrl_exec: done_bus must have n_pe bits"
    GR = cfg.gate_rows_per_pe
    H, P, L = cfg.max_cells, cfg.max_proj, cfg.max_layers
    X0 = 0
    YB = cfg.max_input
    MB = cfg.max_input + L * P
    CPQ = NPE // 4                      # cells per local row
    ALL = (1 << NPE) - 1
    W = widths(cfg)
    for cls, obj, name in ((ExecCtl, ex, "ex"), (LayerRow, layer, "layer"),
                           (FrameReq, in_frame, "in_frame"), (FrameReq, out_frame, "out_frame"),
                           (PeCmd, cmd, "cmd"), (Clear, clr, "clr"), (StageRead, xr, "xr"),
                           (EwCtl, ew, "ew"), (ProjCtl, pj, "pj"), (WbCtl, wbc, "wbc")):
        cls.check(obj, cfg, f"ctrl_exec {name}")
    for name, sig, bits in (("avail", avail, W.ncols), ("drn_addr", drn_addr, W.acc_addr),
                            ("vec_addr", vec_addr, W.vec_addr)):
        assert len(sig) == bits, f"ctrl_exec: {name} must be {bits} bits, got {len(sig)}"
    AVAIL = (1 << len(avail)) - 1

    st = enum("IDLE", "WIN", "COPY", "CWAIT", "LSTART", "CMDX", "WX", "WX2", "CMDR", "WR",
              "EWPREP", "EW", "EWWAIT", "PCLR", "WP", "PJPREP", "PJ", "PJWAIT",
              "LNEXT", "FWAIT", "FIN")
    state = Signal(st.IDLE)
    t = Signal(intbv(0, min=0, max=cfg.max_frames + 2))
    lyr = Signal(intbv(0, min=0, max=L + 1))
    k = Signal(intbv(0, min=0, max=max(H, P, cfg.max_input) + 1))
    q = Signal(intbv(0, min=0, max=max(GR, cfg.proj_rows_per_pe) + 2))
    gb = Signal(intbv(0, min=0, max=NPE + 1))
    dn = Signal(intbv(0)[NPE:])         # PEs whose first done arrived
    dn2 = Signal(intbv(0)[NPE:])        # ... and their second (W_r after W_x)
    wb_idx = Signal(intbv(0, min=0, max=max(H, P, cfg.max_input) + 1))
    wb_base = Signal(intbv(0)[len(vec_addr):])
    wb_ew = Signal(bool(0))             # write-backs carry c (element-wise pass)
    to_out = Signal(bool(0))
    pbase = Signal(intbv(0, min=0, max=L * H + 1))
    last = Signal(bool(0))
    stream = Signal(bool(0))            # W_p runs behind the element-wise pass
    av = Signal(intbv(0)[len(avail):])  # m values written so far (W_p's avail)

    @always_comb
    def layer_consts():
        # the channels' per-layer constants: the selected layer's, straight through
        ew.s_acc.next = layer.s_acc
        ew.s_p.next = layer.s_p
        ew.peep.next = layer.peep
        pj.shift.next = layer.wf_p

    @always_comb
    def comb():
        layer_sel.next = lyr
        if stream:
            avail.next = av
        else:
            avail.next = AVAIL
        vec_we.next = wb_valid
        vec_addr.next = wb_base + wb_idx
        wbc.c_we.next = wb_valid and wb_ew
        wbc.c_addr.next = pbase + wb_idx
        wbc.o_we.next = wb_valid and to_out
        wbc.o_addr.next = wb_idx
        last.next = lyr + 1 == n_layers
        ex.stall.next = (state == st.WIN and in_frame.busy) or \
            ((state == st.EWPREP or state == st.PJPREP or state == st.FWAIT) and out_frame.busy)

    @always_seq(clk.posedge, reset=rst)
    def seq():
        ex.fin.next = False
        in_frame.req.next = False
        out_frame.req.next = False
        cmd.valid.next = False
        clr.valid.next = False
        xr.issue.next = False
        ew.issue.next = False
        pj.issue.next = False
        if wb_valid:
            wb_idx.next = wb_idx + 1
            if wb_ew:
                av.next = wb_idx + 1
        dn.next = dn | done_bus
        dn2.next = dn2 | (done_bus & dn)
        if cancel:
            state.next = st.IDLE
        elif state == st.IDLE:
            if ex.go:
                t.next = 0
                in_frame.t.next = 0
                in_frame.req.next = True
                state.next = st.WIN
        elif state == st.WIN:
            # the mover takes the request one cycle after it is raised: look at busy from then on
            if not in_frame.busy and not in_frame.req:
                k.next = 0
                lyr.next = 0
                wb_idx.next = 0
                wb_base.next = X0
                wb_ew.next = False
                to_out.next = False
                state.next = st.COPY
        elif state == st.COPY:
            if k < m_n_in:
                xr.issue.next = True
                xr.addr.next = k
                k.next = k + 1
            else:
                state.next = st.CWAIT
        elif state == st.CWAIT:
            if wb_idx == m_n_in:
                if t + 1 < frames:
                    in_frame.t.next = t + 1
                    in_frame.req.next = True
                pbase.next = 0
                state.next = st.LSTART
        elif state == st.LSTART:
            clr.valid.next = True
            clr.region.next = 0
            if layer.proj:
                state.next = st.PCLR
            else:
                state.next = st.CMDX
        elif state == st.CMDX:
            if cmd.ready and not clr.valid:
                cmd.valid.next = True
                cmd.ptr_base.next = layer.ptr_x
                cmd.ncols.next = layer.n_in
                if lyr == 0:
                    cmd.vec_base.next = X0
                else:
                    cmd.vec_base.next = YB + (lyr - 1) * P
                cmd.acc_base.next = 0
                cmd.shift.next = layer.shift_x
                dn.next = 0
                dn2.next = 0
                state.next = st.WX
        elif state == st.WX:
            # t > 0: W_r y follows W_x x into the same region as soon as the PEs take it
            # (their done pulses come in command order: dn, then dn2)
            if t != 0:
                state.next = st.WX2
            elif (dn | done_bus) == ALL:
                state.next = st.EWPREP
        elif state == st.WX2:
            state.next = st.CMDR
        elif state == st.CMDR:
            if cmd.ready:
                cmd.valid.next = True
                cmd.ptr_base.next = layer.ptr_r
                cmd.ncols.next = layer.n_out
                cmd.vec_base.next = YB + lyr * P
                cmd.acc_base.next = 0
                cmd.shift.next = layer.shift_r
                state.next = st.WR
        elif state == st.WR:
            if (dn2 | (done_bus & dn)) == ALL:
                state.next = st.EWPREP
        elif state == st.EWPREP:
            # the output buffer is rewritten by the last layer: wait for the previous frame's write
            if not (last and not layer.proj and (out_frame.busy or out_frame.req)) and cmd.ready:
                if layer.proj:
                    # W_p m follows the element-wise pass column by column (avail)
                    cmd.valid.next = True
                    cmd.ptr_base.next = layer.ptr_p
                    cmd.ncols.next = layer.n_cells
                    cmd.vec_base.next = MB
                    cmd.acc_base.next = 2 * GR
                    cmd.shift.next = 0
                    dn.next = 0
                    stream.next = True
                    av.next = 0
                k.next = 0
                q.next = 0
                gb.next = 0
                wb_idx.next = 0
                wb_ew.next = True
                to_out.next = last and not layer.proj
                if layer.proj:
                    wb_base.next = MB
                else:
                    wb_base.next = YB + lyr * P
                state.next = st.EW
        elif state == st.EW:
            if k < layer.n_cells:
                ew.issue.next = True
                drn_addr.next = q
                ew.gsel.next = gb
                ew.prm_addr.next = pbase + k
                ew.zero_c.next = t == 0
                k.next = k + 1
                if gb + 4 == NPE:
                    gb.next = 0
                    q.next = q + 1
                else:
                    gb.next = gb + 4
            else:
                state.next = st.EWWAIT
        elif state == st.EWWAIT:
            if wb_idx == layer.n_cells:
                wb_ew.next = False
                to_out.next = False
                stream.next = False
                if layer.proj:
                    state.next = st.WP
                else:
                    state.next = st.LNEXT
        elif state == st.PCLR:
            clr.valid.next = True
            clr.region.next = 2
            state.next = st.CMDX
        elif state == st.WP:
            if (dn | done_bus) == ALL:
                state.next = st.PJPREP
        elif state == st.PJPREP:
            if not (last and (out_frame.busy or out_frame.req)):
                k.next = 0
                q.next = 0
                gb.next = 0
                wb_idx.next = 0
                to_out.next = last
                wb_base.next = YB + lyr * P
                state.next = st.PJ
        elif state == st.PJ:
            if k < layer.n_out:
                pj.issue.next = True
                drn_addr.next = 2 * GR + q
                pj.sel.next = gb
                k.next = k + 1
                if gb + 1 == NPE:
                    gb.next = 0
                    q.next = q + 1
                else:
                    gb.next = gb + 1
            else:
                state.next = st.PJWAIT
        elif state == st.PJWAIT:
            if wb_idx == layer.n_out:
                to_out.next = False
                state.next = st.LNEXT
        elif state == st.LNEXT:
            if not last:
                lyr.next = lyr + 1
                pbase.next = pbase + H
                state.next = st.LSTART
            else:
                out_frame.t.next = t
                out_frame.req.next = True
                if t + 1 < frames:
                    t.next = t + 1
                    state.next = st.WIN
                else:
                    state.next = st.FWAIT
        elif state == st.FWAIT:
            if not out_frame.busy and not out_frame.req:
                state.next = st.FIN
        else:
            ex.fin.next = True
            state.next = st.IDLE

    return layer_consts, comb, seq


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``ctrl_exec``."""
    w = widths(cfg)
    L = cfg.max_layers
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), ex=ExecCtl(cfg), cancel=b(), frames=uint(w.frames).signal(),
                n_layers=upto(L + 1).signal(), m_n_in=upto(cfg.max_input + 1).signal(),
                layer_sel=upto(L + 1).signal(), layer=LayerRow(cfg),
                in_frame=FrameReq(cfg), out_frame=FrameReq(cfg), cmd=PeCmd(cfg),
                avail=uint(w.ncols).signal(), done_bus=uint(cfg.n_pe).signal(), clr=Clear(cfg),
                drn_addr=uint(w.acc_addr).signal(), vec_we=b(), vec_addr=uint(w.vec_addr).signal(),
                wb_valid=b(), xr=StageRead(cfg), ew=EwCtl(cfg), pj=ProjCtl(cfg), wbc=WbCtl(cfg))


def top(cfg: Config):
    """``ctrl_exec`` on fresh port signals."""
    return ctrl_exec(**ports(cfg), cfg=cfg)
