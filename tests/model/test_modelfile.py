"""Float model file contract: loading, validation errors, limits, inputs."""

import numpy as np
import pytest

from ese.config import TINY
from ese.model.modelfile import (FloatModel, ModelError, check_fits, load_input, load_model,
                                 random_model, save_model)


def arrays(layers=1, I=3, H=4, P=None, peep=True):
    m = random_model(I, H, P, layers=layers, peephole=peep, seed=5)
    return m.to_arrays()


def write(tmp_path, d, name="m.npz"):
    p = tmp_path / name
    np.savez(p, **d)
    return p


def test_round_trip(tmp_path):
    m = random_model(3, 5, 2, layers=2, seed=1)
    save_model(m, tmp_path / "m.npz")
    m2 = load_model(tmp_path / "m.npz")
    assert len(m2.layers) == 2
    for a, b in zip(m.layers, m2.layers):
        for f in ("wx", "wr", "b", "peep", "wp"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    l0 = m2.layers[0]
    assert (l0.n_in, l0.n_cells, l0.n_out) == (3, 5, 2)
    assert m2.layers[1].n_in == 2


def test_no_peep_no_proj(tmp_path):
    m = load_model(write(tmp_path, arrays(peep=False)))
    assert m.layers[0].peep is None and m.layers[0].wp is None and m.n_out == 4


def test_float32_accepted(tmp_path):
    d = {k: v.astype(np.float32) for k, v in arrays().items()}
    assert load_model(write(tmp_path, d)).layers[0].wx.dtype == np.float64


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.pop("l0_Wr"), "missing key.*l0_Wr"),
    (lambda d: d.pop("l0_b"), "missing key.*l0_b"),
    (lambda d: d.pop("l0_pf"), "peepholes.*l0_pf"),
    (lambda d: d.__setitem__("l0_Wx", d["l0_Wx"][:, :2][:15]), r"l0_Wx: shape \(15, 2\)"),
    (lambda d: d.__setitem__("l0_Wr", np.zeros((16, 3))), r"l0_Wr: shape \(16, 3\)"),
    (lambda d: d.__setitem__("l0_b", np.zeros(15)), r"l0_b: shape \(15,\)"),
    (lambda d: d.__setitem__("l0_pi", np.zeros(5)), r"l0_pi: shape \(5,\)"),
    (lambda d: d.__setitem__("l0_Wp", np.zeros((2, 5))), r"l0_Wp: shape \(2, 5\)"),
    (lambda d: d.__setitem__("l0_Wx", d["l0_Wx"].astype(np.int32)), "l0_Wx: dtype int32"),
    (lambda d: d["l0_Wr"].__setitem__((0, 0), np.nan), "l0_Wr: 1 value.*NaN"),
    (lambda d: d["l0_b"].__setitem__(3, np.inf), "l0_b: 1 value.*Inf"),
    (lambda d: d.__setitem__("bogus", np.zeros(1)), "unexpected key.*bogus"),
    (lambda d: d.__setitem__("l2_Wx", np.zeros((16, 3))), "missing key.*l1_Wx"),
])
def test_validation_errors(tmp_path, mutate, match):
    d = arrays()
    mutate(d)
    with pytest.raises(ModelError, match=match):
        load_model(write(tmp_path, d))


def test_inconsistent_layers(tmp_path):
    d = arrays(layers=2, P=2)
    d["l1_Wx"] = np.zeros((16, 3))      # layer 0 produces 2
    with pytest.raises(ModelError, match="layer 1 takes 3 inputs but layer 0 produces 2"):
        load_model(write(tmp_path, d))


def test_corrupt_and_truncated(tmp_path):
    p = write(tmp_path, arrays())
    raw = p.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all" * 10)
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "single.npy", np.zeros(3))
    for name in ("trunc.npz", "junk.npz", "empty.npz", "single.npy", "absent.npz"):
        with pytest.raises(ModelError):
            load_model(tmp_path / name)


def test_pickled_object_rejected(tmp_path):
    d = arrays()
    d["l0_b"] = np.array([object()] * 16, dtype=object)
    p = tmp_path / "obj.npz"
    np.savez(p, **d)
    with pytest.raises(ModelError):
        load_model(p)


def test_check_fits():
    check_fits(random_model(64, 64, layers=3, seed=0), TINY)
    for kw, field in ((dict(n_in=65, cells=4), "max_input"), (dict(n_in=4, cells=65), "max_cells"),
                      (dict(n_in=4, cells=8, proj=65), "max_proj"),
                      (dict(n_in=4, cells=8, layers=4), "max_layers")):
        with pytest.raises(ModelError, match=field):
            check_fits(random_model(seed=0, **kw), TINY)


def test_random_model_init_range():
    m = random_model(10, 100, 20, layers=2, seed=3)
    l = m.layers[1]
    assert l.wx.shape == (400, 20) and l.wp.shape == (20, 100) and l.peep.shape == (3, 100)
    assert np.abs(l.wr).max() <= 0.1 and np.abs(l.wr).max() > 0.09
    assert np.abs(l.peep).max() <= 0.01
    assert isinstance(m, FloatModel)
    np.testing.assert_array_equal(random_model(3, 4, seed=9).layers[0].wx,
                                  random_model(3, 4, seed=9).layers[0].wx)


def test_load_input(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((5, 3), dtype=np.float32))
    x, single = load_input(tmp_path / "a.npy", 3)
    assert x.shape == (1, 5, 3) and single and x.dtype == np.float64
    np.save(tmp_path / "b.npy", np.ones((2, 5, 3)))
    x, single = load_input(tmp_path / "b.npy", 3)
    assert x.shape == (2, 5, 3) and not single
    bad = {"c.npy": (np.ones(3), "expected \\(T, I\\)"),
           "d.npy": (np.ones((5, 4)), "4 values but the model takes 3"),
           "e.npy": (np.full((5, 3), np.nan), "NaN"),
           "f.npy": (np.ones((0, 3)), "T = 0"),
           "g.npy": (np.ones((1, 2, 5, 3)), "expected")}
    for name, (arr, match) in bad.items():
        np.save(tmp_path / name, arr)
        with pytest.raises(ModelError, match=match):
            load_input(tmp_path / name, 3)
    (tmp_path / "h.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ModelError):
        load_input(tmp_path / "h.npy", 3)
    with pytest.raises(ModelError, match="max_frames"):
        load_input(tmp_path / "a.npy", 3, max_frames=4)
