"""``ese report BUNDLE --plot FILE.png [--source MODEL.npz]`` (ese/plots.py, docs/cli.md).

The numbers behind the plot (``ese.plots.pe_load``) are checked against a
recomputation written here from the documents alone (docs/compression.md:
rows round-robin to PEs, gate rows cell-interleaved, global top-k pruning,
round-half-up quantization, column-major relative indices with fillers),
and against the compress pipeline run the other way (``--no-balance``).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from cli_run import assert_bad, run
from ese.app import Model
from ese.cli import main
from ese.config import TINY
from ese.model.modelfile import load_model
from ese import plots

I, H, P = 12, 16, 8
DENSITY = 0.1          # low enough for gaps beyond tiny's 4-bit index (fillers)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A random 2-layer model and its bundles, load-balanced and global magnitude."""
    d = tmp_path_factory.mktemp("plot")
    model = d / "m.npz"
    assert main(["random-model", "-o", str(model), "--input", str(I), "--cells", str(H),
                 "--proj", str(P), "--layers", "2", "--seed", "7"]) == 0
    other = d / "other.npz"
    assert main(["random-model", "-o", str(other), "--input", str(I), "--cells", str(H),
                 "--proj", str(P), "--layers", "2", "--seed", "8"]) == 0
    bal, pln = d / "bal", d / "plain"
    assert main(["compress", str(model), "-o", str(bal), "--config", "tiny",
                 "--density", str(DENSITY)]) == 0
    assert main(["compress", str(model), "-o", str(pln), "--config", "tiny",
                 "--density", str(DENSITY), "--no-balance"]) == 0
    return {"dir": d, "model": model, "other": other, "bal": bal, "plain": pln}


# ----------------------------------------------------------------------------- reference
def stored_rows(w, kind):
    """Gate matrices in the cell-interleaved order: stored row 4k+g = gate g of cell k."""
    if kind == "Wp":
        return w
    h = w.shape[0] // 4
    return w[[g * h + k for k in range(h) for g in range(4)]]


def global_prune(w, density):
    """Keep the round(d * size) largest magnitudes of the whole matrix."""
    k = int(round(density * w.size))
    order = np.argsort(-np.abs(w).ravel(), kind="stable")
    keep = np.zeros(w.size, dtype=bool)
    keep[order[:k]] = True
    return np.where(keep.reshape(w.shape), w, 0.0)


def counts(w, weight_frac, n_pe, index_bits):
    """(non-zeros, fillers) per PE of float matrix ``w`` (stored order), quantized and encoded."""
    q = np.floor(w * 2.0 ** weight_frac + 0.5) != 0
    rows, cols = q.shape
    local = -(-rows // n_pe)
    stride = 1
    while stride < local:
        stride *= 2
    max_gap = 2 ** index_bits - 1
    nnz, fill = [], []
    for p in range(n_pe):
        sub = q[p::n_pe]
        pos = sorted(c * stride + r for r in range(sub.shape[0]) for c in range(cols)
                     if sub[r, c])
        n_fill, prev = 0, -1
        for x in pos:
            gap = x - prev - 1
            while gap > max_gap:          # a filler lands max_gap further and occupies it
                gap -= max_gap + 1
                n_fill += 1
            prev = x
        nnz.append(len(pos))
        fill.append(n_fill)
    return nnz, fill


def reference(matrices, arrays, weight_fracs, prune):
    """Per-matrix (nnz, fillers) lists for float ``arrays`` pruned by ``prune`` (or as given)."""
    nnz, fill = [], []
    for name, wf in zip(matrices, weight_fracs):
        w = stored_rows(np.asarray(arrays[name], dtype=np.float64), name.split("_")[1])
        n, f = counts(prune(w) if prune else w, wf, TINY.n_pe, TINY.index_bits)
        nnz.append(n)
        fill.append(f)
    return np.array(nnz), np.array(fill)


def manifest(bundle):
    return json.loads((bundle / "manifest.json").read_text())


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_MAGIC, path
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 0 and height > 0
    assert data[-8:-4] == b"IEND"


# ----------------------------------------------------------------------------- the numbers
def test_numbers_against_an_independent_recomputation(work):
    b = Model.load(work["bal"]).bundle
    load = plots.pe_load(b, load_model(work["model"]), source_name="m.npz")
    man = manifest(work["bal"])
    names = [m["name"] for m in man["matrices"]]
    fracs = [m["weight_frac"] for m in man["matrices"]]
    assert load.matrices == tuple(names) and load.n_pe == TINY.n_pe
    assert load.density == DENSITY and load.config == "tiny"
    assert load.compressed.pruning == plots.BALANCED and load.other.pruning == plots.PLAIN
    bal, pln = load.balanced, load.plain

    # the bundle side: its own pruned float model, quantized and encoded here
    pruned = dict(np.load(work["bal"] / "pruned.npz"))
    nnz, fill = reference(names, pruned, fracs, None)
    assert np.array_equal(bal.nnz, nnz) and np.array_equal(bal.fillers, fill)
    # the plain side: the source model pruned globally here
    src = dict(np.load(work["model"]))
    nnz, fill = reference(names, src, fracs, lambda w: global_prune(w, DENSITY))
    assert np.array_equal(pln.nnz, nnz) and np.array_equal(pln.fillers, fill)

    # both keep round(d * rows * cols) of every matrix
    kept = [int(round(DENSITY * m["rows"] * m["cols"])) for m in man["matrices"]]
    assert bal.nnz.sum(axis=1).tolist() == kept == pln.nnz.sum(axis=1).tolist()
    assert bal.nnz_per_pe.sum() == pln.nnz_per_pe.sum() == sum(kept)
    # load-balanced: every PE within one weight of the others in every matrix;
    # global magnitude is ragged on this model
    assert (bal.nnz.max(axis=1) - bal.nnz.min(axis=1)).max() <= 1
    assert (pln.nnz.max(axis=1) - pln.nnz.min(axis=1)).max() > 1
    # fillers exist here, so the filler comparison above can fail
    assert bal.fillers.sum() > 0 and pln.fillers.sum() > 0
    # entries and the bound: mean / max of the per-PE sums
    for pl in (bal, pln):
        per_pe = (pl.nnz + pl.fillers).sum(axis=0)
        assert pl.entries_per_pe.tolist() == per_pe.tolist()
        assert pl.bound == pytest.approx(per_pe.mean() / per_pe.max())
    assert bal.bound > pln.bound


def test_other_pruning_equals_compress_run_the_other_way(work):
    """Recomputed global magnitude == a --no-balance bundle, and the other way round."""
    src = load_model(work["model"])
    bal_b, pln_b = Model.load(work["bal"]).bundle, Model.load(work["plain"]).bundle
    assert ([m["weight_frac"] for m in manifest(work["bal"])["matrices"]]
            == [m["weight_frac"] for m in manifest(work["plain"])["matrices"]])
    from_bal = plots.pe_load(bal_b, src)
    from_pln = plots.pe_load(pln_b, src)
    assert from_pln.compressed.pruning == plots.PLAIN and from_pln.other.pruning == plots.BALANCED
    for a, b in ((from_bal.plain, from_pln.plain), (from_bal.balanced, from_pln.balanced)):
        assert np.array_equal(a.nnz, b.nnz) and np.array_equal(a.fillers, b.fillers)
    man = manifest(work["plain"])
    assert from_bal.plain.nnz.tolist() == [m["nnz_per_pe"] for m in man["matrices"]]
    assert from_bal.plain.fillers.tolist() == [m["fillers_per_pe"] for m in man["matrices"]]


def test_without_source_only_the_bundle(work):
    load = plots.pe_load(Model.load(work["bal"]).bundle)
    assert load.other is None and load.plain is None
    assert "--source" in load.note and "pruned model" in load.note
    man = manifest(work["bal"])
    assert load.balanced.nnz.tolist() == [m["nnz_per_pe"] for m in man["matrices"]]


# ----------------------------------------------------------------------------- the command
def test_plot_command(work, tmp_path, capsys):
    out = tmp_path / "load.png"
    rc, so, err = run(capsys, "report", work["bal"], "--plot", out, "--source", work["model"])
    assert rc == 0 and err == "" and so == f"wrote {out}\n"
    assert_png(out)
    # without the source: the bundle alone; .png appended to a bare name
    rc, so, err = run(capsys, "report", work["plain"], "--plot", tmp_path / "alone")
    assert rc == 0 and err == "" and so == f"wrote {tmp_path / 'alone.png'}\n"
    assert_png(tmp_path / "alone.png")
    # the text report is unchanged by the new options
    rc, so, err = run(capsys, "report", work["bal"])
    assert rc == 0 and "entries per PE" in so and "wrote" not in so


def test_plot_unwritable(work, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    (tmp_path / "d.png").mkdir()
    assert_bad(capsys, "report", work["bal"], "--plot", tmp_path / "nodir" / "p.png",
               match="does not exist")
    assert_bad(capsys, "report", work["bal"], "--plot", afile / "p.png")
    assert_bad(capsys, "report", work["bal"], "--plot", tmp_path / "d.png", match="folder")


def test_plot_bad_bundle(work, tmp_path, capsys):
    png = tmp_path / "p.png"
    assert_bad(capsys, "report", tmp_path / "nothing", "--plot", png, match="not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_bad(capsys, "report", empty, "--plot", png, match="manifest")
    nocomp = tmp_path / "nocomp"
    nocomp.mkdir()
    for f in work["bal"].iterdir():
        (nocomp / f.name).write_bytes(f.read_bytes())
    man = manifest(nocomp)
    del man["compression"]
    (nocomp / "manifest.json").write_text(json.dumps(man))
    assert_bad(capsys, "report", nocomp, "--plot", png, match="compression")
    assert not png.exists()


def test_plot_bad_source(work, tmp_path, capsys):
    png = tmp_path / "p.png"
    assert_bad(capsys, "report", work["bal"], "--plot", png, "--source", work["other"],
               match="not the model this bundle was compressed from")
    small = tmp_path / "small.npz"
    assert main(["random-model", "-o", str(small), "--input", "5", "--cells", "4"]) == 0
    capsys.readouterr()
    assert_bad(capsys, "report", work["bal"], "--plot", png, "--source", small,
               match="layer")
    assert_bad(capsys, "report", work["bal"], "--plot", png, "--source", tmp_path / "no.npz",
               match="not found")
    assert not png.exists()


def test_plot_option_combinations(work, tmp_path, capsys):
    assert_bad(capsys, "report", work["bal"], "--plot", tmp_path / "p.png", "--json",
               match="--json")
    assert_bad(capsys, "report", work["bal"], "--source", work["model"], match="--plot")


def test_plot_without_matplotlib(work, tmp_path, capsys, monkeypatch):
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)       # import now raises ImportError
    png = tmp_path / "p.png"
    assert_bad(capsys, "report", work["bal"], "--plot", png, match="matplotlib")
    assert not png.exists()
