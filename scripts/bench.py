#!/usr/bin/env python3
"""`make bench`: performance figures, measured (spec section 6).

1. Model side (scripts/bench_model.py): compression time of the paper model
   and the integer engine's frames per second.
2. RTL: cycles per frame counted by the accelerator's own CYCLES register in a
   Verilator simulation of the generated Verilog, for

   * the ``make sim`` model (2 layers, 40/48/32) on ``tiny``, and
   * the paper-shaped model (one LSTMP layer 153/1024/512, peepholes,
     density 0.112) on ``ese32`` (32 PEs per channel) - unless ``--quick``.

   Each run is checked bit for bit against the integer engine; the table gives
   cycles/frame (spec section 6: the run's cycles / T), the ideal
   (nnz / n_pe), PE utilization, latency at 200 MHz and effective GOPS
   (2 x nnz x n_ch x 200e6 / cycles per frame), next to the analytic estimate
   of model/cycles.py.  Frame 0 skips W_r y_{-1} (y_{-1} = 0), so a short
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
import tempfile
import time
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
    """Run case ``name`` with T = frames and T = 2*frames; stats of the first + steady state."""
    from ese.config import load_config
    from ese.rtlsim import engine as run_rtl
    from ese.model.bundle import compress, save_bundle
    from ese.model.cycles import estimate
    from ese.model.lstm_fixed import quantize_input, run_fixed
    from ese.model.modelfile import random_model

    c = CASES[name]
    cfg = load_config(c["config"])
    fm = random_model(c["n_in"], c["cells"], proj=c["proj"], layers=c["layers"],
                      peephole=True, seed=0)
    bundle = compress(fm, cfg)
    x = np.random.default_rng(0).uniform(-1, 1, size=(c["batch"], 2 * frames, c["n_in"]))
    xq = quantize_input(x, cfg)
    want = run_fixed(bundle.qmodel, xq)
    (ROOT / "build").mkdir(exist_ok=True)
    runs = {}
    with tempfile.TemporaryDirectory(dir=ROOT / "build") as tmp:
        save_bundle(bundle, Path(tmp) / "b")
        for t in (frames, 2 * frames):
            t0 = time.time()
            y, st = run_rtl.run(Path(tmp) / "b", xq[:, :t], sim=sim,
                                progress=lambda m: print(f"  [{name}] {m}", flush=True))
            st["wall_s"] = time.time() - t0
            st["exact"] = bool(np.array_equal(y, want[:, :t]))
            runs[t] = st
    st = runs[frames]
    st["exact"] = runs[frames]["exact"] and runs[2 * frames]["exact"]
    st["steady"] = (runs[2 * frames]["cycles"] - st["cycles"]) / frames
    st["steady_util"] = st["ideal_cycles_per_frame"] / st["steady"]
    st["steady_us"] = st["steady"] * 5e-3
    st["estimate"] = estimate(bundle.manifest, frames=frames, batch=c["batch"])["cycles_per_frame"]
    st["gops"] = 2 * st["nnz"] * cfg.n_ch * 200e6 / st["steady"] / 1e9
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
