"""`make pnr` (scripts/pnr.py): its pieces, and the whole flow on one small block
(conversion, Yosys synth_ecp5, nextpnr-ecp5, summary, names) so it cannot rot.

The whole ``tiny`` (about 20 minutes) runs with ``make pnr`` only.
"""

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import pnr  # noqa: E402

LOG_PHASES = [
    ("Info: Packing IOs..\n", "packing"),
    ("Info: Creating initial analytic placement for 20823 cells\n"
     "Info:     at iteration #4, type ALL: wirelen solved = 1\n", "analytic placement (iteration 4)"),
    ("Info: Running simulated annealing placer for refinement.\n"
     "Info:   at iteration #25: temp = 0.000000, timing cost = 5133\n", "annealing (iteration 25)"),
    ("Info: Routing..\nInfo: Routing 152345 arcs.\n"
     "Info:      29000 |     6147      22852 |  114   886 |    114704|       8.17     121.43|\n",
     "routing, 114,704 of 152,345 arcs left"),
    ("Info: Router1 time 9.52s\nInfo: Critical path report for clock 'clk'\n", "timing report"),
]


@pytest.mark.parametrize("text, phase", LOG_PHASES)
def test_progress_reads_the_phase_from_the_log(tmp_path, text, phase):
    log = tmp_path / "nextpnr.log"
    log.write_text(text)
    assert pnr.nextpnr_phase(log) == phase


def test_yosys_phase_and_a_timeout(tmp_path):
    log = tmp_path / "yosys.log"
    log.write_text("2.46.14. Executing ABC9 pass (technology mapping).\n")
    assert pnr.yosys_phase(log) == "pass ABC9"
    with pytest.raises(pnr.FlowError, match="timed out after 1 s"):
        pnr.run_tool(["sleep", "30"], tmp_path, log, 1.0, "sleep", pnr.yosys_phase, say=print)
    with pytest.raises(pnr.FlowError, match="exit status 3"):
        pnr.run_tool(["sh", "-c", "exit 3"], tmp_path, log, 10.0, "sh", pnr.yosys_phase)


def test_utilization_and_fit_count_as_documented():
    rep = {"utilization": {"TRELLIS_COMB": {"used": 1000, "available": 83640},
                           "TRELLIS_RAMW": {"used": 10, "available": 10455},
                           "TRELLIS_FF": {"used": 500, "available": 83640},
                           "DP16KD": {"used": 3, "available": 208}}}
    u = pnr.utilization(rep)
    assert u["LUT4"]["used"] == 1000 + 2 * 10 and u["LUTRAM"]["used"] == 10
    assert u["FF"] == {"used": 500, "of": 83_640, "pct": 0.6} and u["MULT18X18D"]["used"] == 0
    need = pnr.estimate_fit({"LUT4": 80_000, "CCU2C": 2_000, "TRELLIS_DPR16X4": 10,
                             "TRELLIS_FF": 90_000, "DP16KD": 1})
    assert need["LUT4"] == 80_000 + 4_000 + 60 and need["LUTRAM"] == 10
    assert pnr.overflow(need) == ["LUT4 84,060 of 83,640", "FF 90,000 of 83,640"]


def test_a_missing_tool_is_one_line_with_the_install_command(capsys):
    assert pnr.main(["--config", "tiny", "--yosys", "no-such-yosys"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pnr: no-such-yosys not found (install: no-such-yosys)"]
    assert pnr.main(["--config", "no-such-preset"]) == 2
    assert pnr.main(["--config", "tiny", "--top", "nope"]) == 2


@pytest.mark.rtl        # converts (MyHDL), Yosys synth_ecp5, nextpnr-ecp5: ~10 s
def test_the_flow_on_a_small_block(capsys):
    out = ROOT / "build" / "pnr" / "test_flow"       # YoWASP tools cannot work under /tmp
    shutil.rmtree(out, ignore_errors=True)
    try:
        assert pnr.main(["--config", "tiny", "--top", "fifo", "--out", str(out),
                         "--gen", str(out / "gen"), "--paths", "3"]) == 0
        report = json.loads((out / "nextpnr.json").read_text())
        assert report["fmax"]["clk"]["achieved"] > 0 and report["utilization"]
        s = json.loads((out / "summary.json").read_text())
        from ese.hdl.tops import hdl_digest
        assert s["hdl"] == hdl_digest() and s["design"] == "fifo" and s["config"] == "tiny"
        assert s["fmax"]["clk"]["achieved_mhz"] == round(report["fmax"]["clk"]["achieved"], 2)
        assert "nextpnr" in s["tools"]["nextpnr"] and "Yosys" in s["tools"]["yosys"]
        assert s["utilization"]["FF"]["used"] > 0 and s["utilization"]["LUTRAM"]["used"] > 0
        # the SDF walk reproduces nextpnr's critical path; paths are named in the fifo
        assert s["check"] == "the SDF walk's worst path is nextpnr's critical path"
        assert 1 <= len(s["paths"]) <= 3 and s["paths"][0]["delay_ns"] == \
            pytest.approx(1000 / report["fmax"]["clk"]["achieved"], abs=0.002)
        ends = {p["to"]["signal"].split("[")[0] for p in s["paths"]}
        assert ends <= {"rd_ptr", "wr_ptr", "n", "nz", "nf", "mem", "count", "out_data",
                        "out_valid", "in_ready", "full", "empty"}, ends
        assert all(p["from"]["module"] == "fifo" for p in s["paths"])
        printed = capsys.readouterr().out
        assert "worst paths" in printed and "wrote build/pnr/test_flow/summary.json" in printed
        # the analysis alone, held to a target the block cannot meet: exit 1, said plainly
        assert pnr.main(["--config", "tiny", "--top", "fifo", "--out", str(out),
                         "--gen", str(out / "gen"), "--analyze-only", "--freq", "2000",
                         "--require"]) == 1
        assert "below the required 2000 MHz" in capsys.readouterr().err
    finally:
        shutil.rmtree(out, ignore_errors=True)
