"""The ``ese`` command line (docs/cli.md): every command, and bad inputs.

Most runs call ``ese.cli.main(argv)`` in-process (fast); a few go through the
installed console script to prove it exists.  Every bad input must give exit
status 2 and exactly one stderr line ``ese: error: ...``, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_run import assert_bad, run
from ese.cli import main
from ese.config import TINY

ESE = Path(sys.executable).parent / "ese"
I, H, P = 12, 16, 8


# ----------------------------------------------------------------------------- helpers
def ref_lstm(arrays, x):
    """Independent float LSTMP of docs/lstm.md (one sequence (T, I))."""
    sig = lambda v: 1 / (1 + np.exp(-v))
    k = 0
    while f"l{k}_Wx" in arrays:
        wx, wr, b = arrays[f"l{k}_Wx"], arrays[f"l{k}_Wr"], arrays[f"l{k}_b"]
        h = wx.shape[0] // 4
        wp = arrays.get(f"l{k}_Wp")
        peep = f"l{k}_pi" in arrays
        y = np.zeros(wr.shape[1])
        c = np.zeros(h)
        out = []
        for xt in x:
            a = wx @ xt + wr @ y + b
            ai, af, ag, ao = a[:h], a[h:2 * h], a[2 * h:3 * h], a[3 * h:]
            if peep:
                ai = ai + arrays[f"l{k}_pi"] * c
                af = af + arrays[f"l{k}_pf"] * c
            c = sig(af) * c + sig(ai) * np.tanh(ag)
            if peep:
                ao = ao + arrays[f"l{k}_po"] * c
            m = sig(ao) * np.tanh(c)
            y = wp @ m if wp is not None else m
            out.append(y)
        x = np.array(out)
        k += 1
    return x


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A random 2-layer model, its bundle and inputs (made once through the CLI)."""
    d = tmp_path_factory.mktemp("cli")
    model = d / "m.npz"
    assert main(["random-model", "-o", str(model), "--input", str(I), "--cells", str(H),
                 "--proj", str(P), "--layers", "2", "--seed", "4"]) == 0
    bundle = d / "bundle"
    assert main(["compress", str(model), "-o", str(bundle), "--config", "tiny",
                 "--density", "0.3"]) == 0
    rng = np.random.default_rng(0)
    x2 = d / "x2.npy"
    np.save(x2, rng.uniform(-1, 1, (7, I)))
    x3 = d / "x3.npy"
    np.save(x3, rng.uniform(-1, 1, (5, 6, I)))       # B = 5 > n_ch = 2
    return {"dir": d, "model": model, "bundle": bundle, "x2": x2, "x3": x3}


# ----------------------------------------------------------------------------- commands
def test_random_model(tmp_path, capsys):
    out = tmp_path / "r.npz"
    rc, so, err = run(capsys, "random-model", "-o", out, "--input", 5, "--cells", 3,
                      "--layers", 2, "--no-peephole", "--seed", 1)
    assert rc == 0 and err == ""
    with np.load(out) as z:
        keys = set(z.files)
        assert z["l0_Wx"].shape == (12, 5) and z["l0_Wr"].shape == (12, 3)
        assert z["l1_Wx"].shape == (12, 3) and z["l1_b"].shape == (12,)
    assert keys == {"l0_Wx", "l0_Wr", "l0_b", "l1_Wx", "l1_Wr", "l1_b"}
    out2 = tmp_path / "p.npz"
    assert run(capsys, "random-model", "-o", out2, "--input", 5, "--cells", 3,
               "--proj", 2)[0] == 0
    with np.load(out2) as z:
        assert z["l0_Wp"].shape == (2, 3) and z["l0_pi"].shape == (3,)
        assert z["l0_Wr"].shape == (12, 2)


def test_random_model_seed_reproducible(tmp_path, capsys):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    for f, s in ((a, 3), (b, 3), (c, 4)):
        assert run(capsys, "random-model", "-o", f, "--input", 4, "--cells", 4, "--seed", s)[0] == 0
    with np.load(a) as za, np.load(b) as zb, np.load(c) as zc:
        assert np.array_equal(za["l0_Wx"], zb["l0_Wx"])
        assert not np.array_equal(za["l0_Wx"], zc["l0_Wx"])


def test_compress_writes_bundle(work):
    b = work["bundle"]
    for f in ("manifest.json", "image.bin", "pruned.npz"):
        assert (b / f).is_file()
    man = json.loads((b / "manifest.json").read_text())
    assert man["config"]["name"] == "tiny" and man["config"]["n_pe"] == TINY.n_pe
    assert "formats" in man
    assert man["image"]["bytes"] == (b / "image.bin").stat().st_size
    with np.load(b / "pruned.npz") as z:
        pruned = {k: z[k] for k in z.files}
    names = [m["name"] for m in man["matrices"]]
    assert names == ["l0_Wx", "l0_Wr", "l0_Wp", "l1_Wx", "l1_Wr", "l1_Wp"]
    for m in man["matrices"]:
        w = pruned[m["name"]]
        assert (m["rows"], m["cols"]) == w.shape
        assert len(m["nnz_per_pe"]) == len(m["fillers_per_pe"]) == TINY.n_pe
        assert sum(m["nnz_per_pe"]) == np.count_nonzero(w)
        assert abs(np.count_nonzero(w) / w.size - 0.3) < 0.02
        # load-balanced: PE shares differ by at most one
        assert max(m["nnz_per_pe"]) - min(m["nnz_per_pe"]) <= 1


def test_infer_float_model_matches_reference(work, capsys, tmp_path):
    out = tmp_path / "y.npy"
    rc, so, err = run(capsys, "infer", work["model"], work["x2"], "-o", out)
    assert rc == 0 and err == ""
    y = np.load(out)
    with np.load(work["model"]) as z:
        arrays = {k: z[k] for k in z.files}
    ref = ref_lstm(arrays, np.load(work["x2"]))
    assert y.dtype == np.float32 and y.shape == (7, P)
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_infer_bundle_engines(work, capsys, tmp_path):
    from ese.model.lstm_fixed import infer_fixed
    from ese.model.modelfile import load_model
    from ese.model.quantize import quantize_model

    yf, yx = tmp_path / "yf.npy", tmp_path / "yx.npy"
    assert run(capsys, "infer", work["bundle"], work["x3"], "-o", yf, "--engine", "float")[0] == 0
    assert run(capsys, "infer", work["bundle"], work["x3"], "-o", yx, "--engine", "fixed")[0] == 0
    f, x = np.load(yf), np.load(yx)
    assert f.shape == x.shape == (5, 6, P) and x.dtype == np.float32
    # float engine on a bundle = the pruned model
    with np.load(work["bundle"] / "pruned.npz") as z:
        pruned = {k: z[k] for k in z.files}
    xin = np.load(work["x3"])
    for bi in range(5):
        np.testing.assert_allclose(f[bi], ref_lstm(pruned, xin[bi]), atol=1e-5)
    # fixed engine (from image + manifest) = the integer engine on the quantized pruned model
    qm = quantize_model(load_model(work["bundle"] / "pruned.npz"), TINY)
    np.testing.assert_array_equal(x, infer_fixed(qm, xin))
    assert np.max(np.abs(x - f)) < 0.05
    # default engine of a bundle is fixed
    yd = tmp_path / "yd.npy"
    assert run(capsys, "infer", work["bundle"], work["x3"], "-o", yd)[0] == 0
    np.testing.assert_array_equal(np.load(yd), x)


def test_infer_2d_input_keeps_shape(work, capsys, tmp_path):
    out = tmp_path / "y2.npy"
    assert run(capsys, "infer", work["bundle"], work["x2"], "-o", out)[0] == 0
    assert np.load(out).shape == (7, P)


def test_infer_stats(work, capsys, tmp_path):
    out, st = tmp_path / "y.npy", tmp_path / "s.json"
    assert run(capsys, "infer", work["bundle"], work["x3"], "-o", out, "--stats", st)[0] == 0
    s = json.loads(st.read_text())
    for k in ("frames", "cycles", "cycles_per_frame", "ideal_cycles_per_frame", "utilization",
              "latency_us_at_200mhz", "nnz", "n_pe", "n_ch"):
        assert k in s, k
    man = json.loads((work["bundle"] / "manifest.json").read_text())
    nnz = sum(sum(m["nnz_per_pe"]) for m in man["matrices"])
    assert s["frames"] == 6 and s["nnz"] == nnz and s["n_pe"] == 4 and s["n_ch"] == 2
    assert s["ideal_cycles_per_frame"] == pytest.approx(nnz / 4)
    assert 0 < s["utilization"] <= 1
    assert s["latency_us_at_200mhz"] == pytest.approx(s["cycles_per_frame"] * 0.005)
    # 5 sequences on 2 channels: 3 passes of 6 frames
    assert s["cycles"] >= 3 * 6 * s["ideal_cycles_per_frame"]
    # a float model file gets stats too (cycle model of the unpruned model)
    st2 = tmp_path / "s2.json"
    assert run(capsys, "infer", work["model"], work["x2"], "-o", out, "--stats", st2)[0] == 0
    s2 = json.loads(st2.read_text())
    assert s2["frames"] == 7 and s2["nnz"] > s["nnz"]


def test_report(work, capsys):
    rc, out, err = run(capsys, "report", work["bundle"])
    assert rc == 0 and err == ""
    for name in ("l0_Wx", "l0_Wr", "l0_Wp", "l1_Wx", "tiny", "utilization", "cycles/frame"):
        assert name in out
    rc, out, err = run(capsys, "report", work["bundle"], "--json")
    assert rc == 0
    s = json.loads(out)
    assert s["config"]["n_pe"] == 4
    assert {m["name"] for m in s["matrices"]} >= {"l0_Wx", "l1_Wp"}
    assert s["estimate"]["utilization"] <= 1
    assert s["estimate"]["ideal_cycles_per_frame"] <= s["estimate"]["cycles_per_frame"]


@pytest.mark.rtl      # converts every block (MyHDL)
def test_verilog(capsys, tmp_path):
    """`ese verilog` writes every block and a file list; bad configurations are rc 2."""
    out = tmp_path / "v"
    rc, stdout, err = run(capsys, "verilog", "--config", "tiny", "-o", out)
    assert rc == 0, err
    listed = (out / "files.f").read_text().split()
    assert "ese_top.v" in listed and "pe.v" in listed and "csr.v" in listed
    for name in listed:
        text = (out / name).read_text()
        assert f"module {name[:-2]}" in text and "n_pe = 4" in text
    assert_bad(capsys, "verilog", "--config", "nosuchpreset", "-o", tmp_path / "w",
               match="unknown preset")
    (tmp_path / "file").write_text("x")
    assert_bad(capsys, "verilog", "--config", "tiny", "-o", tmp_path / "file",
               match="not a folder")


def test_help_and_usage(capsys):
    assert run(capsys, "--help")[0] == 0
    rc, out, err = run(capsys)
    assert rc == 2 and "Traceback" not in err
    rc, out, err = run(capsys, "infer", "a", "b", "-o", "c", "--engine", "gpu")
    assert rc == 2 and "Traceback" not in err


# ----------------------------------------------------------------------------- bad inputs
def _save_arrays(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def good_arrays(work):
    with np.load(work["model"]) as z:
        return {k: z[k].copy() for k in z.files}


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_weights(tmp_path, capsys, good_arrays, value):
    good_arrays["l0_Wr"][3, 2] = value
    p = _save_arrays(tmp_path / "bad.npz", **good_arrays)
    assert_bad(capsys, "compress", p, "-o", tmp_path / "b", match="l0_Wr")
    assert_bad(capsys, "infer", p, tmp_path / "x.npy", "-o", tmp_path / "y.npy")


def test_truncated_and_corrupt_npz(work, tmp_path, capsys):
    data = work["model"].read_bytes()
    t = tmp_path / "trunc.npz"
    t.write_bytes(data[: len(data) // 2])
    assert_bad(capsys, "compress", t, "-o", tmp_path / "b")
    c = tmp_path / "junk.npz"
    c.write_bytes(os.urandom(300))
    assert_bad(capsys, "compress", c, "-o", tmp_path / "b")
    e = tmp_path / "empty.npz"
    e.write_bytes(b"")
    assert_bad(capsys, "compress", e, "-o", tmp_path / "b")
    assert_bad(capsys, "compress", tmp_path / "missing.npz", "-o", tmp_path / "b",
               match="not found")


def test_missing_keys(tmp_path, capsys, good_arrays):
    del good_arrays["l1_Wr"]
    p = _save_arrays(tmp_path / "m.npz", **good_arrays)
    assert_bad(capsys, "compress", p, "-o", tmp_path / "b", match="l1_Wr")


def test_partial_peepholes(tmp_path, capsys, good_arrays):
    del good_arrays["l0_pf"]
    p = _save_arrays(tmp_path / "m.npz", **good_arrays)
    assert_bad(capsys, "compress", p, "-o", tmp_path / "b", match="l0_pf")


def test_layers_disagree(tmp_path, capsys, good_arrays):
    # layer 1 takes 5 inputs but layer 0 produces P = 8
    good_arrays["l1_Wx"] = good_arrays["l1_Wx"][:, :5]
    p = _save_arrays(tmp_path / "m.npz", **good_arrays)
    assert_bad(capsys, "compress", p, "-o", tmp_path / "b")
    assert_bad(capsys, "infer", p, tmp_path / "x.npy", "-o", tmp_path / "y.npy")


def test_input_problems(work, tmp_path, capsys):
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((4, I + 1)))
    for m in (work["model"], work["bundle"]):
        assert_bad(capsys, "infer", m, bad, "-o", tmp_path / "y.npy", match=str(I))
    np.save(bad, np.zeros((2, 3, 4, I)))
    assert_bad(capsys, "infer", work["bundle"], bad, "-o", tmp_path / "y.npy")
    xn = np.zeros((4, I))
    xn[1, 1] = np.nan
    np.save(bad, xn)
    assert_bad(capsys, "infer", work["bundle"], bad, "-o", tmp_path / "y.npy", match="nan")
    bad.write_bytes(b"not a numpy file at all")
    assert_bad(capsys, "infer", work["bundle"], bad, "-o", tmp_path / "y.npy")
    assert_bad(capsys, "infer", work["bundle"], tmp_path / "none.npy", "-o", tmp_path / "y.npy",
               match="not found")


@pytest.mark.parametrize("d", ["0", "-0.1", "1.5", "nan"])
def test_density_out_of_range(work, tmp_path, capsys, d):
    assert_bad(capsys, "compress", work["model"], "-o", tmp_path / "b", "--density", d,
               match="density")


def test_unknown_preset_and_bad_config_file(work, tmp_path, capsys):
    assert_bad(capsys, "compress", work["model"], "-o", tmp_path / "b", "--config", "nope",
               match="nope")
    assert_bad(capsys, "verilog", "--config", "nope", "-o", tmp_path / "v", match="nope")
    cf = tmp_path / "c.json"
    cf.write_text('{"n_pe": 0}')
    assert_bad(capsys, "compress", work["model"], "-o", tmp_path / "b", "--config", cf,
               match="n_pe")
    cf.write_text("{not json")
    assert_bad(capsys, "compress", work["model"], "-o", tmp_path / "b", "--config", cf)
    # 8 values per output-buffer read do not pack into a 64-bit bus word of 4 values
    cf.write_text('{"base": "tiny", "n_pe": 32, "bcast_width": 8, "window": 32}')
    assert_bad(capsys, "verilog", "--config", cf, "-o", tmp_path / "v", match="axi_data_bits")
    cf.write_text('{"base": "tiny", "n_pe": 32, "bcast_width": 8, "window": 32, '
                  '"axi_data_bits": 128}')
    from ese.config import load_config
    assert load_config(cf).vbuf_bank_count == 8       # legal with 8 values per bus word


def test_unwritable_outputs(work, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_bad(capsys, "compress", work["model"], "-o", afile / "sub" / "b")
    assert_bad(capsys, "random-model", "-o", tmp_path / "nodir" / "m.npz", "--input", 2,
               "--cells", 2)
    assert_bad(capsys, "infer", work["bundle"], work["x2"], "-o", tmp_path / "nodir" / "y.npy")
    assert_bad(capsys, "infer", work["bundle"], work["x2"], "-o", tmp_path / "y.npy",
               "--stats", afile / "s.json")


def test_model_too_large_for_preset(tmp_path, capsys):
    big = tmp_path / "big.npz"
    assert main(["random-model", "-o", str(big), "--input", "8", "--cells", "80"]) == 0
    capsys.readouterr()
    assert_bad(capsys, "compress", big, "-o", tmp_path / "b", "--config", "tiny",
               match="max_cells")


def test_entry_memory_overflow(work, tmp_path, capsys):
    cf = tmp_path / "small.json"
    cf.write_text(json.dumps({"base": "tiny", "pe_entry_depth": 64}))
    assert_bad(capsys, "compress", work["model"], "-o", tmp_path / "b", "--config", cf,
               "--density", "0.9", match="pe_entry_depth")


def test_float_model_with_fixed_engine(work, tmp_path, capsys):
    assert_bad(capsys, "infer", work["model"], work["x2"], "-o", tmp_path / "y.npy",
               "--engine", "fixed", match="bundle")


def _copy_bundle(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_broken_bundles(work, tmp_path, capsys):
    y = tmp_path / "y.npy"
    b = _copy_bundle(work["bundle"], tmp_path / "nomanifest")
    (b / "manifest.json").unlink()
    assert_bad(capsys, "infer", b, work["x2"], "-o", y, match="manifest")
    assert_bad(capsys, "report", b, match="manifest")
    b = _copy_bundle(work["bundle"], tmp_path / "badjson")
    (b / "manifest.json").write_text('{"config": ')
    assert_bad(capsys, "report", b, match="manifest")
    b = _copy_bundle(work["bundle"], tmp_path / "noimage")
    (b / "image.bin").unlink()
    assert_bad(capsys, "infer", b, work["x2"], "-o", y, match="image.bin")
    b = _copy_bundle(work["bundle"], tmp_path / "short")
    img = (b / "image.bin").read_bytes()
    (b / "image.bin").write_bytes(img[:-64])
    assert_bad(capsys, "infer", b, work["x2"], "-o", y, match="bytes")
    b = _copy_bundle(work["bundle"], tmp_path / "flipped")
    (b / "image.bin").write_bytes(img[:200] + bytes([img[200] ^ 0x10]) + img[201:])
    assert_bad(capsys, "infer", b, work["x2"], "-o", y, match="checksum")
    b = _copy_bundle(work["bundle"], tmp_path / "other")
    man = json.loads((b / "manifest.json").read_text())
    man["config"]["n_pe"] = 2
    (b / "manifest.json").write_text(json.dumps(man))
    assert_bad(capsys, "infer", b, work["x2"], "-o", y, match="n_pe")
    assert_bad(capsys, "report", tmp_path / "nothing", match="not found")


def test_internal_error_is_rc1(work, tmp_path, capsys, monkeypatch):
    import ese.model.lstm_fixed as lf

    def boom(*a, **k):
        raise RuntimeError("simulated bug")
    monkeypatch.setattr(lf, "run_fixed", boom)
    monkeypatch.delenv("ESE_DEBUG", raising=False)
    rc, out, err = run(capsys, "infer", work["bundle"], work["x2"], "-o", tmp_path / "y.npy")
    assert rc == 1
    assert len(err.splitlines()) == 1 and "ESE_DEBUG" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- console script
def _ese(*argv, cwd):
    return subprocess.run([str(ESE), *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_console_script_end_to_end(tmp_path):
    assert ESE.exists(), f"console script {ESE} not installed"
    r = _ese("random-model", "-o", "m.npz", "--input", 6, "--cells", 4, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _ese("compress", "m.npz", "-o", "b", "--density", "0.5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""          # no progress noise into a pipe
    np.save(tmp_path / "x.npy", np.ones((3, 6)) * 0.5)
    r = _ese("infer", "b", "x.npy", "-o", "y.npy", "--stats", "s.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "y.npy").shape == (3, 4)
    assert json.loads((tmp_path / "s.json").read_text())["frames"] == 3


def test_console_script_bad_input(tmp_path):
    r = _ese("compress", "missing.npz", "-o", "b", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("ese: error:")
    assert "Traceback" not in r.stderr
