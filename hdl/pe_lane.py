"""PE lane: vector memory, multiply, exact accumulation, one entry per cycle.

One lane per PE index and channel; it consumes the entry stream of the
``pe_fetch`` of its PE index (docs/architecture.md).

Ports
-----
clk, rst        clock; synchronous active-high reset (clears every row-valid flag)
i               ``EntryStream`` (hdl/interfaces.py) of ``pe_fetch``: one entry per cycle,
                no backpressure; ``i.end`` the end of a command
vec             ``VecWrite``: write one word of the vector memory (``vec.data`` one
                act_bits word, a signed activation's bit pattern)
clr             ``Clear``: clear region ``clr.region`` (0, 1: gate banks, 2: projection):
                from the next cycle every row of the region reads as 0
drn             ``Drain``: ``drn.data`` (signed acc_bits) = ``acc[drn.addr]``, registered
                (1-cycle latency)
done            one-cycle pulse: the product of the command's last entry is written

Parameters
----------
cfg             ese.config.Config

Memories: the vector memory is ``hdl.ram`` (vec_depth x act_bits, block RAM);
the accumulator is a register array with asynchronous read (acc_depth x
acc_bits, distributed RAM: one write port, two read ports).  Region clear: one
valid flag per row held in flip-flops, grouped per region
(``GR = gate_rows_per_pe`` flags for regions 0 and 1, ``PR`` for region 2); a
clear resets the region's flags in one cycle, a write sets its row's flag, a
row whose flag is low reads as 0.  (A plain generation counter per region
would let a row that was not written for 2**k clears come back to life.)

Pipeline (entry on ``i.valid`` in cycle n)::

    n     vector read issued (i.vaddr), entry fields registered
    n+1   product = vec * weight, registered                  (DSP + MREG)
    n+2   acc[a] = (flag[a] ? acc[a] : 0) + (product << shift), written on the edge
    ----
    i.end in cycle m  ->  done in cycle m+2 (the edge ending cycle m+1 wrote the
    last product when i.end follows the last entry by >= 1 cycle, as pe_fetch does)

Back-to-back entries to the same row need no forwarding (the add reads the
array asynchronously in the cycle of the write).  The sum is exact:
acc_bits >= weight_bits + act_bits + max_align_shift + clog2(terms) (Config).
A clear in the cycle an entry writes into the same region is not used by the
controller (the clear wins).  A drain read in the cycle of a write returns the
old value.
"""

from myhdl import Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2

from .interfaces import Clear, Drain, EntryStream, VecWrite, clock_reset, widths
from .ram import ram


def _signed(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def region_lookup(addr, vld0, vld1, vld2, reg, idx, ok, GR):
    """Accumulator address -> (region 0/1/2, row inside it, that row's valid flag).

    Combinational; used once for the write port and once for the drain port.
    Regions: [0, GR), [GR, 2GR), [2GR, ...) (docs/architecture.md).
    """

    @always_comb
    def decode():
        if addr < GR:
            reg.next = 0
            idx.next = addr
        elif addr < 2 * GR:
            reg.next = 1
            idx.next = addr - GR
        else:
            reg.next = 2
            idx.next = addr - 2 * GR

    @always_comb
    def flag():
        if reg == 0:
            ok.next = vld0[idx]
        elif reg == 1:
            ok.next = vld1[idx]
        else:
            ok.next = vld2[idx]

    return decode, flag


@block
def pe_lane(clk, rst, i, vec, clr, drn, done, cfg):
    W = widths(cfg)
    AA, SB, WB = W.acc_addr, W.shift, W.weight
    GR, PR, DEPTH = W.gate_rows, W.proj_rows, W.acc_depth
    A, ACC = cfg.act_bits, cfg.acc_bits
    IX = clog2(max(GR, PR))
    EntryStream.check(i, cfg, "pe_lane i")
    VecWrite.check(vec, cfg, "pe_lane vec")
    Clear.check(clr, cfg, "pe_lane clr")
    Drain.check(drn, cfg, "pe_lane drn")
    assert ACC >= WB + A + cfg.max_align_shift, \
        f"pe_lane: acc_bits {ACC} cannot hold a shifted product " \
        f"({WB}+{A}+{cfg.max_align_shift} bits)"

    # ---- vector memory ----------------------------------------------------
    vq = Signal(intbv(0)[A:])
    vmem = ram(clk, vec.we, vec.addr, vec.data, i.valid, i.vaddr, vq, width=A, depth=cfg.vec_depth)

    # ---- pipeline registers ------------------------------------------------
    s1_v, s1_end = Signal(bool(0)), Signal(bool(0))
    s1_a = Signal(intbv(0)[AA:])
    s1_w = Signal(_signed(WB))
    s1_s = Signal(intbv(0)[SB:])
    vs = Signal(_signed(A))
    s2_v = Signal(bool(0))
    s2_a = Signal(intbv(0)[AA:])
    s2_s = Signal(intbv(0)[SB:])
    s2_p = Signal(_signed(A + WB))

    # ---- accumulator and row-valid flags ---------------------------------
    acc = [Signal(_signed(ACC)) for _ in range(DEPTH)]
    vld0 = Signal(intbv(0)[GR:])
    vld1 = Signal(intbv(0)[GR:])
    vld2 = Signal(intbv(0)[PR:])
    w_reg = Signal(intbv(0)[2:])
    w_idx = Signal(modbv(0)[IX:])
    w_ok = Signal(bool(0))
    w_raw = Signal(_signed(ACC))
    w_cur = Signal(_signed(ACC))
    w_sh = Signal(_signed(ACC))
    w_new = Signal(_signed(ACC))
    d_reg = Signal(intbv(0)[2:])
    d_idx = Signal(modbv(0)[IX:])
    d_ok = Signal(bool(0))
    d_raw = Signal(_signed(ACC))

    @always_seq(clk.posedge, reset=rst)
    def stage1():
        s1_v.next = i.valid
        s1_end.next = i.end
        s1_a.next = i.aaddr
        s1_w.next = i.weight
        s1_s.next = i.shift

    @always_comb
    def vec_signed():
        vs.next = vq.signed()

    @always_seq(clk.posedge, reset=rst)
    def stage2():
        s2_v.next = s1_v
        s2_a.next = s1_a
        s2_s.next = s1_s
        s2_p.next = vs * s1_w
        done.next = s1_end

    # write side: region decode of s2_a
    w_look = region_lookup(s2_a, vld0, vld1, vld2, w_reg, w_idx, w_ok, GR)

    @always_comb
    def w_read():
        w_raw.next = acc[s2_a]

    @always_comb
    def w_shift():
        w_sh.next = s2_p << s2_s

    @always_comb
    def w_select():
        if w_ok:
            w_cur.next = w_raw
        else:
            w_cur.next = 0

    @always_comb
    def w_add():
        w_new.next = w_cur + w_sh

    @always(clk.posedge)
    def acc_write():
        if s2_v:
            acc[s2_a].next = w_new

    @always_seq(clk.posedge, reset=rst)
    def flags():
        if clr.valid and clr.region == 0:
            vld0.next = 0
        elif s2_v and w_reg == 0:
            vld0.next[w_idx] = 1
        if clr.valid and clr.region == 1:
            vld1.next = 0
        elif s2_v and w_reg == 1:
            vld1.next[w_idx] = 1
        if clr.valid and clr.region == 2:
            vld2.next = 0
        elif s2_v and w_reg == 2:
            vld2.next[w_idx] = 1

    # drain side
    d_look = region_lookup(drn.addr, vld0, vld1, vld2, d_reg, d_idx, d_ok, GR)

    @always_comb
    def d_read():
        d_raw.next = acc[drn.addr]

    @always_seq(clk.posedge, reset=rst)
    def drain():
        if d_ok:
            drn.data.next = d_raw
        else:
            drn.data.next = 0

    return (vmem, stage1, vec_signed, stage2, w_look, w_read, w_shift, w_select,
            w_add, acc_write, flags, d_look, d_read, drain)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``pe_lane``."""
    return dict(**clock_reset(), i=EntryStream(cfg), vec=VecWrite(cfg), clr=Clear(cfg),
                drn=Drain(cfg), done=Signal(bool(0)))


def top(cfg: Config):
    """``pe_lane`` on fresh port signals for ``cfg``."""
    return pe_lane(**ports(cfg), cfg=cfg)
