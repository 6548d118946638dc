"""The golden integer engine: docs/numerics.md, step by step, bit for bit.

``run_fixed(qmodel, x_q)`` computes with int64 numpy arrays, vectorized over the
batch and the cells; it loops over layers and frames only.  Every rounding and
saturation is a call of ``fixed.rshift_round`` / ``fixed.saturate``; every
sigmoid/tanh is ``lut.lookup``.  The RTL must reproduce ``run_fixed_trace``'s
intermediates exactly.

Matrix products and exactness
-----------------------------
numpy has no BLAS for int64, so the sums of products run as float64 matrix
products *of the integer values* when that is provably exact: every weight
satisfies ``|w| <= 2**(weight_bits-1)`` and every activation
``|x| <= 2**(act_bits-1)``, so every product is an integer of magnitude
``<= 2**(weight_bits+act_bits-2)`` and every partial sum of ``n`` such products
(in *any* order, with or without FMA) is an integer of magnitude
``<= n * 2**(weight_bits+act_bits-2)``.  float64 holds every integer up to
``2**53`` exactly, so when ``weight_bits + act_bits - 2 + clog2(n) <= 53`` no
operation of the product ever rounds and the result converted back to int64
is exact.  The alignment shifts are applied afterwards in int64.  When the
bound does not hold (very wide formats) the engine falls back to int64 products.
"""

from __future__ import annotations

import numpy as np

from ese.config import Config, clog2
from .fixed import dequantize, quantize, rshift_round, saturate, smax, smin
from .lut import lookup
from .modelfile import ModelError, check_input
from .qmodel import QLayer, QModel

FLOAT64_EXACT_BITS = 53


def float_products_exact(cfg: Config, cols: int = 0) -> bool:
    """True when float64 products are exact for every matrix ``cfg`` accepts (see above).

    The sum length is bounded by ``cfg.max_cols`` (or ``cols`` if larger).
    """
    n = max(cols, cfg.max_cols, 1)
    return cfg.weight_bits + cfg.act_bits - 2 + clog2(n) <= FLOAT64_EXACT_BITS


class _MatVec:
    """``v @ W.T`` for an integer matrix W and integer activations, exactly."""

    def __init__(self, w: np.ndarray, cfg: Config, force_int: bool = False):
        self.exact_float = not force_int and float_products_exact(cfg, w.shape[1])
        if self.exact_float:
            # the exactness argument of the module docstring, from the configuration
            assert cfg.weight_bits + cfg.act_bits - 2 + clog2(max(w.shape[1], cfg.max_cols)) \
                <= FLOAT64_EXACT_BITS
            assert w.size == 0 or int(np.abs(w).max()) <= 1 << (cfg.weight_bits - 1)
            self.wt = np.ascontiguousarray(w.T, dtype=np.float64)
        else:
            self.wt = np.ascontiguousarray(w.T, dtype=np.int64)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        if self.exact_float:
            return (v.astype(np.float64) @ self.wt).astype(np.int64)
        return v @ self.wt


def _layer(q: QLayer, cfg: Config, x: np.ndarray, trace: dict | None,
           force_int: bool) -> np.ndarray:
    """One layer over a batch: x (B, T, I) int64 (act format) -> y (B, T, P)."""
    bsz, t_len, _ = x.shape
    h, p = q.n_cells, q.n_out
    gf, cf, af, pf = cfg.gate_frac, cfg.cell_frac, cfg.act_frac, cfg.pre_frac
    s_pre = q.acc_frac_w + af - pf                 # step 2 (>= 0 by the quantizer)
    s_cell = 2 * gf - cf                           # step 4
    s_m = 2 * gf - af                              # step 5
    s_p = q.wf_peep + cf - pf                      # step 3 (peepholes)
    assert s_pre >= 0 and q.shift_x >= 0 and q.shift_r >= 0
    mx = _MatVec(q.wx, cfg, force_int)
    mr = _MatVec(q.wr, cfg, force_int)
    mp = _MatVec(q.wp, cfg, force_int) if q.has_proj else None
    if q.has_peep:
        assert s_p >= 0
        p_i, p_f, p_o = (q.peep[j][None, :] for j in range(3))

    # step 1, input half: independent of the recurrence, all frames at once
    acc_x = mx(x.reshape(bsz * t_len, -1)).reshape(bsz, t_len, 4 * h) << q.shift_x
    y = np.zeros((bsz, p), dtype=np.int64)
    c = np.zeros((bsz, h), dtype=np.int64)
    out = np.empty((bsz, t_len, p), dtype=np.int64)
    rec = None
    if trace is not None:
        rec = {k: [] for k in ("acc", "a", "ai", "af", "ag", "ao", "i", "f", "g", "o",
                               "c", "tanh_c", "m", "acc_p", "y")}
    for t in range(t_len):
        # 1. gate products (exact)
        acc = acc_x[:, t] + (mr(y) << q.shift_r)
        # 2. pre-activation: round into pre format, add bias, saturate
        a = saturate(rshift_round(acc, s_pre) + q.bias, cfg.pre_bits)
        a4 = a.reshape(bsz, h, 4)                   # stored row 4k+g
        ai, af_, ag, ao = a4[..., 0], a4[..., 1], a4[..., 2], a4[..., 3]
        # 3. peepholes on c_{t-1}, gates
        if q.has_peep:
            ai = saturate(ai + rshift_round(p_i * c, s_p), cfg.pre_bits)
            af_ = saturate(af_ + rshift_round(p_f * c, s_p), cfg.pre_bits)
        i = lookup(cfg, "sigmoid", ai, pf)
        f = lookup(cfg, "sigmoid", af_, pf)
        g = lookup(cfg, "tanh", ag, pf)
        # 4. cell update: f*c aligned to i*g (frac 2*gate_frac), one rounding
        c = saturate(rshift_round(((f * c) << (gf - cf)) + i * g, s_cell), cfg.cell_bits)
        # 5. output gate on c_t, hidden value
        if q.has_peep:
            ao = saturate(ao + rshift_round(p_o * c, s_p), cfg.pre_bits)
        o = lookup(cfg, "sigmoid", ao, pf)
        tc = lookup(cfg, "tanh", c, cf)
        m = saturate(rshift_round(o * tc, s_m), cfg.act_bits)
        # 6. projection (separate accumulator, shift 0)
        if mp is not None:
            acc_p = mp(m)
            y = saturate(rshift_round(acc_p, q.wf_p), cfg.act_bits)
        else:
            acc_p = m
            y = m
        out[:, t] = y
        if rec is not None:
            for k, v in (("acc", acc), ("a", a), ("ai", ai), ("af", af_), ("ag", ag),
                         ("ao", ao), ("i", i), ("f", f), ("g", g), ("o", o), ("c", c),
                         ("tanh_c", tc), ("m", m), ("acc_p", acc_p), ("y", y)):
                rec[k].append(np.array(v, dtype=np.int64))
    if rec is not None:
        trace.update({k: np.stack(v, axis=1) for k, v in rec.items()})
        trace["x"] = x.copy()
    return out


def _check_xq(qmodel: QModel, x_q) -> np.ndarray:
    x_q = np.asarray(x_q)
    cfg = qmodel.cfg
    if x_q.ndim != 3 or x_q.shape[2] != qmodel.n_in:
        raise ModelError(f"quantized input has shape {x_q.shape}, expected (B, T, {qmodel.n_in})")
    if not np.issubdtype(x_q.dtype, np.integer):
        raise ModelError(f"quantized input must be integer, got {x_q.dtype}")
    x_q = x_q.astype(np.int64)
    if x_q.size and (x_q.min() < smin(cfg.act_bits) or x_q.max() > smax(cfg.act_bits)):
        raise ModelError(f"quantized input exceeds the {cfg.act_bits}-bit activation format")
    return x_q


def run_fixed(qmodel: QModel, x_q, *, force_int: bool = False) -> np.ndarray:
    """Integer inference: x_q (B, T, I) int64 in the act format -> y_q (B, T, P) int64.

    ``x_q`` is ``quantize(x, act_bits, act_frac)``.  ``force_int`` uses int64
    products even where float64 ones are exact (for testing the two agree).
    """
    x = _check_xq(qmodel, x_q)
    for q in qmodel.layers:
        x = _layer(q, qmodel.cfg, x, None, force_int)
    return x


def run_fixed_trace(qmodel: QModel, x_q, *, force_int: bool = False) -> list:
    """Like :func:`run_fixed`, returning every intermediate, one dict per layer.

    Each dict maps a name to an int64 array with leading shape (B, T):

    ``x`` (B,T,I) layer input; ``acc`` (4H, stored order) gate accumulators
    (frac F_l + act_frac); ``a`` (4H, stored) pre-activations after bias and
    saturation; ``ai``, ``af``, ``ag``, ``ao`` (H) the LUT inputs (peephole terms
    added); ``i``, ``f``, ``g``, ``o``, ``tanh_c`` (H) LUT outputs; ``c``, ``m``
    (H); ``acc_p`` (P) projection accumulator (frac wf_p + act_frac; equals
    ``m`` without projection); ``y`` (P) the layer output.
    """
    x = _check_xq(qmodel, x_q)
    layers = []
    for q in qmodel.layers:
        tr: dict = {}
        x = _layer(q, qmodel.cfg, x, tr, force_int)
        layers.append(tr)
    return layers


def quantize_input(x, cfg: Config) -> np.ndarray:
    """Input frames (float) to the activation format, int64."""
    return np.asarray(quantize(np.asarray(x, dtype=np.float64), cfg.act_bits, cfg.act_frac),
                      dtype=np.int64)


def infer_fixed(qmodel: QModel, x) -> np.ndarray:
    """Float frames (T, I) or (B, T, I) in, float32 out (same leading shape, P last)."""
    x, single = check_input(x, qmodel.n_in)
    y = dequantize(run_fixed(qmodel, quantize_input(x, qmodel.cfg)), qmodel.cfg.act_frac)
    y = y.astype(np.float32)
    return y[0] if single else y
