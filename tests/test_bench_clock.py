"""`make bench`'s clock columns (scripts/bench_common.py ``cached_timing``): results of
make pnr / make pnr-blocks count only for the configuration and hardware they were
made from; bench never runs the tools."""

import json

from ese.hdl.tops import hdl_digest


def test_place_and_route_results_are_read_not_made(load_script, tmp_path):
    from ese.config import PRESETS
    common = load_script("bench_common")
    tiny = PRESETS["tiny"]
    t = common.cached_timing(tiny, tmp_path)
    assert (t["fmax"], t["fmax_status"], t["blocks"]) == (None, "missing", 0)
    assert common.timing_cells(t) == {"fmax": None, "blocks": None, "slowest": None}

    def whole(cfg, hdl=hdl_digest(), mhz=87.5):
        f = tmp_path / "tiny" / "summary.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"config_values": cfg.to_dict(), "hdl": hdl, "target_mhz": 100,
                                 "fmax": {"clk": {"achieved_mhz": mhz, "target_mhz": 100}}}))
    whole(tiny.replace(n_pe=8))
    assert common.cached_timing(tiny, tmp_path)["fmax_status"] == "stale"
    whole(tiny, hdl="0" * 16)
    assert common.cached_timing(tiny, tmp_path)["fmax"] is None
    whole(tiny)
    t = common.cached_timing(tiny, tmp_path)
    assert (t["fmax"], t["fmax_status"], t["target"]) == (87.5, "cached", 100)

    rows = {"fifo": {"block": "fifo", "fmax": 371.0, "verdict": "meets", "hdl": hdl_digest()},
            "channel": {"block": "channel", "fmax": 34.2, "verdict": "FAILS", "hdl": hdl_digest()},
            "core": {"block": "core", "fmax": None, "verdict": "no fit", "hdl": hdl_digest()},
            "pe": {"block": "pe", "fmax": 20.0, "verdict": "FAILS", "hdl": "0" * 16}}
    (tmp_path / "tiny" / "blocks").mkdir()
    (tmp_path / "tiny" / "blocks" / "blocks.json").write_text(json.dumps(
        {"config_values": tiny.to_dict(), "target_mhz": 120, "blocks": rows}))
    t = common.cached_timing(tiny, tmp_path)
    # pe was timed on other hardware sources: left out, counted as stale
    assert (t["blocks"], t["blocks_met"], t["blocks_stale"]) == (3, 1, 1)
    assert t["slowest"] == ("channel", 34.2) and t["no_fit"] == ["core"]
    assert common.timing_cells(t) == {"fmax": 87.5, "blocks": "1/3", "slowest": "channel 34.2"}
