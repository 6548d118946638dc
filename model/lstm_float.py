"""Float LSTMP engine (docs/lstm.md), numpy float64, vectorized over a batch.

Per layer and frame::

    a   = W_x x_t + W_r y_{t-1} + b          # gate order i, f, g, o (PyTorch rows)
    i   = sigmoid(a_i + p_i * c_{t-1});  f = sigmoid(a_f + p_f * c_{t-1});  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    o   = sigmoid(a_o + p_o * c_t);      m_t = o * tanh(c_t)
    y_t = W_p m_t                         (no projection: y_t = m_t)
"""

from __future__ import annotations

import numpy as np

from .modelfile import FloatLayer, FloatModel, check_input


def _sigmoid(v):
    # split by sign so exp never overflows
    out = np.empty_like(v)
    pos = v >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-v[pos]))
    e = np.exp(v[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def run_layer(layer: FloatLayer, x: np.ndarray) -> np.ndarray:
    """One layer over a batch: x (B, T, I) -> y (B, T, P), float64."""
    bsz, t_len, _ = x.shape
    h, p = layer.n_cells, layer.n_out
    # the input product does not depend on the recurrence: all frames at once
    ax = x @ layer.wx.T + layer.b                    # (B, T, 4H)
    y = np.zeros((bsz, p))
    c = np.zeros((bsz, h))
    out = np.empty((bsz, t_len, p))
    for t in range(t_len):
        a = ax[:, t] + y @ layer.wr.T
        ai, af, ag, ao = a[:, :h], a[:, h:2 * h], a[:, 2 * h:3 * h], a[:, 3 * h:]
        if layer.peep is not None:
            ai = ai + layer.peep[0] * c
            af = af + layer.peep[1] * c
        i, f, g = _sigmoid(ai), _sigmoid(af), np.tanh(ag)
        c = f * c + i * g
        if layer.peep is not None:
            ao = ao + layer.peep[2] * c
        m = _sigmoid(ao) * np.tanh(c)
        y = m @ layer.wp.T if layer.wp is not None else m
        out[:, t] = y
    return out


def run_float(model: FloatModel, x, progress=None) -> np.ndarray:
    """Run the float model on (T, I) or (B, T, I) frames; float64 output (.., P).

    ``progress(message)``, if given, is called before every layer.
    """
    x, single = check_input(x, model.n_in)
    for k, layer in enumerate(model.layers):
        if progress is not None:
            progress(f"layer {k + 1}/{len(model.layers)}")
        x = run_layer(layer, x)
    return x[0] if single else x


def infer_float(model: FloatModel, x) -> np.ndarray:
    """:func:`run_float` with the user-facing float32 output."""
    return run_float(model, x).astype(np.float32)
