"""Sigmoid/tanh tables: contents, index edges, measured error (docs/numerics.md)."""

import math

import numpy as np
import pytest

from ese.config import ESE32, TINY
from ese.model.lut import lookup, lut_index, table


def ref_entry(func, k, cfg):
    """Entry k straight from numerics.md, in plain Python."""
    n = 1 << cfg.lut_bits
    r = 2 ** (cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2)
    mid = (k - n / 2 + 0.5) * 2 * r / n
    v = 1 / (1 + math.exp(-mid)) if func == "sigmoid" else math.tanh(mid)
    q = math.floor(v * 2 ** cfg.gate_frac + 0.5)
    return max(-(1 << (cfg.act_bits - 1)), min((1 << (cfg.act_bits - 1)) - 1, q))


CFGS = [TINY, TINY.replace(lut_bits=8, sigmoid_range_log2=4, tanh_range_log2=3),
        TINY.replace(act_bits=12, act_frac=7, gate_frac=10, cell_frac=7, pre_frac=9,
                     lut_bits=9, pre_bits=14, cell_bits=12)]


@pytest.mark.parametrize("cfg", CFGS, ids=lambda c: f"lut{c.lut_bits}g{c.gate_frac}")
@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
def test_table_contents(cfg, func):
    t = table(cfg, func)
    assert t.shape == (1 << cfg.lut_bits,)
    assert t.tolist() == [ref_entry(func, k, cfg) for k in range(t.size)]
    assert np.all(np.diff(t) >= 0)                       # monotone


@pytest.mark.parametrize("cfg", CFGS, ids=lambda c: f"lut{c.lut_bits}g{c.gate_frac}")
@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
@pytest.mark.parametrize("frac_name", ["pre_frac", "cell_frac"])
def test_index_edges(cfg, func, frac_name):
    frac = getattr(cfg, frac_name)
    n = 1 << cfg.lut_bits
    r = 2 ** (cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2)
    one = 1 << frac                                      # 1.0 in the input format
    lsb_per_step = 2 * r * one // n                      # a whole number (Config.validate)
    assert lsb_per_step * n == 2 * r * one
    t = table(cfg, func)
    cases = {
        -r * one: 0,                                     # exactly the lower edge
        -r * one - 1: 0, -r * one - 12345: 0,            # below the range: clamp
        r * one - 1: n - 1,                              # last LSB inside
        r * one: n - 1, r * one + 777: n - 1,            # at/above the upper edge: clamp
        0: n // 2, -1: n // 2 - 1,                       # around zero (floor, not trunc)
        lsb_per_step: n // 2 + 1, lsb_per_step - 1: n // 2,     # a step boundary
        -lsb_per_step: n // 2 - 1, -lsb_per_step - 1: n // 2 - 2,
        -(1 << 40): 0, (1 << 40): n - 1,
    }
    for x, k in cases.items():
        assert int(lut_index(cfg, func, x, frac)) == k, (x, k)
        assert lookup(cfg, func, x, frac) == t[k]
    xs = np.array(list(cases))
    np.testing.assert_array_equal(lookup(cfg, func, xs, frac), t[list(cases.values())])


def test_symmetry():
    s, th = table(TINY, "sigmoid"), table(TINY, "tanh")
    one = 1 << TINY.gate_frac
    # sigmoid(-x) = 1 - sigmoid(x), tanh odd: up to one LSB of rounding
    assert np.abs(s + s[::-1] - one).max() <= 1
    assert np.abs(th + th[::-1]).max() <= 1


@pytest.mark.parametrize("func,slope", [("sigmoid", 0.25), ("tanh", 1.0)])
def test_measured_error(func, slope):
    cfg = ESE32                   # the default tables (same LUT fields as every preset)
    r = 2 ** (cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2)
    step = 2 * r / cfg.lut_size
    exact = (lambda v: 1 / (1 + np.exp(-v))) if func == "sigmoid" else np.tanh
    # dense sweep of real inputs inside [-R, R): 2**20 points; a 30-bit fraction
    # stands for a real input (the index rule works for any input format)
    m = 1 << 20
    x = ((np.arange(m) + 0.5) / m) * 2 * r - r
    fine = 30
    got = lookup(cfg, func, np.floor(x * 2 ** fine).astype(np.int64), fine) / 2 ** cfg.gate_frac
    err = np.abs(got - exact(x))
    bound = slope * step / 2 + 2.0 ** -(cfg.gate_frac + 1)
    # every input the datapath can present (pre format) inside the range
    xi = np.arange(-r << cfg.pre_frac, r << cfg.pre_frac)
    erri = np.abs(lookup(cfg, func, xi, cfg.pre_frac) / 2 ** cfg.gate_frac
                  - exact(xi / 2 ** cfg.pre_frac))
    # beyond the range the edge entries hold
    far = np.abs(lookup(cfg, func, np.array([-(1 << 30), 1 << 30]), cfg.pre_frac)
                 / 2 ** cfg.gate_frac - exact(np.array([-np.inf, np.inf])))
    print(f"\n{func}: range [-{r}, {r}), {cfg.lut_size} entries, step {step}: "
          f"max abs error {err.max():.3e}, mean {err.mean():.3e} (bound {bound:.3e}); "
          f"pre-format inputs max {erri.max():.3e} mean {erri.mean():.3e}; "
          f"beyond range {far.max():.3e}")
    assert err.max() <= bound
    assert erri.max() <= bound
    # the bound is not loose by more than the quantization half-LSB
    assert err.max() >= slope * step / 2 * 0.9
    assert far.max() < 1e-3
