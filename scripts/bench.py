#!/usr/bin/env python3
"""`make bench`: performance figures, measured on the RTL (docs/performance.md).

1. Model side (scripts/bench_model.py): compression time of the paper model
   and the integer engine's frames per second.
2. RTL: for each case, the generated Verilog runs in Verilator through the RTL
   engine (``ese.app.Model.verify``: bit for bit against the integer engine)
   with T and 2T frames; the accelerator's own counters give

   * cycles/frame at T (CYCLES / T) and the *steady* cycles/frame
     (cycles(2T) - cycles(T)) / T, the cost of one more frame (frame 0 has no
     W_r y_{-1} product, so short runs flatter a design);
   * ideal cycles/frame (nnz / n_pe), PE utilization, latency at 200 MHz and
     effective GOPS of the steady figure (:mod:`ese.perf`);
   * the model load (LOAD_CYCLES): cycles, bytes per cycle against the AXI bus's;

   next to the cycle model's prediction (model/cycles.py) of the same runs.

   Cases: ``sim-default`` (the ``make sim`` model, 40/48/32, 2 layers, on
   ``tiny``); ``paper-ese32``, ``paper-fast`` and ``paper-chip``: the
   paper-shaped model (one LSTMP layer 153/1024/512, peepholes, density 0.112,
   load-balanced) on the paper's channel (32 PEs), on ``fast`` (512 PEs) and on
   ``chip`` (batch = its n_ch; only if ese/config.py has the preset).
   ``--quick`` runs only the first (and neither 3. nor 4.).
3. Resources: the Yosys estimate of the whole ``ese_top`` of each case's preset
   among ese32, fast and chip (build/synth/<preset>/ese_top.json; made
   by scripts/synth.py if missing, 15-30 min each; ``--no-synth``: "-"), next to
   ESE's and the H100's figures (scripts/bench_refs.py), with the clock the open
   place and route reached (``make pnr``: the whole design; ``make pnr-blocks``:
   the slowest block), read from build/pnr/<preset>/ and never run here; then
   the clock table of every preset with results (results made before hdl/
   last changed count as stale and are not shown; docs/timing.md).
4. Sweeps (scripts/bench_sweeps.py): PEs per channel, index width, channels;
   tables, rows in the JSON and PNGs in build/bench/.  ``--sweeps-only``,
   ``--no-sweeps``, ``--sweeps npe,index,nch``, ``--sweep-rtl-max-pe N`` (RTL
   points of the n_pe sweep, default 64), ``--sweep-synth`` (Yosys for every
   n_ch point).

Every figure also goes to ``build/bench/bench.json`` (keys ``rtl``,
``resources``, ``clock``, ``sweeps``).

    python scripts/bench.py [--quick] [--cases a,b] [--sim verilator|icarus] [--frames 6]
                            [--no-synth] [--sweeps-only | --no-sweeps] [--sweeps npe,index,nch]
                            [--sweep-rtl-max-pe 64] [--sweep-synth]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

# one BLAS thread (set before numpy is imported, by bench_common)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import bench_sweeps  # noqa: E402
from bench_common import (PAPER, cached_timing, compress, estimate, measure_rtl,  # noqa: E402
                          resource_cells, resource_cols, save_json, table, timing_cells)
from bench_refs import ESE, H100, RESOURCES, TARGET_GOPS  # noqa: E402
from ese.config import PRESETS  # noqa: E402

CASES = {
    "sim-default": dict(config="tiny", n_in=40, cells=48, proj=32, layers=2, batch=2),
    "paper-ese32": dict(config="ese32", batch=2, **PAPER),
    "paper-fast": dict(config="fast", batch=1, **PAPER),
}
#: what the issues ask of these cases (docs/performance.md "Targets")
TARGETS = {
    "paper-ese32": ("steady PE utilization >= 0.97", lambda r: r["steady_util"] >= 0.97),
    "paper-fast": ("steady <= 800 cycles/frame (4.0 us at 200 MHz)",
                   lambda r: r["steady"] <= 800),
}
#: the full chip (issue 9): every channel runs a sequence; only if the preset exists
CHIP = PRESETS.get("chip")
if CHIP is not None:
    CASES["paper-chip"] = dict(config="chip", batch=CHIP.n_ch, **PAPER)
    TARGETS["paper-chip"] = (f"effective GOPS >= {TARGET_GOPS:.0f} (2x ESE)",
                             lambda r: r["gops"] >= TARGET_GOPS)
#: presets whose Yosys estimate the resources table shows (for the cases that run)
RESOURCE_PRESETS = ("ese32", "fast", "chip")
#: load target: cycles <= LOAD_FACTOR x image bytes / bus bytes per cycle
LOAD_FACTOR = 1.25


def rtl_case(name: str, sim: str, frames: int) -> dict:
    """Case ``name`` with T = frames and 2T on the RTL, plus the cycle model's figures."""
    from ese.config import load_config

    c = CASES[name]
    cfg = load_config(c["config"])
    model, t_comp = compress({k: c[k] for k in ("n_in", "cells", "proj", "layers")}, cfg)
    st = measure_rtl(model, c["batch"], frames, sim, say=lambda m: print(f"  [{name}] {m}",
                                                                          flush=True))
    st["compress_s"] = t_comp
    return st


def resources(presets: list, results: dict, synth: bool) -> list:
    """The Yosys estimate of each preset's whole ``ese_top`` (cached, else made by
    scripts/synth.py unless ``synth`` is False) with the steady figures of its RTL
    case in ``results``, then ESE's and the H100's rows (scripts/bench_refs.py)."""
    rows = []
    for p in presets:
        if p not in PRESETS:
            print(f"  note: no preset {p!r} in ese/config.py PRESETS: no row", flush=True)
            continue
        est, status = estimate(PRESETS[p], synth, say=lambda m: print(f"  [resources] {m}",
                                                                       flush=True))
        case = next((n for n in results if CASES[n]["config"] == p), None)
        st = results.get(case, {})
        clock = timing_cells(cached_timing(PRESETS[p]))
        rows.append(dict(what=p, estimate=status, batch=case and CASES[case]["batch"],
                         us_per_frame=st.get("steady_us"), util=st.get("steady_util"),
                         gops=st.get("gops"), fmax=clock["fmax"], slowest=clock["slowest"],
                         **resource_cells(est)))
    rows.append(dict(what=ESE["name"], estimate="published",
                     **{k: ESE[k] for k in ("batch", "us_per_frame", "util", "gops")},
                     **resource_cells({k: ESE[k] for k in RESOURCES})))
    rows.append(dict(what=H100["name"], batch=H100["batch"], us_per_frame=H100["us_per_frame"]))
    print("\nResources (Yosys estimate of the whole ese_top, % of the XCKU060) and the "
          "steady figures of the RTL case:")
    print(table(rows, [("design", "what")] + resource_cols() +
                [("batch", "batch"), ("us/frame", "us_per_frame"), ("util", "util"),
                 ("GOPS", "gops"), ("estimate", "estimate"), ("ECP5 MHz", "fmax"),
                 ("slowest block MHz", "slowest")]))
    print("  ECP5 MHz: the whole design placed and routed (make pnr), slowest block: make "
          "pnr-blocks (docs/timing.md); the figures above assume 200 MHz on the XCKU060")
    return rows


def clock_table() -> list:
    """The open place-and-route results of every preset (made by make pnr / make
    pnr-blocks; never run here), as rows."""
    rows = []
    for name, cfg in PRESETS.items():
        t = cached_timing(cfg)
        if t["fmax_status"] == "missing" and not t["blocks"] and not t["blocks_stale"]:
            continue
        c = timing_cells(t)
        rows.append(dict(preset=name, fmax=c["fmax"], target=t["target"], blocks=c["blocks"],
                         block_target=t["blocks_target"], slowest=c["slowest"],
                         no_fit=", ".join(t["no_fit"]) or None,
                         stale=t["blocks_stale"] or None))
    print("\nClock (open place and route on the LFE5U-85F speed 6, out of context; results of "
          "make pnr and make pnr-blocks, never run by bench; stale results are not shown):")
    if not rows:
        print("  none yet: make pnr PRESET=tiny, make pnr-blocks PRESET=<preset>")
        return rows
    print(table(rows, [("preset", "preset"), ("whole MHz", "fmax"), ("target", "target"),
                       ("blocks met", "blocks"), ("block target", "block_target"),
                       ("slowest block MHz", "slowest"), ("no fit", "no_fit"),
                       ("stale blocks", "stale")]))
    return rows


def run_cases(names: list, sim: str, frames: int) -> tuple:
    """The RTL cases ``names``: their tables and targets; ``(results, rc)``."""
    rc = 0
    results = {}
    for n in names:
        print(f"== RTL, {n} ({sim})", flush=True)
        try:
            results[n] = rtl_case(n, sim, frames)
        except Exception as e:  # noqa: BLE001 - report and go on with the next case
            print(f"  [{n}] failed: {e}", flush=True)
            rc = 1

    rows = [dict(case=n, **st) for n, st in results.items()]
    T = frames
    print(f"\nRTL ({sim}; cycles from the accelerator's CYCLES register; steady = "
          f"(cycles(T={2 * T}) - cycles(T={T})) / {T}; model = model/cycles.py on the same runs):")
    print(table(rows, [("case", "case"), ("config", "config"), ("n_pe", "n_pe"),
                       ("n_ch", "n_ch"), (f"cyc/fr T={T}", "cycles_per_frame"),
                       ("steady cyc/fr", "steady"), ("ideal", "ideal_cycles_per_frame"),
                       ("util (steady)", "steady_util"), ("us/frame", "steady_us"),
                       ("GOPS", "gops"), ("model steady", "model_steady"),
                       ("model err", "model_err"), ("bit-exact", "exact")]))
    print("\nModel load (LOAD_CYCLES; target <= 1.25 x image bytes / bus bytes per cycle):")
    print(table(rows, [("case", "case"), ("image bytes", "image_bytes"),
                       ("load cycles", "load_cycles"), ("bytes/cycle", "load_bytes_per_cycle"),
                       ("bus bytes/cycle", "bus_bytes_per_cycle"),
                       ("cycles / ideal", "load_vs_bus")]))
    print("\nTimes (wall, this machine): ")
    print(table(rows, [("case", "case"), ("compress s", "compress_s"),
                       (f"RTL run T={T} s (incl. build)", "wall_s"),
                       ("sim cycles/s", "sim_cycles_per_s")]))
    print("\nTargets:")
    for n, st in results.items():
        if n in TARGETS:
            what, ok = TARGETS[n]
            print(f"  {n}: {what}: {'met' if ok(st) else 'NOT met'}")
        if st.get("load_vs_bus") is not None and st["config"] in RESOURCE_PRESETS:
            good = st["load_vs_bus"] <= LOAD_FACTOR
            print(f"  {n}: load <= {LOAD_FACTOR} x image bytes / bus: "
                  f"{st['load_vs_bus']:.3f} ({'met' if good else 'NOT met'})")
        rc |= 0 if st["exact"] else 1
    return results, rc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="only the make sim model (no resources table, no sweeps)")
    ap.add_argument("--cases", default=None, help=f"comma list of {', '.join(CASES)}")
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--frames", type=int, default=6, help="T (>= 6); steady uses T and 2T")
    ap.add_argument("--out", default=str(ROOT / "build" / "bench" / "bench.json"),
                    help="the JSON file; the sweeps' PNGs go next to it")
    ap.add_argument("--no-model-side", action="store_true", help="skip scripts/bench_model.py")
    ap.add_argument("--no-synth", action="store_true",
                    help="never run Yosys for the resources table (missing estimates: -)")
    ap.add_argument("--sweeps-only", action="store_true",
                    help="only the sweeps (no model side, no RTL cases, no resources table)")
    ap.add_argument("--no-sweeps", action="store_true", help="skip the sweeps")
    ap.add_argument("--sweeps", default=",".join(bench_sweeps.SWEEPS),
                    help=f"comma list of sweeps to run (default all: "
                         f"{', '.join(bench_sweeps.SWEEPS)})")
    ap.add_argument("--sweep-rtl-max-pe", type=int, default=64,
                    help="n_pe sweep: measure on the RTL the points up to this n_pe (default 64)")
    ap.add_argument("--sweep-synth", action="store_true",
                    help="n_ch sweep: run Yosys for every point without an estimate (slow)")
    a = ap.parse_args(argv)
    if a.sweeps_only and a.no_sweeps:
        print("bench: --sweeps-only and --no-sweeps exclude each other", file=sys.stderr)
        return 2
    sweeps = [s for s in a.sweeps.split(",") if s]
    bad = [s for s in sweeps if s not in bench_sweeps.SWEEPS]
    names = a.cases.split(",") if a.cases else (["sim-default"] if a.quick else list(CASES))
    if CHIP is None and "paper-chip" in names:
        print("note: no preset 'chip' in ese/config.py PRESETS: case paper-chip skipped")
        names.remove("paper-chip")
    unknown = [n for n in names if n not in CASES]
    if unknown or bad:
        what = f"case(s) {', '.join(unknown)} (cases: {', '.join(CASES)})" if unknown else \
            f"sweep(s) {', '.join(bad)} (sweeps: {', '.join(bench_sweeps.SWEEPS)})"
        print(f"bench: unknown {what}", file=sys.stderr)
        return 2
    out = Path(a.out)

    rc, results = 0, {}
    if not a.sweeps_only:
        if not a.no_model_side:
            print("== model side (scripts/bench_model.py)", flush=True)
            rc = subprocess.call([sys.executable, str(ROOT / "scripts" / "bench_model.py")])
        results, rc_cases = run_cases(names, a.sim, a.frames)
        rc |= rc_cases
        save_json(out, rtl=results, rtl_sim=a.sim)
        if not a.quick:
            presets = [p for p in RESOURCE_PRESETS if any(CASES[n]["config"] == p for n in names)]
            save_json(out, resources=resources(presets, results, not a.no_synth))
            save_json(out, clock=clock_table())
    if not (a.no_sweeps or a.quick):
        print("\n== sweeps (scripts/bench_sweeps.py)", flush=True)
        rows = bench_sweeps.run(sweeps, out.parent, frames=a.frames, sim=a.sim,
                                rtl_max_pe=a.sweep_rtl_max_pe, synth=a.sweep_synth,
                                rtl_results=results, say=lambda m: print(m, flush=True))
        save_json(out, sweeps=rows)
        rc |= bench_sweeps.failed(rows)
    print(f"\nwrote {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
