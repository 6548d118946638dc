"""PE fetch: walks one PE's encoded matrix and emits one entry per cycle.

One ``pe_fetch`` per PE index; its entry stream is broadcast to the
``pe_lane`` of that index in every channel (docs/architecture.md).

Ports
-----
clk, rst        clock; synchronous active-high reset
ld_we           load strobe (one word per cycle)
ld_sel          0: entry memory, 1: pointer memory
ld_addr         [LA = max(clog2(pe_entry_depth), clog2(ptr_depth))] word address
ld_data         [LD = max(entry_bits, PB)] word (entry: ``w << index_bits | gap``
                as model/encode.py packs it; pointer: absolute entry address)
cmd_valid       start a matrix walk ...
cmd_ready       ... accepted when high (the walker is idle; the previous command's
                last entries may still be in the output pipeline)
cmd_ptr_base    [clog2(ptr_depth)] first of the matrix's ncols+1 column pointers
cmd_ncols       [CB = clog2(max_cols+1)] columns (0: no entry, o_end at once)
cmd_vec_base    [clog2(vec_depth)] vector-memory address of column 0
cmd_acc_base    [clog2(acc_depth)] accumulator address of local row 0 (region base)
cmd_shift       [clog2(max_align_shift+1)] left shift of every product
avail           [CB] entries of column j are issued only while j < avail
                (may grow during a command; sampled every cycle)
o_valid         an entry (non-zero or filler) this cycle
o_vaddr         [clog2(vec_depth)]  vec_base + j
o_aaddr         [clog2(acc_depth)]  acc_base + row (row decoded per model/encode.py)
o_weight        signed [weight_bits] (0 for a filler)
o_shift         [clog2(max_align_shift+1)] the command's shift
o_end           one-cycle pulse the cycle after the command's last entry (also for 0 entries)
busy            a command is in progress (walker active or entries in the pipeline;
                low again in the cycle of ``o_end``)

Parameters
----------
cfg             ese.config.Config (all widths and depths)
ptr_fifo        pointer prefetch queue depth (>= 2; default 4)

Memories: entry RAM (pe_entry_depth x entry_bits) and pointer RAM
(ptr_depth x PB, PB = clog2(pe_entry_depth+1)) are ``hdl.ram`` (synchronous
read: block RAM).  The pointer RAM is read ahead into a small queue, so that
the walker knows the end of the next column when it issues the last entry of
the current one.

Timing (cycle 0 = the cycle ``cmd_valid & cmd_ready``)::

    cycle        0     1     2     3      4     5     6    ...
    ptr read   p[0]  p[1]  p[2]  p[3]  ...                     (ahead, <= ptr_fifo queued)
    walker                 e=p0  end=p1 e0    e1    e2   ...   (entry RAM read)
    o_valid                                         e0   ...

* first ``o_valid`` in cycle 6 (if column 0 is available and non-empty);
* then one entry per cycle while entries remain and ``j < avail``: a column
  change costs nothing, each empty column costs one cycle;
* with ``avail`` = all columns, a command with E entries (fillers included)
  and Z empty columns has its entries in cycles 6 .. E+Z+5 and ``o_end`` in
  cycle E+Z+6 (ncols = 0: ``o_end`` in cycle 3, no pointer is read);
* ``cmd_ready`` is high again in cycle E+Z+4 (the walker is done), so the
  next command's pointer reads overlap the previous command's tail; its
  entries follow the previous ones in order, ``o_end`` pulses come in order;
* ``avail`` is compared in the issue cycle; the entry appears on ``o_valid``
  2 cycles later, so a vector word written in the cycle ``avail`` is raised
  (or earlier) is read correctly by the lanes (their read is 2 cycles later).

Decoding (model/encode.py): ``pos = 0`` at each column, ``row = pos + gap``,
``pos = row + 1``; fillers (weight 0) are emitted like any entry.
"""

from myhdl import Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2

from .ram import ram


def fetch_widths(cfg: Config) -> dict:
    """Port widths and depths of the PE blocks (one place for pe_fetch, pe_lane, pe)."""
    gr, pr = cfg.gate_rows_per_pe, cfg.proj_rows_per_pe
    acc_depth = 2 * gr + pr
    pb = clog2(cfg.pe_entry_depth + 1)
    w = dict(
        GR=gr, PR=pr, acc_depth=acc_depth,
        VA=clog2(cfg.vec_depth),                 # vector address
        AA=clog2(acc_depth),                     # accumulator address
        EA=clog2(cfg.pe_entry_depth),            # entry address
        PB=pb,                                   # pointer value (entry address incl. end)
        PA=clog2(cfg.ptr_depth),                 # pointer address
        CB=clog2(cfg.max_cols + 1),              # column count / avail
        SB=clog2(cfg.max_align_shift + 1),       # shift
        WB=cfg.weight_bits, IB=cfg.index_bits, EB=cfg.entry_bits,
        RB=clog2(max(gr, pr) + cfg.max_gap + 2),  # decoded local row / pos
    )
    w["LA"] = max(w["EA"], w["PA"])
    w["LD"] = max(w["EB"], pb)
    return w


@block
def pe_fetch(clk, rst, ld_we, ld_sel, ld_addr, ld_data,
             cmd_valid, cmd_ready, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base,
             cmd_shift, avail,
             o_valid, o_vaddr, o_aaddr, o_weight, o_shift, o_end, busy,
             cfg, ptr_fifo=4):
    W = fetch_widths(cfg)
    VA, AA, EA, PB, PA, CB, SB = (W[k] for k in ("VA", "AA", "EA", "PB", "PA", "CB", "SB"))
    WB, IB, EB, RB, LA, LD = (W[k] for k in ("WB", "IB", "EB", "RB", "LA", "LD"))
    QD = ptr_fifo
    assert QD >= 2, f"pe_fetch: ptr_fifo must be >= 2, got {QD}"
    for name, sig, bits in (("ld_addr", ld_addr, LA), ("ld_data", ld_data, LD),
                            ("cmd_ptr_base", cmd_ptr_base, PA), ("cmd_ncols", cmd_ncols, CB),
                            ("cmd_vec_base", cmd_vec_base, VA), ("cmd_acc_base", cmd_acc_base, AA),
                            ("cmd_shift", cmd_shift, SB), ("avail", avail, CB),
                            ("o_vaddr", o_vaddr, VA), ("o_aaddr", o_aaddr, AA),
                            ("o_weight", o_weight, WB), ("o_shift", o_shift, SB)):
        assert len(sig) == bits, f"pe_fetch: {name} must be {bits} bits for config " \
                                 f"{cfg.name!r}, got {len(sig)}"
    assert o_weight.min is not None and o_weight.min < 0, "pe_fetch: o_weight must be signed"

    # ---- memories (load port) --------------------------------------------
    ent_we, ptr_we = Signal(bool(0)), Signal(bool(0))
    ent_re, ent_raddr = Signal(bool(0)), Signal(intbv(0)[EA:])
    ent_q = Signal(intbv(0)[EB:])
    ptr_re, ptr_raddr = Signal(bool(0)), Signal(modbv(0)[PA:])
    ptr_q = Signal(intbv(0)[PB:])
    ent_mem = ram(clk, ent_we, ld_addr(EA, 0), ld_data(EB, 0), ent_re, ent_raddr, ent_q,
                  width=EB, depth=cfg.pe_entry_depth)
    ptr_mem = ram(clk, ptr_we, ld_addr(PA, 0), ld_data(PB, 0), ptr_re, ptr_raddr, ptr_q,
                  width=PB, depth=cfg.ptr_depth)

    # ---- command registers -------------------------------------------------
    ptr_base_r = Signal(intbv(0)[PA:])
    ncols_r = Signal(intbv(0)[CB:])
    vec_base_r = Signal(intbv(0)[VA:])
    acc_base_r = Signal(intbv(0)[AA:])
    shift_r = Signal(intbv(0)[SB:])

    # ---- pointer prefetch queue -------------------------------------------
    QB = clog2(QD)
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
        ent_we.next = ld_we and not ld_sel
        ptr_we.next = ld_we and ld_sel

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
        accept.next = cmd_valid and not w_act
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
        cmd_ready.next = not w_act
        busy.next = w_act or s1_v or s1_end or o_valid or s2_end
        ent_re.next = issue
        ent_raddr.next = e[EA:]

    @always_comb
    def prefetch_comb():
        if accept:
            ptr_raddr.next = cmd_ptr_base
            ptr_re.next = cmd_ncols != 0
        else:
            ptr_raddr.next = ptr_base_r + pf_idx
            ptr_re.next = w_act and pf_idx != pf_total and (
                f_cnt < QD - 1 or (f_cnt == QD - 1 and not pend))

    @always_seq(clk.posedge, reset=rst)
    def prefetch_seq():
        pend.next = ptr_re
        if accept:
            pf_total.next = cmd_ncols + 1
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
            ptr_base_r.next = cmd_ptr_base
            ncols_r.next = cmd_ncols
            vec_base_r.next = cmd_vec_base
            acc_base_r.next = cmd_acc_base
            shift_r.next = cmd_shift
            j.next = 0
            have_e.next = 0
            have_end.next = 0
            w_act.next = cmd_ncols != 0
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
        s1_end.next = fin or (accept and cmd_ncols == 0)
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
        o_valid.next = s1_v
        s2_end.next = s1_end
        o_end.next = s2_end
        if s1_v:
            pos.next = row_inc
            o_vaddr.next = s1_vaddr
            o_aaddr.next = aaddr
            o_weight.next = wgt
            o_shift.next = s1_shift

    return (ent_mem, ptr_mem, load_dec, queue_head, sums, walk_comb, walk_fin, pop_comb,
            ports_comb, prefetch_comb, prefetch_seq, queue_write, walk_seq, stage1,
            decode_fields, decode_row, decode_addr, stage2)


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``pe_fetch`` (names = port names)."""
    from myhdl import ResetSignal
    W = fetch_widths(cfg)
    s = dict(
        clk=Signal(bool(0)), rst=ResetSignal(0, active=1, isasync=False),
        ld_we=Signal(bool(0)), ld_sel=Signal(bool(0)),
        ld_addr=Signal(intbv(0)[W["LA"]:]), ld_data=Signal(intbv(0)[W["LD"]:]),
        cmd_valid=Signal(bool(0)), cmd_ready=Signal(bool(0)),
        cmd_ptr_base=Signal(intbv(0)[W["PA"]:]), cmd_ncols=Signal(intbv(0)[W["CB"]:]),
        cmd_vec_base=Signal(intbv(0)[W["VA"]:]), cmd_acc_base=Signal(intbv(0)[W["AA"]:]),
        cmd_shift=Signal(intbv(0)[W["SB"]:]), avail=Signal(intbv(0)[W["CB"]:]),
        o_valid=Signal(bool(0)), o_vaddr=Signal(intbv(0)[W["VA"]:]),
        o_aaddr=Signal(intbv(0)[W["AA"]:]),
        o_weight=Signal(intbv(0, min=-(1 << (W["WB"] - 1)), max=1 << (W["WB"] - 1))),
        o_shift=Signal(intbv(0)[W["SB"]:]), o_end=Signal(bool(0)), busy=Signal(bool(0)),
    )
    return s


def top(cfg: Config, ptr_fifo: int = 4):
    """``pe_fetch`` on fresh port signals for ``cfg``."""
    return pe_fetch(**ports(cfg), cfg=cfg, ptr_fifo=ptr_fifo)
