"""Integer primitives shared by the golden model and the testbenches.

These are the *only* rounding and saturation operations of the datapath; the
RTL implements exactly these (docs/numerics.md).  They work elementwise on
Python ints and on numpy int64 arrays.

* ``rshift_round(x, s)``: x * 2**-s rounded half up (towards +inf on a tie):
  ``(x + 2**(s-1)) >> s`` with an arithmetic (floor) shift; ``s == 0`` is the
  identity and ``s < 0`` an exact left shift.
* ``saturate(x, bits)``: clamp to the signed range of ``bits`` bits.
* ``quantize(v, bits, frac)``: float -> int, round half up then saturate.
"""

from __future__ import annotations

import numpy as np


def smin(bits: int) -> int:
    """Smallest signed value of ``bits`` bits."""
    return -(1 << (bits - 1))


def smax(bits: int) -> int:
    """Largest signed value of ``bits`` bits."""
    return (1 << (bits - 1)) - 1


def saturate(x, bits: int):
    """Clamp ``x`` to [-(2**(bits-1)), 2**(bits-1)-1]."""
    if isinstance(x, (int, np.integer)):
        return int(min(max(int(x), smin(bits)), smax(bits)))
    return np.clip(x, smin(bits), smax(bits))


def rshift_round(x, s: int):
    """``x / 2**s`` rounded half up; exact left shift when ``s < 0``."""
    if s > 0:
        return (x + (1 << (s - 1))) >> s
    if s < 0:
        return x << (-s)
    return x


def quantize(v, bits: int, frac: int):
    """Float(s) to signed fixed point (bits, frac): floor(v*2**frac + 0.5), saturated.

    Returns a Python int for a scalar, an int64 array otherwise.
    """
    a = np.floor(np.asarray(v, dtype=np.float64) * float(2.0 ** frac) + 0.5)
    a = np.clip(a, smin(bits), smax(bits)).astype(np.int64)
    return int(a) if a.ndim == 0 else a


def dequantize(q, frac: int) -> np.ndarray:
    """Fixed point with ``frac`` fractional bits to float64."""
    return np.asarray(q, dtype=np.float64) / float(2.0 ** frac)


def to_unsigned(x, bits: int):
    """Two's complement bit pattern of ``x`` in ``bits`` bits (for memory images)."""
    return np.asarray(x, dtype=np.int64) & ((1 << bits) - 1)


def from_unsigned(u, bits: int):
    """Signed value of a ``bits``-bit two's complement pattern."""
    u = np.asarray(u, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(u >= (1 << (bits - 1)), u - (1 << bits), u)
