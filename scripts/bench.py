#!/usr/bin/env python3
"""`make bench`: performance figures, measured (docs/performance.md).

1. Model side (scripts/bench_model.py): compression time of the paper model
   and the integer engine's frames per second.
2. RTL: cycles per frame counted by the accelerator's own CYCLES register in a
   Verilator simulation of the generated Verilog, for

   * the ``make sim`` model (2 layers, 40/48/32) on ``tiny``, and
   * the paper-shaped model (one LSTMP layer 153/1024/512, peepholes,
     density 0.112) on ``ese32`` (32 PEs per channel) - unless ``--quick``.

   Each run is checked bit for bit against the integer engine
   (:meth:`ese.app.Model.verify`); the table gives cycles/frame (the run's
   cycles / T), the ideal (nnz / n_pe), PE utilization, latency at 200 MHz and
   effective GOPS (the definitions of :mod:`ese.perf`), next to the analytic
   estimate of model/cycles.py.  Frame 0 skips W_r y_{-1} (y_{-1} = 0), so a short
   sequence looks cheaper per frame than a long one: the *steady* column is
   the marginal cost of a frame, (cycles(2T) - cycles(T)) / T, from a second
   run with twice the frames, and the utilization and latency figures that
   matter for long utterances come from it.

    python scripts/bench.py [--quick] [--sim verilator|icarus] [--frames 6]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = {
    "sim-default": dict(config="tiny", n_in=40, cells=48, proj=32, layers=2, batch=2),
    "paper": dict(config="ese32", n_in=153, cells=1024, proj=512, layers=1, batch=2),
}


def rtl_case(name: str, sim: str, frames: int) -> dict:
    """Run case ``name`` with T = frames and T = 2*frames; stats of the first + steady state.

    Each run is :meth:`ese.app.Model.verify` (RTL against the integer engine).
    """
    from ese import perf
    from ese.app import Model
    from ese.config import load_config
    from ese.model.modelfile import random_model

    c = CASES[name]
    cfg = load_config(c["config"])
    model = Model.compress(random_model(c["n_in"], c["cells"], proj=c["proj"],
                                        layers=c["layers"], peephole=True, seed=0), cfg)
    x = np.random.default_rng(0).uniform(-1, 1, size=(c["batch"], 2 * frames, c["n_in"]))
    runs = {}
    for t in (frames, 2 * frames):
        v = model.verify(x[:, :t], sim=sim,
                         progress=lambda m: print(f"  [{name}] {m}", flush=True))
        runs[t] = dict(v.stats, wall_s=v.rtl.seconds, exact=v.exact)
    st = runs[frames]
    st["exact"] = runs[frames]["exact"] and runs[2 * frames]["exact"]
    st["steady"] = perf.steady(st["cycles"], runs[2 * frames]["cycles"], frames)
    steady = perf.frame_figures(st["steady"], st["nnz"], st["n_pe"], st["n_ch"])
    st["steady_util"] = steady["utilization"]
    st["steady_us"] = steady["latency_us_at_200mhz"]
    st["gops"] = steady["effective_gops"]
    st["estimate"] = model.estimate(frames=frames, batch=c["batch"])["cycles_per_frame"]
    st["config"] = cfg.name
    return st


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the paper-sized RTL run")
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--frames", type=int, default=6, help="frames per sequence (spec: >= 6)")
    a = ap.parse_args(argv)

    print("== model side (scripts/bench_model.py)", flush=True)
    rc = subprocess.call([sys.executable, str(ROOT / "scripts" / "bench_model.py")])

    names = ["sim-default"] + ([] if a.quick else ["paper"])
    results = {}
    for n in names:
        print(f"== RTL, {n} ({a.sim})", flush=True)
        try:
            results[n] = rtl_case(n, a.sim, a.frames)
        except Exception as e:  # noqa: BLE001 - report and go on with the next case
            print(f"  [{n}] failed: {e}", flush=True)
            rc = 1

    cols = ("config", "cycles_per_frame", "utilization", "steady", "ideal_cycles_per_frame",
            "steady_util", "steady_us", "gops", "estimate", "exact", "wall_s")
    heads = ("config", f"cyc/frame T={a.frames}", "util", "steady cyc/fr", "ideal",
             "steady util", "us/frame@200M", "GOPS (steady)", "model est.", "bit-exact",
             f"sim s T={a.frames}")
    print(f"\nRTL ({a.sim}; cycles from the accelerator's CYCLES register; steady = "
          f"(cycles(T={2 * a.frames}) - cycles(T={a.frames})) / {a.frames}):")
    print("  " + " | ".join(f"{h:>13}" for h in ("case",) + heads))
    for n, st in results.items():
        vals = []
        for k in cols:
            v = st[k]
            vals.append(f"{v:>13.3f}" if isinstance(v, float) else f"{str(v):>13}")
        print("  " + " | ".join([f"{n:>13}"] + vals))
        rc |= 0 if st["exact"] else 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
