"""The committed default speech model on the RTL (Verilator): ``ese transcribe
--engine rtl`` gives exactly the fixed-point engine's answers, and the LSTM
outputs behind them are bit-exact, on words spoken now by held-out voices
(one espeak-ng, one flite)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ese.cli import main
from ese.speech import engines as E
import ese.app
from ese.speech.demo import demo_voices
from ese.speech.recognizer import clip_inputs, load_speech_model, lstm_outputs
from ese.speech.transcribe import load_clips
from ese.speech.wav import write_wav


@pytest.mark.rtl
def test_default_model_bit_exact_on_rtl(tmp_path, capsys, monkeypatch):
    model = load_speech_model()
    words = ("no", "eight")                 # n_ch = 2 sequences: one accelerator run
    files = []
    for w, v in zip(words, demo_voices(model, 2)):
        p = tmp_path / f"{w}.wav"
        write_wav(p, E.speak(w, v, 16000), 16000)
        files.append(p)
    seen = []
    real = ese.app.rtl_engine

    def spy(bundle_dir, x_q, **kw):          # keep the raw RTL outputs of the CLI run
        y_q, stats = real(bundle_dir, x_q, **kw)
        seen.append((np.array(x_q), np.array(y_q), stats))
        return y_q, stats

    monkeypatch.setattr(ese.app, "rtl_engine", spy)
    assert main(["transcribe", *map(str, files), "--engine", "rtl", "--json"]) == 0
    rtl = json.loads(capsys.readouterr().out)
    assert main(["transcribe", *map(str, files), "--engine", "fixed", "--json"]) == 0
    fixed = json.loads(capsys.readouterr().out)
    assert rtl == fixed
    assert len(seen) == 1
    x = clip_inputs(model, load_clips(files, model.features.sample_rate))
    _, yq_fixed, _ = lstm_outputs(model, x, "fixed")
    x_q, yq_rtl, stats = seen[0]
    assert x_q.shape == (2, model.features.n_steps, model.bundle.n_in)
    assert np.array_equal(yq_rtl, yq_fixed)
    assert stats["frames"] == model.features.n_steps
