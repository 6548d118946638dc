"""`make bench` at toy scale: scripts/bench.py --quick (the make sim model on tiny) and
the sweeps of scripts/bench_sweeps.py on a toy model at 4 and 8 PEs.

The big cases (ese32, fast, chip) and the paper-sized sweeps run only in `make bench`;
this keeps the scripts, their RTL path and their figures from rotting.
"""

import json

import numpy as np
import pytest

from ese.hdl.tops import hdl_digest


@pytest.mark.rtl       # converts ese_top and runs it (Icarus here, Verilator in make bench)
def test_bench_quick(load_script, tmp_path, capsys):
    bench = load_script("bench")
    out = tmp_path / "bench.json"
    rc = bench.main(["--quick", "--no-model-side", "--sim", "icarus", "--frames", "3",
                     "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    st = json.loads(out.read_text())["rtl"]["sim-default"]
    assert st["exact"] is True
    # steady: the cost of one more frame, at least the ideal, far below a whole run
    assert st["ideal_cycles_per_frame"] <= st["steady"] < st["cycles"]
    assert st["cycles_2t"] > st["cycles"]
    assert 0 < st["steady_util"] <= 1
    # the cycle model predicts the RTL within a few percent (docs/performance.md)
    assert abs(st["model_err"]) < 0.05
    # the load: measured, and within the target of docs/performance.md (the LUT region
    # is not read, so a small image can even load in fewer cycles than its bus beats)
    assert 0 < st["load_cycles"] <= 1.25 * st["image_bytes"] / st["bus_bytes_per_cycle"]
    assert "sim-default" in text and "bit-exact" in text


# ------------------------------------------------------------------ the sweeps (scripts/bench_sweeps.py)
TOY = dict(n_in=16, cells=16, proj=8, layers=1)      # a toy model for the sweeps' test


def fillers_by_rule(w, n_pe: int, index_bits: int) -> int:
    """Filler entries of matrix ``w`` walked by the encoding rule, one gap at a time.

    Each PE (rows p, p + n_pe, ...) walks positions col * R' + local row in
    column-major order (R' = rows per PE rounded up to a power of two) from
    position -1; a gap wider than 2**index_bits - 1 positions takes a filler
    that moves 2**index_bits positions.
    """
    w = np.asarray(w)
    max_gap = 2 ** index_bits - 1
    stride = 1
    while stride < -(-w.shape[0] // n_pe):
        stride *= 2
    count = 0
    for p in range(n_pe):
        share = w[p::n_pe]
        pos = -1
        for col in range(share.shape[1]):
            for row in range(share.shape[0]):
                if share[row, col] != 0:
                    gap = col * stride + row - pos - 1
                    while gap > max_gap:
                        count += 1
                        gap -= max_gap + 1
                    pos = col * stride + row
    return count


def valid_png(path) -> bool:
    import matplotlib.image
    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    img = matplotlib.image.imread(path)
    return img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100


def test_derive_config_gives_the_presets(load_script):
    """The n_pe sweep's rule reproduces ese32 at 32 PEs and fast at 512 and always validates."""
    from ese.config import PRESETS
    sw = load_script("bench_sweeps")
    base = PRESETS["ese32"]
    for n, preset in ((32, "ese32"), (512, "fast")):
        c, p = sw.derive_config(base, n), PRESETS[preset]
        assert (c.ew_lanes, c.drain_lanes, c.bcast_width, c.window) == \
            (p.ew_lanes, p.drain_lanes, p.bcast_width, p.window), preset
    for n in sw.N_PES:                       # Config() validates on construction
        c = sw.derive_config(base, n, entries=363_790 // n + 50)
        assert c.n_ch == 1 and c.n_pe == n
        assert c.pe_entry_depth >= 363_790 // n + 50 > c.pe_entry_depth // 2
    assert sw.nch_points(24) == [1, 2, 4, 8, 16, 24] and sw.nch_points(1) == [1]


def test_estimate_cache(load_script, tmp_path):
    """A Yosys estimate counts only for the configuration it was made for."""
    from ese.config import PRESETS
    common = load_script("bench_common")
    tiny = PRESETS["tiny"]

    def write(name, cfg, hdl=hdl_digest(), **extra):
        f = tmp_path / cfg.name / name
        f.parent.mkdir(exist_ok=True)
        f.write_text(json.dumps({"config": cfg.to_dict(), "hdl": hdl, **extra, "summary": {
            "LUT": 10, "FF": 20, "BRAM36": 0.5, "DSP": 1}}))

    assert common.cached_estimate(tiny, tmp_path) == (None, "missing")
    write("ese_top.json", tiny.replace(n_pe=8))     # made for another configuration
    assert common.cached_estimate(tiny, tmp_path) == (None, "stale")
    write("ese_top.json", tiny, hdl="0" * 16)       # made from other hardware sources
    assert common.cached_estimate(tiny, tmp_path) == (None, "stale")
    write("ese_top.json", tiny)
    s, status = common.cached_estimate(tiny, tmp_path)
    assert status == "cached" and s == {"LUT": 10, "FF": 20, "BRAM36": 0.5, "DSP": 1}
    cells = common.resource_cells(s)
    assert cells["BRAM36"] == 0.5 and cells["DSP_pct"] == pytest.approx(100 / 2_760)


@pytest.mark.rtl       # one sweep point on the RTL (Icarus)
def test_sweeps_toy(load_script, tmp_path):
    from ese.app import Model
    from ese.config import PRESETS
    from ese.model.modelfile import random_model

    sw = load_script("bench_sweeps")
    common = load_script("bench_common")
    PART = load_script("bench_refs").PART
    say = lambda m: None                                          # noqa: E731
    tiny = PRESETS["tiny"]

    # n_pe: 4 PEs on the RTL and the cycle model, 8 PEs on the cycle model only
    rows = sw.sweep_npe(TOY, (4, 8), "tiny", rtl_max_pe=4, sim="icarus", frames=3,
                        out_dir=tmp_path, say=say)
    assert [(r["n_pe"], r["source"]) for r in rows] == [(4, "model"), (4, "rtl"), (8, "model")]
    for r in rows:
        assert 0 < r["util"] <= 1 and r["steady"] >= r["ideal"]
        assert r["pe_entry_depth"] >= r["max_entries"] > r["pe_entry_depth"] // 2
    rtl = rows[1]
    assert rtl["exact"] is True
    assert abs(rtl["steady"] - rows[0]["steady"]) <= 0.05 * rtl["steady"]
    assert abs(rtl["model_err"]) < 0.05
    assert rows[2]["us_per_frame"] < rows[0]["us_per_frame"]     # twice the PEs: faster

    # index width on tiny (4 PEs): fillers against the rule, walked here
    rows_i = sw.sweep_index(TOY, tiny, (3, 4, 5), frames=3, out_dir=tmp_path, say=say)
    qm = Model.compress(random_model(16, 16, proj=8, layers=1, peephole=True, seed=0),
                        tiny).bundle.qmodel
    mats = [w for l in qm.layers for w in (l.wx, l.wr, l.wp) if w is not None]
    want = [sum(fillers_by_rule(w, tiny.n_pe, b) for w in mats) for b in (3, 4, 5)]
    assert [r["fillers"] for r in rows_i] == want
    assert want[0] > want[1] >= want[2]
    nnz = sum(int(np.count_nonzero(w)) for w in mats)
    for r, f in zip(rows_i, want):
        assert r["source"] == "model" and r["entries"] == nnz + f
        assert 0 < r["util"] <= 1
    assert rows_i[0]["util"] <= rows_i[2]["util"]                # fillers cost cycles

    # n_ch on tiny, model only, no Yosys: an estimate made for this configuration is
    # read, one made for another configuration of the same name is not
    synth = tmp_path / "synth"
    for cfg, lut in ((tiny, 12_345), (tiny.replace(name="tiny-ch1", n_ch=1, window=32), 999)):
        f = synth / cfg.name / "ese_top.json"
        f.parent.mkdir(parents=True)
        f.write_text(json.dumps({"config": cfg.to_dict(), "hdl": hdl_digest(), "summary": {
            "LUT": lut, "FF": 2 * lut, "BRAM36": 1.5, "DSP": 3}}))
    rows_c = sw.sweep_nch(TOY, tiny, [1, 2], synth=False, synth_dir=synth, frames=3,
                          out_dir=tmp_path, say=say)
    assert [(r["n_ch"], r["source"]) for r in rows_c] == [(1, "model"), (2, "model")]
    assert rows_c[0]["synth"] == "stale" and "LUT" not in rows_c[0]
    assert rows_c[1]["synth"] == "cached" and rows_c[1]["LUT"] == 12_345
    assert rows_c[1]["LUT_pct"] == pytest.approx(100 * 12_345 / PART["LUT"])
    assert rows_c[1]["gops"] > rows_c[0]["gops"] > 0

    for name in ("sweep_npe.png", "sweep_index.png", "sweep_nch.png"):
        assert valid_png(tmp_path / name), name
    out = tmp_path / "bench.json"
    sweeps = {"n_pe": rows, "index_bits": rows_i, "n_ch": rows_c}
    common.save_json(out, sweeps=sweeps)
    assert json.loads(out.read_text())["sweeps"]["n_pe"][1]["source"] == "rtl"
    assert sw.failed(sweeps) == 0
    assert sw.failed({"n_pe": [dict(rtl, exact=False)]}) == 1
