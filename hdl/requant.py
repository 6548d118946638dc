"""Projection requantizer: ``y = saturate(rshift_round(acc, s), act_bits)``.

Used on the drain of the projection accumulators (docs/numerics.md step 6,
``s = wf_p``), bit-exact with ``model.fixed``.

Ports
-----
clk, rst        clock; synchronous active-high reset (clears ``out_valid`` only)
in_valid        [1] ``acc`` holds a value this cycle
acc             [acc_bits] signed accumulator value
s               [6] unsigned run-time right shift, 0..63 (0 = no shift)
out_valid       [1] ``y`` holds the result of the value given LATENCY cycles earlier
y               [act_bits] signed result, saturated

Parameters
----------
cfg             ese.config.Config (acc_bits, act_bits)

Datapath (all widths fixed at elaboration; hdl/shift_round.py)::

    stage 1   t = (acc << 1) >>> s                 the run-time barrel shift, registered
    stage 2   y = sat((t >>> 1) + t[0])            rounding, narrow add + saturation

``(t >>> 1) + t[0] == (acc + 2**(s-1)) >>> s`` (round half up) for ``s > 0``
and ``acc`` for ``s == 0``; a shift beyond the width gives the sign.

Timing: LATENCY = 2 register stages, no backpressure; one value per cycle.

::

    clk        _/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_
    in_valid   __/‾‾‾‾‾‾‾‾‾\\____________
    acc        --<a0 ><a1 >-------------
    out_valid  ______________/‾‾‾‾‾‾‾‾‾\\_
    y          --------------<y0 ><y1 >-
"""

from myhdl import Signal, always, always_seq, block, intbv

from ese.config import Config
from ese.pipeline import REQUANT_LATENCY

from .shift_round import round_add_sat, round_shift, shift_result

S_BITS = 6  # width of the run-time shift inputs (values 0..63)


#: register stages from ``in_valid`` to ``out_valid`` (stage1, stage2 below)
LATENCY = REQUANT_LATENCY


@block
def _data_reg(clk, d, q):
    """``q`` = ``d`` a cycle later (no reset)."""
    @always(clk.posedge)
    def reg():
        q.next = d
    return reg


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

    # (acc << 1) >>> s, the narrow part of it with its fit and sign (shift_round.py)
    t_c = shift_result(A, 1, B)
    t = [Signal(v.val) for v in t_c]
    ysat = Signal(intbv(0, min=-(1 << (B - 1)), max=1 << (B - 1)))
    v1 = Signal(bool(0))
    shift = round_shift(acc, s, *t_c)
    rnd = round_add_sat(t[0], None, ysat, *t[1:])
    stage1 = [_data_reg(clk, d, q) for d, q in zip(t_c, t)]

    @always(clk.posedge)
    def stage2():
        y.next = ysat

    @always_seq(clk.posedge, reset=rst)
    def valid_reg():
        v1.next = in_valid
        out_valid.next = v1

    return shift, rnd, stage1, stage2, valid_reg


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
