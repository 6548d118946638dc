"""`make speech` at toy scale (a few clips, one epoch per phase, a small LSTM),
so that the pipeline cannot rot; and training is reproducible."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ese.cli import main
from ese.speech import data as D
from ese.speech.features import FeatureSpec
from ese.speech.recognizer import MODEL_FILES, load_speech_model
from ese.speech.train import TrainSpec, balanced_masks, train
from ese.speech.wav import write_wav


def test_toy_pipeline(tmp_path, load_script, capsys):
    speech = load_script("speech")
    out = tmp_path / "speech"
    rc = speech.main(["--toy", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    res = json.loads((out / "results.json").read_text())
    engines = [r["engine"] for r in res["table"]]
    assert engines[0].startswith("float (torch)") and engines[2].startswith("fixed point")
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in res["table"])
    assert res["float_engine_vs_torch_max_abs"] < 1e-5
    assert res["model"]["density"] < 0.12
    assert (out / "confusion.png").stat().st_size > 1000
    assert "| dense | float (torch) |" in printed
    # the model folder it wrote is a speech model ese transcribe reads
    m = load_speech_model(out / "model")
    assert m.words == D.WORDS[:4] and m.config == "kws" and m.bundle.cfg.name == "kws"
    assert sorted(p.name for p in (out / "model").iterdir()) == sorted(MODEL_FILES)
    clip = D.speak("zero", D.Voice("en-us", "m3", 160, 50), 16000)
    write_wav(tmp_path / "zero.wav", clip, 16000)
    assert main(["transcribe", str(tmp_path / "zero.wav"), "--model", str(out / "model")]) == 0
    assert capsys.readouterr().out.split()[-1] in D.WORDS[:4]
    # the state_dict it saved goes through ese import-torch
    assert main(["import-torch", str(out / "lstm_dense.pt"), "-o", str(tmp_path / "d.npz"),
                 "--prefix", "lstm."]) == 0


def test_training_is_reproducible_and_masks_balanced():
    fspec = FeatureSpec()
    rng = np.random.default_rng(0)
    audio = [rng.normal(size=int(rng.integers(3000, 9000))).astype(np.float32) * 0.1
             for _ in range(6)]
    babble = np.concatenate(audio)
    split = D.Split(audio=audio, labels=np.array([0, 1, 2] * 2), voices=["v"] * 6,
                    babble=babble, babble_cuts=np.array([0, babble.size]))
    spec = TrainSpec(cells=16, proj=8, batch=4, dense_epochs=1, prune_epochs=1,
                     finetune_epochs=1, mask_every=1, density=0.25, seed=3)
    spec = TrainSpec(**{**spec.__dict__, "dense_epochs": 2})
    a = train(split, fspec, 3, spec, n_pe=4)
    b = train(split, fspec, 3, spec, n_pe=4)
    for k in a["pruned"]:
        assert np.array_equal(a["pruned"][k].numpy(), b["pruned"][k].numpy()), k
    # starting from the dense checkpoint (scripts/speech.py --dense-from) replays the dense
    # phase's random draws: the pruning phase ends where the full run did
    c = train(split, fspec, 3, spec, n_pe=4, dense_state=a["dense"])
    for k in a["pruned"]:
        assert np.array_equal(a["pruned"][k].numpy(), c["pruned"][k].numpy()), k
    assert [r["phase"] for r in c["log"]] == ["prune"] * 2
    bad = {k: v[:1] if v.dim() else v for k, v in a["dense"].items()}
    with pytest.raises(ValueError, match="does not match"):
        train(split, fspec, 3, spec, n_pe=4, dense_state=bad)
    assert np.array_equal(a["norm"].mean, b["norm"].mean)
    # every PE keeps the same number of weights of every pruned matrix (stored order)
    from ese.model.prune import nnz_per_pe
    from ese.model.qmodel import gate_perm
    for name, m in balanced_masks(a["net"].lstm, spec, 4, 0.25).items():
        w = a["pruned"][f"lstm.{name}"].numpy()
        assert np.array_equal(w != 0, m.numpy()), name
        stored = w[gate_perm(w.shape[0] // 4)] if "weight_hr" not in name else w
        per_pe = nnz_per_pe(stored, 4)
        assert per_pe.max() - per_pe.min() <= 1, (name, per_pe)
