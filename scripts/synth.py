#!/usr/bin/env python3
"""Yosys resource estimate of the generated Verilog for the XCKU060.

    python scripts/synth.py --config tiny [--top ese_top] [--timeout 3600]

Converts the configuration into build/gen/<preset>, then for each chosen top
(default ``ese_top`` if it exists, else every top) runs

    yosys -p "read_verilog TOP.v; synth_xilinx -family xcu -noiopad -top TOP; tee -o J stat -json"

and prints LUT / FF / BRAM36 (RAMB36 + RAMB18/2) / DSP48E2 counts with the
percentage of the XCKU060.  Results go to build/synth/<preset>/<top>.json
(Yosys' statistics plus the summary).  Exit 1 if a run fails or times out,
2 on bad usage or a missing yosys.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: XCKU060 totals (docs/synthesis.md)
PART = {"LUT": 331_680, "FF": 663_360, "BRAM36": 1_080, "DSP": 2_760}


def summarize(cells: dict[str, int]) -> dict[str, float]:
    """LUT / FF / BRAM36 / DSP counts from Yosys' cell-type counts."""
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c))
    lut += sum(n for c, n in cells.items() if c in ("RAM32M", "RAM64M", "RAM32M16", "RAM64M8")) * 4
    lut += sum(n for c, n in cells.items() if re.fullmatch(r"RAM(32|64|128|256)X1[SD]", c))
    lut += sum(n for c, n in cells.items() if re.fullmatch(r"SRL(16E|C32E)", c))
    ff = sum(n for c, n in cells.items() if re.fullmatch(r"FD[CPRSE]E?", c))
    bram = sum(n for c, n in cells.items() if c.startswith("RAMB36")) \
        + 0.5 * sum(n for c, n in cells.items() if c.startswith("RAMB18"))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP48"))
    return {"LUT": lut, "FF": ff, "BRAM36": bram, "DSP": dsp}


def run_yosys(src: Path, top: str, out_json: Path, timeout: float, log: Path) -> dict:
    script = (f"read_verilog {src}; synth_xilinx -family xcu -noiopad -top {top}; "
              f"tee -q -o {out_json}.stat stat -json")
    t0 = time.time()
    with open(log, "w") as lf:
        p = subprocess.Popen(["yosys", "-p", script], stdout=lf, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def progress():
            while not stop.wait(30):
                print(f"    ... {top}: {time.time() - t0:.0f} s", flush=True)
        th = threading.Thread(target=progress, daemon=True)
        th.start()
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise
        finally:
            stop.set()
    if rc != 0:
        raise RuntimeError(f"yosys failed (rc {rc}), see {log}")
    stat = json.loads(Path(f"{out_json}.stat").read_text())
    Path(f"{out_json}.stat").unlink()
    design = stat.get("design") or stat["modules"][f"\\{top}"]
    cells = {k.lstrip("$\\"): v for k, v in design.get("num_cells_by_type", {}).items()}
    return {"top": top, "seconds": round(time.time() - t0, 1), "cells": cells,
            "summary": summarize(cells), "yosys": stat}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Yosys resource estimate for the XCKU060")
    ap.add_argument("--config", default="tiny", help="preset name or JSON file (default tiny)")
    ap.add_argument("--top", action="append", help="top to synthesize (repeatable; "
                    "default ese_top if it exists, else every top)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per top (default 3600)")
    a = ap.parse_args(argv)

    from ese.config import ConfigError, load_config
    try:
        cfg = load_config(a.config)
    except ConfigError as e:
        print(f"synth: {e}", file=sys.stderr)
        return 2
    if shutil.which("yosys") is None:
        print("synth: yosys not found (apt-get install yosys)", file=sys.stderr)
        return 2
    import importlib.util
    spec = importlib.util.spec_from_file_location("ese_lint", ROOT / "scripts" / "lint.py")
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    from ese.hdl import tops as _tops
    names = sorted(_tops.TOPS)
    want = a.top or (["ese_top"] if "ese_top" in names else names)
    bad = [t for t in want if t not in names]
    if bad:
        print(f"synth: unknown top(s) {', '.join(bad)} (have: {', '.join(names)})", file=sys.stderr)
        return 2
    gen = ROOT / "build" / "gen" / cfg.name
    gen.mkdir(parents=True, exist_ok=True)
    print(f"synth {cfg.name}: converting {', '.join(want)} ...", flush=True)
    conv = lint.convert(cfg, gen, want)
    out = ROOT / "build" / "synth" / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    fails = 0
    print(f"{'top':<14}{'LUT':>10}{'%':>7}{'FF':>10}{'%':>7}{'BRAM36':>9}{'%':>7}"
          f"{'DSP':>7}{'%':>7}{'s':>7}")
    for t in want:
        if isinstance(conv[t], str):
            print(f"{t:<14}{conv[t]}")
            fails += 1
            continue
        print(f"  {t}: yosys synth_xilinx ...", flush=True)
        try:
            r = run_yosys(conv[t], t, out / f"{t}.json", a.timeout, out / f"{t}.log")
        except subprocess.TimeoutExpired:
            print(f"{t:<14}timed out after {a.timeout:.0f} s (--timeout)")
            fails += 1
            continue
        except (RuntimeError, KeyError, json.JSONDecodeError) as e:
            print(f"{t:<14}{e}")
            fails += 1
            continue
        r["config"] = cfg.to_dict()
        r["part"] = {"name": "xcku060-ffva1156-2-e", **PART}
        (out / f"{t}.json").write_text(json.dumps(r, indent=1, sort_keys=True))
        s = r["summary"]
        pc = {k: 100.0 * s[k] / PART[k] for k in PART}
        print(f"{t:<14}{s['LUT']:>10,}{pc['LUT']:>6.1f}%{s['FF']:>10,}{pc['FF']:>6.1f}%"
              f"{s['BRAM36']:>9,.1f}{pc['BRAM36']:>6.1f}%{s['DSP']:>7,}{pc['DSP']:>6.1f}%"
              f"{r['seconds']:>7.0f}")
    print(f"results: {out.relative_to(ROOT)}/<top>.json")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
