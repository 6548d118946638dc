#!/usr/bin/env python3
"""`make sim-random`: a built-in random model on the RTL, checked bit for bit.

A fixed-seed random LSTMP model (2 layers, I=40, H=48, P=32, peepholes and
projection, seed 1) is compressed for the ``tiny`` configuration, T = 8 frames
of a batch of 2 random sequences run on the generated Verilog (cocotb +
``--sim``), and the outputs are compared with the integer engine (must be
identical) and with the float model (SQNR): :meth:`ese.app.Model.verify`.
Prints a short table; exit status 1 on any mismatch or simulation failure.

    python scripts/run_sim.py --sim verilator|icarus [--config tiny] [--frames 8] [--batch 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--waves", action="store_true")
    a = ap.parse_args(argv)

    from ese.app import Model
    from ese.config import load_config
    from ese.model.modelfile import random_model

    cfg = load_config(a.config)
    t0 = time.time()
    model = Model.compress(random_model(40, 48, proj=32, layers=2, peephole=True, seed=a.seed),
                           cfg)
    x = np.random.default_rng(a.seed).uniform(-1.0, 1.0, size=(a.batch, a.frames, 40))
    print(f"model: 2 layers, I=40 H=48 P=32, peepholes, projection, seed {a.seed}; "
          f"config {cfg.name!r} (n_ch={cfg.n_ch}, n_pe={cfg.n_pe}); "
          f"T={a.frames}, batch {a.batch}; simulator {a.sim}", flush=True)
    try:
        v = model.verify(x, sim=a.sim, waves=a.waves,
                         progress=lambda m: print("  " + m, flush=True))
    except Exception as e:  # noqa: BLE001 - report, exit 1
        print(f"RTL simulation failed: {e}", file=sys.stderr)
        return 1

    st = v.stats
    rows = [
        ("frames", f"{st['frames']} x {a.batch} sequences"),
        ("cycles / frame", f"{st['cycles_per_frame']:.1f}"),
        ("ideal cycles / frame", f"{st['ideal_cycles_per_frame']:.1f}"),
        ("PE utilization", f"{st['utilization']:.3f}"),
        ("us / frame at 200 MHz", f"{st['latency_us_at_200mhz']:.3f}"),
        ("model load (LOAD_CYCLES)", f"{st['load_cycles']} cycles for {st['image_bytes']} bytes "
                                     f"({st['load_bytes_per_cycle']:.1f} bytes/cycle, bus "
                                     f"{st['bus_bytes_per_cycle']})"),
        ("SQNR vs float (dB)", f"{v.sqnr_db:.1f}"),
        ("bit-exact vs integer engine", "yes" if v.exact else f"NO ({v.mismatches} values differ)"),
    ]
    w = max(len(r[0]) for r in rows)
    print()
    for k, val in rows:
        print(f"  {k:<{w}}  {val}")
    for f in v.rtl.waveforms:
        print(f"  waveform {f}")
    print(f"\n({time.time() - t0:.1f} s)")
    return 0 if v.exact else 1


if __name__ == "__main__":
    sys.exit(main())
