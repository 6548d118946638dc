"""Projection requantizer: ``y = saturate(rshift_round(acc, s), act_bits)``.

Used on the drain of the projection accumulators (docs/numerics.md step 6,
``s = wf_p``), bit-exact with ``model.fixed``.

Ports
-----
clk, rst        clock; synchronous active-high reset (clears ``out_valid`` only)
in_valid        [1] ``acc`` holds a value this cycle
acc             [acc_bits] signed accumulator value
s               [6] unsigned run-time right shift, 0..63 (0 = no shift)
out_valid       [1] ``y`` holds the result of the value given one cycle earlier
y               [act_bits] signed result, saturated

Parameters
----------
cfg             ese.config.Config (acc_bits, act_bits)

Datapath (all widths fixed at elaboration)::

    k  = min(s - 1, acc_bits - 1)                 (shifts >= acc_bits give the sign)
    t1 = (acc >>> k) + 1                          acc_bits + 1 bits
    r  = s == 0 ? acc : t1 >>> 1                  acc_bits bits: rshift_round(acc, s)
    y  = clamp(r, -2**(act_bits-1), 2**(act_bits-1) - 1)

``(acc >>> (s-1) + 1) >>> 1 == (acc + 2**(s-1)) >>> s`` (round half up) without
the wide rounding constant.  ``k``, ``t1`` and ``r`` are the combinational
``shift_amount`` / ``rshift_round`` blocks of ``hdl/shift_round.py`` (shared
with ``hdl/ew_unit.py``); the clamp is its ``saturate``, then registered.

Timing: one register stage, no backpressure; one value per cycle.

::

    clk        _/‾\\_/‾\\_/‾\\_/‾\\_
    in_valid   __/‾‾‾‾‾‾‾‾‾\\______
    acc        --<a0 ><a1 >-------
    out_valid  ________/‾‾‾‾‾‾‾‾‾\\_
    y          --------<y0 ><y1 >-
"""

from myhdl import Signal, always, always_seq, block, intbv

from ese.config import Config

from .shift_round import rshift_round, saturate, shift_amount

S_BITS = 6  # width of the run-time shift inputs (values 0..63)


@block
def requant(clk, rst, in_valid, acc, s, out_valid, y, cfg: Config):
    A, B = cfg.acc_bits, cfg.act_bits
    assert len(acc) == A and acc.min is not None and acc.min < 0, \
        f"requant: acc must be a signed acc_bits={A}-bit signal"
    assert len(y) == B and y.min is not None and y.min < 0, \
        f"requant: y must be a signed act_bits={B}-bit signal"
    assert len(s) == S_BITS and (s.min is None or s.min >= 0), \
        f"requant: s must be an unsigned {S_BITS}-bit signal"
    assert B <= A, f"requant: act_bits={B} must not exceed acc_bits={A}"

    k = Signal(intbv(0, min=0, max=A))                       # clamped s - 1
    r = Signal(intbv(0, min=-(1 << (A - 1)), max=1 << (A - 1)))
    ysat = Signal(intbv(0, min=-(1 << (B - 1)), max=1 << (B - 1)))
    amount = shift_amount(s, k)
    rnd = rshift_round(acc, s, k, r)
    sat = saturate(r, ysat)

    @always(clk.posedge)
    def out_reg():
        y.next = ysat

    @always_seq(clk.posedge, reset=rst)
    def valid_reg():
        out_valid.next = in_valid

    return amount, rnd, sat, out_reg, valid_reg


def top(cfg: Config):
    """Elaborate on fresh signals named like the ports."""
    from myhdl import ResetSignal
    A, B = cfg.acc_bits, cfg.act_bits
    clk = Signal(bool(0))
    rst = ResetSignal(0, active=1, isasync=False)
    in_valid, out_valid = Signal(bool(0)), Signal(bool(0))
    acc = Signal(intbv(0, min=-(1 << (A - 1)), max=1 << (A - 1)))
    s = Signal(intbv(0)[S_BITS:])
    y = Signal(intbv(0, min=-(1 << (B - 1)), max=1 << (B - 1)))
    return requant(clk, rst, in_valid, acc, s, out_valid, y, cfg=cfg)
