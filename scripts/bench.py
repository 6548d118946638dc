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
   cycles/frame, the ideal (nnz / n_pe), PE utilization, latency at 200 MHz and
   effective GOPS (2 x nnz x n_ch x 200e6 / cycles per frame), next to the
   analytic estimate of model/cycles.py.

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
    from ese.config import load_config
    from ese.hdl import run_rtl
    from ese.model.bundle import compress, save_bundle
    from ese.model.cycles import estimate
    from ese.model.lstm_fixed import quantize_input, run_fixed
    from ese.model.modelfile import random_model

    c = CASES[name]
    cfg = load_config(c["config"])
    fm = random_model(c["n_in"], c["cells"], proj=c["proj"], layers=c["layers"],
                      peephole=True, seed=0)
    bundle = compress(fm, cfg)
    x = np.random.default_rng(0).uniform(-1, 1, size=(c["batch"], frames, c["n_in"]))
    xq = quantize_input(x, cfg)
    want = run_fixed(bundle.qmodel, xq)
    (ROOT / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "build") as tmp:
        save_bundle(bundle, Path(tmp) / "b")
        t0 = time.time()
        y, st = run_rtl.run(Path(tmp) / "b", xq, sim=sim,
                            progress=lambda m: print(f"  [{name}] {m}", flush=True))
        st["wall_s"] = time.time() - t0
    st["exact"] = bool(np.array_equal(y, want))
    st["estimate"] = estimate(bundle.manifest, frames=frames, batch=c["batch"])["cycles_per_frame"]
    st["gops"] = 2 * st["nnz"] * cfg.n_ch * 200e6 / st["cycles_per_frame"] / 1e9
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

    cols = ("config", "cycles_per_frame", "ideal_cycles_per_frame", "utilization",
            "latency_us_at_200mhz", "gops", "estimate", "exact", "wall_s")
    heads = ("config", "cycles/frame", "ideal", "PE util", "us/frame@200MHz", "GOPS",
             "model est.", "bit-exact", "sim s")
    print(f"\nRTL ({a.sim}, T={a.frames}, cycles from the CYCLES register):")
    print("  " + " | ".join(f"{h:>14}" for h in ("case",) + heads))
    for n, st in results.items():
        vals = []
        for k in cols:
            v = st[k]
            vals.append(f"{v:>14.3f}" if isinstance(v, float) else f"{str(v):>14}")
        print("  " + " | ".join([f"{n:>14}"] + vals))
        rc |= 0 if st["exact"] else 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
