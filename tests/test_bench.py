"""`make bench` at toy scale: scripts/bench.py --quick (the make sim model on tiny).

The big cases (ese32, fast) run only in `make bench`; this keeps the script,
its RTL path and its figures from rotting.
"""

import json

import pytest


@pytest.mark.rtl       # converts ese_top and runs it (Icarus here, Verilator in make bench)
def test_bench_quick(load_script, tmp_path, capsys):
    bench = load_script("bench")
    out = tmp_path / "bench.json"
    rc = bench.main(["--quick", "--no-model-side", "--sim", "icarus", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    st = json.loads(out.read_text())["rtl"]["sim-default"]
    assert st["exact"] is True
    # steady: the cost of one more frame, between the ideal and the T-frame average
    assert st["ideal_cycles_per_frame"] <= st["steady"] <= st["cycles_2t"] / 12
    assert 0 < st["steady_util"] <= 1
    # the cycle model predicts the RTL within a few percent (docs/performance.md)
    assert abs(st["model_err"]) < 0.05
    # the load: the image crosses the bus, at most a few times slower than the bus allows
    assert st["load_cycles"] >= st["image_bytes"] / st["bus_bytes_per_cycle"]
    assert "sim-default" in text and "bit-exact" in text
