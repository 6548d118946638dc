"""Combinational pieces of the rounding shifts and saturations, cut for pipelining.

Shared by ``hdl/ew_unit.py`` and ``hdl/requant.py`` (bit-exact with
``model.fixed``'s ``rshift_round`` and ``saturate``).  A rounding shift with
an optional add and a saturation, ``y = sat(rshift_round(x, s) + b)``, is two
register stages:

1. :func:`round_shift` ``t = (x << 1) >>> s``: the run-time barrel shift alone
   (``W + 1`` bits; every shift 0..2**len(s)-1, no clamp: an arithmetic shift
   by more than the width gives the sign, and ``s == 0`` gives ``2x``).
2. :func:`round_add_sat` ``y = sat((t >>> 1) + t[0] + b)``: the rounding
   increment, the add and the saturation as one *narrow* add: ``(t >>> 1) + t[0]
   == rshift_round(x, s)`` (round half up), and when ``t >>> 1`` does not fit
   in ``max(len(b), len(y)) + 1`` bits the sum saturates with its sign whatever
   ``b`` is, so only the low bits are added (one carry chain of about
   ``len(y) + 3`` bits) while a wide equality test decides the saturation.

A constant rounding shift ``rshift_round(x, S)`` (S >= 1) is
``round_add_sat(x >>> (S - 1))``: the shift is wiring (:func:`round_const`).

Blocks (all combinational: ``always_comb``; the caller registers the result)
------
round_shift(x, s, t)
    x  [W] signed;  s  [any] unsigned shift;  t  [W + 1] signed = (x << 1) >>> s
round_add_sat(t, b, y)
    t  [WT] signed (from round_shift, or a constant-shifted value);  b  signed or
    None;  y  signed = saturate(rshift_round-tail(t) + b, len(y))
round_const(x, sh, y)
    y = saturate(rshift_round(x, sh), len(y)) for a constant ``sh`` (any sign)
saturate(x, y)
    y = clamp(x, y.min, y.max - 1): an equality test of the top bits, no compare

Logic depth (ECP5 LUT4, UltraScale LUT6): round_shift is log2 levels of 2:1
multiplexers (6 for a 6-bit shift); round_add_sat is one carry chain of
``max(len(b), len(y)) + 3`` bits then one LUT level, in parallel with an
equality test of ``WT - len(y)`` bits (a tree of 4-input LUTs); saturate is
that equality test and a multiplexer.
"""

from myhdl import ConcatSignal, Signal, always_comb, block, intbv


def _signed(sig) -> bool:
    return sig.min is not None and sig.min < 0


def _s(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def round_shift(x, s, t):
    W = len(x)
    assert _signed(x) and _signed(t) and len(t) == W + 1, \
        f"round_shift: x must be signed and t signed {W + 1} bits"
    x2 = Signal(_s(W + 1))

    @always_comb
    def double():
        x2.next = x << 1

    @always_comb
    def shift():
        t.next = x2 >> s

    return double, shift


@block
def saturate(x, y):
    assert _signed(x) and _signed(y), "saturate: x and y must be signed"
    WX, B = len(x), len(y)
    YMAX, YMIN = y.max - 1, y.min
    if WX <= B:
        @always_comb
        def widen():
            y.next = x
        return widen
    HI = WX - B + 1                     # the bits that must all equal the sign
    ALL = (1 << HI) - 1
    hi = Signal(intbv(0)[HI:])
    low = Signal(_s(B))

    @always_comb
    def fields():
        hi.next = x[WX:B - 1]
        low.next = x[B:].signed()

    @always_comb
    def clamp():
        if hi == 0 or hi == ALL:
            y.next = low
        elif x[WX - 1]:
            y.next = YMIN
        else:
            y.next = YMAX

    return fields, clamp


@block
def round_add_sat(t, b, y):
    WT, B = len(t), len(y)
    assert _signed(t) and _signed(y), "round_add_sat: t and y must be signed"
    WB = len(b) if b is not None else 1
    if b is not None:
        assert _signed(b), "round_add_sat: b must be signed"
    # h = t >>> 1 is added narrow: NB bits of it when it fits, else the sign decides
    NB = max(WB, B) + 1
    insts = []
    narrow_already = WT - 1 <= NB
    if narrow_already:
        NT = WT
        tn = t
    else:
        NT = NB + 1
        tn = Signal(_s(NT))
        HI = WT - NB                     # t[WT-1 : NB] all equal: h fits in NB bits
        ALL = (1 << HI) - 1
        hi = Signal(intbv(0)[HI:])
        fits = Signal(bool(0))
        big_neg = Signal(bool(0))

        @always_comb
        def narrow():
            tn.next = t[NT:].signed()
            hi.next = t[WT:NB]

        @always_comb
        def fit():
            fits.next = hi == 0 or hi == ALL
            big_neg.next = t[WT - 1]

        insts += [narrow, fit]
    # (t + 2b + 1) >>> 1 == (t >>> 1) + t[0] + b: one two-operand add, 2b + 1 is wiring
    SW = max(NT, WB + 1) + 1
    s2 = Signal(_s(SW))
    if b is not None:
        b2u = ConcatSignal(b, intbv(1)[1:])
        b2 = Signal(_s(WB + 1))

        @always_comb
        def twice_plus_one():
            b2.next = b2u.signed()

        @always_comb
        def add():
            s2.next = tn + b2

        insts += [twice_plus_one, add]
    else:
        @always_comb
        def add():
            s2.next = tn + 1

        insts.append(add)
    half = Signal(_s(SW - 1))
    hs = Signal(_s(B))

    @always_comb
    def halve():
        half.next = s2[SW:1].signed()

    if narrow_already:
        return insts + [halve, saturate(half, y)]
    sat = saturate(half, hs)
    YMAX, YMIN = y.max - 1, y.min

    @always_comb
    def pick():
        if fits:
            y.next = hs
        elif big_neg:
            y.next = YMIN
        else:
            y.next = YMAX

    return insts + [halve, sat, pick]


@block
def round_const(x, sh: int, y):
    """y = saturate(rshift_round(x, sh), len(y)) for a constant shift ``sh``."""
    W = len(x)
    assert _signed(x) and _signed(y), "round_const: x and y must be signed"
    if sh <= 0:
        xs = Signal(_s(W - sh))

        @always_comb
        def left():
            xs.next = x << -sh
        return left, saturate(xs, y)
    # rshift_round(x, sh) = round tail of t = x >>> (sh - 1): the shift is wiring
    WT = max(W - (sh - 1), 2)
    t = Signal(_s(WT))
    if W - (sh - 1) >= 2:
        @always_comb
        def drop():
            t.next = x[W:sh - 1].signed()
    else:
        @always_comb
        def drop():
            t.next = x >> (sh - 1)
    return drop, round_add_sat(t, None, y)
