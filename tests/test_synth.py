"""`make synth` (scripts/synth.py) at toy scale: the cell arithmetic, the whole-design
estimate of a hierarchy in ``build/synth/<preset>/<top>.json``, the vendor ``dsp_mac``
(one DSP48E1) in place of the converted one, and real Yosys runs.

The big presets are synthesized by `make synth PRESET=...` and `make bench` only.
"""

import json
import shutil

import pytest

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_summarize_counts_lutram_by_the_luts_it_occupies(load_script):
    synth = load_script("synth")
    cells = {"LUT6": 10, "LUT2": 3, "RAM32M16": 2, "RAM64X1D": 5, "SRL16E": 4,
             "FDRE": 7, "FDSE": 1, "RAMB36E2": 3, "RAMB18E2": 3, "DSP48E2": 2,
             "DSP48E1": 3, "CARRY4": 9, "MUXF7": 6, "BUFG": 1}
    # 13 logic LUTs + 2 x 8 (octal RAM32M16) + 5 x 2 (dual-port 64x1) + 4 x 1 (SRL)
    assert synth.summarize(cells) == {"LUT": 13 + 16 + 10 + 4, "FF": 8,
                                      "BRAM36": 4.5, "DSP": 2 + 3}


@pytest.mark.rtl        # converts ese_top (MyHDL); Yosys is replaced by known counts
def test_top_json_is_the_whole_design(load_script, monkeypatch, tmp_path):
    synth = load_script("synth")
    own = {"dsp_mac": {"DSP48E1": 1},
           "pe": {"LUT6": 11, "FDRE": 3, "DSP48E2": 1},
           "channel": {"LUT6": 100, "FDRE": 40, "RAMB36E2": 2, "DSP48E2": 4},
           "ese_top": {"LUT6": 1000, "FDRE": 500, "RAMB18E2": 1}}
    seen = []

    def fake_yosys(src, top, out_json, timeout, log, blackboxes=()):
        seen.append((top, sorted(p.stem for p in map(__import__("pathlib").Path,
                                                       blackboxes))))
        return {"top": top, "seconds": 0.0, "cells": own[top],
                "summary": synth.summarize(own[top]), "yosys": {}}

    monkeypatch.setattr(synth, "run_yosys", fake_yosys)
    name = "synth_toy"
    cfg = tmp_path / f"{name}.json"
    # 2 channels x 4 PEs, small limits: a short conversion
    cfg.write_text(json.dumps({"base": "tiny", "name": name, "max_input": 8, "max_cells": 8,
                               "max_proj": 8, "max_layers": 1, "pe_entry_depth": 64,
                               "max_align_shift": 0}))
    out = ROOT / "build" / "synth" / name
    shutil.rmtree(out, ignore_errors=True)
    try:
        assert synth.main(["--config", str(cfg)]) == 0
        est = json.loads((out / "ese_top.json").read_text())
        # 4 PEs (each holds both lanes: 2 dsp_mac), 2 channels, 1 top
        assert est["summary"] == {"LUT": 4 * 11 + 2 * 100 + 1000, "FF": 4 * 3 + 2 * 40 + 500,
                                  "BRAM36": 2 * 2 + 0.5, "DSP": 8 * 1 + 4 * 1 + 2 * 4}
        assert {m: v["instances"] for m, v in est["modules"].items()} == \
            {"dsp_mac": 8, "pe": 4, "channel": 2, "ese_top": 1}
        for m in own:
            assert json.loads((out / "modules" / f"{m}.json").read_text())["summary"] == \
                synth.summarize(own[m])
        # each module once; the top sees its submodules as black boxes
        assert sorted(t for t, _ in seen) == ["channel", "dsp_mac", "ese_top", "pe"]
        assert dict(seen)["ese_top"] == ["channel", "pe"] and dict(seen)["pe"] == ["dsp_mac"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.mark.rtl        # a real Yosys run on a small block
def test_yosys_on_a_small_block(load_script, capsys):
    synth = load_script("synth")
    out = ROOT / "build" / "synth" / "tiny"
    assert synth.main(["--config", "tiny", "--block", "fifo"]) == 0
    r = json.loads((out / "fifo.json").read_text())
    # a 4 x 16-bit FIFO: registers for its pointers and flags, a few LUTs, no DSP
    assert r["summary"]["FF"] > 0 and r["summary"]["LUT"] > 0 and r["summary"]["DSP"] == 0
    mod = json.loads((out / "modules" / "fifo.json").read_text())
    assert mod["summary"] == r["summary"] and mod["cells"]
    assert "fifo" in capsys.readouterr().out


@pytest.mark.rtl        # converts a parent of two dsp_mac (MyHDL); Yosys replaced by counts
def test_dsp_mac_is_synthesized_from_its_vendor_text(load_script, monkeypatch, tmp_path):
    import sys
    import types
    from pathlib import Path
    from myhdl import block
    from ese.hdl import dsp_mac
    synth = load_script("synth")

    @block
    def two_macs(clk, a, b, c, zsel, p0, p1, cfg):
        return (dsp_mac.dsp_mac(clk, a, b, c, zsel, p0, cfg=cfg),
                dsp_mac.dsp_mac(clk, a, b, c, zsel, p1, cfg=cfg))

    def top(cfg):
        s, s1 = dsp_mac.ports(cfg), dsp_mac.ports(cfg)
        return two_macs(s["clk"], s["a"], s["b"], s["c"], s["zsel"], s["p"], s1["p"], cfg)

    monkeypatch.setitem(sys.modules, "ese.hdl.two_macs", types.SimpleNamespace(top=top))
    own = {"dsp_mac": {"DSP48E1": 1, "LUT2": 2}, "two_macs": {"LUT1": 1}}
    seen = {}

    def fake_yosys(src, top, out_json, timeout, log, blackboxes=()):
        seen[top] = (Path(src), [Path(b) for b in blackboxes])
        return {"top": top, "seconds": 0.0, "cells": own[top],
                "summary": synth.summarize(own[top]), "yosys": {}}

    monkeypatch.setattr(synth, "run_yosys", fake_yosys)
    name = "synth_vendor_toy"                  # its own build folders (tiny's widths)
    cfg = tmp_path / f"{name}.json"
    cfg.write_text(json.dumps({"base": "tiny", "name": name}))
    out = ROOT / "build" / "synth" / name
    try:
        assert synth.main(["--config", str(cfg), "--block", "two_macs"]) == 0
        vendor_v = out / "vendor" / "dsp_mac.v"
        # dsp_mac's own run and the parent's black box: the DSP48E1 text, not the converted one
        assert seen["dsp_mac"][0] == vendor_v and seen["two_macs"][1] == [vendor_v]
        assert "DSP48E1 #(" in vendor_v.read_text()
        assert seen["two_macs"][0].parent.name == "blocks"
        est = json.loads((out / "two_macs.json").read_text())
        assert est["summary"]["DSP"] == 2 and est["summary"]["LUT"] == 2 * 2 + 1
        assert "DSP48E1" in est["vendor"]["dsp_mac"] and "DSP48E2" in est["vendor"]["dsp_mac"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(ROOT / "build" / "gen" / name, ignore_errors=True)


@pytest.mark.rtl        # a real Yosys run on the vendor dsp_mac
def test_yosys_on_the_vendor_dsp_mac(load_script, capsys):
    synth = load_script("synth")
    out = ROOT / "build" / "synth" / "tiny"
    assert synth.main(["--config", "tiny", "--block", "dsp_mac"]) == 0
    mod = json.loads((out / "modules" / "dsp_mac.json").read_text())
    # one DSP48E1 holding the B, M and P registers and the adder; outside it only the
    # zsel -> OPMODE[6:4] decode (two LUT2 in Yosys 0.23), no flip-flop
    assert mod["cells"].get("DSP48E1") == 1 and mod["summary"]["DSP"] == 1
    assert mod["summary"]["FF"] == 0 and mod["summary"]["LUT"] <= 2
    assert mod["source"].endswith("vendor/dsp_mac.v") and "DSP48E1" in mod["vendor"]
    assert "DSP48E1 primitive" in capsys.readouterr().out
