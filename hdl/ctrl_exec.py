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
(``rdy_all``); completion is every PE's ``done`` (sticky bits ``dn``, and
``dn2`` for the second of two back-to-back commands: a PE's done pulses come
in command order).

Ports
-----
clk, rst            clock; synchronous active-high reset
go                  1-cycle pulse: run ``frames`` frames (model loaded, checks done)
cancel               1-cycle pulse: stop at once (error)
busy, fin           running; 1-cycle pulse when the last frame's outputs are written
stall               1 while waiting for the input/output movers (STALL counter)
frames              T
n_layers, m_n_in    model size (from the loader)
lt_sel              layer whose table row the loader shows on ``l_*``
l_n_in, l_n_cells, l_n_out, l_peep, l_proj, l_shift_x, l_shift_r, l_ptr_x, l_ptr_r, l_ptr_p
in_req, in_t, in_busy     ask the input mover for frame ``in_t``; it is busy until done
out_req, out_t, out_busy  ask the output mover to write frame ``out_t``
cmd_valid, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base, cmd_shift, avail
                    PE command (to every PE), ``rdy_all`` = every PE's cmd_ready
done_bus [n_pe]     the PEs' done pulses
clr_valid, clr_region, drn_addr, vec_we, vec_addr   to every PE
xr_issue, xr_addr, ew_issue, gsel, prm_addr, zero_c, pj_issue, pj_sel,
c_we, c_waddr, o_we, o_waddr     to every channel (see hdl/channel.py)
wb_valid            channel 0's write-back valid (all channels are identical)

Parameters
----------
cfg                 ese.config.Config (n_pe a multiple of 4)
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config, clog2


@block
def ctrl_exec(clk, rst, go, cancel, busy, fin, stall, frames, n_layers, m_n_in, lt_sel,
              l_n_in, l_n_cells, l_n_out, l_peep, l_proj, l_shift_x, l_shift_r,
              l_ptr_x, l_ptr_r, l_ptr_p,
              in_req, in_t, in_busy, out_req, out_t, out_busy,
              cmd_valid, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base, cmd_shift, avail,
              rdy_all, done_bus, clr_valid, clr_region, drn_addr, vec_we, vec_addr,
              xr_issue, xr_addr, ew_issue, gsel, prm_addr, zero_c, pj_issue, pj_sel,
              c_we, c_waddr, o_we, o_waddr, wb_valid, cfg: Config):
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
    assert len(avail) >= clog2(cfg.max_cols + 1)
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
    def comb():
        lt_sel.next = lyr
        busy.next = state != st.IDLE
        if stream:
            avail.next = av
        else:
            avail.next = AVAIL
        vec_we.next = wb_valid
        vec_addr.next = wb_base + wb_idx
        c_we.next = wb_valid and wb_ew
        c_waddr.next = pbase + wb_idx
        o_we.next = wb_valid and to_out
        o_waddr.next = wb_idx
        last.next = lyr + 1 == n_layers
        stall.next = (state == st.WIN and in_busy) or \
            ((state == st.EWPREP or state == st.PJPREP or state == st.FWAIT) and out_busy)

    @always_seq(clk.posedge, reset=rst)
    def seq():
        fin.next = False
        in_req.next = False
        out_req.next = False
        cmd_valid.next = False
        clr_valid.next = False
        xr_issue.next = False
        ew_issue.next = False
        pj_issue.next = False
        if wb_valid:
            wb_idx.next = wb_idx + 1
            if wb_ew:
                av.next = wb_idx + 1
        dn.next = dn | done_bus
        dn2.next = dn2 | (done_bus & dn)
        if cancel:
            state.next = st.IDLE
        elif state == st.IDLE:
            if go:
                t.next = 0
                in_t.next = 0
                in_req.next = True
                state.next = st.WIN
        elif state == st.WIN:
            # the mover takes in_req one cycle after it is raised: look at busy from then on
            if not in_busy and not in_req:
                k.next = 0
                lyr.next = 0
                wb_idx.next = 0
                wb_base.next = X0
                wb_ew.next = False
                to_out.next = False
                state.next = st.COPY
        elif state == st.COPY:
            if k < m_n_in:
                xr_issue.next = True
                xr_addr.next = k
                k.next = k + 1
            else:
                state.next = st.CWAIT
        elif state == st.CWAIT:
            if wb_idx == m_n_in:
                if t + 1 < frames:
                    in_t.next = t + 1
                    in_req.next = True
                pbase.next = 0
                state.next = st.LSTART
        elif state == st.LSTART:
            clr_valid.next = True
            clr_region.next = 0
            if l_proj:
                state.next = st.PCLR
            else:
                state.next = st.CMDX
        elif state == st.CMDX:
            if rdy_all and not clr_valid:
                cmd_valid.next = True
                cmd_ptr_base.next = l_ptr_x
                cmd_ncols.next = l_n_in
                if lyr == 0:
                    cmd_vec_base.next = X0
                else:
                    cmd_vec_base.next = YB + (lyr - 1) * P
                cmd_acc_base.next = 0
                cmd_shift.next = l_shift_x
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
            if rdy_all:
                cmd_valid.next = True
                cmd_ptr_base.next = l_ptr_r
                cmd_ncols.next = l_n_out
                cmd_vec_base.next = YB + lyr * P
                cmd_acc_base.next = 0
                cmd_shift.next = l_shift_r
                state.next = st.WR
        elif state == st.WR:
            if (dn2 | (done_bus & dn)) == ALL:
                state.next = st.EWPREP
        elif state == st.EWPREP:
            # the output buffer is rewritten by the last layer: wait for the previous frame's write
            if not (last and not l_proj and (out_busy or out_req)) and rdy_all:
                if l_proj:
                    # W_p m follows the element-wise pass column by column (avail)
                    cmd_valid.next = True
                    cmd_ptr_base.next = l_ptr_p
                    cmd_ncols.next = l_n_cells
                    cmd_vec_base.next = MB
                    cmd_acc_base.next = 2 * GR
                    cmd_shift.next = 0
                    dn.next = 0
                    stream.next = True
                    av.next = 0
                k.next = 0
                q.next = 0
                gb.next = 0
                wb_idx.next = 0
                wb_ew.next = True
                to_out.next = last and not l_proj
                if l_proj:
                    wb_base.next = MB
                else:
                    wb_base.next = YB + lyr * P
                state.next = st.EW
        elif state == st.EW:
            if k < l_n_cells:
                ew_issue.next = True
                drn_addr.next = q
                gsel.next = gb
                prm_addr.next = pbase + k
                zero_c.next = t == 0
                k.next = k + 1
                if gb + 4 == NPE:
                    gb.next = 0
                    q.next = q + 1
                else:
                    gb.next = gb + 4
            else:
                state.next = st.EWWAIT
        elif state == st.EWWAIT:
            if wb_idx == l_n_cells:
                wb_ew.next = False
                to_out.next = False
                stream.next = False
                if l_proj:
                    state.next = st.WP
                else:
                    state.next = st.LNEXT
        elif state == st.PCLR:
            clr_valid.next = True
            clr_region.next = 2
            state.next = st.CMDX
        elif state == st.WP:
            if (dn | done_bus) == ALL:
                state.next = st.PJPREP
        elif state == st.PJPREP:
            if not (last and (out_busy or out_req)):
                k.next = 0
                q.next = 0
                gb.next = 0
                wb_idx.next = 0
                to_out.next = last
                wb_base.next = YB + lyr * P
                state.next = st.PJ
        elif state == st.PJ:
            if k < l_n_out:
                pj_issue.next = True
                drn_addr.next = 2 * GR + q
                pj_sel.next = gb
                k.next = k + 1
                if gb + 1 == NPE:
                    gb.next = 0
                    q.next = q + 1
                else:
                    gb.next = gb + 1
            else:
                state.next = st.PJWAIT
        elif state == st.PJWAIT:
            if wb_idx == l_n_out:
                to_out.next = False
                state.next = st.LNEXT
        elif state == st.LNEXT:
            if not last:
                lyr.next = lyr + 1
                pbase.next = pbase + H
                state.next = st.LSTART
            else:
                out_t.next = t
                out_req.next = True
                if t + 1 < frames:
                    t.next = t + 1
                    state.next = st.WIN
                else:
                    state.next = st.FWAIT
        elif state == st.FWAIT:
            if not out_busy and not out_req:
                state.next = st.FIN
        else:
            fin.next = True
            state.next = st.IDLE

    return comb, seq


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``ctrl_exec`` (names = port names)."""
    from myhdl import ResetSignal
    from .pe_fetch import fetch_widths
    from .loader import param_addr_bits
    W = fetch_widths(cfg)
    L, NPE = cfg.max_layers, cfg.n_pe
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731
    r = lambda hi: Signal(intbv(0, min=0, max=hi))  # noqa: E731
    ft = clog2(cfg.max_frames + 2)
    PA = param_addr_bits(cfg)
    return dict(
        clk=b(), rst=ResetSignal(0, active=1, isasync=False), go=b(), cancel=b(), busy=b(),
        fin=b(), stall=b(), frames=u(clog2(cfg.max_frames + 1)), n_layers=r(L + 1),
        m_n_in=r(cfg.max_input + 1), lt_sel=r(L + 1), l_n_in=r(cfg.max_cols + 1),
        l_n_cells=r(cfg.max_cells + 1), l_n_out=r(cfg.max_proj + 1), l_peep=b(), l_proj=b(),
        l_shift_x=u(W["SB"]), l_shift_r=u(W["SB"]), l_ptr_x=u(W["PA"]), l_ptr_r=u(W["PA"]),
        l_ptr_p=u(W["PA"]), in_req=b(), in_t=u(ft), in_busy=b(), out_req=b(), out_t=u(ft),
        out_busy=b(), cmd_valid=b(), cmd_ptr_base=u(W["PA"]), cmd_ncols=u(W["CB"]),
        cmd_vec_base=u(W["VA"]), cmd_acc_base=u(W["AA"]), cmd_shift=u(W["SB"]),
        avail=u(W["CB"]), rdy_all=b(), done_bus=u(NPE), clr_valid=b(), clr_region=u(2),
        drn_addr=u(W["AA"]), vec_we=b(), vec_addr=u(W["VA"]), xr_issue=b(),
        xr_addr=u(clog2(cfg.max_input)), ew_issue=b(), gsel=r(NPE), prm_addr=u(PA),
        zero_c=b(), pj_issue=b(), pj_sel=r(NPE), c_we=b(), c_waddr=u(PA), o_we=b(),
        o_waddr=u(clog2(cfg.max_proj)), wb_valid=b(),
    )


def top(cfg: Config):
    """``ctrl_exec`` on fresh port signals."""
    return ctrl_exec(**ports(cfg), cfg=cfg)
