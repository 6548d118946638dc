"""`make speech` at toy scale (a few clips, one epoch per phase, a small LSTM),
so that the pipeline cannot rot; training is reproducible; an epoch holds the
words, a share of unknown words and silence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ese.cli import main
from ese.speech import data as D
from ese.speech import engines as E
from ese.speech.features import FeatureSpec
from ese.speech.recognizer import MODEL_FILES, load_speech_model
from ese.speech.rooms import room_bank
from ese.speech.train import RECURRENT, TrainSpec, balanced_masks, epoch_plan, make_net, train
from ese.speech.wav import write_wav


def test_toy_pipeline(tmp_path, load_script, capsys):
    speech = load_script("speech")
    out = tmp_path / "speech"
    rc = speech.main(["--toy", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    res = json.loads((out / "results.json").read_text())
    summary = {r["set"]: r for r in res["evaluation"]["summary"]}
    goal_rows = [k for k, r in summary.items() if r.get("goal")]
    assert len(goal_rows) == 5, goal_rows        # 2 engines, silence, unknown, unknown as word
    assert sum("training never has" in k for k in summary) == 2   # reported, not a goal
    assert all(r["n"] > 0 for r in summary.values())
    assert all(0.0 <= r[m] <= 1.0 for r in summary.values() for m in ("dense", "float", "fixed"))
    assert {r["speaker"] for r in res["evaluation"]["per_voice"]} >= {"awb", "slt"}
    assert res["classes"] == list(D.TOY.classes) and len(res["confusion"]) == 6
    assert sum(map(sum, res["confusion"])) == res["test_clips"]
    assert res["float_engine_vs_torch_max_abs"] < 1e-5
    assert not res["committed_default"]["same"]         # other classes than the default
    assert res["model"]["density"] < 0.12
    assert (out / "confusion.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "| flite | slt | yes |" in report and "| _silence_ |" in report
    assert "flite, held-out voices (awb, slt), dry and degraded" in printed
    # the model folder it wrote is a speech model ese transcribe reads
    m = load_speech_model(out / "model")
    assert m.words == D.TOY.classes and m.config == "kws" and m.bundle.cfg.name == "kws"
    assert sorted(p.name for p in (out / "model").iterdir()) == sorted(MODEL_FILES)
    assert m.info["results"]["summary"] == res["evaluation"]["summary"]
    clip = E.speak("zero", E.FliteVoice("slt", 1.0, 0), 16000)
    write_wav(tmp_path / "zero.wav", clip, 16000)
    assert main(["transcribe", str(tmp_path / "zero.wav"), "--model", str(out / "model")]) == 0
    assert capsys.readouterr().out.split()[-1] in D.TOY.classes
    # the state_dict it saved goes through ese import-torch
    assert main(["import-torch", str(out / "lstm_dense.pt"), "-o", str(tmp_path / "d.npz"),
                 "--prefix", "lstm."]) == 0


def toy_split(n_words=3, per_word=2, n_unknown=4) -> D.Split:
    """Noise 'utterances' labelled as words and unknown words (no engine needed)."""
    rng = np.random.default_rng(0)
    labels = [w for _ in range(per_word) for w in range(n_words)] + [n_words + 1] * n_unknown
    audio = [rng.normal(size=int(rng.integers(3000, 9000))).astype(np.float32) * 0.1
             for _ in labels]
    babble = np.concatenate(audio)
    return D.Split(audio=audio, labels=np.array(labels), texts=["w"] * len(labels),
                   engines=["espeak-ng"] * len(labels), speakers=["v"] * len(labels),
                   voices=["v"] * len(labels), held_out=np.ones(len(labels), bool),
                   babble=babble, babble_cuts=np.array([0, babble.size]),
                   rooms=room_bank(2, 0, 16000)[1])


def test_epoch_plan_holds_every_word_a_share_of_unknown_and_silence():
    split = toy_split(n_words=3, per_word=4, n_unknown=10)
    spec = TrainSpec(unknown_share=1.5, silence_share=0.5)
    utts, conds, labels = epoch_plan(split, 3, spec, np.random.default_rng(0))
    assert np.bincount(labels).tolist() == [4, 4, 4, 2, 6]      # 3 words, silence, unknown
    assert sorted(utts[labels < 3].tolist()) == list(range(12))
    assert np.all(utts[labels == 3] == -1) and all(c.level_db is not None
                                                   for c, u in zip(conds, utts) if u < 0)
    assert len(set(utts[labels == 4].tolist())) == 6
    u2, _, _ = epoch_plan(split, 3, spec, np.random.default_rng(1))
    assert sorted(u2.tolist()) != sorted(utts.tolist())         # unknown share redrawn


def test_the_recurrent_forward_is_a_named_part():
    """Another forward (issue 21's delta LSTM) slots in by name over the same weights."""
    import torch
    spec = TrainSpec(cells=16, proj=8)
    net = make_net(10, 5, spec)
    x = torch.randn(2, 7, 10)
    assert torch.equal(net(x), net.classify(net.lstm(x)[0]))
    RECURRENT["test-double"] = lambda lstm, x: 2 * lstm(x)[0]
    try:
        twice = make_net(10, 5, TrainSpec(cells=16, proj=8, forward="test-double"))
        twice.load_state_dict(net.state_dict())
        assert torch.allclose(twice.encode(x), 2 * net.encode(x))
    finally:
        del RECURRENT["test-double"]
    with pytest.raises(ValueError, match="unknown recurrent forward"):
        make_net(10, 5, TrainSpec(forward="nope"))


def test_training_is_reproducible_and_masks_balanced():
    fspec = FeatureSpec()
    split = toy_split()
    spec = TrainSpec(cells=16, proj=8, batch=4, dense_epochs=2, prune_epochs=1,
                     finetune_epochs=1, mask_every=1, density=0.25, seed=3, threads=1)
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
    assert a["net"].head.out_features == 5                  # 3 words, silence, unknown
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
