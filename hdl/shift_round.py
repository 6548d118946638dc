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
round_shift(x, s, t, fit, neg)   the *narrow* first stage, when W > NB (below)
    t  [NB + 1] the low bits of (x << 1) >>> s;  fit  its bits from NB up all equal
    (``t >>> 1`` fits in NB bits);  neg  the sign of x.  Only what stage 2 reads
    is built and registered: no shifter for the bits that only decide the
    saturation (they are a run of sign-equal bits of x, picked by s)
round_add_sat(t, b, y[, fit, neg])
    t  [WT] signed (from round_shift, or a constant-shifted value);  b  signed or
    None;  y  signed = saturate(rshift_round-tail(t) + b, len(y)); with ``fit`` and
    ``neg`` from the narrow round_shift, t is its narrow result
narrow_t_bits(b_bits, y_bits)
    NB + 1, the width of the narrow t (NB = max(b_bits, y_bits) + 1; 2 without b)
shift_result(x_bits, b_bits, y_bits)
    fresh signals [t, fit, neg] (narrow) or [t] for the register between the stages:
    ``round_shift(x, s, *r)``, then ``round_add_sat(q[0], b, y, *q[1:])`` on their copies
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

from myhdl import ConcatSignal, Signal, always_comb, block, downrange, intbv


def _signed(sig) -> bool:
    return sig.min is not None and sig.min < 0


def _s(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


def narrow_t_bits(b_bits: int, y_bits: int) -> int:
    """Width of the narrow ``t`` that round_add_sat adds (NB + 1, see the module doc);
    ``b_bits`` = 1 when there is no ``b``."""
    return max(b_bits, y_bits) + 2


def shift_result(x_bits: int, b_bits: int, y_bits: int) -> list:
    """Fresh signals for a first stage's result, as round_shift writes them and
    round_add_sat reads them: ``[t, fit, neg]`` (the narrow t) when ``x_bits`` > NB,
    else ``[t]`` (``x_bits + 1`` bits).  ``b_bits`` = 1 when there is no ``b``."""
    nt = narrow_t_bits(b_bits, y_bits)
    if x_bits > nt - 1:
        return [Signal(_s(nt)), Signal(bool(0)), Signal(bool(0))]
    return [Signal(_s(x_bits + 1))]


@block
def round_shift(x, s, t, fit=None, neg=None):
    W = len(x)
    if fit is not None:
        return _round_shift_narrow(x, s, t, fit, neg)
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
def _round_shift_narrow(x, s, t, fit, neg):
    """t = the low NT bits of (x << 1) >>> s, fit = its bits NB.. all equal, neg = sign.

    With x2 = x << 1 (WT = W + 1 bits), bit k of the shifted value is x2[k + s] (the
    sign above): its bits NB.. are all equal when x2[NB + s ..] are, i.e. run[s], where
    run[i] = x2[NB + i .. WT - 1] all equal (a chain of ANDs from the top) and run[i] = 1
    for i >= L = WT - 1 - NB.  Only the NT result bits of the shifter are used:
    synthesis keeps no more of it than they need."""
    W = len(x)
    WT, NT = W + 1, len(t)
    NB = NT - 1
    L = WT - 1 - NB
    assert _signed(x) and _signed(t) and L >= 1, \
        f"round_shift: the narrow t ({NT} bits) needs an x wider than {NB} bits"
    x2 = Signal(_s(WT))
    run = Signal(intbv(0)[L + 1:])

    @always_comb
    def double():
        x2.next = x << 1

    tw = Signal(_s(WT))                 # the whole shifted value; only its low NT bits are read

    @always_comb
    def shift():
        tw.next = x2 >> s

    @always_comb
    def low():
        t.next = tw[NT:].signed()
        neg.next = x2[WT - 1]

    @always_comb
    def runs():
        r = True
        run.next[L] = 1
        for i in downrange(L):
            r = r and x2[NB + i] == x2[WT - 1]
            run.next[i] = r

    @always_comb
    def pick():
        if s < L:
            fit.next = run[s]
        else:
            fit.next = 1

    return double, shift, low, runs, pick


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
def round_add_sat(t, b, y, fit=None, neg=None):
    WT, B = len(t), len(y)
    assert _signed(t) and _signed(y), "round_add_sat: t and y must be signed"
    WB = len(b) if b is not None else 1
    if b is not None:
        assert _signed(b), "round_add_sat: b must be signed"
    # h = t >>> 1 is added narrow: NB bits of it when it fits, else the sign decides
    NB = max(WB, B) + 1
    insts = []
    narrow_already = WT - 1 <= NB and fit is None
    if fit is not None:
        # the narrow round_shift measured the fit already
        assert WT == NB + 1, f"round_add_sat: a narrow t has {NB + 1} bits, got {WT}"
        NT = WT
        tn, fits, big_neg = t, fit, neg
    elif narrow_already:
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
        def fit_test():
            fits.next = hi == 0 or hi == ALL
            big_neg.next = t[WT - 1]

        insts += [narrow, fit_test]
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
