"""PE fetch: walks one PE's encoded matrix and emits one entry per cycle.

One ``pe_fetch`` per PE index; its entry stream is broadcast to the
``pe_lane`` of that index in every channel (docs/architecture.md).

Ports
-----
clk, rst        clock; synchronous active-high reset
ld              ``PeLoad`` (hdl/interfaces.py): load port, ``ld.sel`` 0 entry memory,
                1 pointer memory; entry ``w << index_bits | gap`` as model/encode.py
                packs it, pointer an absolute entry address
cmd             ``PeCmd``: start a matrix walk; ``cmd.ready`` = the walker is idle (the
                previous command's last entries may still be in the output pipeline)
avail           [clog2(max_cols+1)] entries of column j are issued only while j < avail
                (may grow during a command; sampled every cycle)
o               ``EntryStream``: one decoded entry per cycle (``o.aaddr`` = acc_base +
                row, row decoded per model/encode.py; ``o.shift`` = the command's shift);
                ``o.end`` one cycle after the command's last entry (also for 0 entries)
busy            a command is in progress (walker active or entries in the pipeline;
                low again in the cycle of ``o.end``)

Parameters
----------
cfg             ese.config.Config (all widths and depths)
ptr_fifo        pointer prefetch queue depth (>= 2; default 4)

Memories: entry RAM (pe_entry_depth x entry_bits) and pointer RAM
(ptr_depth x PB, PB = clog2(pe_entry_depth+1)) are ``hdl.ram`` (synchronous
read: block RAM).  The pointer RAM is read ahead into a small queue, so that
the walker knows the end of the next column when it issues the last entry of
the current one.

Timing (cycle 0 = the cycle ``cmd.valid & cmd.ready``)::

    cycle        0     1     2     3      4     5     6    ...
    ptr read   p[0]  p[1]  p[2]  p[3]  ...                     (ahead, <= ptr_fifo queued)
    walker                 e=p0  end=p1 e0    e1    e2   ...   (entry RAM read)
    o.valid                                         e0   ...

* first ``o.valid`` in cycle 6 (if column 0 is available and non-empty);
* then one entry per cycle while entries remain and ``j < avail``: a column
  change costs nothing, each empty column costs one cycle;
* with ``avail`` = all columns, a command with E entries (fillers included)
  and Z empty columns has its entries in cycles 6 .. E+Z+5 and ``o.end`` in
  cycle E+Z+6 (ncols = 0: ``o.end`` in cycle 3, no pointer is read);
* ``cmd.ready`` is high again in cycle E+Z+4 (the walker is done), so the
  next command's pointer reads overlap the previous command's tail; its
  entries follow the previous ones in order, ``o.end`` pulses come in order;
* ``avail`` is compared in the issue cycle; the entry appears on ``o.valid``
  2 cycles later, so a vector word written in the cycle ``avail`` is raised
  (or earlier) is read correctly by the lanes (their read is 2 cycles later).

Decoding (model/encode.py): ``pos = 0`` at each column, ``row = pos + gap``,
``pos = row + 1``; fillers (weight 0) are emitted like any entry.
"""

from myhdl import Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config

from .interfaces import EntryStream, PeCmd, PeLoad, clock_reset, uint, widths
from .ram import ram


def fetch_widths(cfg: Config) -> dict:
    """The PE widths under their short names (for the PE benches; see ``interfaces.widths``)."""
    w = widths(cfg)
    return dict(GR=w.gate_rows, PR=w.proj_rows, acc_depth=w.acc_depth, VA=w.vec_addr,
                AA=w.acc_addr, EA=w.entry_addr, PB=w.ptr_value, PA=w.ptr_addr, CB=w.ncols,
                SB=w.shift, WB=w.weight, IB=w.index, EB=w.entry, RB=w.row, LA=w.ld_addr,
                LD=w.ld_data)


@block
def pe_fetch(clk, rst, ld, cmd, avail, o, busy, cfg, ptr_fifo=4):
    W = widths(cfg)
    VA, AA, EA, PB, PA, CB, SB = (W.vec_addr, W.acc_addr, W.entry_addr, W.ptr_value,
                                  W.ptr_addr, W.ncols, W.shift)
    WB, IB, EB, RB = W.weight, W.index, W.entry, W.row
    QD = ptr_fifo
    assert QD >= 2, f"pe_fetch: ptr_fifo must be >= 2, got {QD}"
    PeLoad.check(ld, cfg, "pe_fetch ld")
    PeCmd.check(cmd, cfg, "pe_fetch cmd")
    EntryStream.check(o, cfg, "pe_fetch o")
    assert len(avail) == CB, f"pe_fetch: avail must be {CB} bits for config {cfg.name!r}"

    # ---- memories (load port) --------------------------------------------
    ent_we, ptr_we = Signal(bool(0)), Signal(bool(0))
    ent_re, ent_raddr = Signal(bool(0)), Signal(intbv(0)[EA:])
    ent_q = Signal(intbv(0)[EB:])
    ptr_re, ptr_raddr = Signal(bool(0)), Signal(modbv(0)[PA:])
    ptr_q = Signal(intbv(0)[PB:])
    ent_mem = ram(clk, ent_we, ld.addr(EA, 0), ld.data(EB, 0), ent_re, ent_raddr, ent_q,
                  width=EB, depth=cfg.pe_entry_depth)
    ptr_mem = ram(clk, ptr_we, ld.addr(PA, 0), ld.data(PB, 0), ptr_re, ptr_raddr, ptr_q,
                  width=PB, depth=cfg.ptr_depth)

    # ---- command registers -------------------------------------------------
    ptr_base_r = Signal(intbv(0)[PA:])
    ncols_r = Signal(intbv(0)[CB:])
    vec_base_r = Signal(intbv(0)[VA:])
    acc_base_r = Signal(intbv(0)[AA:])
    shift_r = Signal(intbv(0)[SB:])

    # ---- pointer prefetch queue -------------------------------------------
    fq = [Signal(intbv(0)[PB:]) for _ in range(QD)]
    f_rd = Signal(intbv(0, min=0, max=QD))
    f_wr = Signal(intbv(0, min=0, max=QD))
    f_cnt = Signal(intbv(0, min=0, max=QD + 1))
    f_head = Signal(intbv(0)[PB:])
    pend = Signal(bool(0))                       # a pointer read is on ptr_q now
    pf_idx = Signal(intbv(0, min=0, max=cfg.max_cols + 2))   # pointers requested
    pf_total = Signal(intbv(0, min=0, max=cfg.max_cols + 2))  # pointers to request
    pop = Signal(bool(0))

    # ---- walker -------------------------------------------------------------
    w_act = Signal(bool(0))
    have_e, have_end, fresh = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    e = Signal(modbv(0)[PB:])                   # next entry address
    e_end = Signal(intbv(0)[PB:])                # end of column j
    j = Signal(intbv(0)[CB:])                    # current column
    accept, issue, adv, fin = (Signal(bool(0)) for _ in range(4))
    take_e, take_end = Signal(bool(0)), Signal(bool(0))
    e_inc = Signal(modbv(0)[PB:])
    j_inc = Signal(modbv(0)[CB:])
    vsum = Signal(modbv(0)[VA:])

    # ---- pipeline ----------------------------------------------------------
    s1_v, s1_first, s1_end = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    s1_vaddr = Signal(intbv(0)[VA:])
    s1_abase = Signal(intbv(0)[AA:])
    s1_shift = Signal(intbv(0)[SB:])
    s2_end = Signal(bool(0))
    pos = Signal(intbv(0)[RB:])
    gap = Signal(intbv(0)[IB:])
    row = Signal(modbv(0)[RB:])
    row_inc = Signal(modbv(0)[RB:])
    aaddr = Signal(modbv(0)[AA:])
    wgt = Signal(intbv(0, min=-(1 << (WB - 1)), max=1 << (WB - 1)))

    @always_comb
    def load_dec():
        ent_we.next = ld.we and not ld.sel
        ptr_we.next = ld.we and ld.sel

    @always_comb
    def queue_head():
        f_head.next = fq[f_rd]

    @always_comb
    def sums():
        e_inc.next = e + 1
        j_inc.next = j + 1
        vsum.next = vec_base_r + j

    @always_comb
    def walk_comb():
        accept.next = cmd.valid and not w_act
        issue.next = w_act and have_e and have_end and e != e_end and j < avail
        adv.next = w_act and have_e and have_end and (
            e == e_end or (e_inc == e_end and j < avail))
        take_e.next = w_act and not have_e and f_cnt != 0
        take_end.next = w_act and have_e and not have_end and f_cnt != 0

    @always_comb
    def walk_fin():
        fin.next = adv and j_inc == ncols_r

    @always_comb
    def pop_comb():
        pop.next = take_e or take_end or (adv and not fin and f_cnt != 0)

    @always_comb
    def ports_comb():
        cmd.ready.next = not w_act
        busy.next = w_act or s1_v or s1_end or o.valid or s2_end
        ent_re.next = issue
        ent_raddr.next = e[EA:]

    @always_comb
    def prefetch_comb():
        if accept:
            ptr_raddr.next = cmd.ptr_base
            ptr_re.next = cmd.ncols != 0
        else:
            ptr_raddr.next = ptr_base_r + pf_idx
            ptr_re.next = w_act and pf_idx != pf_total and (
                f_cnt < QD - 1 or (f_cnt == QD - 1 and not pend))

    @always_seq(clk.posedge, reset=rst)
    def prefetch_seq():
        pend.next = ptr_re
        if accept:
            pf_total.next = cmd.ncols + 1
            pf_idx.next = 1
        elif ptr_re:
            pf_idx.next = pf_idx + 1
        if pend:
            if f_wr == QD - 1:
                f_wr.next = 0
            else:
                f_wr.next = f_wr + 1
        if pop:
            if f_rd == QD - 1:
                f_rd.next = 0
            else:
                f_rd.next = f_rd + 1
        if pend and not pop:
            f_cnt.next = f_cnt + 1
        elif pop and not pend:
            f_cnt.next = f_cnt - 1

    @always(clk.posedge)
    def queue_write():
        if pend:
            fq[f_wr].next = ptr_q

    @always_seq(clk.posedge, reset=rst)
    def walk_seq():
        if accept:
            ptr_base_r.next = cmd.ptr_base
            ncols_r.next = cmd.ncols
            vec_base_r.next = cmd.vec_base
            acc_base_r.next = cmd.acc_base
            shift_r.next = cmd.shift
            j.next = 0
            have_e.next = 0
            have_end.next = 0
            w_act.next = cmd.ncols != 0
        elif fin:
            w_act.next = 0
            have_e.next = 0
            have_end.next = 0
        else:
            if take_e:
                have_e.next = 1
                e.next = f_head
            elif issue:
                e.next = e_inc
            if take_end:
                have_end.next = 1
                e_end.next = f_head
                fresh.next = 1
            elif adv:
                j.next = j_inc
                fresh.next = 1
                if f_cnt != 0:
                    e_end.next = f_head
                else:
                    have_end.next = 0
            elif issue:
                fresh.next = 0

    @always_seq(clk.posedge, reset=rst)
    def stage1():
        # the entry RAM registers ent_q on the same edge
        s1_v.next = issue
        s1_first.next = fresh
        s1_end.next = fin or (accept and cmd.ncols == 0)
        s1_vaddr.next = vsum
        s1_abase.next = acc_base_r
        s1_shift.next = shift_r

    @always_comb
    def decode_fields():
        gap.next = ent_q[IB:]
        wgt.next = ent_q[EB:IB].signed()

    @always_comb
    def decode_row():
        if s1_first:
            row.next = gap
        else:
            row.next = pos + gap

    @always_comb
    def decode_addr():
        row_inc.next = row + 1
        aaddr.next = s1_abase + row

    @always_seq(clk.posedge, reset=rst)
    def stage2():
        o.valid.next = s1_v
        s2_end.next = s1_end
        o.end.next = s2_end
        if s1_v:
            pos.next = row_inc
            o.vaddr.next = s1_vaddr
            o.aaddr.next = aaddr
            o.weight.next = wgt
            o.shift.next = s1_shift

    return (ent_mem, ptr_mem, load_dec, queue_head, sums, walk_comb, walk_fin, pop_comb,
            ports_comb, prefetch_comb, prefetch_seq, queue_write, walk_seq, stage1,
            decode_fields, decode_row, decode_addr, stage2)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``pe_fetch``."""
    return dict(**clock_reset(), ld=PeLoad(cfg), cmd=PeCmd(cfg),
                avail=uint(widths(cfg).ncols).signal(), o=EntryStream(cfg),
                busy=Signal(bool(0)))


def top(cfg: Config, ptr_fifo: int = 4):
    """``pe_fetch`` on fresh port signals for ``cfg``."""
    return pe_fetch(**ports(cfg), cfg=cfg, ptr_fifo=ptr_fifo)
