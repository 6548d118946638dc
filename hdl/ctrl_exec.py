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
ex           ``ExecCtl``: go (run ``frames`` frames), fin, stall (registered: it tells of
             the cycle before)
cancel       stop at once (an error)
frames, n_layers   run length and the model's layers
lsel, lrow   ``LayerInfo`` of layer ``lsel`` (the loader's table, combinational)
in_frame, out_frame   ``FrameReq``: the frame movers (ctrl_io)
cmd          ``PeCmdPush`` to the PE array
rep          ``LagReport`` from the PE array
bcr          ``BcRead`` to the channels (registered; the chunk leaves them BC_READ = 2
             cycles later)
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

Timing: every decision is taken from registers and registered (issue 18,
docs/timing.md), at a cost in cycles the cycle model (model/schedule.py) and
tb/core hold within 3 %: ``minpos`` / ``lim`` are registers (the report's
head and lag one cycle old); the pusher decides its room a cycle ahead and
pushes at most every other cycle; the broadcaster decides a cycle ahead
(``ok_r``) for the chunk that will stand then, from registered verdicts of
the last cycle's candidates (availability, window room, pass order: their
compares end in flip-flops, and the decision only picks and combines them),
the availability itself from registers one more cycle old (a chunk that
waits costs three cycles more than a combinational decision); the pass
sequencers start from registered
decisions (``e_pre_r`` / ``d_pre_r``) and count with down-counters.  A chunk
may go when every condition holds for it; every condition only turns true
for a given chunk while it waits (positions, counts and passes only grow),
so deciding from older state is safe, never early.
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, enum, intbv, modbv

from ese.config import Config, clog2
from ese.pipeline import CH_BC_READ as BC_READ

from .delay import delay_reg
from .fifo import fifo
from .interfaces import reset_signal
from .pe_array import FAN_STAGES, lag_latency, read_latency
from .seg_cursor import WP, WR, WX, Slot, seg_cursor
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
    # cycles from a command's push until minpos reflects it in every PE: array input
    # register, PE FIFO, lag register, the tree, the minpos register, one more for safety
    SEEN = FAN_STAGES + lag_latency(cfg) + 3

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

    # no reset: every row a run uses is copied before the run starts (COPY), and the
    # datapath reset reaching these hundreds of enables was a critical path
    @always(clk.posedge)
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
    # registered from the report (a cycle late is safe: positions only grow, so an older
    # minpos is a lower bound too); ``lim`` is the last chunk position the window has
    # room for: head + C - minpos <= window  <=>  head <= minpos + window - C
    minpos = Signal(modbv(0)[PW:])
    lim = Signal(modbv(0)[PW:])
    lim_m = Signal(modbv(0)[PW:])       # lim - C: room for the chunk after a given one

    @always_seq(clk.posedge, reset=rst)
    def progress():
        minpos.next = rep.head - (rep.lag << CSH)
        lim.next = rep.head - (rep.lag << CSH) + (WIN - C)
        lim_m.next = rep.head - (rep.lag << CSH) + (WIN - 2 * C)

    # ---- pusher --------------------------------------------------------------------------
    # the pusher's slot (and the two after it, unused)
    a, an, ann = Slot(cfg, FT, PW), Slot(cfg, FT, PW), Slot(cfg, FT, PW)
    a_rdy = Signal(bool(0))
    a_adv = Signal(bool(0))
    cur_a = seg_cursor(clk, rst, start, a_adv, frames, n_layers, t_in, t_cells, t_out, t_proj,
                       a_rdy, a, an, ann, cfg=cfg)
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

    # command c may go once every PE has passed command c - CMD_FIFO_DEPTH's segment:
    # decided a cycle ahead into room_r; a push makes it stale (the history moves, the
    # queues fill), so the pusher pushes at most every other cycle (PUSH_GAP)
    room_r = Signal(bool(0))

    @always_comb
    def push_ok():
        # at most 3 marks wait in each queue
        room.next = (n_pushed < CMD_FIFO_DEPTH or not fdiff[MSB]) and ewq_n < 3 and drq_n < 3

    @always_seq(clk.posedge, reset=rst)
    def push_room_reg():
        room_r.next = room and not cmd.push and not start

    @always_comb
    def push_comb():
        a_adv.next = running and a_rdy and not a.done and (a.skip or room_r)
        cmd.push.next = running and a_rdy and not a.done and not a.skip and room_r
        ewq_push.next = running and a_rdy and not a.done and not a.skip and room_r \
            and a.last_gate
        drq_push.next = running and a_rdy and not a.done and not a.skip and room_r \
            and a.kind == WP
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
    x_lim = Signal(intbv(0)[FT + 1:])   # x_used + 2: frames up to it may be staged
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
            elif x_staged < frames and x_staged < x_lim:
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
    # the broadcaster's slot, the next and the one after
    b, bn, bnn = Slot(cfg, FT, PW), Slot(cfg, FT, PW), Slot(cfg, FT, PW)
    b_rdy = Signal(bool(0))
    b_adv = Signal(bool(0))
    cur_b = seg_cursor(clk, rst, start, b_adv, frames, n_layers, t_in, t_cells, t_out, t_proj,
                       b_rdy, b, bn, bnn, cfg=cfg)
    b_seg = Signal(modbv(0)[16:])
    b_pass = Signal(modbv(0)[16:])      # gate passes broadcast so far
    b_ppass = Signal(modbv(0)[16:])     # W_p segments broadcast so far
    a_seg_seen = Signal(modbv(0)[16:])  # a_seg, late enough that every PE reports it
    ew_done = Signal(modbv(0)[16:])     # element-wise passes whose reads are all issued
    dr_done = Signal(modbv(0)[16:])     # drain passes whose reads are all issued
    seen_line = delay_reg(clk, rst, a_seg, a_seg_seen, SEEN)
    # The chunk about to go, in registers: its offset in the segment (and the offsets of
    # the chunks after it, which say how many values of the source they need), its stream
    # position, whether it is the segment's last (the segment's source comes from the
    # cursor: b.src, b.tneed, b.isx, b.ism).  b_cv is low for the one cycle after the
    # cursor is ready that loads them for slot 0.
    b_cv = Signal(bool(0))
    b_off = Signal(intbv(0)[len(b.length):])
    b_cpos = Signal(modbv(0)[PW:])
    # b_off + C, a register: the chunk needs min(off1, ncols) values of its source, the
    # next one min(off2, ncols) (compared as "either", no minimum before the compares)
    off1 = Signal(intbv(C)[len(b.length) + 1:])
    b_last = Signal(bool(0))
    # Whether the chunk may go is decided a cycle ahead, into ``ok_r``, for the chunk that
    # will stand then: the same one (A), the next of the segment after a send (B), or the
    # next slot's first after the segment's last (C).  Every condition only turns true
    # for a given chunk (positions, counts and passes only grow while it waits), so
    # deciding from the previous cycle's state is safe; it costs a cycle per wait.
    ok_r = Signal(bool(0))
    b_go = Signal(bool(0))
    b_xwait = Signal(bool(0))
    y_base = tuple(VL["y"])
    M_BASE = VL["m"]
    # registers beside b_off: b_off + 2C (the offset after the next chunk) and b_off + 3C,
    # so that the compares behind them start at flip-flops
    off2 = Signal(intbv(2 * C)[len(b.length) + 1:])
    last_b = Signal(bool(0))
    cpos_b = Signal(modbv(0)[PW:])     # register: the next chunk's position, b_cpos + C
    # the order counters after an advance over the current slot, and their successors
    seg_c = Signal(modbv(0)[16:])
    pass_c = Signal(modbv(0)[16:])
    ppass_c = Signal(modbv(0)[16:])
    b_seg1 = Signal(modbv(0)[16:])
    b_pass1 = Signal(modbv(0)[16:])
    b_ppass1 = Signal(modbv(0)[16:])

    # which order counters this slot moves on when the broadcaster leaves it: the
    # segment count (unless skipped), the gate passes after a slot that ends them, the
    # W_p passes after a W_p slot
    mv_seg, mv_pass, mv_ppass = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))

    @always_comb
    def b_moves():
        mv_seg.next = not b.skip
        mv_pass.next = b.last_gate and not b.skip
        mv_ppass.next = b.kind == WP and not b.skip

    @always_comb
    def b_candidates():
        # C: the next slot's first chunk, with the counters after this slot
        if mv_seg:
            seg_c.next = b_seg1
        else:
            seg_c.next = b_seg
        if mv_pass:
            pass_c.next = b_pass1
        else:
            pass_c.next = b_pass
        if mv_ppass:
            ppass_c.next = b_ppass1
        else:
            ppass_c.next = b_ppass

    off3 = Signal(intbv(3 * C)[len(b.length) + 2:])    # the offset two chunks on

    @always_comb
    def b_candidates2():
        last_b.next = off2 >= b.length

    # the values of a slot's source that exist now (x: all or none; y and m: how many of
    # that layer and frame), and the same registered for the current and the next slot
    # as they stand in the next cycle (cur/nxt move up with an advance)
    AVMAX = cfg.max_cols
    av_b, av_bn, av_bnn = (Signal(intbv(0, min=0, max=AVMAX + 1)) for _ in range(3))
    av_blk = [_avail(b, x_staged, y_frm, y_cnt, m_lay, m_frm, m_cnt, av_b, AVMAX),
              _avail(bn, x_staged, y_frm, y_cnt, m_lay, m_frm, m_cnt, av_bn, AVMAX),
              _avail(bnn, x_staged, y_frm, y_cnt, m_lay, m_frm, m_cnt, av_bnn, AVMAX)]
    # registered as they are; the advance of the last cycle picks which is whose (a
    # multiplexer after the registers, not in front of them).  Declared before the
    # blocks that read them: MyHDL infers an always_comb's inputs when it is decorated
    # (docs/hdl-notes.md)
    avr_b, avr_bn, avr_bnn = (Signal(intbv(0, min=0, max=AVMAX + 1)) for _ in range(3))
    adv_r = Signal(bool(0))
    go_r = Signal(bool(0))              # the last cycle sent a chunk without an advance
    ok_a, ok_b, ok_c = (Signal(bool(0)) for _ in range(3))
    rdy_a, rdy_b, rdy_c = (Signal(bool(0)) for _ in range(3))
    rdy_b2, rdy_c2 = Signal(bool(0)), Signal(bool(0))
    wd_a, wd_b, wd_c = (Signal(modbv(0)[PW:]) for _ in range(3))
    wd_b2, wd_c2 = Signal(modbv(0)[PW:]), Signal(modbv(0)[PW:])
    cur_go, nxt_go = Signal(bool(0)), Signal(bool(0))
    # the candidates' verdicts (availability, room, pass order) as computed this cycle:
    # A, B, C as above, B2 the chunk after B, C2 the second chunk of the next slot
    f_a, f_b, f_c, f_b2, f_c2 = (Signal(bool(0)) for _ in range(5))
    # ... registered (the verdicts of the last cycle's candidates) and shifted by the
    # last cycle's move onto this cycle's candidates A, B, C
    r_a, r_b, r_c, r_b2, r_c2 = (Signal(bool(0)) for _ in range(5))
    rg_cur, rg_nxt = Signal(bool(0)), Signal(bool(0))      # the pass orders, registered
    g_a, g_b, g_c = (Signal(bool(0)) for _ in range(3))
    g_cur, g_nxt = Signal(bool(0)), Signal(bool(0))

    # every compare on both candidate registers, the pick after them (the carry chains
    # start at flip-flops); a need min(u, v) is met when either is (no compare behind
    # the minimum)
    ge_a0, ge_a1, ge_b0, ge_b1, ge_c0, ge_c1 = (Signal(bool(0)) for _ in range(6))
    ge_b20, ge_b21, ge_c20, ge_c21 = (Signal(bool(0)) for _ in range(4))
    ge_n0, ge_n1 = Signal(bool(0)), Signal(bool(0))     # the whole slot's values exist

    @always_comb
    def b_ready_cmp():
        # A needs min(off1, ncols) values of the slot, B min(off2, ncols), B2 min(off3,
        # ncols); C bn.need1 of the next slot, C2 min(2C, ncols) of it
        ge_n0.next = avr_b >= b.ncols
        ge_n1.next = avr_bn >= b.ncols
        ge_a0.next = avr_b >= off1
        ge_a1.next = avr_bn >= off1
        ge_b0.next = avr_b >= off2
        ge_b1.next = avr_bn >= off2
        ge_c0.next = avr_bn >= bn.need1
        ge_c1.next = avr_bnn >= bn.need1
        ge_b20.next = avr_b >= off3
        ge_b21.next = avr_bn >= off3
        ge_c20.next = avr_bn >= 2 * C or avr_bn >= bn.ncols
        ge_c21.next = avr_bnn >= 2 * C or avr_bnn >= bn.ncols

    @always_comb
    def b_ready_pick():
        if adv_r:
            rdy_a.next = ge_a1 or ge_n1
            rdy_b.next = ge_b1 or ge_n1
            rdy_c.next = ge_c1
            rdy_b2.next = ge_b21 or ge_n1
            rdy_c2.next = ge_c21
        else:
            rdy_a.next = ge_a0 or ge_n0
            rdy_b.next = ge_b0 or ge_n0
            rdy_c.next = ge_c0
            rdy_b2.next = ge_b20 or ge_n0
            rdy_c2.next = ge_c20

    @always_comb
    def b_room_now():
        # room in every PE's window: the chunk's position <= lim (the sign of lim - pos)
        wd_a.next = lim - b_cpos
        wd_b.next = lim - cpos_b
        wd_c.next = lim - bn.pos
        wd_b2.next = lim_m - cpos_b
        wd_c2.next = lim_m - bn.pos

    # the next slot's orders compared against both counters it may start from (this
    # slot's or its successor), picked after the compares
    dr_eq0, dr_eq1, ew_eq0, ew_eq1, sg_ne0, sg_ne1 = (Signal(bool(0)) for _ in range(6))
    dr_c, ew_c, sg_c = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))   # ... picked

    @always_comb
    def b_order_cmp():
        dr_eq0.next = dr_done == b_ppass
        dr_eq1.next = dr_done == b_ppass1
        ew_eq0.next = ew_done == b_pass
        ew_eq1.next = ew_done == b_pass1
        sg_ne0.next = b_seg != a_seg_seen
        sg_ne1.next = b_seg1 != a_seg_seen

    @always_comb
    def b_order_now():
        # a gate segment may start once the previous pass's element-wise unit has read
        # (and cleared) the gate rows: ew_done passes are done, b_pass is this one's index;
        # a W_p segment likewise once the previous drain has read the projection rows (the
        # last layer's drain may wait for its output half while the next frame runs on).
        # done never exceeds broadcast, so equality is the wrap-safe ">=".  A segment is
        # broadcast only once every PE can have seen its command (a_seg_seen).  The next
        # slot's counters are this slot's or their successors (seg_c, pass_c, ppass_c)
        if b.kind == WP:
            cur_go.next = dr_eq0 and sg_ne0
        else:
            cur_go.next = ew_eq0 and sg_ne0
        if mv_seg:
            sg_c.next = sg_ne1
        else:
            sg_c.next = sg_ne0
        if mv_ppass:
            dr_c.next = dr_eq1
        else:
            dr_c.next = dr_eq0
        if mv_pass:
            ew_c.next = ew_eq1
        else:
            ew_c.next = ew_eq0

    @always_comb
    def b_order_next():
        if bn.kind == WP:
            nxt_go.next = dr_c and sg_c
        else:
            nxt_go.next = ew_c and sg_c

    @always_comb
    def b_verdicts():
        f_a.next = rdy_a and not wd_a[PW - 1]
        f_b.next = rdy_b and not wd_b[PW - 1]
        f_c.next = rdy_c and not wd_c[PW - 1]
        f_b2.next = rdy_b2 and not wd_b2[PW - 1]
        f_c2.next = rdy_c2 and not wd_c2[PW - 1]

    # The verdicts are registered and the decision (ok_r) takes them a cycle later: the
    # compares' carry chains end in these flip-flops, not in ok_r.  It decides from state
    # one cycle older, which is safe for the reason above (a verdict only turns true for
    # a given chunk; the window bound lim only ever was a lower bound) and costs a cycle
    # per wait.  After an advance the last cycle's C is A and C2 is B; the slot after it
    # had no verdict (C waits a cycle); after a send B is A and B2 is B.  Cleared while
    # the chunk registers are not loaded.
    @always_seq(clk.posedge, reset=rst)
    def b_verdict_regs():
        if start or not b_cv:
            r_a.next = False
            r_b.next = False
            r_c.next = False
            r_b2.next = False
            r_c2.next = False
            rg_cur.next = False
            rg_nxt.next = False
        else:
            r_a.next = f_a
            r_b.next = f_b
            r_c.next = f_c
            r_b2.next = f_b2
            r_c2.next = f_c2
            rg_cur.next = cur_go
            rg_nxt.next = nxt_go
        go_r.next = b_go and not b_adv

    @always_comb
    def b_shift():
        # the pass orders belong to slots: after an advance the next slot's is this one's
        if adv_r:
            g_cur.next = rg_nxt
            g_nxt.next = False
        else:
            g_cur.next = rg_cur
            g_nxt.next = rg_nxt
        if adv_r:
            g_a.next = r_c
            g_b.next = r_c2
            g_c.next = False
        elif go_r:
            g_a.next = r_b
            g_b.next = r_b2
            g_c.next = r_c
        else:
            g_a.next = r_a
            g_b.next = r_b
            g_c.next = r_c

    @always_comb
    def b_oks():
        ok_a.next = g_a and g_cur and not b.skip and not b.done
        ok_b.next = g_b and g_cur and not b.skip and not b.done
        ok_c.next = g_c and g_nxt and not bn.skip and not bn.done

    @always_comb
    def b_comb():
        b_xwait.next = b.isx and not (x_staged > b.t)
        b_go.next = running and b_cv and ok_r
        b_adv.next = running and b_cv and not b.done and (b.skip or (ok_r and b_last))

    yb_src = Signal(intbv(0)[VA:])

    @always_comb
    def ybase_src():
        yb_src.next = y_base[int(b.src)]

    # the read goes to the channels from registers; the chunk is on their bc_data
    # BC_READ cycles later, where bc_valid / bc_pos meet it
    go_d = Signal(bool(0))
    pos_d = Signal(modbv(0)[PW:])

    @always_seq(clk.posedge, reset=rst)
    def b_read():
        bcr.valid.next = b_go
        bcr.half.next = b.t[0]
        if b.isx:
            bcr.src.next = False
            bcr.addr.next = b_off
        elif b.kind == WP:
            bcr.src.next = True
            bcr.addr.next = M_BASE + b_off
        else:
            bcr.src.next = True
            bcr.addr.next = yb_src + b_off
        go_d.next = b_go
        pos_d.next = b_cpos

    bc_line = [delay_reg(clk, rst, go_d, bc_valid, BC_READ),
               delay_reg(clk, rst, pos_d, bc_pos, BC_READ)]

    @always_seq(clk.posedge, reset=rst)
    def b_seq():
        if start:
            b_cv.next = False
            b_seg.next = 0
            b_pass.next = 0
            b_ppass.next = 0
            b_seg1.next = 1
            b_pass1.next = 1
            b_ppass1.next = 1
            b_off.next = 0
            off1.next = C
            off2.next = 2 * C
            off3.next = 3 * C
            x_used.next = 0
            x_lim.next = 2
        elif b_rdy and not b_cv:
            # slot 0 (x_0 of layer 0): its first chunk
            b_cv.next = True
            b_off.next = 0
            off1.next = C
            off2.next = 2 * C
            off3.next = 3 * C
            b_cpos.next = b.pos
            cpos_b.next = b.pos + C
            b_last.next = b.last1
        elif b_adv:
            # the next slot's first chunk (C)
            b_off.next = 0
            off1.next = C
            off2.next = 2 * C
            off3.next = 3 * C
            b_cpos.next = bn.pos
            cpos_b.next = bn.pos + C
            b_last.next = bn.last1
            b_seg.next = seg_c
            b_pass.next = pass_c
            b_ppass.next = ppass_c
            b_seg1.next = seg_c + 1
            b_pass1.next = pass_c + 1
            b_ppass1.next = ppass_c + 1
            if b.isx and not b.skip:
                x_used.next = x_used + 1
                x_lim.next = x_lim + 1
        elif b_go:
            # the next chunk of the segment (B)
            b_off.next = b_off + C
            off1.next = off1 + C
            off2.next = off2 + C
            off3.next = off3 + C
            b_cpos.next = cpos_b
            cpos_b.next = cpos_b + C
            b_last.next = last_b

    # ok_r: the decision for the chunk that stands next, chosen as b_seq moves (C after an
    # advance, B after a send, else A), written out as two selects from registers so
    # that the candidates' deep terms meet one multiplexer; 0 at a start and while the
    # first chunk loads (the register's reset)
    ok_d = Signal(bool(0))
    ok_g, ok_c0, ok_c1 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))

    @always_comb
    def ok_sel():
        ok_g.next = running and b_cv and ok_r                  # b_go
        ok_c0.next = running and b_cv and not b.done and b.skip  # b_adv without a send
        ok_c1.next = not b.done and (b.skip or b_last)          # b_adv with a send

    @always_comb
    def ok_next():
        if ok_g:
            if ok_c1:
                ok_d.next = ok_c
            else:
                ok_d.next = ok_b
        elif ok_c0:
            ok_d.next = ok_c
        else:
            ok_d.next = ok_a

    @always_seq(clk.posedge, reset=rst)
    def ok_reg():
        if start or (b_rdy and not b_cv):
            ok_r.next = False
        else:
            ok_r.next = ok_d

    @always_seq(clk.posedge, reset=rst)
    def b_avail_regs():
        if start or not b_cv:
            # zero (conservative) until the chunk registers are loaded
            avr_b.next = 0
            avr_bn.next = 0
            avr_bnn.next = 0
        else:
            avr_b.next = av_b
            avr_bn.next = av_bn
            avr_bnn.next = av_bnn
        adv_r.next = b_adv


    # ---- element-wise and drain sequencers share the array's read port -------------------
    e_act, d_act = Signal(bool(0)), Signal(bool(0))
    e_end = Signal(modbv(0)[PW:])
    e_left = Signal(intbv(0, min=0, max=H // EL + 1))     # groups of the pass still to read
    e_lnz = Signal(bool(0))                               # ... not 0 (a flip-flop of its own)
    e_prm = Signal(intbv(0)[len(ew.prm):])                 # the next step's fields
    e_dst = Signal(intbv(0)[VA:])
    e_oa = Signal(intbv(0)[len(ew.oaddr):])
    e_zc = Signal(bool(0))
    e_pre, e_pre_r = Signal(bool(0)), Signal(bool(0))
    d_pre, d_pre_r = Signal(bool(0)), Signal(bool(0))
    e_q = Signal(intbv(0)[w.acc_addr:])
    e_b = Signal(intbv(0, min=0, max=NBLK))
    e_sync = Signal(bool(0))
    e_out = Signal(bool(0))            # this pass writes the run's output (last layer, no proj)
    e_diff = Signal(modbv(0)[PW:])
    out_ok_e = Signal(bool(0))
    d_l = Signal(intbv(0, min=0, max=LM))
    d_end = Signal(modbv(0)[PW:])
    d_left = Signal(intbv(0, min=0, max=P + 1))           # steps of the pass still to go
    d_lnz = Signal(bool(0))                               # ... not 0
    d_dst = Signal(intbv(0)[VA:])                           # the next step's fields
    d_oa = Signal(intbv(0)[len(pj.oaddr):])
    d_qa = Signal(intbv(0)[w.acc_addr:])                    # GR + its block row
    d_b = Signal(intbv(0, min=0, max=NBLK))
    d_o = Signal(intbv(0, min=0, max=NOFF))
    d_diff = Signal(modbv(0)[PW:])
    d_sync = Signal(bool(0))
    out_ok_d = Signal(bool(0))
    e_issue, d_issue = Signal(bool(0)), Signal(bool(0))
    out_done = Signal(intbv(0)[FT:])   # frames whose outputs the output mover wrote
    out_done2 = Signal(intbv(0)[FT + 1:])   # ... + 2, a register (no adder before a compare)
    lastl = Signal(intbv(0, min=0, max=LM))  # the last layer (n_layers - 1; 0 without layers;
    #                                          a register)
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

    # A pass may start when every PE has passed its segments (minpos) and, for the last
    # layer, its output half is free: decided a cycle ahead into e_pre_r / d_pre_r (both
    # only turn true while a mark waits at the queue's head; the queue's pop and the pass
    # it starts keep the next decision out for the cycle the registers are stale)
    @always_comb
    def sync_ok():
        out_ok_e.next = not (e_ql == lastl and n_layers != 0 and not t_proj[e_ql]) \
            or e_qt < out_done2
        out_ok_d.next = not (d_ql == lastl and n_layers != 0) or d_qt < out_done2
        e_pre.next = ewq_v and not e_diff[MSB] and out_ok_e
        d_pre.next = drq_v and not d_diff[MSB] and out_ok_d
        e_sync.next = running and e_pre_r and ewq_v and not e_act and not d_act and not wb_busy
        d_sync.next = running and d_pre_r and drq_v and not e_act and not d_act \
            and not wb_busy and not e_sync

    @always_seq(clk.posedge, reset=rst)
    def sync_pre():
        e_pre_r.next = e_pre and not e_sync
        d_pre_r.next = d_pre and not d_sync

    @always_comb
    def q_pops():
        ewq_pop.next = e_sync
        drq_pop.next = d_sync

    @always_comb
    def issues():
        # the counts' "not 0" are registers: e_issue / d_issue fan out to every step register
        e_issue.next = e_act and e_lnz
        d_issue.next = d_act and d_lnz

    @always_comb
    def read_port():
        # a drain step takes D rows of a gathered block of 4L: the block is read (and
        # cleared) once, with its first step; the gather holds it for the others
        rd.valid.next = e_issue or (d_issue and d_o == 0)
        if d_issue:
            rd.addr.next = d_qa
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
    def step_fields():
        es_v.next = e_issue
        es_prm.next = e_prm
        es_z.next = e_zc
        es_dst.next = e_dst
        es_o.next = e_out
        es_oa.next = e_oa
        ds_v.next = d_issue
        ds_off.next = d_o
        ds_dst.next = d_dst
        ds_o.next = o_last
        ds_oa.next = d_oa

    # a pass's first step fields, from its mark at the queue's head
    PRM_BASE = tuple(l_ * HG for l_ in range(LM))
    e_pb = Signal(intbv(0)[len(ew.prm):])
    ybq_e = Signal(intbv(0)[VA:])
    ybq_d = Signal(intbv(0)[VA:])
    e_n0 = Signal(intbv(0, min=0, max=H // EL + 1))
    e_cells = Signal(intbv(0, min=0, max=H + 1))

    @always_comb
    def prm_base():
        e_pb.next = PRM_BASE[int(e_ql)]

    @always_comb
    def ybase_qe():
        ybq_e.next = y_base[int(e_ql)]

    @always_comb
    def ybase_qd():
        ybq_d.next = y_base[int(d_ql)]

    @always_comb
    def e_groups():
        e_cells.next = t_cells[e_ql]

    @always_comb
    def e_groups2():
        e_n0.next = (e_cells + EL - 1) >> ELSH

    # a drain pass's steps: ceil(P / DL)
    d_outs = Signal(intbv(0, min=0, max=P + 1))
    d_n0 = Signal(intbv(0, min=0, max=P + 1))
    DLSH = DL.bit_length() - 1

    @always_comb
    def d_steps():
        d_outs.next = t_out[d_ql]

    @always_comb
    def d_steps2():
        d_n0.next = (d_outs + DL - 1) >> DLSH

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
            e_left.next = e_n0
            e_lnz.next = e_cells != 0       # = e_n0 != 0, without the adder before it
            e_prm.next = e_pb
            if t_proj[e_ql]:
                e_dst.next = M_BASE
            else:
                e_dst.next = ybq_e
            if e_qt[0]:
                e_oa.next = OH
            else:
                e_oa.next = 0
            e_zc.next = e_qt == 0
            e_q.next = 0
            e_b.next = 0
            e_out.next = e_ql + 1 == n_layers and not t_proj[e_ql]
            ew.s_acc.next = t_sacc[e_ql]
            ew.s_p.next = t_sp[e_ql]
            ew.peep.next = t_peep[e_ql]
        elif e_issue:
            e_left.next = e_left - 1
            e_lnz.next = e_left != 1
            e_prm.next = e_prm + 1
            e_dst.next = e_dst + EL
            e_oa.next = e_oa + EL
            if e_b == NBLK - 1:
                e_b.next = 0
                e_q.next = e_q + 1
            else:
                e_b.next = e_b + 1
        elif e_act and not e_lnz:
            e_act.next = False

    @always_seq(clk.posedge, reset=rst)
    def ew_count():
        if start:
            ew_done.next = 0
        elif e_act and not e_lnz:
            ew_done.next = ew_done + 1

    @always_seq(clk.posedge, reset=rst)
    def dr_count():
        if start:
            dr_done.next = 0
        elif d_act and not d_lnz:
            dr_done.next = dr_done + 1

    # what the element-wise pass in flight writes: m (projection layers) or y
    w_lay = Signal(intbv(0, min=0, max=LM))
    w_proj = Signal(bool(0))
    e_proj = Signal(bool(0))             # the queue head's layer has a projection

    @always_comb
    def head_proj():
        e_proj.next = t_proj[e_ql]

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
                w_proj.next = e_proj
                if e_proj:
                    m_lay.next = e_ql
                    m_frm.next = e_qt
                    m_cnt.next = 0
            elif m_wb and w_proj:
                m_cnt.next = m_cnt + EL
            # each layer's counter adds to itself (no counter picked before the adder);
            # the drain's update of a layer wins over the element-wise pass's, as it
            # would written one after the other
            for i in range(L):
                if d_sync and d_ql == i:
                    y_frm[i].next = d_qt
                    y_cnt[i].next = 0
                elif y_wb and d_l == i:
                    y_cnt[i].next = y_cnt[i] + DL
                elif e_sync and not e_proj and e_ql == i:
                    y_frm[i].next = e_qt
                    y_cnt[i].next = 0
                elif m_wb and not w_proj and w_lay == i:
                    y_cnt[i].next = y_cnt[i] + EL

    @always_seq(clk.posedge, reset=rst)
    def dr_seq():
        if start or cancel:
            d_act.next = False
        elif d_sync:
            d_act.next = True
            d_l.next = d_ql
            d_left.next = d_n0
            d_lnz.next = d_outs != 0        # = d_n0 != 0
            d_dst.next = ybq_d
            if d_qt[0]:
                d_oa.next = OH
            else:
                d_oa.next = 0
            d_qa.next = GR
            d_b.next = 0
            d_o.next = 0
            o_last.next = d_ql + 1 == n_layers
            pj.shift.next = t_wfp[d_ql]
        elif d_issue:
            d_left.next = d_left - 1
            d_lnz.next = d_left != 1
            d_dst.next = d_dst + DL
            d_oa.next = d_oa + DL
            if d_o == NOFF - 1:
                d_o.next = 0
                if d_b == NBLK - 1:
                    d_b.next = 0
                    d_qa.next = d_qa + 1
                else:
                    d_b.next = d_b + 1
            else:
                d_o.next = d_o + 1
        elif d_act and not d_lnz:
            d_act.next = False

    # ---- frames out: the last layer's y of frame out_next complete -> the output mover --
    out_next = Signal(intbv(0)[FT:])
    out_wait = Signal(bool(0))

    # registered: n_layers holds still through a run (the loader writes it), and the
    # last layer's index selects the counters the output decision compares
    @always(clk.posedge)
    def last_layer():
        lastl.next = n_layers - 1 if n_layers > 0 else 0

    # frame out_next is complete: decided a cycle ahead (it stays complete until it is
    # requested, and a request keeps the next decision out while the mover is busy).  Every
    # layer's counters are compared, the last layer's verdict picked after the compares
    o_pre = Signal(bool(0))
    o_pre_r = Signal(bool(0))
    ly_done = [Signal(bool(0)) for _ in range(L)]
    ly_insts = [_frame_done(y_frm[i], y_cnt[i], t_out[i], out_next, ly_done[i])
                for i in range(L)]
    ly_vec = ConcatSignal(*reversed(ly_done)) if L > 1 else None
    ly_pick = Signal(bool(0))
    if L > 1:
        @always_comb
        def out_ready():
            ly_pick.next = ly_vec[lastl]
    else:
        ly0 = ly_done[0]

        @always_comb
        def out_ready():
            ly_pick.next = ly0

    @always_comb
    def out_ready2():
        o_pre.next = out_next < frames and ly_pick

    @always_seq(clk.posedge, reset=rst)
    def frames_out():
        out_frame.req.next = False
        o_pre_r.next = o_pre and not start
        if start:
            out_next.next = 0
            out_done.next = 0
            out_done2.next = 2
            out_wait.next = False
        elif running:
            if out_wait:
                if not out_frame.busy and not out_frame.req:
                    out_wait.next = False
                    out_done.next = out_done + 1
                    out_done2.next = out_done2 + 1
            elif o_pre_r:
                out_frame.req.next = True
                out_frame.t.next = out_next
                out_next.next = out_next + 1
                out_wait.next = True

    # ---- the run ------------------------------------------------------------------------
    @always_comb
    def run_flags():
        # cancel stops everything at once: no command, chunk, pass or frame request from it on
        running.next = state == st.RUN and not start and not cancel

    # the stall flag is registered (a status for the controller's counter: one cycle late,
    # the same count), so the frame compares behind it end in a flip-flop here
    @always_seq(clk.posedge, reset=rst)
    def stall_flag():
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

    return (lsel_drive, copy_table, progress, cur_a, q_reset, ewq, drq,
            push_room, push_ok,
            push_room_reg, push_comb,
            cmd_fields, push_seq, frames_in, cur_b, seen_line, b_moves, b_candidates,
            b_candidates2,
            av_blk, b_ready_cmp, b_ready_pick, b_room_now, b_order_cmp, b_order_now, b_order_next,
            b_verdicts,
            b_verdict_regs, b_shift, b_oks, b_comb, b_read,
            bc_line, b_seq, ok_sel, ok_next, ok_reg,
            b_avail_regs,
            ew_count, dr_count, marks,
            syncs, sync_ok, q_pops, issues, read_port,
            step_fields, ybase_src, prm_base, ybase_qe, ybase_qd, e_groups, e_groups2, d_steps,
            d_steps2, sync_pre, ew_line, pj_line, ew_seq, head_proj, production,
            dr_seq, last_layer, ly_insts,
            out_ready, out_ready2, frames_out,
            run_flags, stall_flag, run)


@block
def _frame_done(frm, cnt, tout, out_next, done):
    """A layer has every y of frame ``out_next``: its frame counter is on it and its count
    reached the layer's outputs (``tout`` > 0)."""
    @always_comb
    def cmp():
        done.next = frm == out_next and cnt >= tout and tout > 0
    return cmp


@block
def _avail(slot, x_staged, y_frm, y_cnt, m_lay, m_frm, m_cnt, av, avmax: int):
    """How many values of ``slot``'s source exist: x all (``avmax``) or none, y of layer
    ``slot.src`` and m the producer's count if it is of the frame the slot needs, else 0."""
    yc = Signal(intbv(0, min=0, max=y_cnt[0].max))
    yf = Signal(intbv(0)[len(y_frm[0]):])

    @always_comb
    def pick():
        yc.next = y_cnt[slot.src]
        yf.next = y_frm[slot.src]

    @always_comb
    def count():
        if slot.isx:
            if x_staged > slot.t:
                av.next = avmax
            else:
                av.next = 0
        elif slot.ism:
            if m_lay == slot.src and m_frm == slot.tneed:
                av.next = m_cnt
            else:
                av.next = 0
        elif yf == slot.tneed:
            av.next = yc
        else:
            av.next = 0
    return pick, count


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
