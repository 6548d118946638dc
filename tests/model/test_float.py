"""Float LSTMP engine vs. an independent plain-Python LSTMP written here."""

import math

import numpy as np
import pytest

from ese.model.lstm_float import infer_float, run_float
from ese.model.modelfile import FloatLayer, FloatModel, ModelError, random_model


def ref_lstmp(layers, seq):
    """Plain Python, one scalar at a time, straight from docs/lstm.md.

    ``layers``: list of dicts of nested lists in PyTorch order; ``seq``: list of
    frames (lists).  Returns the list of output frames.
    """
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))
    for L in layers:
        Wx, Wr, b, peep, Wp = L["Wx"], L["Wr"], L["b"], L["peep"], L["Wp"]
        H = len(Wx) // 4
        P = len(Wp) if Wp is not None else H
        y = [0.0] * P
        c = [0.0] * H
        out = []
        for x in seq:
            a = [sum(Wx[r][j] * x[j] for j in range(len(x)))
                 + sum(Wr[r][j] * y[j] for j in range(P)) + b[r] for r in range(4 * H)]
            c_new, m = [], []
            for k in range(H):
                ai, af, ag, ao = a[k], a[H + k], a[2 * H + k], a[3 * H + k]
                if peep is not None:
                    ai += peep[0][k] * c[k]
                    af += peep[1][k] * c[k]
                ck = sig(af) * c[k] + sig(ai) * math.tanh(ag)
                if peep is not None:
                    ao += peep[2][k] * ck
                c_new.append(ck)
                m.append(sig(ao) * math.tanh(ck))
            c = c_new
            y = [sum(Wp[r][k] * m[k] for k in range(H)) for r in range(P)] if Wp is not None \
                else m
            out.append(y)
        seq = out
    return seq


def as_lists(model):
    return [dict(Wx=l.wx.tolist(), Wr=l.wr.tolist(), b=l.b.tolist(),
                 peep=None if l.peep is None else l.peep.tolist(),
                 Wp=None if l.wp is None else l.wp.tolist()) for l in model.layers]


@pytest.mark.parametrize("layers,proj,peep", [(1, None, False), (1, 3, True), (2, None, True),
                                              (3, 4, True), (2, 2, False)])
def test_matches_python_reference(layers, proj, peep):
    rng = np.random.default_rng(layers * 10 + (proj or 0))
    m = random_model(5, 6, proj, layers=layers, peephole=peep, seed=layers)
    # scale up so that gates leave their linear region and peepholes matter
    for l in m.layers:
        l.wx *= 3
        l.wr *= 3
        if l.peep is not None:
            l.peep = rng.uniform(-2, 2, l.peep.shape)
    x = rng.normal(0, 1.5, (3, 7, 5))
    y = run_float(m, x)
    assert y.shape == (3, 7, m.n_out)
    for b in range(3):
        ref = np.array(ref_lstmp(as_lists(m), x[b].tolist()))
        np.testing.assert_allclose(y[b], ref, rtol=1e-12, atol=1e-12)


def test_single_sequence_shape_and_float32():
    m = random_model(4, 3, 2, seed=1)
    x = np.random.default_rng(0).normal(size=(5, 4))
    y = infer_float(m, x)
    assert y.shape == (5, 2) and y.dtype == np.float32
    np.testing.assert_allclose(y, run_float(m, x[None])[0], rtol=1e-6)


def test_gate_order_is_pytorch():
    # only the g-gate bias block is non-zero and i, o saturated at 1 via bias; f = 0
    H = 2
    b = np.concatenate([np.full(H, 50.0), np.full(H, -50.0), [0.5, -1.0], np.full(H, 50.0)])
    layer = FloatLayer(wx=np.zeros((4 * H, 1)), wr=np.zeros((4 * H, H)), b=b)
    y = run_float(FloatModel([layer]), np.zeros((2, 1)))
    # c = tanh(b_g) each frame (f = 0), m = tanh(c)
    np.testing.assert_allclose(y[0], np.tanh(np.tanh([0.5, -1.0])), atol=1e-12)


def test_extreme_inputs_no_overflow():
    m = random_model(3, 4, seed=2)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = run_float(m, np.full((1, 3, 3), 1e6))
    assert np.all(np.isfinite(y))


def test_bad_input_width():
    m = random_model(3, 4, seed=2)
    with pytest.raises(ModelError, match="frames have 4 values"):
        run_float(m, np.zeros((2, 4)))
