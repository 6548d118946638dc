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
             issue): an accumulator read takes their one port ACC_READ_HOLD cycles
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

Timing (one entry per cycle when nothing stalls)::

    cycle   n        n+1        n+2         n+3              n+4        n+5 .. n+7
            read     decode:    column,     issue if a       ent valid  lanes multiply,
            entry    position   stream pos  filler or        (window    accumulate
            RAM      (recurrence) acc addr  pos < head       read)      (written end n+7)

* A command's pointers are read when it is popped (when the previous command's last
  entry is read), so consecutive commands follow without a gap; an empty command
  costs one cycle.
* An entry waiting for its value holds the stages behind it.
* The lag report counts the entries not yet issued; the latencies of the report and of
  the controller's reactions make "every PE has passed position E" also mean "every
  product of the segment ending at E is accumulated" (see "head and lag" below).
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2

from .fifo import fifo
from .interfaces import clock_reset
from .ram import ram
from .stream_if import (CMD_FIFO_DEPTH, CMD_FIFO_MARGIN, Entry, PeCmdPush, PeWrite,
                        stream_widths)

#: cycles from ``ent.valid`` to the product being in the accumulator (pe_lanes)
LANE_RETIRE = 4


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
    h_mat = Signal(intbv(0)[w.mat:])
    h_base = Signal(modbv(0)[PWC:])
    h_rs = Signal(intbv(0)[w.rshift:])
    h_acc = Signal(intbv(0)[w.acc_addr:])
    h_sh = Signal(intbv(0)[w.shift:])
    o0 = w.shift
    o1 = o0 + w.acc_addr
    o2 = o1 + w.rshift
    o3 = o2 + PWC

    @always_comb
    def fifo_head():
        h_sh.next = f_out[o0:]
        h_acc.next = f_out[o1:o0]
        h_rs.next = f_out[o2:o1]
        h_base.next = f_out[o3:o2]
        h_mat.next = f_out[FW:o3]

    @always_comb
    def fifo_room():
        afull.next = f_count >= CMD_FIFO_DEPTH - CMD_FIFO_MARGIN

    p_start = Signal(intbv(0)[PB:])
    p_end = Signal(intbv(0)[PB:])

    @always_comb
    def ptr_read():
        p_start.next = ptab[h_mat]
        p_end.next = ptab[h_mat + 1]

    # ---- walker: the current command -------------------------------------------
    act = Signal(bool(0))
    ea = Signal(modbv(0)[PB:])
    ee = Signal(intbv(0)[PB:])
    c_first = Signal(bool(0))
    c_base = Signal(modbv(0)[PWC:])
    c_rs = Signal(intbv(0)[w.rshift:])
    c_acc = Signal(intbv(0)[w.acc_addr:])
    c_sh = Signal(intbv(0)[w.shift:])
    more = Signal(bool(0))          # the current command has entries left to read
    rd_go = Signal(bool(0))         # read one entry this cycle
    last_rd = Signal(bool(0))

    # ---- pipeline: R (RAM output), D1 (position), D2 (column, address), issue ---
    r_v, r_first = Signal(bool(0)), Signal(bool(0))
    r_base = Signal(modbv(0)[PWC:])
    r_rs = Signal(intbv(0)[w.rshift:])
    r_acc = Signal(intbv(0)[w.acc_addr:])
    r_sh = Signal(intbv(0)[w.shift:])
    d1_v, d1_fil = Signal(bool(0)), Signal(bool(0))
    d1_pos = Signal(modbv(0)[LIN:])
    d1_w = Signal(intbv(0, min=-(1 << (WB - 1)), max=1 << (WB - 1)))
    d1_base = Signal(modbv(0)[PWC:])
    d1_rs = Signal(intbv(0)[w.rshift:])
    d1_acc = Signal(intbv(0)[w.acc_addr:])
    d1_sh = Signal(intbv(0)[w.shift:])
    d2_v, d2_fil = Signal(bool(0)), Signal(bool(0))
    d2_spos = Signal(modbv(0)[PW:])
    WSB = WB + cfg.max_align_shift         # the weight shifted by the product shift
    d2_w = Signal(intbv(0, min=-(1 << (WSB - 1)), max=1 << (WSB - 1)))
    d2_acc = Signal(modbv(0)[w.acc_addr:])
    w_sh = Signal(intbv(0, min=-(1 << (WSB - 1)), max=1 << (WSB - 1)))
    r_take, d1_take, d2_take, issue = (Signal(bool(0)) for _ in range(4))
    head = Signal(modbv(0)[PWC:])        # in chunks
    behind = Signal(modbv(0)[PWC:])      # head - d2_spos in chunks (> 0: the value is there)
    busy = Signal(bool(0))               # an entry or a command is pending

    gap = Signal(intbv(0)[IB:])
    wgt = Signal(intbv(0, min=-(1 << (WB - 1)), max=1 << (WB - 1)))
    pos_new = Signal(modbv(0)[LIN:])
    col = Signal(modbv(0)[LIN:])
    mask = Signal(intbv(0)[LIN:])
    row = Signal(modbv(0)[LIN:])

    @always_comb
    def stage_ready():
        there = not behind[PWC - 1] and behind != 0
        go = d2_fil or (there and not hold)
        issue.next = d2_v and go
        d2_take.next = not d2_v or go

    @always_comb
    def stage_ready1():
        d1_take.next = not d1_v or d2_take

    @always_comb
    def stage_ready2():
        r_take.next = not r_v or d1_take

    @always_comb
    def walk_comb():
        more.next = act and ea != ee
        rd_go.next = act and ea != ee and r_take
        last_rd.next = act and ea != ee and r_take and ea + 1 == ee

    @always_comb
    def pop_comb():
        f_pop.next = f_valid and (not act or ea == ee or last_rd)

    @always_comb
    def ram_port():
        ent_re.next = rd_go
        ent_ra.next = ea[w.entry_addr:]

    @always_seq(clk.posedge, reset=rst)
    def walker():
        if f_pop:
            act.next = True
            ea.next = p_start
            ee.next = p_end
            c_first.next = True
            c_base.next = h_base
            c_rs.next = h_rs
            c_acc.next = h_acc
            c_sh.next = h_sh
        elif rd_go:
            ea.next = ea + 1
            c_first.next = False
        elif act and ea == ee:
            act.next = False

    @always_seq(clk.posedge, reset=rst)
    def stage_r():
        # the entry RAM registers ent_q on the same edge (ram.py, read enable = rd_go)
        if r_take:
            r_v.next = rd_go
            r_first.next = c_first
            r_base.next = c_base
            r_rs.next = c_rs
            r_acc.next = c_acc
            r_sh.next = c_sh

    @always_comb
    def decode_fields():
        gap.next = ent_q[IB:]
        wgt.next = ent_q[EB:IB].signed()

    @always_comb
    def decode_pos():
        if r_first:
            pos_new.next = gap
        else:
            pos_new.next = d1_pos + gap + 1

    @always_seq(clk.posedge, reset=rst)
    def stage_d1():
        if d1_take:
            d1_v.next = r_v
            if r_v:
                d1_pos.next = pos_new
                d1_w.next = wgt
                d1_fil.next = wgt == 0
                d1_base.next = r_base
                d1_rs.next = r_rs
                d1_acc.next = r_acc
                d1_sh.next = r_sh

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

    @always_seq(clk.posedge, reset=rst)
    def stage_d2():
        # d2_spos keeps the last entry's position when the stage empties, and follows
        # the head while the PE is idle: the lag report's lower bound (below)
        if d2_take:
            d2_v.next = d1_v
            if d1_v:
                d2_spos.next = (d1_base << CSH) + col
                d2_w.next = w_sh
                d2_fil.next = d1_fil
                d2_acc.next = d1_acc + row
            elif not busy:
                d2_spos.next = head << CSH

    d2_spos_c = Signal(modbv(0)[PWC:])

    @always_comb
    def spos_chunk():
        d2_spos_c.next = d2_spos[PW:CSH]

    @always_comb
    def head_cmp():
        # spos < head, head a multiple of C: spos / C < head / C
        behind.next = head - d2_spos_c

    # ---- issue: registered entry to the lanes ----------------------------------
    # window word = (position / C) mod (window / C), value = position mod C
    slot_v = Signal(intbv(0)[SLOTB:])
    sel_v = Signal(intbv(0)[SELB:])
    if C > 1:
        @always_comb
        def window_addr():
            slot_v.next = d2_spos[CSH + SLOTB:CSH]
            sel_v.next = d2_spos[CSH:]
    else:
        @always_comb
        def window_addr():
            slot_v.next = d2_spos[SLOTB:]
            sel_v.next = 0

    @always_seq(clk.posedge, reset=rst)
    def stage_out():
        ent.valid.next = issue
        mac.next = issue and not d2_fil

    # the entry's fields count only with ``valid``: plain registers (no reset, no enable)
    @always(clk.posedge)
    def stage_out_data():
        ent.filler.next = d2_fil
        ent.slot.next = slot_v
        ent.sel.next = sel_v
        ent.weight.next = d2_w
        ent.acc.next = d2_acc

    # ---- head and lag ------------------------------------------------------------
    # The lag is head - d2_spos in chunks (the head is a multiple of C: the lag rounded
    # up is head / C - floor(position / C)), 0 when the PE is idle.  d2_spos is a lower
    # bound of every position the PE may still read: the entry waiting in D2, else the
    # last entry that passed D2 (the positions of a PE's entries never decrease: within
    # a matrix they are in column order, and the segments follow in stream order), or
    # the head of the last idle cycle (a segment is broadcast only once its command is
    # in every PE, so a command arriving later starts at or after that head).
    # The report covers the entries not yet issued.  Issued ones need not be counted:
    # an entry issued in cycle c reads the window in c + 1 and is accumulated at the
    # end of c + 3, while a report computed in c + 1 reaches the controller in
    # c + 1 + lag_latency (>= c + 3) and the controller's earliest use of it (a window
    # word overwritten, or a row read) lands in the PEs two or more cycles later
    # (hdl/pe_array.py checks the latencies).
    @always_seq(clk.posedge, reset=rst)
    def track():
        if bc_valid:
            head.next = (bc_pos >> CSH) + 1

    @always_comb
    def pending():
        busy.next = d2_v or d1_v or r_v or more or f_valid

    @always_seq(clk.posedge, reset=rst)
    def lag_out():
        if not busy or behind[PWC - 1]:
            lag.next = 0
        elif behind > LAGMAX:
            lag.next = LAGMAX
        else:
            lag.next = behind[LB:]

    return (base_chunk, fifo_push, load_bus, emem, load_dec, ptab_dec, ptab_write, cq, fifo_head, fifo_room, ptr_read, stage_ready,
            stage_ready1, stage_ready2, walk_comb, pop_comb, ram_port, walker, stage_r,
            decode_fields, decode_pos, stage_d1, col_row_mask, col_row, weight_shift, stage_d2,
            spos_chunk, head_cmp, window_addr, stage_out, stage_out_data, track, pending, lag_out)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``pe_fetch``."""
    w = stream_widths(cfg)
    return dict(**clock_reset(), ld=PeWrite(cfg), cmd=PeCmdPush(cfg), afull=Signal(bool(0)),
                bc_valid=Signal(bool(0)), bc_pos=Signal(intbv(0)[w.pos:]), hold=Signal(bool(0)),
                ent=Entry(cfg), lag=Signal(intbv(0)[w.lag:]), mac=Signal(bool(0)))


def top(cfg: Config):
    """``pe_fetch`` on fresh port signals for ``cfg``."""
    return pe_fetch(**ports(cfg), cfg=cfg)
