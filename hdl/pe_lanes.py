"""PE lanes: the activation window, the multipliers and the accumulators of one PE index.

One lane per channel; the lanes of a PE index share the entry stream of its
``pe_fetch`` and therefore every address: the window, the accumulator and its
row-valid flags are each one memory whose words hold all lanes side by side
(lane k in the k-th slice), and only the data differ.

Window: ``window / bcast_width`` words; a broadcast chunk (C values of every
lane) is written into word ``(pos / C) mod words``.  Accumulator: ``GR + PR``
words (gate rows, then projection rows) of ``lanes * acc_bits``, with one
valid flag per row: a row whose flag is low reads as 0, an accumulation sets
it, a read on ``rd`` clears it (read-and-clear: no clear commands needed).

Ports
-----
clk, rst     clock; synchronous active-high reset (clears every row-valid flag)
bc           ``Bcast`` (lanes): chunks into the window
ent          ``Entry``: the entries of this PE index's ``pe_fetch``
rd           ``AccRead`` (lanes): read-and-clear port, data registered

Parameters
----------
cfg          ese.config.Config
n_lanes      lanes (default cfg.n_ch)

Pipeline (entry on ``ent`` in cycle n)::

    n     window read (asynchronous), value selected, registered with weight/row/shift
    n+1   product = value * weight, registered                      (DSP + MREG)
    n+2   acc[row] = (valid[row] ? acc[row] : 0) + (product << shift), written on the edge

Back-to-back entries into the same row need no forwarding (the add reads the
memory asynchronously in the cycle of the write).  Fillers read nothing and
write nothing.  A read on ``rd`` and an accumulation into the same row in
one cycle never happen (the controller reads a region only after every
product of it has been accumulated, and the stream order keeps the next
writer out until the read is over).  The sums are exact
(acc_bits >= weight_bits + act_bits + max_align_shift + log2 of the terms).
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv

from ese.config import Config

from .interfaces import clock_reset
from .stream_if import AccRead, Bcast, Entry, stream_widths


def _signed(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def lane_mac(clk, rst, wchunk, sel, take, weight, cur_raw, ok, shift, new, cfg: Config):
    """One lane's datapath: value select, product, accumulation sum (see pe_lanes).

    wchunk [C*act_bits]  this lane's window word;  sel: value in it
    take                 register the selected value (the entry's window cycle)
    weight               signed, the entry's weight registered in the take cycle
    cur_raw [acc_bits]   this lane's slice of the accumulator word being updated
    ok                   that row's valid flag;  shift: the product shift
    new     signed [acc] the sum written back: (ok ? cur : 0) + (product << shift)
    """
    A, WB, ACC = cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    v = Signal(_signed(A))
    v_r = Signal(_signed(A))
    prod = Signal(_signed(A + WB))
    cur = Signal(_signed(ACC))
    sh = Signal(_signed(ACC))
    word = Signal(intbv(0)[len(wchunk):])

    @always_comb
    def select():
        word.next = wchunk >> (sel * A)

    @always_comb
    def value():
        v.next = word[A:].signed()

    @always_seq(clk.posedge, reset=rst)
    def regs():
        if take:
            v_r.next = v
        prod.next = v_r * weight

    @always_comb
    def current():
        if ok:
            cur.next = cur_raw.signed()
        else:
            cur.next = 0

    @always_comb
    def shifted():
        sh.next = prod << shift

    @always_comb
    def add():
        new.next = cur + sh

    return select, value, regs, current, shifted, add


@block
def pe_lanes(clk, rst, bc, ent, rd, cfg: Config, n_lanes=None):
    n = cfg.n_ch if n_lanes is None else n_lanes
    w = stream_widths(cfg)
    Bcast.check(bc, cfg, "pe_lanes bc", lanes=n)
    Entry.check(ent, cfg, "pe_lanes ent")
    AccRead.check(rd, cfg, "pe_lanes rd", lanes=n)
    A, WB, ACC = cfg.act_bits, cfg.weight_bits, cfg.acc_bits
    C = cfg.bcast_width
    CB = C * A
    WORDS = cfg.window // C
    DEPTH = w.acc_depth
    CSH = C.bit_length() - 1

    # ---- window -----------------------------------------------------------------
    win = [Signal(intbv(0)[n * CB:]) for _ in range(WORDS)]
    wslot = Signal(intbv(0)[w.slot:])
    wword = Signal(intbv(0)[n * CB:])

    @always_comb
    def win_addr():
        wslot.next = bc.pos[CSH + w.slot:CSH]

    @always(clk.posedge)
    def win_write():
        if bc.valid:
            win[wslot].next = bc.data

    @always_comb
    def win_read():
        wword.next = win[ent.slot]

    # ---- shared pipeline registers ----------------------------------------------
    m0_v = Signal(bool(0))
    m0_w = Signal(_signed(WB))
    m0_acc = Signal(intbv(0)[w.acc_addr:])
    m0_sh = Signal(intbv(0)[w.shift:])
    m1_v = Signal(bool(0))
    m1_acc = Signal(intbv(0)[w.acc_addr:])
    m1_sh = Signal(intbv(0)[w.shift:])
    take = Signal(bool(0))

    @always_comb
    def take_comb():
        take.next = ent.valid and not ent.filler

    @always_seq(clk.posedge, reset=rst)
    def pipe():
        m0_v.next = take
        if take:
            m0_w.next = ent.weight
            m0_acc.next = ent.acc
            m0_sh.next = ent.shift
        m1_v.next = m0_v
        m1_acc.next = m0_acc
        m1_sh.next = m0_sh

    # ---- accumulator ----------------------------------------------------------------
    acc = [Signal(intbv(0)[n * ACC:]) for _ in range(DEPTH)]
    vld = Signal(intbv(0)[DEPTH:])
    a_word = Signal(intbv(0)[n * ACC:])
    a_ok = Signal(bool(0))
    d_word = Signal(intbv(0)[n * ACC:])
    d_ok = Signal(bool(0))

    @always_comb
    def acc_read():
        a_word.next = acc[m1_acc]
        d_word.next = acc[rd.addr]

    @always_comb
    def flag_read():
        a_ok.next = vld[m1_acc]
        d_ok.next = vld[rd.addr]

    news = [Signal(_signed(ACC)) for _ in range(n)]
    macs = []
    for k in range(n):
        macs.append(lane_mac(clk, rst, wword((k + 1) * CB, k * CB), ent.sel, take, m0_w,
                             a_word((k + 1) * ACC, k * ACC), a_ok, m1_sh, news[k], cfg=cfg))
    new_word = ConcatSignal(*reversed(news)) if n > 1 else None
    wdata = Signal(intbv(0)[n * ACC:])

    if n > 1:
        @always_comb
        def pack():
            wdata.next = new_word
    else:
        @always_comb
        def pack():
            wdata.next = news[0][ACC:]

    @always(clk.posedge)
    def acc_write():
        if m1_v:
            acc[m1_acc].next = wdata

    @always_seq(clk.posedge, reset=rst)
    def flags():
        if rd.valid:
            vld.next[rd.addr] = 0
        if m1_v:
            vld.next[m1_acc] = 1

    @always_seq(clk.posedge, reset=rst)
    def drain():
        if rd.valid:
            if d_ok:
                rd.data.next = d_word
            else:
                rd.data.next = 0

    return (win_addr, win_write, win_read, take_comb, pipe, acc_read, flag_read, macs, pack,
            acc_write, flags, drain)


def ports(cfg: Config, n_lanes: int | None = None) -> dict:
    """Fresh signals and interfaces for every port of ``pe_lanes``."""
    n = cfg.n_ch if n_lanes is None else n_lanes
    return dict(**clock_reset(), bc=Bcast(cfg, lanes=n), ent=Entry(cfg), rd=AccRead(cfg, lanes=n))


def top(cfg: Config, n_lanes: int | None = None):
    """``pe_lanes`` on fresh port signals for ``cfg``."""
    return pe_lanes(**ports(cfg, n_lanes), cfg=cfg, n_lanes=n_lanes)
