"""PE array: ``n_pe`` PEs, their shared inputs, the lag and MAC trees, the gather.

Every input reaches every PE through one register stage (``FAN_STAGES``), so
all PEs see commands, chunks and reads in the same cycle.  The PEs' lag
reports are reduced by a tree of 2-input maxima, registered every
``TREE_REG_EVERY`` levels; the report leaves with the head the PEs held, so
the controller can use it late.  Accumulator reads gather one block of
``4 * ew_lanes`` consecutive PEs (the rows of ``ew_lanes`` cells, or of up
to ``4 * ew_lanes`` projection rows) for every channel: only that block's
PEs take the read, every other PE's read data are 0, so the gather is the OR
of the blocks.

Ports
-----
clk, rst     clock; synchronous active-high reset
ld           ``LoadBeat``: one beat of PE words into a group of PEs (loader)
cmd          ``PeCmdPush``: a matrix command for every PE
bc           ``Bcast``: an activation chunk for every PE
rd           ``ArrayRead``: read-and-clear one row of every PE, gather block ``blk``
gat          ``Gather`` out: the gathered rows, read_latency(cfg) cycles after ``rd``
rep          ``LagReport`` out: the largest PE lag and the head it is relative to
mac_count    [clog2(n_pe+1)] out: non-filler entries issued by all PEs, per cycle
             (registered, a few cycles late)

Parameters
----------
cfg          ese.config.Config (n_pe a multiple of 4 * ew_lanes)
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2
from ese.pipeline import LANE_RETIRE, TREE_REG_EVERY

from .delay import delay_reg
from .interfaces import clock_reset
from .onehot import or_reduce
from .pe import pe
from .stream_if import (AccRead, ArrayRead, Bcast, Gather, LagReport, LoadBeat, PeCmdPush,
                        PeWrite, stream_widths)

#: register stages between the array's inputs and the PEs
FAN_STAGES = 1


def tree_levels(n: int) -> int:
    """Levels of a binary tree over n leaves."""
    return max(0, (n - 1).bit_length())


def tree_latency(n: int) -> int:
    """Registered stages of a reduction tree over n leaves (at least one)."""
    return max(1, -(-tree_levels(n) // TREE_REG_EVERY))


def read_latency(cfg: Config) -> int:
    """Cycles from ``rd`` to ``gat``: input register, the PE's read delay and its read
    register (pe_lanes), gather register."""
    return FAN_STAGES + cfg.acc_read_delay + 2


def lag_latency(cfg: Config) -> int:
    """Cycles from a PE's position to the report: PE lag register + tree stages."""
    return 1 + tree_latency(cfg.n_pe)


@block
def reduce_tree(clk, rst, leaves, out, op: str):
    """Registered binary reduction (``op`` "max" or "add") of a list of signals into ``out``.

    Levels of 2-input nodes; a register after every TREE_REG_EVERY levels and at
    the root (tree_latency cycles).
    """
    assert op in ("max", "add")
    insts = []
    level = list(leaves)
    depth = 0
    width = len(leaves[0])
    if len(level) == 1:
        @always_seq(clk.posedge, reset=rst)
        def root1():
            out.next = level[0]
        return root1
    while len(level) > 1:
        depth += 1
        width = width + 1 if op == "add" else width
        registered = depth % TREE_REG_EVERY == 0 or len(level) <= 2
        nxt = []
        for i in range(0, len(level), 2):
            if i + 1 == len(level):
                # an odd leaf passes to the next level, through the level's register if any
                if registered:
                    y = Signal(intbv(0)[width:])
                    insts.append(delay_reg(clk, rst, level[i], y, 1))
                    nxt.append(y)
                else:
                    nxt.append(level[i])
                continue
            a, b = level[i], level[i + 1]
            y = out if len(level) <= 2 else Signal(intbv(0)[width:])
            insts.append(_node(clk, rst, a, b, y, op, registered))
            nxt.append(y)
        level = nxt
    return insts


@block
def _node(clk, rst, a, b, y, op, registered):
    if op == "max":
        if registered:
            @always_seq(clk.posedge, reset=rst)
            def node():
                if a > b:
                    y.next = a
                else:
                    y.next = b
        else:
            @always_comb
            def node():
                if a > b:
                    y.next = a
                else:
                    y.next = b
    else:
        if registered:
            @always_seq(clk.posedge, reset=rst)
            def node():
                y.next = a + b
        else:
            @always_comb
            def node():
                y.next = a + b
    return node


@block
def pe_array(clk, rst, ld, cmd, bc, rd, gat, rep, mac_count, cfg: Config):
    w = stream_widths(cfg)
    NPE, NCH, ACC = cfg.n_pe, cfg.n_ch, cfg.acc_bits
    G = w.group
    BLK = 4 * cfg.ew_lanes
    NBLK = NPE // BLK
    C = cfg.bcast_width
    assert NPE % BLK == 0, f"pe_array: n_pe ({NPE}) must be a multiple of 4*ew_lanes ({BLK})"
    for iface, cls, nm in ((ld, LoadBeat, "ld"), (cmd, PeCmdPush, "cmd"), (bc, Bcast, "bc"),
                           (rd, ArrayRead, "rd"), (gat, Gather, "gat"), (rep, LagReport, "rep")):
        cls.check(iface, cfg, f"pe_array {nm}")

    # ---- one register stage in front of every PE ------------------------------
    ld_r, cmd_r, bc_r = LoadBeat(cfg), PeCmdPush(cfg), Bcast(cfg)
    rd_v, rd_a = Signal(bool(0)), Signal(intbv(0)[w.acc_addr:])
    # a read clears the rows it reads: only the PEs of the gathered block take it
    blk_sel = Signal(intbv(0)[NBLK:])
    blk_1 = Signal(intbv(0)[w.blk:])
    rv_g = Signal(bool(0))                 # a read's rows leave the OR tree this cycle
    # a load beat writes the G PEs of group grp: one enable per group
    NG = -(-NPE // G)                      # groups that exist (grp may count further)
    grp_we = Signal(intbv(0)[NG:])

    @always_seq(clk.posedge, reset=rst)
    def fan_in():
        ld_r.we.next = ld.we
        ld_r.grp.next = ld.grp
        ld_r.sel.next = ld.sel
        ld_r.addr.next = ld.addr
        ld_r.data.next = ld.data
        cmd_r.push.next = cmd.push
        cmd_r.mat.next = cmd.mat
        cmd_r.base.next = cmd.base
        cmd_r.rshift.next = cmd.rshift
        cmd_r.acc_base.next = cmd.acc_base
        cmd_r.shift.next = cmd.shift
        bc_r.valid.next = bc.valid
        bc_r.pos.next = bc.pos
        bc_r.data.next = bc.data
        rd_v.next = rd.valid
        rd_a.next = rd.addr
        blk_1.next = rd.blk

    @always_comb
    def rd_decode():
        if rd_v:
            blk_sel.next = 1 << blk_1
        else:
            blk_sel.next = 0

    @always_comb
    def ld_decode():
        if ld_r.we and ld_r.grp < NG:
            grp_we.next = 1 << ld_r.grp
        else:
            grp_we.next = 0

    # ---- the PEs --------------------------------------------------------------------
    DW = len(PeWrite(cfg).data)
    W8 = 8 * w.pe_word
    lags = [Signal(intbv(0)[w.lag:]) for _ in range(NPE)]
    macs = [Signal(bool(0)) for _ in range(NPE)]
    datas = [Signal(intbv(0)[NCH * ACC:]) for _ in range(NPE)]
    afulls = [Signal(bool(0)) for _ in range(NPE)]
    pes = []
    for p in range(NPE):
        j = p % G
        pld = PeWrite.of(we=grp_we(p // G), sel=ld_r.sel, addr=ld_r.addr,
                         data=ld_r.data(j * W8 + DW, j * W8))
        prd = AccRead.of(valid=blk_sel(p // BLK), addr=rd_a, data=datas[p])
        pes.append(pe(clk, rst, pld, cmd_r, afulls[p], bc_r, prd, lags[p], macs[p], cfg=cfg))

    # ---- lag report: max tree, with the head the PEs held ---------------------------
    lag_tree = reduce_tree(clk, rst, lags, rep.lag, op="max")
    LAT = lag_latency(cfg)
    # pe_fetch reports only its entries not yet issued: that is safe because an entry's
    # window read (issue + 1) and its accumulation (issue + LANE_RETIRE) come before the
    # controller can react to the report (issue + 1 + LAT, then 2 more cycles to reach
    # the PEs' windows or accumulators)
    assert 1 + LAT + 2 > LANE_RETIRE, "pe_array: the lag report would outrun the lanes"
    head_pe = Signal(modbv(0)[w.pos:])      # the PEs' head register (pe_fetch)

    @always_seq(clk.posedge, reset=rst)
    def head_track():
        if bc_r.valid:
            head_pe.next = bc_r.pos + C

    # a lag computed from head_pe leaves the tree LAT cycles later
    head_line = delay_reg(clk, rst, head_pe, rep.head, LAT)

    # ---- MAC count: add tree ------------------------------------------------------
    mac_leaves = macs
    mac_sum = Signal(intbv(0)[len(mac_count):])
    mac_tree = reduce_tree(clk, rst, mac_leaves, mac_sum, op="add")

    @always_comb
    def mac_out():
        mac_count.next = mac_sum

    # ---- gather: block blk of every channel ------------------------------------------
    # A PE's read data are 0 in every cycle but the one after its read (pe_lanes), and
    # only the PEs of the block read take the read: the gathered block is the OR of
    # all blocks (no multiplexer, no block number to carry).  Block b: channel c, PE j
    # of the block at bits (c*BLK + j)*ACC.
    BW = NCH * BLK * ACC
    blocks = []
    for b in range(NBLK):
        parts = [datas[b * BLK + j]((c + 1) * ACC, c * ACC)
                 for c in range(NCH) for j in range(BLK)]
        blocks.append(ConcatSignal(*reversed(parts)) if len(parts) > 1 else parts[0])
    ored = Signal(intbv(0)[BW:])
    or_tree = or_reduce(blocks, ored)

    rv_line = delay_reg(clk, rst, rd.valid, rv_g, read_latency(cfg) - 1)

    @always_seq(clk.posedge, reset=rst)
    def gather_out():
        gat.valid.next = rv_g
        if rv_g:
            gat.data.next = ored

    return (fan_in, rd_decode, ld_decode, pes, lag_tree, head_track, head_line, mac_tree, mac_out,
            or_tree, rv_line, gather_out)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``pe_array``."""
    return dict(**clock_reset(), ld=LoadBeat(cfg), cmd=PeCmdPush(cfg), bc=Bcast(cfg),
                rd=ArrayRead(cfg), gat=Gather(cfg), rep=LagReport(cfg),
                mac_count=Signal(intbv(0)[clog2(cfg.n_pe + 1) + 1:]))


def top(cfg: Config):
    """``pe_array`` on fresh port signals for ``cfg``."""
    return pe_array(**ports(cfg), cfg=cfg)
