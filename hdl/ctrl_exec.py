"""Stream scheduler: runs frames x layers as one activation stream (docs/architecture.md).

Four cooperating parts, all channels in lockstep:

* **pusher** (a ``seg_cursor``): one PE command per segment of the stream, in
  order, as long as every PE's command FIFO has room (a PE has room for
  command c once it has passed the segment of command c - CMD_FIFO_DEPTH:
  the array's lag report says so); it also queues the synchronisation marks:
  the end of the gate segments of every (layer, frame) for the element-wise
  sequencer and the end of every W_p segment for the drain sequencer.
* **broadcaster** (a second ``seg_cursor``): one chunk of ``bcast_width``
  values per cycle, read from the channels' buffers, for a segment whose
  command was pushed, whose values exist (x staged; y of that layer and frame
  drained that far; m produced that far) and when every PE's window has room
  (``head + C - minpos <= window``, minpos = report head - report lag).
* **element-wise sequencer**: when every PE has passed the gate segments of
  (l, t), ``ew_lanes`` cells per cycle: read-and-clear their gate rows in the
  PE array, the channels' element-wise units turn them into m (into the M
  region, or Y[l] without projection) and c.
* **drain sequencer**: when every PE has passed W_p of (l, t),
  ``drain_lanes`` projection rows per cycle into Y[l] through ``requant``.
* **frames**: input frame f is staged into X[f mod 2] once frame f-2's input
  segment has been broadcast; the last layer's y of frame t go to the output
  buffer half t mod 2, which the output mover empties (the producer of frame
  t+2 waits for it).

Ports
-----
clk, rst     clock; synchronous active-high reset
ex           ``ExecCtl``: go (run ``frames`` frames), fin, stall
cancel       stop at once (an error)
frames, n_layers   run length and the model's layers
lsel, lrow   ``LayerInfo`` of layer ``lsel`` (the loader's table, combinational)
in_frame, out_frame   ``FrameReq``: the frame movers (ctrl_io)
cmd          ``PeCmdPush`` to the PE array
rep          ``LagReport`` from the PE array
bcr          ``BcRead`` to the channels (the chunk leaves them one cycle later)
bc_valid, bc_pos   out: the broadcast chunk's valid and position (aligned with the
             channels' chunk data)
rd           ``ArrayRead`` to the PE array
ew, pj       ``EwStep`` / ``PjStep`` to the channels, aligned with the array's gather
m_wb, y_wb   the channels' write-back pulses (one per step written; channel 0)
wb_busy      a step is still in a channel's element-wise or drain pipeline (a pass
             starts only when the previous one has been written back: one write port)

Parameters
----------
cfg          ese.config.Config
"""

from myhdl import ConcatSignal, Signal, always_comb, always_seq, block, enum, intbv, modbv

from ese.config import Config, clog2

from .delay import delay_reg
from .fifo import fifo
from .interfaces import reset_signal
from .pe_array import FAN_STAGES, lag_latency, read_latency
from .seg_cursor import WP, WR, WX, seg_cursor
from .stream_if import (CMD_FIFO_DEPTH, ArrayRead, BcRead, EwStep, LagReport, LayerInfo,
                        PeCmdPush, PjStep, out_half, stream_widths, vbuf_layout)


@block
def ctrl_exec(clk, rst, ex, cancel, frames, n_layers, lsel, lrow, in_frame, out_frame,
              cmd, rep, bcr, bc_valid, bc_pos, rd, ew, pj, m_wb, y_wb, wb_busy, cfg: Config):
    w = stream_widths(cfg)
    LayerInfo.check(lrow, cfg, "ctrl_exec lrow")
    for iface, cls, nm in ((cmd, PeCmdPush, "cmd"), (rep, LagReport, "rep"), (bcr, BcRead, "bcr"),
                           (rd, ArrayRead, "rd"), (ew, EwStep, "ew"), (pj, PjStep, "pj")):
        cls.check(iface, cfg, f"ctrl_exec {nm}")
    L, H, P = cfg.max_layers, cfg.max_cells, cfg.max_proj
    LM = max(L, 2)                     # layer index signals: at least one bit
    NPE, C, WIN = cfg.n_pe, cfg.bcast_width, cfg.window
    CSH = C.bit_length() - 1
    EL, DL = cfg.ew_lanes, cfg.drain_lanes
    BLK = 4 * EL
    NBLK = NPE // BLK
    NOFF = BLK // DL
    GR = cfg.gate_rows_per_pe
    PW = w.pos
    FT = len(in_frame.t)
    VL = vbuf_layout(cfg)
    VA = len(bcr.addr)
    OH = out_half(cfg)
    MSB = PW - 1
    # cycles from a command's push until the lag report of every PE reflects it:
    # array input register, PE FIFO, lag register, the tree, one more for safety
    SEEN = FAN_STAGES + lag_latency(cfg) + 2

    # ---- the loaded layer table, copied at go ------------------------------------------
    def lst(hi):
        return [Signal(intbv(0, min=0, max=hi)) for _ in range(L)]
    t_in, t_cells, t_out = lst(cfg.max_cols + 1), lst(H + 1), lst(P + 1)
    t_proj = [Signal(bool(0)) for _ in range(L)]
    t_peep = [Signal(bool(0)) for _ in range(L)]
    t_sx, t_sr = lst(1 << w.shift), lst(1 << w.shift)
    t_sacc, t_sp, t_wfp = lst(64), lst(64), lst(64)
    t_mat = lst(1 << w.mat)
    t_rsx, t_rsr, t_rsp = lst(1 << w.rshift), lst(1 << w.rshift), lst(1 << w.rshift)

    st = enum("IDLE", "COPY", "RUN", "FIN")
    state = Signal(st.IDLE)
    cp = Signal(intbv(0, min=0, max=L + 1))
    running = Signal(bool(0))
    start = Signal(bool(0))            # one-cycle: cursors and counters restart

    @always_comb
    def lsel_drive():
        lsel.next = cp if cp < L else 0

    @always_seq(clk.posedge, reset=rst)
    def copy_table():
        if state == st.COPY and cp < n_layers:
            t_in[cp].next = lrow.n_in
            t_cells[cp].next = lrow.n_cells
            t_out[cp].next = lrow.n_out
            t_proj[cp].next = lrow.proj
            t_peep[cp].next = lrow.peep
            t_sx[cp].next = lrow.shift_x
            t_sr[cp].next = lrow.shift_r
            t_sacc[cp].next = lrow.s_acc
            t_sp[cp].next = lrow.s_p
            t_wfp[cp].next = lrow.wf_p
            t_mat[cp].next = lrow.mat
            t_rsx[cp].next = lrow.rs_x
            t_rsr[cp].next = lrow.rs_r
            t_rsp[cp].next = lrow.rs_p

    # ---- the PEs' progress: every PE still needs only positions >= minpos ------------------
    minpos = Signal(modbv(0)[PW:])

    @always_comb
    def progress():
        minpos.next = rep.head - (rep.lag << CSH)

    # ---- pusher --------------------------------------------------------------------------
    class Cursor:
        """The outputs of one seg_cursor (an interface-like bundle of signals)."""

        def __init__(self):
            self.done, self.skip, self.last_gate = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
            self.t = Signal(intbv(0)[FT:])
            self.l = Signal(intbv(0, min=0, max=L + 1))
            self.kind = Signal(intbv(0, min=0, max=3))
            self.ncols = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
            self.length = Signal(intbv(0)[clog2(cfg.max_cols + C + 1):])
            self.pos = Signal(modbv(0)[PW:])

    cursor_sigs = Cursor
    a = cursor_sigs()
    a_adv = Signal(bool(0))
    cur_a = seg_cursor(clk, rst, start, a_adv, frames, n_layers, t_in, t_cells, t_out, t_proj,
                       a.done, a.t, a.l, a.kind, a.skip, a.ncols, a.length,
                       a.pos, a.last_gate, cfg=cfg)
    # bases of the last CMD_FIFO_DEPTH pushed commands (oldest first) and how many
    hist = [Signal(modbv(0)[PW:]) for _ in range(CMD_FIFO_DEPTH)]
    n_pushed = Signal(intbv(0, min=0, max=CMD_FIFO_DEPTH + 1))
    room = Signal(bool(0))
    fdiff = Signal(modbv(0)[PW:])
    a_seg = Signal(modbv(0)[16:])      # segments pushed (for the broadcaster)
    a_layer = Signal(intbv(0, min=0, max=LM))
    # synchronisation marks: (layer, frame, end position) for the element-wise and drain
    LB = clog2(max(L, 2))
    MW = LB + FT + PW
    ewq_in, ewq_out = Signal(intbv(0)[MW:]), Signal(intbv(0)[MW:])
    drq_in, drq_out = Signal(intbv(0)[MW:]), Signal(intbv(0)[MW:])
    ewq_push, ewq_rdy, ewq_v, ewq_pop = (Signal(bool(0)) for _ in range(4))
    drq_push, drq_rdy, drq_v, drq_pop = (Signal(bool(0)) for _ in range(4))
    ewq_n = Signal(intbv(0, min=0, max=5))
    drq_n = Signal(intbv(0, min=0, max=5))
    # the marks of a cancelled run must not survive into the next one: emptied by start too
    q_rst = reset_signal()

    @always_comb
    def q_reset():
        q_rst.next = rst or start

    ewq = fifo(clk, q_rst, ewq_in, ewq_push, ewq_rdy, ewq_out, ewq_v, ewq_pop, ewq_n, width=MW,
               depth=4)
    drq = fifo(clk, q_rst, drq_in, drq_push, drq_rdy, drq_out, drq_v, drq_pop, drq_n, width=MW,
               depth=4)
    a_end = Signal(modbv(0)[PW:])
    a_lw = Signal(intbv(0)[LB:])
    mark_in = ConcatSignal(a_lw, a.t, a_end)

    @always_comb
    def push_room():
        fdiff.next = minpos - hist[0]
        a_end.next = a.pos + a.length
        if a.l < L:
            a_layer.next = a.l
            a_lw.next = a.l
        else:
            a_layer.next = 0
            a_lw.next = 0

    @always_comb
    def push_ok():
        # command c may go once every PE has passed command c - CMD_FIFO_DEPTH's segment
        room.next = (n_pushed < CMD_FIFO_DEPTH or not fdiff[MSB]) and ewq_n < 3 and drq_n < 3

    @always_comb
    def push_comb():
        a_adv.next = running and not a.done and (a.skip or room)
        cmd.push.next = running and not a.done and not a.skip and room
        ewq_push.next = running and not a.done and not a.skip and room and a.last_gate
        drq_push.next = running and not a.done and not a.skip and room and a.kind == WP
        ewq_in.next = mark_in
        drq_in.next = mark_in

    @always_comb
    def cmd_fields():
        cmd.base.next = a.pos
        if a.kind == WX:
            cmd.mat.next = t_mat[a_layer]
            cmd.rshift.next = t_rsx[a_layer]
            cmd.acc_base.next = 0
            cmd.shift.next = t_sx[a_layer]
        elif a.kind == WR:
            cmd.mat.next = t_mat[a_layer] + 1
            cmd.rshift.next = t_rsr[a_layer]
            cmd.acc_base.next = 0
            cmd.shift.next = t_sr[a_layer]
        else:
            cmd.mat.next = t_mat[a_layer] + 2
            cmd.rshift.next = t_rsp[a_layer]
            cmd.acc_base.next = GR
            cmd.shift.next = 0

    @always_seq(clk.posedge, reset=rst)
    def push_seq():
        if start:
            n_pushed.next = 0
            a_seg.next = 0
        elif cmd.push:
            a_seg.next = a_seg + 1
            if n_pushed < CMD_FIFO_DEPTH:
                n_pushed.next = n_pushed + 1
            for i in range(CMD_FIFO_DEPTH - 1):
                hist[i].next = hist[i + 1]
            hist[CMD_FIFO_DEPTH - 1].next = a.pos

    # ---- frames in: x_staged frames are in the X halves, x_used had their input broadcast
    x_staged = Signal(intbv(0)[FT:])
    x_used = Signal(intbv(0)[FT:])
    in_wait = Signal(bool(0))           # a request is outstanding

    @always_seq(clk.posedge, reset=rst)
    def frames_in():
        in_frame.req.next = False
        if start:
            x_staged.next = 0
            in_wait.next = False
        elif running:
            if in_wait:
                if not in_frame.busy and not in_frame.req:
                    in_wait.next = False
                    x_staged.next = x_staged + 1
            elif x_staged < frames and x_staged < x_used + 2:
                in_frame.req.next = True
                in_frame.t.next = x_staged
                in_wait.next = True

    # ---- production state: y of each layer, m of the current element-wise pass -----------
    y_frm = [Signal(intbv(0)[FT:]) for _ in range(L)]
    y_cnt = [Signal(intbv(0, min=0, max=max(H, P) + 1)) for _ in range(L)]
    m_lay = Signal(intbv(0, min=0, max=LM))
    m_frm = Signal(intbv(0)[FT:])
    m_cnt = Signal(intbv(0, min=0, max=H + 1))

    # ---- broadcaster ------------------------------------------------------------------------
    b = cursor_sigs()
    b_adv = Signal(bool(0))
    cur_b = seg_cursor(clk, rst, start, b_adv, frames, n_layers, t_in, t_cells, t_out, t_proj,
                       b.done, b.t, b.l, b.kind, b.skip, b.ncols, b.length,
                       b.pos, b.last_gate, cfg=cfg)
    b_seg = Signal(modbv(0)[16:])
    b_pass = Signal(modbv(0)[16:])      # gate passes broadcast so far
    b_ppass = Signal(modbv(0)[16:])     # W_p segments broadcast so far
    b_free = Signal(bool(0))
    b_pushed = Signal(bool(0))
    a_seg_seen = Signal(modbv(0)[16:])  # a_seg, late enough that every PE reports it
    ew_done = Signal(modbv(0)[16:])     # element-wise passes whose reads are all issued
    dr_done = Signal(modbv(0)[16:])     # drain passes whose reads are all issued
    seen_line = delay_reg(clk, rst, a_seg, a_seg_seen, SEEN)
    b_off = Signal(intbv(0)[len(b.length):])      # value offset of the next chunk
    b_hi = Signal(intbv(0, min=0, max=cfg.max_cols + 1))  # last value index the chunk needs
    b_layer = Signal(intbv(0, min=0, max=LM))
    src_l = Signal(intbv(0, min=0, max=LM))
    b_ready = Signal(bool(0))
    b_room = Signal(bool(0))
    b_go = Signal(bool(0))
    b_xwait = Signal(bool(0))
    b_cpos = Signal(modbv(0)[PW:])
    rdiff = Signal(modbv(0)[PW:])
    yc = Signal(intbv(0, min=0, max=max(H, P) + 1))
    yf = Signal(intbv(0)[FT:])
    y_base = tuple(VL["y"])
    M_BASE = VL["m"]

    @always_comb
    def b_where():
        b_layer.next = b.l if b.l < L else 0
        b_cpos.next = b.pos + b_off
        if b_off + C <= b.ncols:
            b_hi.next = b_off + C - 1
        elif b.ncols > 0:
            b_hi.next = b.ncols - 1
        else:
            b_hi.next = 0

    @always_comb
    def b_source():
        # Wx of layer l > 0 reads y of layer l-1; Wr reads y of its own layer
        if b.kind == WX and b_layer > 0:
            src_l.next = b_layer - 1
        else:
            src_l.next = b_layer

    @always_comb
    def b_y():
        yc.next = y_cnt[src_l]
        yf.next = y_frm[src_l]

    @always_comb
    def b_avail():
        b_xwait.next = False
        if b.kind == WX and b_layer == 0:
            b_ready.next = x_staged > b.t
            b_xwait.next = not (x_staged > b.t)
        elif b.kind == WX:
            b_ready.next = yf == b.t and yc > b_hi
        elif b.kind == WR:
            b_ready.next = yf + 1 == b.t and yc > b_hi
        else:
            b_ready.next = m_lay == b_layer and m_frm == b.t and m_cnt > b_hi

    @always_comb
    def b_window():
        rdiff.next = b_cpos + C - minpos

    @always_comb
    def b_ok():
        b_room.next = rdiff <= WIN

    @always_comb
    def b_order():
        # a gate segment may start once the previous pass's element-wise unit has read
        # (and cleared) the gate rows: ew_done passes are done, b_pass is this one's index;
        # a W_p segment likewise once the previous drain has read the projection rows (the
        # last layer's drain may wait for its output half while the next frame runs on).
        # done never exceeds broadcast, so equality is the wrap-safe ">="
        if b.kind == WP:
            b_free.next = dr_done == b_ppass
        else:
            b_free.next = ew_done == b_pass
        # a segment is broadcast only once every PE can have seen its command
        b_pushed.next = b_seg != a_seg_seen

    @always_comb
    def b_comb():
        b_go.next = running and not b.done and not b.skip and b_pushed and b_free \
            and b_ready and b_room
        b_adv.next = running and not b.done and (
            b.skip or (b_pushed and b_free and b_ready and b_room and b_off + C >= b.length))

    yb_src = Signal(intbv(0)[VA:])
    yb_e = Signal(intbv(0)[VA:])
    yb_d = Signal(intbv(0)[VA:])

    @always_comb
    def ybase_src():
        yb_src.next = y_base[int(src_l)]

    @always_comb
    def b_read():
        bcr.valid.next = b_go
        bcr.half.next = b.t[0]
        if b.kind == WX and b_layer == 0:
            bcr.src.next = False
            bcr.addr.next = b_off
        elif b.kind == WP:
            bcr.src.next = True
            bcr.addr.next = M_BASE + b_off
        else:
            bcr.src.next = True
            bcr.addr.next = yb_src + b_off

    @always_seq(clk.posedge, reset=rst)
    def b_seq():
        bc_valid.next = b_go
        bc_pos.next = b_cpos
        if start:
            b_seg.next = 0
            b_off.next = 0
            b_pass.next = 0
            b_ppass.next = 0
            x_used.next = 0
        elif b_adv:
            b_off.next = 0
            if not b.skip:
                b_seg.next = b_seg + 1
                if b.kind == WX and b_layer == 0:
                    x_used.next = x_used + 1
                if b.last_gate:
                    b_pass.next = b_pass + 1
                if b.kind == WP:
                    b_ppass.next = b_ppass + 1
        elif b_go:
            b_off.next = b_off + C

    # ---- element-wise and drain sequencers share the array's read port -------------------
    e_act, d_act = Signal(bool(0)), Signal(bool(0))
    e_l = Signal(intbv(0, min=0, max=LM))
    e_t = Signal(intbv(0)[FT:])
    e_end = Signal(modbv(0)[PW:])
    e_grp = Signal(intbv(0, min=0, max=H // EL + 1))
    e_ngrp = Signal(intbv(0, min=0, max=H // EL + 1))
    e_q = Signal(intbv(0)[w.acc_addr:])
    e_b = Signal(intbv(0, min=0, max=NBLK))
    e_sync = Signal(bool(0))
    e_out = Signal(bool(0))            # this pass writes the run's output (last layer, no proj)
    e_diff = Signal(modbv(0)[PW:])
    out_ok_e = Signal(bool(0))
    d_l = Signal(intbv(0, min=0, max=LM))
    d_t = Signal(intbv(0)[FT:])
    d_end = Signal(modbv(0)[PW:])
    d_row = Signal(intbv(0, min=0, max=P + DL + 1))
    d_n = Signal(intbv(0, min=0, max=P + 1))
    d_q = Signal(intbv(0)[w.acc_addr:])
    d_b = Signal(intbv(0, min=0, max=NBLK))
    d_o = Signal(intbv(0, min=0, max=NOFF))
    d_diff = Signal(modbv(0)[PW:])
    d_sync = Signal(bool(0))
    out_ok_d = Signal(bool(0))
    e_issue, d_issue = Signal(bool(0)), Signal(bool(0))
    out_done = Signal(intbv(0)[FT:])   # frames whose outputs the output mover wrote
    o_last = Signal(bool(0))
    e_ql, d_ql = Signal(intbv(0, min=0, max=LM)), Signal(intbv(0, min=0, max=LM))
    e_qt, d_qt = Signal(intbv(0)[FT:]), Signal(intbv(0)[FT:])
    e_qe, d_qe = Signal(modbv(0)[PW:]), Signal(modbv(0)[PW:])

    @always_comb
    def marks():
        e_ql.next = ewq_out[MW:FT + PW]
        e_qt.next = ewq_out[FT + PW:PW]
        e_qe.next = ewq_out[PW:]
        d_ql.next = drq_out[MW:FT + PW]
        d_qt.next = drq_out[FT + PW:PW]
        d_qe.next = drq_out[PW:]

    @always_comb
    def syncs():
        e_diff.next = minpos - e_qe
        d_diff.next = minpos - d_qe

    @always_comb
    def sync_ok():
        out_ok_e.next = not (e_ql + 1 == n_layers and not t_proj[e_ql]) or e_qt < out_done + 2
        out_ok_d.next = not (d_ql + 1 == n_layers) or d_qt < out_done + 2
        e_sync.next = running and ewq_v and not e_act and not d_act and not wb_busy \
            and not e_diff[MSB] and out_ok_e
        d_sync.next = running and drq_v and not e_act and not d_act and not wb_busy \
            and not e_sync and not d_diff[MSB] and out_ok_d

    @always_comb
    def q_pops():
        ewq_pop.next = e_sync
        drq_pop.next = d_sync

    @always_comb
    def issues():
        e_issue.next = e_act and e_grp < e_ngrp
        d_issue.next = d_act and d_row < d_n

    @always_comb
    def read_port():
        # a drain step takes D rows of a gathered block of 4L: the block is read (and
        # cleared) once, with its first step; the gather holds it for the others
        rd.valid.next = e_issue or (d_issue and d_o == 0)
        if d_issue:
            rd.addr.next = GR + d_q
            rd.blk.next = d_b
        else:
            rd.addr.next = e_q
            rd.blk.next = e_b

    # element-wise steps; the step's controls go out read_latency(cfg) later, with the gather
    es_v = Signal(bool(0))
    es_prm = Signal(intbv(0)[len(ew.prm):])
    es_dst = Signal(intbv(0)[VA:])
    es_oa = Signal(intbv(0)[len(ew.oaddr):])
    es_z, es_o = Signal(bool(0)), Signal(bool(0))
    ds_v = Signal(bool(0))
    ds_off = Signal(intbv(0)[len(pj.off):])
    ds_dst = Signal(intbv(0)[VA:])
    ds_oa = Signal(intbv(0)[len(pj.oaddr):])
    ds_o = Signal(bool(0))
    HG = H // EL
    ELSH = EL.bit_length() - 1

    @always_comb
    def ybase_e():
        yb_e.next = y_base[int(e_l)]

    @always_comb
    def ybase_d():
        yb_d.next = y_base[int(d_l)]

    @always_comb
    def step_fields():
        es_v.next = e_issue
        es_prm.next = e_l * HG + e_grp
        es_z.next = e_t == 0
        if t_proj[e_l]:
            es_dst.next = M_BASE + e_grp * EL
        else:
            es_dst.next = yb_e + e_grp * EL
        es_o.next = e_out
        es_oa.next = e_t[0] * OH + e_grp * EL
        ds_v.next = d_issue
        ds_off.next = d_o
        ds_dst.next = yb_d + d_row
        ds_o.next = o_last
        ds_oa.next = d_t[0] * OH + d_row

    RL = read_latency(cfg)
    ew_line = [delay_reg(clk, rst, es_v, ew.issue, RL), delay_reg(clk, rst, es_prm, ew.prm, RL),
               delay_reg(clk, rst, es_z, ew.zero_c, RL), delay_reg(clk, rst, es_dst, ew.dst, RL),
               delay_reg(clk, rst, es_o, ew.to_out, RL), delay_reg(clk, rst, es_oa, ew.oaddr, RL)]
    pj_line = [delay_reg(clk, rst, ds_v, pj.issue, RL), delay_reg(clk, rst, ds_off, pj.off, RL),
               delay_reg(clk, rst, ds_dst, pj.dst, RL), delay_reg(clk, rst, ds_o, pj.to_out, RL),
               delay_reg(clk, rst, ds_oa, pj.oaddr, RL)]

    @always_seq(clk.posedge, reset=rst)
    def ew_seq():
        if start or cancel:
            e_act.next = False
        elif e_sync:
            e_act.next = True
            e_l.next = e_ql
            e_t.next = e_qt
            e_grp.next = 0
            e_ngrp.next = (t_cells[e_ql] + EL - 1) >> ELSH
            e_q.next = 0
            e_b.next = 0
            e_out.next = e_ql + 1 == n_layers and not t_proj[e_ql]
            ew.s_acc.next = t_sacc[e_ql]
            ew.s_p.next = t_sp[e_ql]
            ew.peep.next = t_peep[e_ql]
        elif e_issue:
            e_grp.next = e_grp + 1
            if e_b == NBLK - 1:
                e_b.next = 0
                e_q.next = e_q + 1
            else:
                e_b.next = e_b + 1
        elif e_act and e_grp == e_ngrp:
            e_act.next = False

    @always_seq(clk.posedge, reset=rst)
    def ew_count():
        if start:
            ew_done.next = 0
        elif e_act and e_grp == e_ngrp:
            ew_done.next = ew_done + 1

    @always_seq(clk.posedge, reset=rst)
    def dr_count():
        if start:
            dr_done.next = 0
        elif d_act and d_row >= d_n:
            dr_done.next = dr_done + 1

    # what the element-wise pass in flight writes: m (projection layers) or y
    w_lay = Signal(intbv(0, min=0, max=LM))
    w_proj = Signal(bool(0))

    @always_seq(clk.posedge, reset=rst)
    def production():
        if start:
            m_cnt.next = 0
            m_frm.next = 0
            m_lay.next = 0
            for i in range(L):
                y_frm[i].next = 0
                y_cnt[i].next = 0
        else:
            if e_sync:
                w_lay.next = e_ql
                w_proj.next = t_proj[e_ql]
                if t_proj[e_ql]:
                    m_lay.next = e_ql
                    m_frm.next = e_qt
                    m_cnt.next = 0
                else:
                    y_frm[e_ql].next = e_qt
                    y_cnt[e_ql].next = 0
            elif m_wb:
                if w_proj:
                    m_cnt.next = m_cnt + EL
                else:
                    y_cnt[w_lay].next = y_cnt[w_lay] + EL
            if d_sync:
                y_frm[d_ql].next = d_qt
                y_cnt[d_ql].next = 0
            elif y_wb:
                y_cnt[d_l].next = y_cnt[d_l] + DL

    @always_seq(clk.posedge, reset=rst)
    def dr_seq():
        if start or cancel:
            d_act.next = False
        elif d_sync:
            d_act.next = True
            d_l.next = d_ql
            d_t.next = d_qt
            d_row.next = 0
            d_n.next = t_out[d_ql]
            d_q.next = 0
            d_b.next = 0
            d_o.next = 0
            o_last.next = d_ql + 1 == n_layers
            pj.shift.next = t_wfp[d_ql]
        elif d_issue:
            d_row.next = d_row + DL
            if d_o == NOFF - 1:
                d_o.next = 0
                if d_b == NBLK - 1:
                    d_b.next = 0
                    d_q.next = d_q + 1
                else:
                    d_b.next = d_b + 1
            else:
                d_o.next = d_o + 1
        elif d_act and d_row >= d_n:
            d_act.next = False

    # ---- frames out: the last layer's y of frame out_next complete -> the output mover --
    out_next = Signal(intbv(0)[FT:])
    out_wait = Signal(bool(0))
    lastl = Signal(intbv(0, min=0, max=LM))
    ly_frm = Signal(intbv(0)[FT:])
    ly_cnt = Signal(intbv(0, min=0, max=max(H, P) + 1))

    @always_comb
    def last_layer():
        lastl.next = n_layers - 1 if n_layers > 0 else 0

    @always_comb
    def last_y():
        ly_frm.next = y_frm[lastl]
        ly_cnt.next = y_cnt[lastl]

    @always_seq(clk.posedge, reset=rst)
    def frames_out():
        out_frame.req.next = False
        if start:
            out_next.next = 0
            out_done.next = 0
            out_wait.next = False
        elif running:
            if out_wait:
                if not out_frame.busy and not out_frame.req:
                    out_wait.next = False
                    out_done.next = out_done + 1
            elif out_next < frames and ly_frm == out_next and ly_cnt >= t_out[lastl] \
                    and t_out[lastl] > 0:
                out_frame.req.next = True
                out_frame.t.next = out_next
                out_next.next = out_next + 1
                out_wait.next = True

    # ---- the run ------------------------------------------------------------------------
    @always_comb
    def run_flags():
        # cancel stops everything at once: no command, chunk, pass or frame request from it on
        running.next = state == st.RUN and not start and not cancel
        ex.stall.next = state == st.RUN and (
            (not b.done and not b.skip and b_xwait)
            or (ewq_v and not e_act and not d_act and not out_ok_e)
            or (drq_v and not e_act and not d_act and not out_ok_d))

    @always_seq(clk.posedge, reset=rst)
    def run():
        start.next = False
        ex.fin.next = False
        if cancel:
            state.next = st.IDLE
        elif state == st.IDLE:
            if ex.go:
                cp.next = 0
                state.next = st.COPY
        elif state == st.COPY:
            if cp + 1 >= n_layers:
                start.next = True
                state.next = st.RUN
            else:
                cp.next = cp + 1
        elif state == st.RUN:
            if out_done == frames and not start:
                state.next = st.FIN
        else:
            ex.fin.next = True
            state.next = st.IDLE

    return (lsel_drive, copy_table, progress, cur_a, q_reset, ewq, drq, push_room, push_ok, push_comb,
            cmd_fields, push_seq, frames_in, cur_b, seen_line, b_where, b_source, b_y, b_avail,
            b_window, b_ok, b_order, b_comb, b_read, b_seq, ew_count, dr_count, marks, syncs, sync_ok, q_pops, issues, read_port,
            step_fields, ybase_src, ybase_e, ybase_d, ew_line, pj_line, ew_seq, production, dr_seq, last_layer, last_y, frames_out,
            run_flags, run)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``ctrl_exec``."""
    from .interfaces import ExecCtl, FrameReq, clock_reset
    L = cfg.max_layers
    return dict(**clock_reset(), ex=ExecCtl(cfg), cancel=Signal(bool(0)),
                frames=Signal(intbv(0)[clog2(cfg.max_frames + 1):]),
                n_layers=Signal(intbv(0, min=0, max=L + 1)),
                lsel=Signal(intbv(0, min=0, max=max(L, 2))), lrow=LayerInfo(cfg),
                in_frame=FrameReq(cfg), out_frame=FrameReq(cfg), cmd=PeCmdPush(cfg),
                rep=LagReport(cfg), bcr=BcRead(cfg), bc_valid=Signal(bool(0)),
                bc_pos=Signal(intbv(0)[stream_widths(cfg).pos:]), rd=ArrayRead(cfg),
                ew=EwStep(cfg), pj=PjStep(cfg), m_wb=Signal(bool(0)), y_wb=Signal(bool(0)),
                wb_busy=Signal(bool(0)))


def top(cfg: Config):
    """``ctrl_exec`` on fresh port signals for ``cfg``."""
    return ctrl_exec(**ports(cfg), cfg=cfg)
