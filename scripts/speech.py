#!/usr/bin/env python3
"""`make speech`: train the spoken-word recognizer and measure it on every engine.

Speaks 20 words, other words and babble with espeak-ng and flite, trains a
2-layer LSTMP in PyTorch on 22 classes (the words, ``_silence_``,
``_unknown_``), prunes it gradually (load-balance-aware, for the
configuration's PE count), compresses it for the accelerator and prints the
accuracy tables on speakers it never heard: dense float -> pruned float ->
fixed point -> RTL (one clip of every class).  Everything goes to ``--out``
(default ``build/speech``); see docs/speech.md.

    python scripts/speech.py [--out build/speech] [--config kws] [--rtl 22]
                             [--install] [--toy] [--scale F] [--seed 0]
    python scripts/speech.py --rtl-only [--rtl 22] [--out build/speech]

``--rtl-only`` reruns only the RTL stage of a finished run (no training).
``--compare-only`` runs only the committed default model on the test clips of a
finished run (its table and the replacement verdict, which a full run computes
too).  ``--install`` copies the trained model to ``speech/default/`` (the model
``ese transcribe`` and ``make sim`` use) if it is better than the committed one
(better on the held-out flite voices, no worse on the held-out espeak-ng ones).
``--toy`` runs the same code at a toy scale (a few clips, one epoch each phase,
a small LSTM, no RTL): the test suite uses it so that the pipeline cannot rot.
``--scale 0.25`` speaks a quarter of the voices and other words (quicker
experiments).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Threads that wait must sleep, not spin: on a busy 2-core machine a spinning thread
# steals the core its partner needs.  Measured there: a training step of torch with 2
# OpenMP threads took 4.3 s of CPU spinning, 0.2 s passive (1 thread: 0.16 s); numpy's
# OpenBLAS took 4 ms against 0.16 ms per clip of log-mel.  Set before numpy and torch
# load; the pipeline's numpy work is many small products, one thread is enough there.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "speech"))
    ap.add_argument("--config", default="kws", help="hardware preset or JSON (default kws)")
    ap.add_argument("--rtl", type=int, default=22, metavar="N",
                    help="test clips run on the RTL, one of every class in turn (0: none)")
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--rtl-only", action="store_true",
                    help="only the RTL stage of a finished run in --out (no training): "
                         "--rtl N test clips, results.json updated")
    ap.add_argument("--compare-only", action="store_true",
                    help="only the committed default model on the test clips of a finished "
                         "run in --out (no training): results.json updated with its table "
                         "and the replacement verdict")
    ap.add_argument("--install", action="store_true",
                    help="make the trained model the project's default (speech/default/)")
    ap.add_argument("--toy", action="store_true", help="toy scale (tests)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="parallel speech engine processes")
    ap.add_argument("--scale", type=float, default=None, metavar="F",
                    help="speak F times the voices and other words (e.g. 0.25 to experiment)")
    ap.add_argument("--lifter", type=int, default=None, metavar="K",
                    help="front end: DCT coefficients kept by the log-mel smoothing "
                         "(0: none; default: the FeatureSpec's)")
    ap.add_argument("--epochs", default=None, metavar="DENSE,RAMP,FINETUNE",
                    help="epochs of the three phases, e.g. 8,5,2")
    ap.add_argument("--dense-from", default=None, metavar="LSTM_DENSE_PT",
                    help="skip the dense phase: start from an earlier run's lstm_dense.pt "
                         "(same data and network; the result is the same as a full run)")
    ap.add_argument("--cells", type=int, default=None)
    ap.add_argument("--proj", type=int, default=None)
    a = ap.parse_args(argv)

    from ese.config import ConfigError, load_config
    from ese.speech import data as D
    from ese.speech import pipeline
    from ese.speech.train import TrainSpec

    try:
        cfg = load_config(a.config)
    except ConfigError as e:
        print(f"speech: {e}", file=sys.stderr)
        return 2
    if a.toy:
        dspec = D.TOY
        tspec = TrainSpec(cells=32, proj=16, batch=8, dense_epochs=1, prune_epochs=1,
                          finetune_epochs=0, mask_every=1, seed=a.seed, threads=1)
    else:
        dspec = D.DataSpec()
        tspec = TrainSpec(seed=a.seed)
    dspec = dataclasses.replace(dspec, seed=a.seed)
    if a.scale:
        if not 0 < a.scale <= 4:
            print("speech: --scale takes a factor in (0, 4]", file=sys.stderr)
            return 2
        dspec = D.scaled(dspec, a.scale)
    tover = {}
    if a.epochs:
        try:
            e = [int(v) for v in a.epochs.split(",")]
            assert len(e) == 3 and min(e) >= 0
        except (ValueError, AssertionError):
            print("speech: --epochs takes three numbers, e.g. 8,5,2", file=sys.stderr)
            return 2
        tover.update(dense_epochs=e[0], prune_epochs=e[1], finetune_epochs=e[2])
    if a.cells:
        tover["cells"] = a.cells
    if a.proj:
        tover["proj"] = a.proj
    if tover:
        tspec = dataclasses.replace(tspec, **tover)

    from ese.speech.features import FeatureSpec
    fspec = FeatureSpec(sample_rate=dspec.sample_rate)
    if a.lifter is not None:
        if not 0 <= a.lifter <= fspec.n_mels:
            print(f"speech: --lifter takes 0..{fspec.n_mels}", file=sys.stderr)
            return 2
        fspec = dataclasses.replace(fspec, lifter=a.lifter)

    t0 = time.time()

    def say(msg):
        print(f"[{time.time() - t0:6.0f} s] {msg}", flush=True)

    if a.rtl_only:
        from ese.model.modelfile import ModelError
        try:
            res = pipeline.rerun_rtl(a.out, a.rtl, sim=a.sim, workers=a.workers, progress=say)
        except (D.SpeechError, ModelError) as e:
            print(f"speech: {e}", file=sys.stderr)
            return 2
        print(rtl_line(res["rtl"]))
        if res["rtl"]["bit_exact"] != res["rtl"]["clips"]:
            return 1
        return install_finished(a.out, res) if a.install else 0

    if a.compare_only:
        from ese.model.modelfile import ModelError
        try:
            res = pipeline.compare_default_run(a.out, progress=say)
        except (D.SpeechError, ModelError) as e:
            print(f"speech: {e}", file=sys.stderr)
            return 2
        print(res["replacement"]["verdict"])
        return install_finished(a.out, res) if a.install else 0

    try:
        res = pipeline.run(a.out, dspec, tspec, cfg, rtl_count=0 if a.toy else a.rtl,
                           sim=a.sim, workers=a.workers, install=a.install, progress=say,
                           dense_from=a.dense_from, fspec=fspec)
    except D.SpeechError as e:
        print(f"speech: {e}", file=sys.stderr)
        return 2

    from ese.speech import evaluate
    print()
    print(evaluate.summary_markdown(res["evaluation"]["summary"]))
    print()
    gaps = "; ".join(f"{k} {v:+.2f}" for k, v in res["gap_points"].items())
    print(f"dense float -> fixed point (points, held-out voices): {gaps}; float engine vs "
          f"torch max |dy| {res['float_engine_vs_torch_max_abs']:.2e}")
    tp = res["throughput"]
    print("throughput (utterances/s, features + LSTM + classifier, batch "
          f"{tp['batch']}): " + ", ".join(f"{k} {v['utterances_per_second']:.0f}"
                                          for k, v in tp.items() if isinstance(v, dict)))
    if res["rtl"]:
        print(rtl_line(res["rtl"]))
    print("times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in res["times_s"].items()))
    print(f"results: {Path(a.out) / 'results.json'}, {Path(a.out) / 'report.md'}; "
          f"model: {Path(a.out) / 'model'}")
    ok = res["rtl"] is None or res["rtl"]["bit_exact"] == res["rtl"]["clips"]
    return 0 if ok else 1


def install_finished(out, res: dict) -> int:
    """``--install`` after ``--rtl-only`` or ``--compare-only``: the run's model becomes
    the default if the verdict says so."""
    from ese.speech import pipeline
    rep = res.get("replacement")
    if rep is None:
        print("speech: no comparison with the committed model in this run: "
              "run --compare-only first", file=sys.stderr)
        return 2
    if not rep["replace"]:
        print(f"not installed: {rep['verdict']}")
        return 0
    dest = pipeline.install_default(Path(out) / "model")
    print(f"installed the model as the project's default ({dest})")
    return 0


def rtl_line(r: dict) -> str:
    return (f"RTL ({r['sim']}): {r['bit_exact']}/{r['clips']} clips bit-exact with the "
            f"fixed-point engine, {r['cycles_per_frame']:.0f} cycles/step (utilization "
            f"{r['utilization']:.2f}); {100 * r['accuracy']:.0f} % right "
            f"(fixed point on the same clips {100 * r['fixed_accuracy_same_clips']:.0f} %)")


if __name__ == "__main__":
    sys.exit(main())
