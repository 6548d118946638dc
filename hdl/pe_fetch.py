"""PE fetch: walks one PE's matrices in stream order, one entry per cycle.

One ``pe_fetch`` per PE index; its entries go to the ``pe_lanes`` of that
index (one lane per channel, docs/architecture.md).

The controller pushes one command per matrix of the activation stream into
the fetch's command FIFO.  The fetch looks the matrix's entries up in its
pointer table, reads them from the entry memory, decodes their linear
positions (model/encode.py: ``pos += gap + 1``, column ``pos >> rshift``,
row ``pos & (2**rshift - 1)``) and *issues* an entry when the value it needs
is in the window: its stream position ``base + column`` lies below the
*head* (the end of the last broadcast chunk).  Fillers issue at once and
change nothing.  It reports how far behind the head the oldest value it may
still read is (``lag``), for the controller's window flow control and its
synchronisation before the element-wise and projection passes.

Ports
-----
clk, rst     clock; synchronous active-high reset (also clears the command FIFO and the
             pipeline: the controller resets the datapath at the start of every run)
ld           ``PeWrite``: load port of the entry memory (``sel`` 0) / pointer table (1)
cmd          ``PeCmdPush``: a command into the FIFO (depth CMD_FIFO_DEPTH)
             (its ``base`` a multiple of bcast_width, as every segment's: only
             the chunk is kept)
afull        the FIFO has at most CMD_FIFO_MARGIN free places: push no more
bc_valid, bc_pos   the broadcast chunks (only their positions: the head)
hold         issue no entry that reads the accumulators this cycle (fillers still
             issue): an accumulator read takes their one port LANE_ACC_READ cycles
             later (pe_lanes; tied low when the accumulators have a port per region)
ent          ``Entry`` out: the issued entries (registered)
lag          [lag] registered: head - (a lower bound of the stream positions this PE may
             still read: its entry in D2, or the last one, see "head and lag" below), in
             chunks of bcast_width rounded up; 0 when it is idle or waiting for a value
             not yet broadcast; saturates
mac          registered: a non-filler entry was issued (the MAC counter)

Parameters
----------
cfg          ese.config.Config

Timing: the *front end* reads and decodes entries without ever stalling, as long
as it holds a credit (a free place in the entry queue, counting the entries on the
way), one per cycle; the *issue* stage takes them from the queue::

    cycle  t         t+1    t+2         t+3           t+4              t+5       t+6
           read      RAM    RAM output  decode:       column, row,     queue     issue if a
           entry     read   register    position      weight shift;    head      filler or
           (credit)                     (recurrence)  position + base, register  pos < head
                                                      row + acc base             (ent valid
                                                      -> entry queue              in t+7)

  A banked entry memory (Config.entry_banks > 1, hdl/ram.py ``banked_ram``) adds
  Config.entry_read_extra cycles between the RAM read and its output register (the
  bank registers), and every stage after it moves as much later.
* Commands are prefetched: a command leaves the command FIFO into a register, its
  pointers are read from the pointer table into the next, and the walker takes it
  when the previous command's last entry is read, so consecutive commands follow
  without a gap (an empty command costs one cycle).
* An entry waiting for its value holds only the issue stage (the queue's head
  register); the front end goes on until the queue (ENTRY_QUEUE places) is full.
  No stall travels back through the pipeline: every stage but the issue is a plain
  register.
* The lag report counts the entries not yet issued; the latencies of the report and of
  the controller's reactions make "every PE has passed position E" also mean "every
  product of the segment ending at E is accumulated" (see "head and lag" below).
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2
from ese.pipeline import ENTRY_BANK_WORDS, ENTRY_QUEUE, LANE_RETIRE

from .fifo import fifo
from .interfaces import clock_reset
from .delay import delay_reg
from .ram import banked_ram, ram
from .stream_if import (CMD_FIFO_DEPTH, CMD_FIFO_MARGIN, Entry, PeCmdPush, PeWrite,
                        stream_widths)


@block
def pe_fetch(clk, rst, ld, cmd, afull, bc_valid, bc_pos, hold, ent, lag, mac, cfg: Config):
    w = stream_widths(cfg)
    PeWrite.check(ld, cfg, "pe_fetch ld")
    PeCmdPush.check(cmd, cfg, "pe_fetch cmd")
    Entry.check(ent, cfg, "pe_fetch ent")
    assert len(bc_pos) == w.pos and len(lag) == w.lag, "pe_fetch: bc_pos / lag widths"
    EB, IB, WB = cfg.entry_bits, cfg.index_bits, cfg.weight_bits
    PB, PW, LB, LIN = w.ptr_value, w.pos, w.lag, w.linpos
    C = cfg.bcast_width
    CSH = C.bit_length() - 1
    # segment bases, the head and the lag are whole chunks: positions in chunks (PWC bits)
    PWC = PW - CSH
    SELB, SLOTB = w.sel, w.slot
    NPTR = cfg.ptr_depth
    LAGMAX = (1 << LB) - 1
    MASKS = tuple((1 << s) - 1 for s in range(1 << w.rshift))

    # ---- memories: entries (block RAM), pointer table (registers) -------------
    # plain copies of the load bus: MyHDL mis-names slices of an interface's signals
    # taken inside a nested block (docs/hdl-notes.md)
    ld_a = Signal(intbv(0)[len(ld.addr):])
    ld_d = Signal(intbv(0)[len(ld.data):])

    @always_comb
    def load_bus():
        ld_a.next = ld.addr
        ld_d.next = ld.data

    ent_we = Signal(bool(0))
    ent_re = Signal(bool(0))
    ent_ra = Signal(intbv(0)[w.entry_addr:])
    ent_q = Signal(intbv(0)[EB:])
    # a deep memory in banks (Config.entry_banks): its words come ENTRY_BANKED_READ
    # cycles later, from a register after the bank pick (then the RAM output register
    # of the front end is that register)
    XR = cfg.entry_read_extra
    if cfg.entry_banks > 1:
        emem = banked_ram(clk, ent_we, ld_a(w.entry_addr, 0), ld_d(EB, 0), ent_re, ent_ra,
                          ent_q, width=EB, depth=cfg.pe_entry_depth, bank=ENTRY_BANK_WORDS)
        assert XR == 1, "pe_fetch: a banked entry memory is read in 3 cycles"
    else:
        emem = ram(clk, ent_we, ld_a(w.entry_addr, 0), ld_d(EB, 0), ent_re, ent_ra, ent_q,
                   width=EB, depth=cfg.pe_entry_depth)
    ptab = [Signal(intbv(0)[PB:]) for _ in range(NPTR)]
    PTAB_AB = clog2(NPTR)

    @always_comb
    def load_dec():
        ent_we.next = ld.we and not ld.sel

    ptab_we = Signal(bool(0))
    ptab_wa = ld_a(PTAB_AB, 0)
    ptab_wd = ld_d(PB, 0)

    @always_comb
    def ptab_dec():
        ptab_we.next = ld.we and ld.sel

    @always(clk.posedge)
    def ptab_write():
        if ptab_we:
            ptab[ptab_wa].next = ptab_wd

    # ---- command FIFO ---------------------------------------------------------
    # the base is kept in chunks: segments start at multiples of bcast_width
    FW = w.mat + PWC + w.rshift + w.acc_addr + w.shift
    base_c = Signal(intbv(0)[PWC:])

    @always_comb
    def base_chunk():
        base_c.next = cmd.base >> CSH

    f_in = ConcatSignal(cmd.mat, base_c, cmd.rshift, cmd.acc_base, cmd.shift)
    f_out = Signal(intbv(0)[FW:])
    f_in_ready = Signal(bool(0))
    f_valid, f_pop = Signal(bool(0)), Signal(bool(0))
    f_count = Signal(intbv(0, min=0, max=CMD_FIFO_DEPTH + 1))
    f_push = Signal(bool(0))

    @always_comb
    def fifo_push():
        # the controller pushes only while ``afull`` is low, so the FIFO always has room
        f_push.next = cmd.push and f_in_ready

    cq = fifo(clk, rst, f_in, f_push, f_in_ready, f_out, f_valid, f_pop, f_count,
              width=FW, depth=CMD_FIFO_DEPTH)

    @always_comb
    def fifo_room():
        afull.next = f_count >= CMD_FIFO_DEPTH - CMD_FIFO_MARGIN

    # ---- command prefetch: P1 (the FIFO's head), P2 (its pointers) ---------------
    # command fields from bit 0: shift, accumulator address, row shift, segment base
    # (chunks), matrix number; the matrix number is spent at P2 (pointer lookup)
    o0 = w.shift
    o1 = o0 + w.acc_addr
    o2 = o1 + w.rshift
    o3 = o2 + PWC
    p1_v = Signal(bool(0))
    p1_cmd = Signal(intbv(0)[FW:])
    p1_mat = Signal(intbv(0)[w.mat:])
    p1_mat1 = Signal(modbv(0)[PTAB_AB:])   # the pointer table's index width
    p2_v = Signal(bool(0))
    # the command's first entry, its last (end - 1) and whether it has any
    p2_start, p2_last = Signal(intbv(0)[PB:]), Signal(modbv(0)[PB:])
    p2_any = Signal(bool(0))
    pt_start, pt_end = Signal(intbv(0)[PB:]), Signal(intbv(0)[PB:])
    p2_cmd = Signal(intbv(0)[o3:])        # the fields below the matrix number
    p1_take, p2_take, w_pop = (Signal(bool(0)) for _ in range(3))

    @always_comb
    def p1_fields():
        p1_mat.next = p1_cmd[FW:o3]
        p1_mat1.next = p1_cmd[FW:o3] + 1

    @always_comb
    def ptab_read():
        pt_start.next = ptab[p1_mat]
        pt_end.next = ptab[p1_mat1]

    @always_comb
    def prefetch_ready():
        p2_take.next = not p2_v or w_pop
        p1_take.next = not p1_v or not p2_v or w_pop
        f_pop.next = f_valid and (not p1_v or not p2_v or w_pop)

    @always_seq(clk.posedge, reset=rst)
    def prefetch():
        if p1_take:
            p1_v.next = f_valid
            p1_cmd.next = f_out
        if p2_take:
            p2_v.next = p1_v
            p2_start.next = pt_start
            p2_last.next = pt_end - 1
            p2_any.next = pt_start != pt_end
            p2_cmd.next = p1_cmd[o3:]

    # ---- walker: the current command, one entry read per cycle with a credit ------
    # the read address counts up to the command's last entry (no count of the entries
    # left: one compare instead of a subtractor, a decrement and their multiplexer)
    more = Signal(bool(0))               # entries of the command still to read
    ea = Signal(modbv(0)[PB:])
    ea_last = Signal(modbv(0)[PB:])      # the command's last entry
    at_last = Signal(bool(0))            # ea is it
    c_first = Signal(bool(0))
    c_cmd = Signal(intbv(0)[o3:])         # the fields below the matrix number
    credits = Signal(intbv(ENTRY_QUEUE, min=0, max=ENTRY_QUEUE + 1))
    rd_go = Signal(bool(0))              # read one entry this cycle
    issue = Signal(bool(0))

    @always_comb
    def walk_comb():
        at_last.next = ea == ea_last
        rd_go.next = more and credits != 0
        w_pop.next = p2_v and (not more or (at_last and credits != 0))

    @always_comb
    def ram_port():
        ent_re.next = rd_go
        ent_ra.next = ea[w.entry_addr:]

    @always_seq(clk.posedge, reset=rst)
    def walker():
        if w_pop:
            ea.next = p2_start
            ea_last.next = p2_last
            more.next = p2_any
            c_first.next = True
            c_cmd.next = p2_cmd
        elif rd_go:
            ea.next = ea + 1
            more.next = not at_last
            c_first.next = False

    @always_seq(clk.posedge, reset=rst)
    def credit():
        if rd_go and not issue:
            credits.next = credits - 1
        elif issue and not rd_go:
            credits.next = credits + 1

    # ---- front end: R (RAM read), R2 (RAM output register), D1, D2 -> entry queue -
    r_v, r_first, r2_v, r2_first = (Signal(bool(0)) for _ in range(4))
    r_cmd, r2_cmd = Signal(intbv(0)[o3:]), Signal(intbv(0)[o3:])
    q2 = Signal(intbv(0)[EB:])
    # the read's valid, first flag and command travel beside the RAM's stages: R (the
    # RAM's read register), the banked memory's XR stages, then R2 (the output register)
    x_v = Signal(bool(0))
    x_first = Signal(bool(0))
    x_cmd = Signal(intbv(0)[o3:])
    front = []
    if XR:
        front += [delay_reg(clk, rst, r_v, x_v, XR), delay_reg(clk, rst, r_first, x_first, XR),
                  delay_reg(clk, rst, r_cmd, x_cmd, XR)]

        @always_comb
        def ram_out():
            q2.next = ent_q
        front.append(ram_out)
    else:
        @always_comb
        def stage_x():
            x_v.next = r_v
            x_first.next = r_first
            x_cmd.next = r_cmd

        @always(clk.posedge)
        def ram_out_reg():
            # the entry RAM registers ent_q on the same edge as r_v (ram.py); q2 is the
            # RAM's output register
            q2.next = ent_q
        front += [stage_x, ram_out_reg]

    @always_seq(clk.posedge, reset=rst)
    def stage_r():
        r_v.next = rd_go
        r2_v.next = x_v

    @always(clk.posedge)
    def stage_r_data():
        r_first.next = c_first
        r_cmd.next = c_cmd
        r2_first.next = x_first
        r2_cmd.next = x_cmd

    gap = Signal(intbv(0)[IB:])
    wgt = Signal(intbv(0, min=-(1 << (WB - 1)), max=1 << (WB - 1)))
    pos_new = Signal(modbv(0)[LIN:])
    d1_v, d1_fil = Signal(bool(0)), Signal(bool(0))
    d1_pos = Signal(modbv(0)[LIN:])
    d1_w = Signal(intbv(0, min=-(1 << (WB - 1)), max=1 << (WB - 1)))
    d1_cmd = Signal(intbv(0)[o3:])        # the fields below the matrix number

    @always_comb
    def decode_fields():
        gap.next = q2[IB:]
        wgt.next = q2[EB:IB].signed()

    @always_comb
    def decode_pos():
        if r2_first:
            pos_new.next = gap
        else:
            pos_new.next = d1_pos + gap + 1

    @always_seq(clk.posedge, reset=rst)
    def stage_d1():
        d1_v.next = r2_v
        if r2_v:
            d1_pos.next = pos_new
            d1_w.next = wgt
            d1_fil.next = wgt == 0
            d1_cmd.next = r2_cmd

    d1_rs = Signal(intbv(0)[w.rshift:])
    d1_sh = Signal(intbv(0)[w.shift:])
    mask = Signal(intbv(0)[LIN:])
    col = Signal(modbv(0)[LIN:])
    row = Signal(modbv(0)[LIN:])
    WSB = WB + cfg.max_align_shift         # the weight shifted by the product shift
    w_sh = Signal(intbv(0, min=-(1 << (WSB - 1)), max=1 << (WSB - 1)))

    @always_comb
    def d1_fields():
        d1_rs.next = d1_cmd[o2:o1]
        d1_sh.next = d1_cmd[o0:]

    @always_comb
    def col_row_mask():
        mask.next = MASKS[int(d1_rs)]

    @always_comb
    def col_row():
        col.next = d1_pos >> d1_rs
        row.next = d1_pos & mask

    if cfg.max_align_shift > 0:
        @always_comb
        def weight_shift():
            # the alignment shift of W_x / W_r products (docs/numerics.md) applied to
            # the weight once here, instead of to every lane's product
            w_sh.next = d1_w << d1_sh
    else:
        @always_comb
        def weight_shift():
            w_sh.next = d1_w

    d2_v, d2_fil = Signal(bool(0)), Signal(bool(0))
    d2_col = Signal(intbv(0)[LIN:])
    d2_row = Signal(intbv(0)[LIN:])
    d2_w = Signal(intbv(0, min=-(1 << (WSB - 1)), max=1 << (WSB - 1)))
    d2_base = Signal(intbv(0)[PWC:])
    d2_acc0 = Signal(intbv(0)[w.acc_addr:])

    @always_seq(clk.posedge, reset=rst)
    def stage_d2():
        d2_v.next = d1_v

    @always(clk.posedge)
    def stage_d2_data():
        d2_fil.next = d1_fil
        d2_col.next = col
        d2_row.next = row
        d2_w.next = w_sh
        d2_base.next = d1_cmd[o3:o2]
        d2_acc0.next = d1_cmd[o1:o0]

    # the entry's stream position and accumulator address: two adds into the queue
    spos = Signal(modbv(0)[PW:])
    acc_a = Signal(modbv(0)[w.acc_addr:])

    @always_comb
    def d2_adds():
        spos.next = (d2_base << CSH) + d2_col
        acc_a.next = d2_acc0 + d2_row

    # ---- the entry queue (FWFT) ------------------------------------------------------
    QW = 1 + PW + w.acc_addr + WSB
    d2_wu = Signal(intbv(0)[WSB:])

    @always_comb
    def weight_bits():
        d2_wu.next = d2_w[WSB:]

    q_in = ConcatSignal(d2_fil, spos, acc_a, d2_wu)
    f2_out = Signal(intbv(0)[QW:])
    f2_in_ready, f2_valid, f2_pop = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    f2_count = Signal(intbv(0, min=0, max=ENTRY_QUEUE + 1))
    eq = fifo(clk, rst, q_in, d2_v, f2_in_ready, f2_out, f2_valid, f2_pop, f2_count,
              width=QW, depth=ENTRY_QUEUE)
    # the queue's head in a register (its output register): the issue decision starts
    # from flip-flops
    q_valid = Signal(bool(0))
    q_out = Signal(intbv(0)[QW:])
    q_take = Signal(bool(0))

    @always_comb
    def q_ready():
        q_take.next = not q_valid or issue
        f2_pop.next = f2_valid and (not q_valid or issue)

    @always_seq(clk.posedge, reset=rst)
    def q_head():
        if q_take:
            q_valid.next = f2_valid
            q_out.next = f2_out

    q_fil = Signal(bool(0))
    SPW = CSH + SLOTB if C > 1 else SLOTB  # the position bits the window address uses
    q_spos = Signal(modbv(0)[SPW:])
    q_spos_c = Signal(modbv(0)[PWC:])
    q_acc = Signal(intbv(0)[w.acc_addr:])
    q_w = Signal(intbv(0, min=-(1 << (WSB - 1)), max=1 << (WSB - 1)))

    @always_comb
    def q_fields():
        q_fil.next = q_out[QW - 1]
        q_spos.next = q_out[QW - 1 - PW + SPW:QW - 1 - PW]
        q_spos_c.next = q_out[QW - 1:QW - 1 - PWC]
        q_acc.next = q_out[w.acc_addr + WSB:WSB]
        q_w.next = q_out[WSB:].signed()

    # ---- issue: the queue's head when its value is in (or a filler) ------------------
    # head_m1 = head - 1 (chunks): the value is in when spos / C <= head_m1, i.e. the
    # sign of head_m1 - spos / C is clear (positions are compared modulo 2**PWC; the
    # window keeps them within half of that)
    head = Signal(modbv(0)[PWC:])        # in chunks: the end of the last chunk received
    # reset: -1, no chunk received yet (an entry of chunk 0 must wait for it)
    head_m1 = Signal(modbv((1 << PWC) - 1)[PWC:])
    behind1 = Signal(modbv(0)[PWC:])

    @always_comb
    def head_cmp():
        behind1.next = head_m1 - q_spos_c

    @always_comb
    def stage_issue():
        issue.next = q_valid and (q_fil or (not behind1[PWC - 1] and not hold))

    # window word = (position / C) mod (window / C), value = position mod C
    slot_v = Signal(intbv(0)[SLOTB:])
    sel_v = Signal(intbv(0)[SELB:])
    if C > 1:
        @always_comb
        def window_addr():
            slot_v.next = q_spos[CSH + SLOTB:CSH]
            sel_v.next = q_spos[CSH:]
    else:
        @always_comb
        def window_addr():
            slot_v.next = q_spos[SLOTB:]
            sel_v.next = 0

    @always_seq(clk.posedge, reset=rst)
    def stage_out():
        ent.valid.next = issue
        mac.next = issue and not q_fil

    # the entry's fields count only with ``valid``: plain registers (no reset, no enable)
    @always(clk.posedge)
    def stage_out_data():
        ent.filler.next = q_fil
        ent.slot.next = slot_v
        ent.sel.next = sel_v
        ent.weight.next = q_w
        ent.acc.next = q_acc

    # ---- head and lag ------------------------------------------------------------
    # The lag is head - lb in chunks, 0 when the PE is idle; lb is a lower bound of every
    # position the PE may still read: the queue's head entry, else the last entry issued
    # (the positions of a PE's entries never decrease: within a matrix they are in
    # column order, and the segments follow in stream order; the entries on the way to
    # the queue come after both), or the head of the last idle cycle (a segment is
    # broadcast only once its command is in every PE, so a command arriving later
    # starts at or after that head).
    # The report covers the entries not yet issued.  Issued ones need not be counted:
    # an entry issued in cycle c reads the window in c + 1 and is accumulated at the
    # end of c + LANE_RETIRE, while a report computed in c + 1 reaches the controller
    # in c + 1 + lag_latency and the controller's earliest use of it (a window word
    # overwritten, or a row read) lands in the PEs two or more cycles later
    # (hdl/pe_array.py checks the latencies).
    # lb is a register: the position of the entry entering the queue's head, else the
    # one it holds or held last (issued), else the head while idle
    busy = Signal(bool(0))               # an entry or a command is pending
    lb = Signal(modbv(0)[PWC:])
    f2_spos_c = Signal(modbv(0)[PWC:])   # the position (chunks) of the queue's next entry
    behind = Signal(modbv(0)[PWC:])

    @always_comb
    def f2_fields():
        f2_spos_c.next = f2_out[QW - 1:QW - 1 - PWC]

    @always_seq(clk.posedge, reset=rst)
    def track():
        if bc_valid:
            head.next = (bc_pos >> CSH) + 1
            head_m1.next = bc_pos >> CSH
        if q_take and f2_valid:
            lb.next = f2_spos_c
        elif not busy:
            lb.next = head

    @always_comb
    def pending():
        busy.next = q_valid or f2_valid or d2_v or d1_v or r2_v or x_v or r_v or more \
            or p2_v or p1_v or f_valid

    @always_comb
    def lag_diff():
        behind.next = head - lb

    @always_seq(clk.posedge, reset=rst)
    def lag_out():
        if not busy or behind[PWC - 1]:
            lag.next = 0
        elif behind[PWC - 1:LB] != 0:
            lag.next = LAGMAX
        else:
            lag.next = behind[LB:]

    return (base_chunk, fifo_push, load_bus, emem, load_dec, ptab_dec, ptab_write, cq,
            fifo_room, p1_fields, ptab_read, prefetch_ready, prefetch, walk_comb, ram_port, walker, credit,
            front, stage_r, stage_r_data, decode_fields, decode_pos, stage_d1, d1_fields,
            col_row_mask, col_row, weight_shift, stage_d2, stage_d2_data, d2_adds, weight_bits, eq, q_ready,
            q_head, q_fields,
            head_cmp, stage_issue, window_addr, stage_out, stage_out_data, f2_fields, track, pending,
            lag_diff, lag_out)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``pe_fetch``."""
    w = stream_widths(cfg)
    return dict(**clock_reset(), ld=PeWrite(cfg), cmd=PeCmdPush(cfg), afull=Signal(bool(0)),
                bc_valid=Signal(bool(0)), bc_pos=Signal(intbv(0)[w.pos:]), hold=Signal(bool(0)),
                ent=Entry(cfg), lag=Signal(intbv(0)[w.lag:]), mac=Signal(bool(0)))


def top(cfg: Config):
    """``pe_fetch`` on fresh port signals for ``cfg``."""
    return pe_fetch(**ports(cfg), cfg=cfg)
