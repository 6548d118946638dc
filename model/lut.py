"""Sigmoid and tanh lookup tables (docs/numerics.md, "Lookup tables").

A table of ``N = 2**lut_bits`` entries covers the input range [-R, R) with
``R = 2**range_log2``; entry ``k`` holds the function at the *midpoint* of its
interval, ``f((k - N/2 + 0.5) * step)`` with ``step = 2R/N``, quantized to the
gate format (act_bits, gate_frac).  No interpolation: the measured error is in
docs/numerics.md and is far below what the 16-bit datapath resolves anyway.

For an input ``x`` with ``frac`` fractional bits the index is::

    k = clamp((x >> (range_log2 + 1 - lut_bits + frac)) + N/2, 0, N-1)

an arithmetic shift and a clamp - no multiplier, no divider.  Inputs beyond
the range use the edge entries.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ese.config import Config
from .fixed import quantize


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


FUNCS = {"sigmoid": _sigmoid, "tanh": np.tanh}


def range_log2(cfg: Config, func: str) -> int:
    return cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2


def index_shift(cfg: Config, func: str, in_frac: int) -> int:
    """Right shift that turns an input with ``in_frac`` frac bits into a table step count."""
    s = range_log2(cfg, func) + 1 - cfg.lut_bits + in_frac
    assert s >= 0, "Config.validate guarantees a whole number of LSBs per step"
    return s


@lru_cache(maxsize=None)
def _table(func: str, lut_bits: int, rlog2: int, out_bits: int, out_frac: int) -> np.ndarray:
    n = 1 << lut_bits
    step = 2.0 ** (rlog2 + 1) / n
    mid = (np.arange(n) - n // 2 + 0.5) * step
    t = quantize(FUNCS[func](mid), out_bits, out_frac)
    t.setflags(write=False)
    return t


def table(cfg: Config, func: str) -> np.ndarray:
    """The table contents (int64, gate format) for ``func`` in 'sigmoid', 'tanh'."""
    if func not in FUNCS:
        raise ValueError(f"unknown LUT function {func!r}")
    return _table(func, cfg.lut_bits, range_log2(cfg, func), cfg.act_bits, cfg.gate_frac)


def lut_index(cfg: Config, func: str, x, in_frac: int):
    """Table index of input(s) ``x`` (ints with ``in_frac`` fractional bits)."""
    n = cfg.lut_size
    k = (np.asarray(x, dtype=np.int64) >> index_shift(cfg, func, in_frac)) + n // 2
    return np.clip(k, 0, n - 1)


def lookup(cfg: Config, func: str, x, in_frac: int):
    """``func(x)`` by table: int64 array (or int) in the gate format."""
    r = table(cfg, func)[lut_index(cfg, func, x, in_frac)]
    return int(r) if np.ndim(r) == 0 else r
