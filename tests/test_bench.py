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
