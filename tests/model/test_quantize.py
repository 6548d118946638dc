"""Quantizer: binary points per numerics.md, stored order, errors; fxpmath cross-check."""

import numpy as np
import pytest
from fxpmath import Fxp
from hypothesis import given, settings, strategies as st

from ese.config import TINY
from ese.model.fixed import quantize
from ese.model.modelfile import FloatLayer, FloatModel, ModelError, random_model
from ese.model.quantize import dequantize_model, quantize_model


def expected_frac(w, bits, fmax, fmin=0):
    """numerics.md: the largest f <= fmax with max|W|*2**f <= 2**(bits-1)-1 (by search)."""
    m = float(np.max(np.abs(w)))
    if m == 0:
        return max(fmax, fmin)
    for f in range(fmax, -100, -1):
        if m * 2.0 ** f <= 2 ** (bits - 1) - 1:
            return f
    raise AssertionError


def layer(I=3, H=2, P=None, scale_x=1.0, scale_r=1.0, peep=None, seed=0):
    rng = np.random.default_rng(seed)
    p = P or H
    return FloatLayer(wx=rng.uniform(-1, 1, (4 * H, I)) * scale_x,
                      wr=rng.uniform(-1, 1, (4 * H, p)) * scale_r,
                      b=rng.uniform(-1, 1, 4 * H), peep=peep,
                      wp=rng.uniform(-1, 1, (P, H)) if P else None)


# ---------------------------------------------------------------- fxpmath
@settings(max_examples=40, deadline=None)
@given(bits=st.integers(4, 24), data=st.data())
def test_quantize_matches_fxpmath(bits, data):
    frac = data.draw(st.integers(0, bits - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    span = 2.0 ** (bits - 1 - frac)
    # dyadic values on a grid 8x finer than the LSB: includes exact ties (x.5 LSB)
    v = rng.integers(-8 * 2 ** (bits - 1) - 50, 8 * 2 ** (bits - 1) + 50, 500) / 2.0 ** (frac + 3)
    ours = quantize(v, bits, frac)
    # round half up == floor(v + LSB/2); exact on this grid, so fxpmath's floor applies
    ref = Fxp(v + 2.0 ** -(frac + 1), signed=True, n_word=bits, n_frac=frac,
              rounding="floor", overflow="saturate").val
    np.testing.assert_array_equal(ours, np.asarray(ref, dtype=np.int64))
    # arbitrary reals (never ties): same as fxpmath's round-to-nearest
    r = rng.uniform(-1.2 * span, 1.2 * span, 500)
    ref2 = Fxp(r, signed=True, n_word=bits, n_frac=frac, rounding="around",
               overflow="saturate").val
    np.testing.assert_array_equal(quantize(r, bits, frac), np.asarray(ref2, dtype=np.int64))


def test_quantize_ties_round_up():
    assert quantize(0.5 / 2 ** 11, 16, 11) == 1
    assert quantize(-0.5 / 2 ** 11, 16, 11) == 0
    assert quantize(-1.5 / 2 ** 11, 16, 11) == -1
    assert quantize(100.0, 16, 11) == 32767 and quantize(-100.0, 16, 11) == -32768


# ---------------------------------------------------------------- binary points
@pytest.mark.parametrize("scale", [1e-9, 1e-4, 0.03, 0.5, 1.0, 1.9999, 7.3, 100.0, 2047.0])
def test_matrix_binary_point(scale):
    l = layer(scale_x=scale, scale_r=scale, P=2, seed=int(scale * 1000) % 97)
    l.wx[0, 0] = scale                          # hit the boundary case exactly
    q = quantize_model(FloatModel([l]), TINY).layers[0]
    fx = expected_frac(l.wx, 12, TINY.weight_frac_max)
    fr = expected_frac(l.wr, 12, TINY.weight_frac_max)
    # alignment rule
    if fx > fr + 8:
        fx = fr + 8
    if fr > fx + 8:
        fr = fx + 8
    assert (q.wf_x, q.wf_r) == (fx, fr)
    assert q.wf_p == expected_frac(l.wp, 12, TINY.weight_frac_max)
    assert np.abs(q.wx).max() <= 2047 and np.abs(q.wr).max() <= 2047
    assert q.acc_frac_w == max(fx, fr) and min(q.shift_x, q.shift_r) == 0


def test_all_zero_matrix_takes_weight_frac_max():
    l = layer(P=3)
    l.wr[:] = 0
    l.wp[:] = 0
    q = quantize_model(FloatModel([l]), TINY).layers[0]
    assert q.wf_p == TINY.weight_frac_max
    assert q.wf_r == min(TINY.weight_frac_max, q.wf_x + TINY.max_align_shift)


def test_alignment_lowers_the_finer_matrix():
    l = layer(scale_x=100.0, scale_r=1e-3)
    l.wx[0, 0], l.wr[0, 0] = 100.0, 1e-3
    q = quantize_model(FloatModel([l]), TINY).layers[0]
    assert q.wf_x == 4                      # 100 * 2**4 = 1600 <= 2047 < 3200
    assert q.wf_r == 4 + TINY.max_align_shift
    assert (q.shift_x, q.shift_r) == (TINY.max_align_shift, 0)
    # requantized at the lowered point
    np.testing.assert_array_equal(q.wr[0::4][:, :], quantize(l.wr[:2], 12, q.wf_r))


def test_too_large_weights_rejected():
    for field in ("wx", "wr", "wp"):
        l = layer(P=2)
        getattr(l, field)[1, 1] = 2047.6
        with pytest.raises(ModelError, match="too large for the format"):
            quantize_model(FloatModel([l]), TINY)
    l = layer()
    l.wx[0, 0] = 2047.0                     # exactly fits at f = 0
    assert quantize_model(FloatModel([l]), TINY).layers[0].wf_x == 0


def test_bias_range():
    l = layer()
    l.b[3] = 15.9995                         # rounds to 32767: fits
    q = quantize_model(FloatModel([l]), TINY).layers[0]
    assert q.bias.max() == 32767
    l.b[3] = 16.0
    with pytest.raises(ModelError, match="bias"):
        quantize_model(FloatModel([l]), TINY)
    l.b[3] = -16.0
    assert quantize_model(FloatModel([l]), TINY).layers[0].bias.min() == -32768
    l.b[3] = -16.001
    with pytest.raises(ModelError, match="bias"):
        quantize_model(FloatModel([l]), TINY)


def test_acc_frac_raised_when_act_frac_below_pre_frac():
    cfg = TINY.replace(act_frac=8, pre_frac=11)
    l = layer(scale_x=1000.0, scale_r=900.0)
    l.wx[0, 0] = 1000.0
    q = quantize_model(FloatModel([l]), cfg).layers[0]
    assert max(q.wf_x, q.wf_r) == 1
    assert q.acc_frac_w == 3                 # raised: 3 + 8 - 11 = 0
    assert (q.shift_x, q.shift_r) == (3 - q.wf_x, 3 - q.wf_r)


def test_peephole_binary_point_floor():
    cfg = TINY.replace(cell_frac=8, pre_frac=11)     # needs wf_peep >= 3
    peep = np.full((3, 2), 0.01)
    q = quantize_model(FloatModel([layer(peep=peep)]), cfg).layers[0]
    assert q.wf_peep == expected_frac(peep, 12, cfg.weight_frac_max)
    peep[1, 1] = 300.0                                  # fits only with f <= 2
    with pytest.raises(ModelError, match="peepholes"):
        quantize_model(FloatModel([layer(peep=peep)]), cfg)
    q = quantize_model(FloatModel([layer(peep=peep)]), TINY).layers[0]
    assert q.wf_peep == 2
    zero = quantize_model(FloatModel([layer(peep=np.zeros((3, 2)))]), cfg).layers[0]
    assert zero.wf_peep == cfg.weight_frac_max


# ---------------------------------------------------------------- order, round trip
def test_stored_order_and_round_trip():
    m = random_model(5, 3, 2, layers=2, seed=7)
    qm = quantize_model(m, TINY)
    H = 3
    for l, q in zip(m.layers, qm.layers):
        for k in range(H):
            for g in range(4):
                np.testing.assert_array_equal(q.wx[4 * k + g], quantize(l.wx[g * H + k], 12, q.wf_x))
                np.testing.assert_array_equal(q.wr[4 * k + g], quantize(l.wr[g * H + k], 12, q.wf_r))
                assert q.bias[4 * k + g] == quantize(l.b[g * H + k], 16, 11)
        np.testing.assert_array_equal(q.wp, quantize(l.wp, 12, q.wf_p))
        np.testing.assert_array_equal(q.peep, quantize(l.peep, 12, q.wf_peep))
    d = dequantize_model(qm)
    for l, dl, q in zip(m.layers, d.layers, qm.layers):
        assert np.abs(dl.wx - l.wx).max() <= 2.0 ** -(q.wf_x + 1)
        assert np.abs(dl.wr - l.wr).max() <= 2.0 ** -(q.wf_r + 1)
        assert np.abs(dl.wp - l.wp).max() <= 2.0 ** -(q.wf_p + 1)
        assert np.abs(dl.b - l.b).max() <= 2.0 ** -12
        assert np.abs(dl.peep - l.peep).max() <= 2.0 ** -(q.wf_peep + 1)


def test_model_must_fit_config():
    with pytest.raises(ModelError, match="max_cells"):
        quantize_model(random_model(4, 65, seed=0), TINY)
