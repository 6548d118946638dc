"""Linear quantization of a (pruned) float model into a :class:`QModel`.

Binary points follow docs/numerics.md, "Choosing binary points":

* matrix M: ``wf_M`` = largest ``f <= weight_frac_max`` with
  ``max|W_M| * 2**f <= 2**(weight_bits-1) - 1`` (all-zero: ``weight_frac_max``);
  ``f < 0`` is rejected;
* W_x / W_r of a layer aligned: ``F_l = max(wf_x, wf_r)``, the finer lowered to
  ``coarser + max_align_shift`` when they differ by more; ``F_l`` raised if
  needed so that ``F_l + act_frac - pre_frac >= 0``;
* peepholes: one ``wp_l`` per layer chosen like a matrix, at least
  ``pre_frac - cell_frac`` (no negative shifts);
* biases in the pre-activation format (out of range is rejected).

Every weight, bias and peephole is quantized with ``fixed.quantize`` (round
half up).  Gate rows are stored cell-interleaved (``qmodel.gate_perm``).
"""

from __future__ import annotations

import numpy as np

from ese.config import Config
from .fixed import dequantize, quantize, smax
from .modelfile import FloatLayer, FloatModel, ModelError, check_fits, validate_model
from .qmodel import QLayer, QModel, gate_perm, gate_unperm

MAX_SHIFT = 63   #: every shift of the datapath must be a valid int64 shift


def fit_frac(max_abs: float, bits: int) -> int | None:
    """Largest ``f`` with ``max_abs * 2**f <= 2**(bits-1) - 1`` (None for max_abs == 0)."""
    if max_abs == 0:
        return None
    top = smax(bits)
    f = int(np.floor(np.log2(top / max_abs)))
    # log2 may be off by one near powers of two; scaling by 2**f is exact
    while max_abs * 2.0 ** (f + 1) <= top:
        f += 1
    while max_abs * 2.0 ** f > top:
        f -= 1
    return f


def choose_frac(values, cfg: Config, what: str, f_min: int = 0) -> int:
    """Binary point of a weight group: as fine as fits, within [f_min, weight_frac_max]."""
    values = np.asarray(values, dtype=np.float64)
    m = float(np.max(np.abs(values))) if values.size else 0.0
    fit = fit_frac(m, cfg.weight_bits)
    if fit is None:
        return max(cfg.weight_frac_max, f_min)
    if fit < f_min:
        raise ModelError(f"{what}: largest magnitude {m:.6g} does not fit {cfg.weight_bits}-bit "
                         f"weights with >= {f_min} fractional bits (at most "
                         f"{smax(cfg.weight_bits) / 2.0 ** f_min:.6g}); the weights are too large "
                         f"for the format")
    return max(min(fit, cfg.weight_frac_max), f_min)


def _acc_worst(wq: np.ndarray, shift: int, cfg: Config) -> np.ndarray:
    """Per row: worst-case |sum w*x| << shift for any activation."""
    return np.abs(wq).sum(axis=1).astype(object) * (1 << shift) * (1 << (cfg.act_bits - 1))


def quantize_layer(layer: FloatLayer, cfg: Config, k: int = 0) -> QLayer:
    """Quantize one float layer (PyTorch order) into a :class:`QLayer` (stored order)."""
    h = layer.n_cells
    perm = gate_perm(h)
    wf_x = choose_frac(layer.wx, cfg, f"l{k}_Wx")
    wf_r = choose_frac(layer.wr, cfg, f"l{k}_Wr")
    # W_x and W_r share one accumulator: at most max_align_shift apart
    if wf_x > wf_r + cfg.max_align_shift:
        wf_x = wf_r + cfg.max_align_shift
    if wf_r > wf_x + cfg.max_align_shift:
        wf_r = wf_x + cfg.max_align_shift
    f_l = max(wf_x, wf_r)
    # the accumulator (frac F_l + act_frac) is shifted right into pre_frac: never left
    acc_frac = None
    if f_l + cfg.act_frac - cfg.pre_frac < 0:
        f_l = acc_frac = cfg.pre_frac - cfg.act_frac
    wx = quantize(layer.wx[perm], cfg.weight_bits, wf_x)
    wr = quantize(layer.wr[perm], cfg.weight_bits, wf_r)
    shift_x, shift_r = f_l - wf_x, f_l - wf_r
    for name, s in (("shift_x", shift_x), ("shift_r", shift_r),
                    ("pre-activation shift", f_l + cfg.act_frac - cfg.pre_frac)):
        if not 0 <= s <= MAX_SHIFT:
            raise ModelError(f"layer {k}: {name} = {s} is outside 0..{MAX_SHIFT}")
    # the configuration guarantees no overflow for shifts <= max_align_shift; a raised
    # F_l may exceed that, so check the worst case of this very model
    worst = _acc_worst(wx, shift_x, cfg) + _acc_worst(wr, shift_r, cfg)
    if worst.size and max(worst) > smax(cfg.acc_bits):
        raise ModelError(f"layer {k}: gate accumulator could overflow {cfg.acc_bits} bits "
                         f"(weight binary points {wf_x}/{wf_r}, F = {f_l})")

    b_lim = 2.0 ** (cfg.pre_bits - 1 - cfg.pre_frac)
    bmax = float(np.max(np.abs(layer.b)))
    braw = np.floor(layer.b * 2.0 ** cfg.pre_frac + 0.5)   # quantize() before saturation
    if np.any(braw > smax(cfg.pre_bits)) or np.any(braw < -(2 ** (cfg.pre_bits - 1))):
        raise ModelError(f"l{k}_b: bias magnitude {bmax:.6g} is outside the pre-activation "
                         f"range [-{b_lim:g}, {b_lim:g})")
    bias = quantize(layer.b[perm], cfg.pre_bits, cfg.pre_frac)

    wp = None
    wf_p = 0
    if layer.wp is not None:
        wf_p = choose_frac(layer.wp, cfg, f"l{k}_Wp")
        wp = quantize(layer.wp, cfg.weight_bits, wf_p)
    peep = None
    wf_peep = 0
    if layer.peep is not None:
        wf_peep = choose_frac(layer.peep, cfg, f"layer {k} peepholes",
                              f_min=max(0, cfg.pre_frac - cfg.cell_frac))
        if wf_peep + cfg.cell_frac - cfg.pre_frac > MAX_SHIFT:
            raise ModelError(f"layer {k}: peephole shift exceeds {MAX_SHIFT}")
        peep = quantize(layer.peep, cfg.weight_bits, wf_peep)
    return QLayer(n_in=layer.n_in, n_cells=h, n_out=layer.n_out, wx=wx, wr=wr, bias=bias,
                  wf_x=wf_x, wf_r=wf_r, wp=wp, wf_p=wf_p, peep=peep, wf_peep=wf_peep,
                  acc_frac=acc_frac)


def quantize_model(model: FloatModel, cfg: Config) -> QModel:
    """Quantize a float model for ``cfg`` (checks that it fits the configuration)."""
    validate_model(model)
    check_fits(model, cfg)
    return QModel(cfg=cfg, layers=[quantize_layer(l, cfg, k) for k, l in enumerate(model.layers)])


def dequantize_layer(q: QLayer, cfg: Config) -> FloatLayer:
    """The quantized weights of ``q`` as floats, back in PyTorch order."""
    un = gate_unperm(q.n_cells)
    return FloatLayer(wx=dequantize(q.wx, q.wf_x)[un], wr=dequantize(q.wr, q.wf_r)[un],
                      b=dequantize(q.bias, cfg.pre_frac)[un],
                      peep=None if q.peep is None else dequantize(q.peep, q.wf_peep),
                      wp=None if q.wp is None else dequantize(q.wp, q.wf_p))


def dequantize_model(qmodel: QModel) -> FloatModel:
    """The float model whose weights are exactly the quantized ones (PyTorch order)."""
    return FloatModel([dequantize_layer(l, qmodel.cfg) for l in qmodel.layers])
