"""Sigmoid / tanh lookup unit (docs/numerics.md, "Lookup tables").

Ports
-----
clk             clock (no reset: a pure datapath, validity is tracked by the user)
ce              clock enable: every register of the unit advances only when high
x               [in_bits] signed input, ``in_frac`` fractional bits
y               [act_bits] signed output, gate format (act_bits, gate_frac)

Parameters
----------
cfg             ese.config.Config (lut_bits, act_bits, gate_frac, range_log2 of ``fn``)
fn              "sigmoid" or "tanh" (``func`` in top(): MyHDL reserves the name)
in_bits         input width (pre_bits for gate pre-activations, cell_bits for tanh(c))
in_frac         input fractional bits (pre_frac, or cell_frac for tanh(c))

Function (bit-exact with ``model.lut.lookup(cfg, fn, x, in_frac)``)::

    t = x >>> SH                    SH = range_log2 + 1 - lut_bits + in_frac  (constant)
    k = clamp(t + N/2, 0, N-1)      N = 2**lut_bits
    y = TABLE[k]                    TABLE = model.lut.table(cfg, fn)

Timing: LATENCY = 3 enabled cycles: the index register, the registered ROM
read and an output register (together a block RAM with its output register:
the RAM's clock-to-out alone leaves no time for the multiplier after it).  One
new input per enabled cycle.  With ``ce`` low nothing moves.

::

    clk   _/‾\\_/‾\\_/‾\\_/‾\\_
    ce    ‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾
    x     <x0 ><x1 ><x2 ><x3 >
    k     -----<k0 ><k1 ><k2 >
    rom   -----------<r0 ><r1 >
    y     -----------------<y0 >
"""

from myhdl import Signal, always, always_comb, block, intbv

from ese.config import Config
from ese.pipeline import LUT_LATENCY
from ese.model import lut as mlut

FUNCS = ("sigmoid", "tanh")
#: enabled cycles from ``x`` to ``y`` (three registers below)
LATENCY = LUT_LATENCY


@block
def lut_unit(clk, ce, x, y, cfg: Config, fn: str, in_bits: int, in_frac: int):
    assert fn in FUNCS, f"lut_unit: fn must be one of {FUNCS}, got {fn!r}"
    assert 2 <= in_bits <= 64, f"lut_unit: in_bits must be in 2..64, got {in_bits}"
    assert 0 <= in_frac <= in_bits, f"lut_unit: in_frac must be in 0..in_bits, got {in_frac}"
    assert len(x) == in_bits and x.min is not None and x.min < 0, \
        f"lut_unit: x must be a signed {in_bits}-bit signal"
    assert len(y) == cfg.act_bits and y.min is not None and y.min < 0, \
        f"lut_unit: y must be a signed act_bits={cfg.act_bits}-bit signal"
    sh = mlut.index_shift(cfg, fn, in_frac)  # asserts >= 0
    n = cfg.lut_size
    half = n // 2
    table = tuple(int(v) for v in mlut.table(cfg, fn))
    assert len(table) == n
    lo, hi = -(1 << (cfg.act_bits - 1)), (1 << (cfg.act_bits - 1)) - 1
    assert all(lo <= v <= hi for v in table), "lut_unit: table value out of the gate format"
    # t = x >>> sh keeps in_bits - sh bits (at least 1)
    tb = max(in_bits - sh, 1)
    t = Signal(intbv(0, min=-(1 << (tb - 1)), max=1 << (tb - 1)))
    k_next = Signal(intbv(0)[cfg.lut_bits:])
    k = Signal(intbv(0)[cfg.lut_bits:])
    TMIN = -half          # t below this reads entry 0
    TMAX = half - 1       # t above this reads entry N-1

    @always_comb
    def index():
        t.next = x >> sh

    LB = cfg.lut_bits
    if tb >= LB:
        # k = clamp(t + N/2, 0, N-1) without an adder or a compare: t is in the table's
        # range when its bits [tb-1 : LB-1] are all equal, and t + N/2 is then t's low LB
        # bits with the top one inverted
        HI = tb - LB + 1
        ALL = (1 << HI) - 1
        hi_bits = Signal(intbv(0)[HI:])
        low = Signal(intbv(0)[LB:])

        @always_comb
        def fields():
            hi_bits.next = t[tb:LB - 1]
            low.next = t[LB:] ^ half

        @always_comb
        def clamp():
            if hi_bits == 0 or hi_bits == ALL:
                k_next.next = low
            elif t[tb - 1]:
                k_next.next = 0
            else:
                k_next.next = n - 1
    else:
        fields = None

        @always_comb
        def clamp():
            if t < TMIN:
                k_next.next = 0
            elif t > TMAX:
                k_next.next = n - 1
            else:
                k_next.next = t + half

    @always(clk.posedge)
    def stage_index():
        if ce:
            k.next = k_next

    rom = Signal(intbv(0, min=lo, max=hi + 1))

    @always(clk.posedge)
    def stage_rom():
        if ce:
            rom.next = table[int(k)]

    @always(clk.posedge)
    def stage_out():
        if ce:
            y.next = rom

    return [i for i in (index, fields, clamp, stage_index, stage_rom, stage_out) if i is not None]


def top(cfg: Config, func: str = "sigmoid", in_bits: int | None = None,
        in_frac: int | None = None):
    """Elaborate on fresh signals named like the ports (defaults: a gate pre-activation)."""
    in_bits = cfg.pre_bits if in_bits is None else in_bits
    in_frac = cfg.pre_frac if in_frac is None else in_frac
    clk = Signal(bool(0))
    ce = Signal(bool(0))
    x = Signal(intbv(0, min=-(1 << (in_bits - 1)), max=1 << (in_bits - 1)))
    y = Signal(intbv(0, min=-(1 << (cfg.act_bits - 1)), max=1 << (cfg.act_bits - 1)))
    return lut_unit(clk, ce, x, y, cfg=cfg, fn=func, in_bits=in_bits, in_frac=in_frac)
