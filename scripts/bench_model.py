#!/usr/bin/env python3
"""Model-side performance on the paper model (153/1024/512, one layer, peepholes).

Prints the compression steps' times (prune + quantize + encode; target <= 10 s
in total) and the integer engine's frames per second at batch 1 (target >= 200).

    .venv/bin/python scripts/bench_model.py [--config ese32] [--frames 200] [--batch 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# batch-1 matrix-vector products gain nothing from BLAS threads, and on a shared
# machine oversubscribed threads cost 5x: one thread unless the caller says otherwise
# (must be set before numpy is imported)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

from ese.config import load_config
from ese.model.encode import encode_matrix
from ese.model.lstm_fixed import quantize_input, run_fixed
from ese.model.lstm_float import run_float
from ese.model.modelfile import random_model
from ese.model.prune import prune_model
from ese.model.quantize import quantize_model


def timed(fn, *a, **kw):
    t = time.perf_counter()
    r = fn(*a, **kw)
    return r, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="ese32")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--density", type=float, default=0.112)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)

    m = random_model(153, 1024, 512, layers=1, peephole=True, seed=0)
    pruned, t_prune = timed(prune_model, m, cfg, density=args.density)
    qm, t_quant = timed(quantize_model, pruned, cfg)

    def encode_all():
        return [encode_matrix(w, cfg.n_pe, cfg.index_bits)
                for l in qm.layers for w in (l.wx, l.wr, l.wp) if w is not None]
    enc, t_enc = timed(encode_all)
    nnz = sum(sum(e.nnz_per_pe) for e in enc)
    fill = sum(sum(e.fillers_per_pe) for e in enc)
    total = t_prune + t_quant + t_enc
    print(f"paper model 153/1024/512, config {cfg.name} ({cfg.n_pe} PEs), density {args.density}")
    print(f"  prune     {t_prune:7.3f} s")
    print(f"  quantize  {t_quant:7.3f} s")
    print(f"  encode    {t_enc:7.3f} s   ({nnz} nnz, {fill} fillers, "
          f"{fill / max(nnz, 1):.1%} extra entries)")
    print(f"  total     {total:7.3f} s   (target <= 10 s)")

    x = np.random.default_rng(1).standard_normal((args.batch, args.frames, 153))
    xq = quantize_input(x, cfg)
    run_fixed(qm, xq[:, :2])                      # warm-up
    _, t_fix = timed(run_fixed, qm, xq)
    _, t_flt = timed(run_float, pruned, x)
    fps = args.frames / t_fix
    print(f"integer engine, batch {args.batch}: {fps:8.1f} frames/s "
          f"({1e6 * t_fix / args.frames:.0f} us/frame; target >= 200 frames/s)")
    print(f"float engine,   batch {args.batch}: {args.frames / t_flt:8.1f} frames/s")
    return 0 if total <= 10 and fps >= 200 else 1


if __name__ == "__main__":
    sys.exit(main())
