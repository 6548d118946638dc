"""The application API (ese/app.py): engines, shapes, stats, errors, verify.

The CLI is a layer over this API, so the outputs the API returns must be the
files ``ese infer`` writes, bit for bit.  ``verify`` must be able to fail: a
stand-in RTL engine (the integer engine run on the bundle folder the API
hands over) returns correct or corrupted outputs.  The test on the real RTL
carries the ``rtl`` marker.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ese import app
from ese.app import BAD_INPUT, AppError, Model, count_mismatches, sqnr_db
from ese.cli import main
from ese.config import TINY
from ese.model.bundle import BundleError, load_bundle
from ese.model.fixed import dequantize
from ese.model.lstm_fixed import quantize_input, run_fixed
from ese.model.lstm_float import run_float
from ese.model.modelfile import ModelError, random_model

I, H, P = 10, 12, 6
SPEC_KEYS = ("frames", "cycles", "cycles_per_frame", "ideal_cycles_per_frame", "utilization",
             "latency_us_at_200mhz", "nnz", "n_pe", "n_ch")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A float model, its compressed Model (saved), and inputs (T, I) and (B=5 > n_ch, T, I)."""
    d = tmp_path_factory.mktemp("app")
    fm = random_model(I, H, proj=P, layers=2, peephole=True, seed=7)
    m = Model.compress(fm, TINY, density=0.4)
    m.save(d / "bundle")
    from ese.model.modelfile import save_model
    save_model(fm, d / "m.npz")
    rng = np.random.default_rng(7)
    x2 = rng.uniform(-1, 1, (6, I))
    x3 = rng.uniform(-1, 1, (5, 4, I))
    np.save(d / "x2.npy", x2)
    np.save(d / "x3.npy", x3)
    return {"dir": d, "fm": fm, "model": m, "x2": x2, "x3": x3}


def _cli_infer(work, tmp_path, src, xname, engine):
    y, s = tmp_path / f"y_{engine}.npy", tmp_path / f"s_{engine}.json"
    argv = ["infer", str(src), str(work["dir"] / f"{xname}.npy"), "-o", str(y),
            "--stats", str(s)]
    if engine:
        argv += ["--engine", engine]
    assert main(argv) == 0
    return np.load(y), json.loads(s.read_text())


# ----------------------------------------------------------------------------- engines
@pytest.mark.parametrize("xname", ["x2", "x3"])
@pytest.mark.parametrize("engine", ["float", "fixed"])
def test_bundle_engines_equal_cli(work, tmp_path, engine, xname):
    m = Model.load(work["dir"] / "bundle")
    r = m.infer(work[xname], engine)
    y_cli, s_cli = _cli_infer(work, tmp_path, work["dir"] / "bundle", xname, engine)
    assert r.y.dtype == np.float32 and r.y.tobytes() == y_cli.tobytes()
    assert json.loads(json.dumps(r.stats)) == s_cli
    # the in-memory Model (never loaded from disk) gives the same
    assert np.array_equal(work["model"].infer(work[xname], engine).y, r.y)


def test_float_model_file_equals_cli(work, tmp_path):
    m = Model.from_float(work["fm"])
    r = m.infer(work["x3"])
    assert r.engine == "float" and r.y_q is None
    y_cli, s_cli = _cli_infer(work, tmp_path, work["dir"] / "m.npz", "x3", None)
    assert r.y.tobytes() == y_cli.tobytes()
    assert json.loads(json.dumps(r.stats)) == s_cli
    # the float engine is the float model, float32 at the end
    np.testing.assert_array_equal(r.y, run_float(work["fm"], work["x3"]).astype(np.float32))
    assert Model.open(work["dir"] / "m.npz").infer(work["x2"]).y.tobytes() == \
        Model.from_float(work["fm"]).infer(work["x2"]).y.tobytes()


def test_shapes_and_integer_outputs(work):
    m = work["model"]
    assert m.default_engine == "fixed" and m.engines == ("float", "fixed", "rtl", "board")
    for x, shape in ((work["x2"], (6, P)), (work["x3"], (5, 4, P))):
        rf = m.infer(x, "float")
        rx = m.infer(x)
        assert rx.engine == "fixed"
        assert rf.y.shape == rx.y.shape == rx.y_q.shape == shape
        assert rx.y_q.dtype == np.int64 and rf.y_q is None
        np.testing.assert_array_equal(rx.y, dequantize(rx.y_q, TINY.act_frac).astype(np.float32))
        assert np.max(np.abs(rx.y - rf.y)) < 0.05


def test_fixed_engine_passes_equal_sequences_alone(work):
    """B = 5 runs in passes of n_ch = 2; each sequence alone gives the same integers."""
    m, x = work["model"], work["x3"]
    said = []
    r = m.infer(x, "fixed", progress=said.append)
    qm = load_bundle(work["dir"] / "bundle").qmodel
    xq = quantize_input(x, TINY)
    for b in range(x.shape[0]):
        np.testing.assert_array_equal(r.y_q[b], run_fixed(qm, xq[b:b + 1])[0])
    assert said == ["fixed engine: 5 sequence(s) x 4 frames", "sequences 1..2 of 5",
                    "sequences 3..4 of 5", "sequences 5..5 of 5"]


def test_stats(work):
    m = work["model"]
    s = m.infer(work["x3"], "fixed").stats
    for k in SPEC_KEYS:
        assert k in s, k
    nnz = sum(sum(mat["nnz_per_pe"]) for mat in m.manifest["matrices"])
    assert (s["frames"], s["batch"], s["engine"]) == (4, 5, "fixed")
    assert s["nnz"] == nnz and s["n_pe"] == TINY.n_pe and s["n_ch"] == TINY.n_ch
    assert s["source"].startswith("cycle model")
    assert s["passes"] == 3                       # ceil(5 / n_ch)
    assert s["latency_us_at_200mhz"] == pytest.approx(s["cycles_per_frame"] * 0.005)
    assert m.estimate(frames=4, batch=5)["cycles"] == s["cycles"]
    # a float model's statistics count every weight (no pruning)
    sf = Model.from_float(work["fm"]).infer(work["x2"]).stats
    assert sf["frames"] == 6 and sf["batch"] == 1 and sf["nnz"] > s["nnz"]


def test_summary(work):
    s = Model.load(work["dir"] / "bundle").summary()
    assert s["bundle"] == str(work["dir"] / "bundle")
    assert [mat["name"] for mat in s["matrices"]] == ["l0_Wx", "l0_Wr", "l0_Wp",
                                                       "l1_Wx", "l1_Wr", "l1_Wp"]
    assert s["estimate"]["cycles_per_frame"] == work["model"].estimate()["cycles_per_frame"]


# ----------------------------------------------------------------------------- bad input
def _one_line_error(exc_info):
    msg = str(exc_info.value)
    assert msg and "\n" not in msg
    assert isinstance(exc_info.value, BAD_INPUT)
    return msg


def test_bad_requests(work, tmp_path):
    m, fmodel = work["model"], Model.from_float(work["fm"])
    with pytest.raises(AppError) as e:
        m.infer(work["x2"], "gpu")
    assert "gpu" in _one_line_error(e)
    for eng in ("fixed", "rtl"):
        with pytest.raises(AppError) as e:
            fmodel.infer(work["x2"], eng)
        assert "float" in _one_line_error(e)
    with pytest.raises(AppError) as e:
        m.infer(work["x2"], "rtl", sim="modelsim")
    assert "modelsim" in _one_line_error(e)
    with pytest.raises(AppError) as e:
        m.verify(work["x2"], sim="modelsim")
    _one_line_error(e)
    with pytest.raises(AppError) as e:
        fmodel.save(tmp_path / "b")
    _one_line_error(e)
    with pytest.raises(AppError) as e:
        Model.open(work["dir"] / "bundle", config="tiny")
    _one_line_error(e)
    with pytest.raises(BundleError) as e:
        Model.load(tmp_path / "nothing")
    assert "not found" in _one_line_error(e)


def test_bad_inputs(work):
    m = work["model"]
    bad = {
        "width": (np.zeros((3, I + 1)), str(I)),
        "4-d": (np.zeros((2, 3, 4, I)), "expected"),
        "nan": (np.where(np.eye(3, I) > 0, np.nan, 0.0), "nan"),
        "no frames": (np.zeros((0, I)), "no frames"),
        "text": (np.array([["a"] * I]), "dtype"),
    }
    for what, (x, word) in bad.items():
        for eng in ("float", "fixed", "rtl", "board"):       # checked before any run
            with pytest.raises(ModelError) as e:
                m.infer(x, eng, source="frames.npy")
            msg = _one_line_error(e)
            assert word.lower() in msg.lower() and "frames.npy" in msg, (what, eng, msg)


def test_rtl_frame_limit_checked_before_simulating(monkeypatch):
    cfg = TINY.replace(name="tiny_t4", max_frames=4)
    m = Model.compress(random_model(4, 3, seed=1), cfg, density=0.5)
    monkeypatch.setattr(app, "rtl_engine", lambda *a, **k: pytest.fail("RTL engine called"))
    monkeypatch.setattr(app, "board_engine", lambda *a, **k: pytest.fail("board engine called"))
    for eng in ("rtl", "board"):
        with pytest.raises(ModelError) as e:
            m.infer(np.zeros((5, 4)), eng)
        assert "max_frames" in _one_line_error(e)
    m.infer(np.zeros((5, 4)), "fixed")           # other engines have no frame limit


# ----------------------------------------------------------------------------- verify
def _fake_rtl(corrupt=None, shape_cut=False):
    """A stand-in RTL engine: the integer engine on the bundle folder the API passes."""
    calls = []

    def engine(bundle_dir, x_q, *, sim, waves=False, progress=None):
        b = load_bundle(bundle_dir)              # the API must hand over a complete bundle
        y = run_fixed(b.qmodel, x_q)
        if corrupt is not None:
            y = y.copy()
            y[corrupt] += 1
        if shape_cut:
            y = y[:, :-1]
        calls.append((sim, waves, x_q.shape))
        t = x_q.shape[1]
        return y, {"frames": t, "cycles": 1000 * t, "cycles_per_frame": 1000.0, "nnz": 1,
                   "n_pe": b.cfg.n_pe, "n_ch": b.cfg.n_ch}
    engine.calls = calls
    return engine


def test_verify_exact(work, monkeypatch):
    fake = _fake_rtl()
    monkeypatch.setattr(app, "rtl_engine", fake)
    v = work["model"].verify(work["x3"], sim="icarus")
    assert v.exact and v.mismatches == 0
    assert fake.calls == [("icarus", False, (5, 4, I))]
    assert v.stats["source"] == "rtl simulation (icarus)" and v.stats["engine"] == "rtl"
    assert v.stats["batch"] == 5 and v.stats["cycles"] == 4000
    np.testing.assert_array_equal(v.rtl.y_q, v.fixed.y_q)
    # SQNR of the RTL outputs against the pruned float model, recomputed here
    ref = run_float(work["model"].bundle.pruned, work["x3"])
    err = dequantize(v.rtl.y_q, TINY.act_frac) - ref
    assert v.sqnr_db == pytest.approx(10 * np.log10(np.mean(ref ** 2) / np.mean(err ** 2)))
    assert 15 < v.sqnr_db < 80
    # a (T, I) input keeps its shape through verify
    v2 = work["model"].verify(work["x2"])
    assert v2.exact and v2.rtl.y.shape == v2.y_float.shape == (6, P)


def test_verify_reports_a_mismatch(work, monkeypatch):
    monkeypatch.setattr(app, "rtl_engine", _fake_rtl(corrupt=(3, 2, 1)))
    v = work["model"].verify(work["x3"])
    assert not v.exact and v.mismatches == 1
    bad = np.argwhere(v.rtl.y_q != v.fixed.y_q)
    assert bad.tolist() == [[3, 2, 1]]


def test_rtl_wrong_shape_is_internal_error(work, monkeypatch):
    monkeypatch.setattr(app, "rtl_engine", _fake_rtl(shape_cut=True))
    with pytest.raises(RuntimeError, match="shape") as e:
        work["model"].infer(work["x3"], "rtl")
    assert not isinstance(e.value, BAD_INPUT)


def test_rtl_engine_is_the_one_place(work, monkeypatch):
    """The CLI's --engine rtl goes through ese.app.rtl_engine too."""
    fake = _fake_rtl()
    monkeypatch.setattr(app, "rtl_engine", fake)
    d = work["dir"]
    assert main(["infer", str(d / "bundle"), str(d / "x2.npy"), "-o", str(d / "yr.npy"),
                 "--engine", "rtl", "--sim", "icarus"]) == 0
    assert fake.calls == [("icarus", False, (1, 6, I))]
    np.testing.assert_array_equal(np.load(d / "yr.npy"), work["model"].infer(work["x2"]).y)


def test_sqnr_and_mismatch_helpers():
    ref = np.ones((4, 5))
    assert sqnr_db(ref, ref) == float("inf")
    assert sqnr_db(ref, ref + 0.1) == pytest.approx(20.0)
    assert sqnr_db(ref, ref * 0.99) == pytest.approx(40.0)
    a = np.arange(12).reshape(3, 4)
    b = a.copy()
    b[1, 1] = -1
    b[2, 3] = 0
    assert count_mismatches(a, a) == 0 and count_mismatches(a, b) == 2
    assert count_mismatches(a, a[:, :3]) == -1


# ----------------------------------------------------------------------------- the RTL
@pytest.mark.rtl
def test_verify_on_the_rtl():
    """compress -> verify on Icarus (a configuration of its own: no shared build)."""
    cfg = TINY.replace(name="tiny_app")
    m = Model.compress(random_model(6, 5, proj=4, layers=2, peephole=True, seed=9), cfg,
                       density=0.5)
    x = np.random.default_rng(9).uniform(-1, 1, (2, 4, 6))
    v = m.verify(x, sim="icarus")
    assert v.exact, f"{v.mismatches} values differ"
    assert v.rtl.y.shape == (2, 4, 4)
    s = v.stats
    for k in SPEC_KEYS:
        assert k in s, k
    assert s["frames"] == 4 and s["batch"] == 2 and s["runs"] == 1 and s["cycles"] > 0
    assert s["source"] == "rtl simulation (icarus)"
