"""Combinational pieces of the run-time rounding shifter and of saturation.

Shared by ``hdl/ew_unit.py`` and ``hdl/requant.py`` (bit-exact with
``model.fixed``'s ``rshift_round`` and ``saturate``).

Blocks
------
shift_amount(s, k)
    ``k = 0 if s == 0 else min(s - 1, W - 1)`` with ``W = k.max`` (the width of
    the value to be shifted): shifts >= W give the sign.  One ``k`` may serve
    several :func:`rshift_round` instances that share ``s``.
    s   [any] unsigned run-time shift;  k   intbv(0, min=0, max=W)

rshift_round(x, s, k, r)
    ``r = rshift_round(x, s) = x if s == 0 else ((x >>> k) + 1) >>> 1``, i.e.
    ``(x + 2**(s-1)) >>> s`` (round half up) without the wide rounding
    constant; ``k`` from :func:`shift_amount`.
    x   [W] signed;  s   the shift;  k   [log2 W];  r   [W] signed

saturate(x, y)
    ``y = clamp(x, y.min, y.max - 1)``.
    x   signed, any width;  y   signed, the result's width

All three are combinational (``always_comb``); the caller registers the result.
"""

from myhdl import Signal, always_comb, block, intbv


def _signed(sig) -> bool:
    return sig.min is not None and sig.min < 0


@block
def shift_amount(s, k):
    W = k.max
    assert k.min == 0 and W >= 1, "shift_amount: k must be intbv(0, min=0, max=W)"

    @always_comb
    def amount():
        if s == 0:
            k.next = 0
        elif s > W:
            k.next = W - 1
        else:
            k.next = s - 1

    return amount


@block
def rshift_round(x, s, k, r):
    W = len(x)
    assert _signed(x) and _signed(r) and len(r) == W, \
        f"rshift_round: x and r must be signed {W}-bit signals"
    assert k.max == W, f"rshift_round: k must come from shift_amount with max={W}"
    t1 = Signal(intbv(0, min=-(1 << W), max=1 << W))         # W + 1 bits

    @always_comb
    def shift():
        t1.next = (x >> k) + 1

    @always_comb
    def round_():
        if s == 0:
            r.next = x
        else:
            r.next = t1 >> 1

    return shift, round_


@block
def saturate(x, y):
    assert _signed(x) and _signed(y), "saturate: x and y must be signed"
    YMAX, YMIN = y.max - 1, y.min

    @always_comb
    def clamp():
        if x > YMAX:
            y.next = YMAX
        elif x < YMIN:
            y.next = YMIN
        else:
            y.next = x

    return clamp
