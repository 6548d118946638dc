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
   ``tiny``); ``paper-ese32`` and ``paper-fast``: the paper-shaped model (one
   LSTMP layer 153/1024/512, peepholes, density 0.112, load-balanced) on the
   paper's channel (32 PEs) and on ``fast`` (512 PEs).  ``--quick`` runs only
   the first.

Every figure also goes to ``build/bench/bench.json``.

    python scripts/bench.py [--quick] [--cases a,b] [--sim verilator|icarus] [--frames 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAPER = dict(n_in=153, cells=1024, proj=512, layers=1)
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
#: load target: cycles <= LOAD_FACTOR x image bytes / bus bytes per cycle
LOAD_FACTOR = 1.25


def rtl_case(name: str, sim: str, frames: int) -> dict:
    """Case ``name`` with T = frames and 2T on the RTL, plus the cycle model's figures."""
    from ese import perf
    from ese.app import Model
    from ese.config import load_config
    from ese.model import cycles
    from ese.model.modelfile import random_model

    c = CASES[name]
    cfg = load_config(c["config"])
    t0 = time.time()
    model = Model.compress(random_model(c["n_in"], c["cells"], proj=c["proj"],
                                        layers=c["layers"], peephole=True, seed=0), cfg)
    t_comp = time.time() - t0
    x = np.random.default_rng(0).uniform(-1, 1, size=(c["batch"], 2 * frames, c["n_in"]))
    runs = {}
    for t in (frames, 2 * frames):
        t0 = time.time()
        v = model.verify(x[:, :t], sim=sim,
                         progress=lambda m: print(f"  [{name}] {m}", flush=True))
        runs[t] = dict(v.stats, wall_s=time.time() - t0, exact=v.exact)
    st = dict(runs[frames])
    st["exact"] = runs[frames]["exact"] and runs[2 * frames]["exact"]
    st["cycles_2t"] = runs[2 * frames]["cycles"]
    st["steady"] = perf.steady(st["cycles"], st["cycles_2t"], frames)
    steady = perf.frame_figures(st["steady"], st["nnz"], st["n_pe"], st["n_ch"])
    st["steady_util"] = steady["utilization"]
    st["steady_us"] = steady["latency_us_at_200mhz"]
    st["gops"] = steady["effective_gops"]
    # the cycle model on the same runs
    qm = model.bundle.qmodel
    mats, layers = cycles._quantized(qm)
    streams = cycles.streams_of(mats, cfg)
    m_t = cycles.run_cycles(mats, layers, cfg, frames, c["batch"], streams)
    m_2t = cycles.run_cycles(mats, layers, cfg, 2 * frames, c["batch"], streams)
    st["model_steady"] = perf.steady(m_t, m_2t, frames)
    st["model_err"] = (st["model_steady"] - st["steady"]) / st["steady"]
    # the load
    image_bytes = len(model.bundle.image)
    bus = cfg.axi_data_bits // 8
    st["image_bytes"] = image_bytes
    st["load_cycles"] = st.get("load_cycles")
    if st["load_cycles"]:
        st["load_bytes_per_cycle"] = image_bytes / st["load_cycles"]
        st["load_vs_bus"] = st["load_cycles"] / (image_bytes / bus)
    st["bus_bytes_per_cycle"] = bus
    st["config"] = cfg.name
    st["compress_s"] = t_comp
    st["sim_cycles_per_s"] = (st["cycles_2t"] + (st["load_cycles"] or 0)) / \
        max(runs[2 * frames]["wall_s"], 1e-9)
    return st


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def table(rows: list, cols: list) -> str:
    heads = [h for h, _ in cols]
    cells = [[_fmt(r.get(k)) if r.get(k) is not None else "-" for _, k in cols] for r in rows]
    w = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    out = ["  " + " | ".join(h.rjust(w[i]) for i, h in enumerate(heads))]
    out += ["  " + " | ".join(c[i].rjust(w[i]) for i in range(len(heads))) for c in cells]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the make sim model")
    ap.add_argument("--cases", default=None, help=f"comma list of {', '.join(CASES)}")
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--frames", type=int, default=6, help="T (>= 6); steady uses T and 2T")
    ap.add_argument("--out", default=str(ROOT / "build" / "bench" / "bench.json"))
    ap.add_argument("--no-model-side", action="store_true", help="skip scripts/bench_model.py")
    a = ap.parse_args(argv)

    rc = 0
    if not a.no_model_side:
        print("== model side (scripts/bench_model.py)", flush=True)
        rc = subprocess.call([sys.executable, str(ROOT / "scripts" / "bench_model.py")])

    names = a.cases.split(",") if a.cases else (["sim-default"] if a.quick else list(CASES))
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"bench: unknown case(s) {', '.join(unknown)} (cases: {', '.join(CASES)})",
              file=sys.stderr)
        return 2
    results = {}
    for n in names:
        print(f"== RTL, {n} ({a.sim})", flush=True)
        try:
            results[n] = rtl_case(n, a.sim, a.frames)
        except Exception as e:  # noqa: BLE001 - report and go on with the next case
            print(f"  [{n}] failed: {e}", flush=True)
            rc = 1

    rows = [dict(case=n, **st) for n, st in results.items()]
    T = a.frames
    print(f"\nRTL ({a.sim}; cycles from the accelerator's CYCLES register; steady = "
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
            good = ok(st)
            print(f"  {n}: {what}: {'met' if good else 'NOT met'}")
        if st.get("load_vs_bus") is not None and st["config"] in ("ese32", "fast"):
            good = st["load_vs_bus"] <= LOAD_FACTOR
            print(f"  {n}: load <= {LOAD_FACTOR} x image bytes / bus: "
                  f"{st['load_vs_bus']:.3f} ({'met' if good else 'NOT met'})")
        rc |= 0 if st["exact"] else 1
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prev = json.loads(out.read_text()) if out.exists() else {}
    prev["rtl"] = {**prev.get("rtl", {}), **results}
    prev["rtl_sim"] = a.sim
    out.write_text(json.dumps(prev, indent=1, default=float) + "\n")
    print(f"\nwrote {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
