"""``ese transcribe``: WAV files -> the words they hold.

Every file is read and checked first (a bad file stops the command before
any work, with one line naming it), resampled to the model's rate, brought to
one second (``features.fit_clip``), and the whole batch goes through the
chosen engine at once.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from .recognizer import (SpeechModel, classify, clip_inputs, load_speech_model, lstm_outputs,
                         softmax)
from .wav import read_wav, resample


def load_clips(paths, rate: int) -> list:
    """Read every WAV (raising WavError on the first bad one) and resample to ``rate``."""
    out = []
    for p in paths:
        x, sr = read_wav(p)
        out.append(resample(x, sr, rate))
    return out


def recognize(model: SpeechModel, clips, engine: str, sim: str = "verilator",
              progress: Optional[Callable[[str], None]] = None,
              board_url: Optional[str] = None) -> dict:
    """Words and scores of ``clips`` (arrays at the model's rate).

    Returns ``{"words": [...], "scores": (B, n_words) softmax, "logits",
    "y_q" (integer engines), "stats" (RTL), "seconds"}`` where ``seconds`` is
    the time of features + engine + classifier.
    """
    t0 = time.perf_counter()
    x = clip_inputs(model, clips)
    y, y_q, stats = lstm_outputs(model, x, engine, sim=sim, progress=progress,
                                 board_url=board_url)
    logits = classify(model, y)
    best = np.argmax(logits, axis=1)
    return {"words": [model.words[int(i)] for i in best], "scores": softmax(logits),
            "logits": logits, "y_q": y_q, "stats": stats,
            "seconds": time.perf_counter() - t0}


def transcribe_files(paths, model_path=None, engine: Optional[str] = None,
                     sim: str = "verilator",
                     progress: Optional[Callable[[str], None]] = None,
                     board_url: Optional[str] = None) -> tuple:
    """``(results, summary)``: one dict per file (``file``, ``word``, ``scores``) and
    ``{"engine", "files", "seconds", "utterances_per_second"}``."""
    model = load_speech_model(model_path)
    engine = engine or model.default_engine()
    if progress:
        progress(f"reading {len(paths)} file(s)")
    clips = load_clips(paths, model.features.sample_rate)
    if progress:
        progress(f"{engine} engine on {len(clips)} utterance(s)")
    r = recognize(model, clips, engine, sim=sim, progress=progress, board_url=board_url)
    results = []
    for k, p in enumerate(paths):
        results.append({"file": str(p), "word": r["words"][k],
                        "scores": {w: round(float(s), 6)
                                   for w, s in zip(model.words, r["scores"][k])}})
    summary = {"engine": engine, "model": str(model.path), "files": len(paths),
               "seconds": r["seconds"],
               "utterances_per_second": len(paths) / r["seconds"] if r["seconds"] else 0.0}
    return results, summary
