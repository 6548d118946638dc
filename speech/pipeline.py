"""``make speech``: data -> training -> pruning -> compression -> the accuracy table.

:func:`run` does every stage with progress lines and writes into ``out``:

=====================  ======================================================
``data/clips-*/``      the spoken clips (cache: the same data spec is not
                       spoken twice)
``lstm_dense.pt``,     the trained network's ``state_dict`` (``torch.save``):
``lstm_pruned.pt``     what ``ese import-torch --prefix lstm.`` reads
``model/``             the speech model (``recognizer.py``): pruned LSTM, front
                       end, classifier and the compression that derives its
                       hardware form; ready for ``ese transcribe --model``
``results.json``       accuracy table, per-condition accuracy, RTL check,
                       throughput, times
``confusion.png``      confusion matrix of the fixed-point engine
=====================  ======================================================

The accuracy table is measured on the held-out voices (``data.py``):

* **float dense**: torch's forward of the trained dense network;
* **float pruned**: the numpy float engine (``ese.model.lstm_float``) on the
  pruned LSTM as imported from torch (also compared with torch's forward);
* **fixed point**: the integer engine (``ese.model.lstm_fixed``) on the
  bundle derived by ``ese compress`` (the integer model the accelerator's
  memory image holds);
* **RTL**: the generated Verilog (Verilator) on a subset, checked bit for
  bit against the fixed-point engine on every utterance it ran.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import data as D
from .features import FeatureSpec, utterance_features
from ese.model.fixed import dequantize

from .recognizer import (DEFAULT_MODEL, MODEL_FILES, SPEECH_JSON, classify, clip_inputs,
                         load_speech_model, lstm_outputs, save_speech_model)
from .train import TrainSpec, train

TEST_COPIES = 2            #: test conditions drawn per held-out utterance
THROUGHPUT_BATCH = 256


def _acc(pred, labels) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(labels)))


def test_set(split: D.Split, fspec: FeatureSpec, seed: int, copies: int = TEST_COPIES):
    """Fixed degraded copies of every held-out utterance: (clips, labels, conds)."""
    rng = np.random.default_rng(seed)
    idx = [i for _ in range(copies) for i in range(len(split.audio))]
    conds = [D.test_condition(rng) for _ in idx]
    clips = D.augment_batch(split, idx, conds, fspec).astype(np.float32)
    return clips, np.asarray(split.labels)[idx], conds


def condition_name(c: D.Condition) -> str:
    return "clean" if c.noise is None else f"{c.snr_db:g} dB"


def _torch_forward(net, state, x, chunk: int = 512):
    import torch
    net.load_state_dict(state)
    net.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(x), chunk):
            xb = torch.from_numpy(np.ascontiguousarray(x[s:s + chunk], dtype=np.float32))
            y, _ = net.lstm(xb)
            outs.append((net.head(y.amax(dim=1)).numpy(), y.numpy()))
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def rtl_subset(labels, n: int, n_words: int) -> list:
    """``n`` test indices spread over the words and the voices (deterministic)."""
    by_word = [list(np.flatnonzero(np.asarray(labels) == w)) for w in range(n_words)]
    out, k = [], 0
    while len(out) < n and any(by_word):
        w = k % n_words
        if by_word[w]:
            # step through each word's utterances so that different voices come up
            out.append(int(by_word[w].pop((k * 7) % len(by_word[w]))))
        k += 1
    return sorted(out)


def throughput(model, clips, net, dense_state, repeats: int = 3) -> dict:
    """Utterances per second, features + LSTM + classifier, same clips for all."""
    import torch

    def best(f):
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return min(ts)

    def engine(e):
        def f():
            x = clip_inputs(model, clips)
            y, _, _ = lstm_outputs(model, x, e)
            classify(model, y).argmax(1)
        return f

    def torch_dense():
        net.load_state_dict(dense_state)
        net.eval()
        with torch.no_grad():
            x = torch.from_numpy(clip_inputs(model, clips).astype(np.float32))
            net(x).argmax(1)

    n = len(clips)
    res = {}
    for name, f in (("front end only", lambda: clip_inputs(model, clips)),
                    ("torch dense (CPU)", torch_dense), ("float engine", engine("float")),
                    ("fixed-point engine", engine("fixed"))):
        s = best(f)
        res[name] = {"seconds": s, "utterances_per_second": n / s}
    res["batch"] = n
    res["threads"] = torch.get_num_threads()
    return res


def confusion(pred, labels, n: int) -> np.ndarray:
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(pred)), 1)
    return m


def plot_confusion(m: np.ndarray, words, path: Path, title: str) -> Optional[Path]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=100)
    rate = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(words)), words, rotation=90)
    ax.set_yticks(range(len(words)), words)
    ax.set_xlabel("recognized")
    ax.set_ylabel("spoken")
    ax.set_title(title, fontsize=10)
    for i in range(len(words)):
        for j in range(len(words)):
            if m[i, j] and i != j:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=6, color="red")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def table_markdown(rows) -> str:
    lines = ["| model | engine | accuracy (held-out voices) | utterances |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['engine']} | {100 * r['accuracy']:.2f} % | "
                     f"{r['n']} |")
    return "\n".join(lines)


def run(out, dspec: D.DataSpec, tspec: TrainSpec, cfg, rtl_count: int = 20,
        sim: str = "verilator", workers: int = 2, install: bool = False,
        progress: Optional[Callable[[str], None]] = None, dense_from=None) -> dict:
    """The whole pipeline (module docstring); returns the results dictionary.
    ``dense_from``: an earlier run's ``lstm_dense.pt`` of the same data and spec;
    training then starts at the pruning phase (``train``'s ``dense_state``)."""
    import torch
    from ese.model.torch_import import load_torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda m: None)
    fspec = FeatureSpec(sample_rate=dspec.sample_rate)
    times = {}
    t_all = time.perf_counter()

    # 1. data
    t0 = time.perf_counter()
    say(f"[1/7] speaking the words with espeak-ng ({dspec.train_voices} training voices, "
        f"{dspec.test_voices} held-out voices)")
    tr, te = D.build_dataset(dspec, out / "data", workers=workers,
                             progress=lambda m: say("      " + m))
    test_clips, test_labels, test_conds = test_set(te, fspec, dspec.seed + 1000)
    times["data"] = time.perf_counter() - t0
    say(f"      {len(tr.audio)} training utterances, {len(test_clips)} test clips "
        f"({times['data']:.0f} s)")

    # 2. training
    t0 = time.perf_counter()
    say("[2/7] training (PyTorch, CPU)")
    dense_state = None
    if dense_from is not None:
        try:
            dense_state = torch.load(dense_from, weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch raises many kinds; one line for the user
            raise D.SpeechError(f"cannot read the dense checkpoint {dense_from}: {e}") from None
    try:
        res = train(tr, fspec, len(dspec.words), tspec, cfg.n_pe,
                    progress=lambda m: say("      " + m), dense_state=dense_state)
    except ValueError as e:
        raise D.SpeechError(f"{dense_from}: {e}") from None
    norm, net = res["norm"], res["net"]
    times["training"] = time.perf_counter() - t0
    test_x = np.concatenate([utterance_features(test_clips[s:s + 256], fspec, norm)
                             for s in range(0, len(test_clips), 256)])

    # 3. torch forward of the dense and pruned networks
    say("[3/7] torch forward on the held-out voices")
    dense_logits, _ = _torch_forward(net, res["dense"], test_x)
    pruned_logits, pruned_y = _torch_forward(net, res["pruned"], test_x)
    torch.save(res["dense"], out / "lstm_dense.pt")
    torch.save(res["pruned"], out / "lstm_pruned.pt")

    # 4. import + compress
    t0 = time.perf_counter()
    say(f"[4/7] import-torch and compress for configuration {cfg.name!r} "
        f"({cfg.n_ch} channels x {cfg.n_pe} PEs), density {tspec.density:g}")
    pruned_model = load_torch(out / "lstm_pruned.pt", prefix="lstm.")
    mdir = out / "model"
    if mdir.exists():
        shutil.rmtree(mdir)
    head_w = res["pruned"]["head.weight"].numpy().astype(np.float64)
    head_b = res["pruned"]["head.bias"].numpy().astype(np.float64)
    save_speech_model(mdir, dspec.words, fspec, norm, head_w, head_b, pruned_model,
                      config=cfg, density=tspec.density,
                      info={"data": asdict(dspec), "training": res["spec"]})
    model = load_speech_model(mdir)
    # ese compress at the same density must keep exactly the weights training kept:
    # SpeechModel.app derives the bundle and raises (ModelError) if it does not
    model.app
    times["compress"] = time.perf_counter() - t0
    man = model.bundle.manifest
    nnz = sum(m["nnz"] for m in man["matrices"])
    dense_w = sum(m["rows"] * m["cols"] for m in man["matrices"])

    # 5. float and fixed-point engines on the whole test set
    t0 = time.perf_counter()
    say("[5/7] float and fixed-point engines on the held-out voices")
    y_float, _, _ = lstm_outputs(model, test_x, "float")
    float_vs_torch = float(np.max(np.abs(y_float - pruned_y)))
    float_logits = classify(model, y_float)
    y_fixed, yq_fixed, _ = lstm_outputs(model, test_x, "fixed")
    fixed_logits = classify(model, y_fixed)
    times["engines"] = time.perf_counter() - t0
    preds = {"dense": dense_logits.argmax(1), "pruned_torch": pruned_logits.argmax(1),
             "float": float_logits.argmax(1), "fixed": fixed_logits.argmax(1)}

    # 6. RTL on a subset
    rtl = None
    if rtl_count > 0:
        say(f"[6/7] RTL ({sim}) on {rtl_count} held-out utterances")
        rtl = rtl_check(model, test_x, test_labels, yq_fixed, rtl_count, sim,
                        progress=lambda m: say("      " + m))
        times["rtl"] = rtl["seconds"]
    else:
        say("[6/7] RTL skipped (--rtl 0)")

    # 7. throughput, confusion, table
    say("[7/7] throughput and the accuracy table")
    n_tp = min(THROUGHPUT_BATCH, len(test_clips))
    tp = throughput(model, list(test_clips[:n_tp]), net, res["dense"])
    cm = confusion(preds["fixed"], test_labels, len(dspec.words))
    png = plot_confusion(cm, dspec.words, out / "confusion.png",
                         f"fixed-point engine, held-out voices "
                         f"({100 * _acc(preds['fixed'], test_labels):.1f} %)")
    n_test = len(test_labels)
    rows = [
        {"model": "dense", "engine": "float (torch)",
         "accuracy": _acc(preds["dense"], test_labels), "n": n_test},
        {"model": f"pruned to {100 * nnz / dense_w:.1f} % (load-balanced, {cfg.n_pe} PEs)",
         "engine": "float (ese.model.lstm_float)",
         "accuracy": _acc(preds["float"], test_labels), "n": n_test},
        {"model": f"pruned, {cfg.weight_bits}-bit weights, {cfg.act_bits}-bit activations",
         "engine": "fixed point (ese.model.lstm_fixed)",
         "accuracy": _acc(preds["fixed"], test_labels), "n": n_test},
    ]
    rows += rtl_rows(rtl)
    by_cond = {}
    for name in sorted({condition_name(c) for c in test_conds},
                       key=lambda s: (s != "clean", float(s.split()[0]) if s != "clean" else 0)):
        sel = np.array([condition_name(c) == name for c in test_conds])
        by_cond[name] = {"n": int(sel.sum()),
                         "dense": _acc(preds["dense"][sel], test_labels[sel]),
                         "fixed": _acc(preds["fixed"][sel], test_labels[sel])}
    by_noise = {}
    for name in ("clean",) + D.NOISES:
        sel = np.array([(c.noise or "clean") == name for c in test_conds])
        by_noise[name] = {"n": int(sel.sum()),
                          "dense": _acc(preds["dense"][sel], test_labels[sel]),
                          "fixed": _acc(preds["fixed"][sel], test_labels[sel])}
    times["total"] = time.perf_counter() - t_all
    results = {
        "table": rows, "by_snr": by_cond, "by_noise": by_noise,
        "gap_points": 100 * (rows[0]["accuracy"] - rows[2]["accuracy"]),
        "float_engine_vs_torch_max_abs": float_vs_torch,
        "pruned_float_agreement_with_torch": float(np.mean(preds["float"] ==
                                                           preds["pruned_torch"])),
        "fixed_agreement_with_float": float(np.mean(preds["fixed"] == preds["float"])),
        "rtl": rtl, "throughput": tp, "times_s": times,
        "model": {"nnz": int(nnz), "dense_weights": int(dense_w),
                  "density": nnz / dense_w, "image_bytes": len(model.bundle.image),
                  "config": cfg.name, "estimate": man["estimate"],
                  "steps_per_utterance": fspec.n_steps, "inputs": fspec.n_inputs},
        "confusion": cm.tolist(), "confusion_png": str(png) if png else None,
        "log": res["log"], "data": asdict(dspec), "training": res["spec"],
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    _results_to_model(mdir, results)
    if install:
        install_default(mdir)
        say(f"installed the model as the project's default ({DEFAULT_MODEL})")
    return results


def rtl_check(model, test_x, test_labels, yq_fixed, n: int, sim: str,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """The RTL on ``n`` held-out utterances (:func:`rtl_subset`), checked bit for bit
    against the fixed-point engine's outputs ``yq_fixed`` (all test clips)."""
    t0 = time.perf_counter()
    sub = rtl_subset(test_labels, n, len(model.words))
    y_rtl, yq_rtl, stats = lstm_outputs(model, test_x[sub], "rtl", sim=sim, progress=progress)
    exact = [bool(np.array_equal(yq_rtl[k], yq_fixed[i])) for k, i in enumerate(sub)]
    fixed_pred = classify(model, dequantize(yq_fixed[sub], model.app.cfg.act_frac)).argmax(1)
    rtl = {"utterances": len(sub), "indices": sub, "sim": sim, "bit_exact": int(sum(exact)),
           "accuracy": _acc(classify(model, y_rtl).argmax(1), test_labels[sub]),
           "fixed_accuracy_same_subset": _acc(fixed_pred, test_labels[sub]),
           "cycles_per_frame": stats["cycles_per_frame"],
           "utilization": stats["utilization"],
           "latency_us_at_200mhz_per_frame": stats["latency_us_at_200mhz"],
           "seconds": time.perf_counter() - t0}
    if progress:
        progress(f"bit-exact with the fixed-point engine on {rtl['bit_exact']}/{len(sub)} "
                 f"utterances; {stats['cycles_per_frame']:.0f} cycles/step")
    return rtl


def rtl_rows(rtl: Optional[dict]) -> list:
    """The accuracy table's RTL rows (the fixed-point engine on the same subset first)."""
    if rtl is None:
        return []
    return [{"model": "same, subset", "engine": "fixed point", "n": rtl["utterances"],
             "accuracy": rtl["fixed_accuracy_same_subset"]},
            {"model": "same, subset", "engine": f"RTL ({rtl['sim']})", "n": rtl["utterances"],
             "accuracy": rtl["accuracy"]}]


def _results_to_model(mdir: Path, results: dict) -> None:
    """The accuracy table travels with the model (``speech.json`` ``info.results``)."""
    rtl = results["rtl"]
    doc = json.loads((mdir / SPEECH_JSON).read_text())
    doc["info"]["results"] = {"table": results["table"], "by_snr": results["by_snr"],
                              "rtl": rtl and {k: rtl[k] for k in
                                              ("utterances", "bit_exact", "accuracy")}}
    (mdir / SPEECH_JSON).write_text(json.dumps(doc, indent=1) + "\n")


def rerun_rtl(out, n: int, sim: str = "verilator", workers: int = 2,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """Only the RTL stage of a finished ``make speech`` run in folder ``out``: the
    held-out clips again (from the data cache), the fixed-point engine, the RTL on
    ``n`` of them; updates ``results.json`` (table, ``rtl``) and the model's
    ``speech.json``.  No training."""
    out = Path(out)
    say = progress or (lambda m: None)
    rp = out / "results.json"
    if not rp.exists():
        raise D.SpeechError(f"{rp} not found: run the whole pipeline first")
    results = json.loads(rp.read_text())
    mdir = out / "model"
    model = load_speech_model(mdir)
    dspec = D.DataSpec(**{**model.info["data"], "words": tuple(model.info["data"]["words"])})
    _, te = D.build_dataset(dspec, out / "data", workers=workers,
                            progress=lambda m: say("      " + m))
    test_clips, test_labels, _ = test_set(te, model.features, dspec.seed + 1000)
    test_x = np.concatenate([utterance_features(test_clips[s:s + 256], model.features,
                                                model.norm)
                             for s in range(0, len(test_clips), 256)])
    y_fixed, yq_fixed, _ = lstm_outputs(model, test_x, "fixed")
    acc = _acc(classify(model, y_fixed).argmax(1), test_labels)
    if abs(acc - results["table"][2]["accuracy"]) > 1e-12:
        raise D.SpeechError(f"the fixed-point engine scores {100 * acc:.2f} % on the held-out "
                            f"clips now, {100 * results['table'][2]['accuracy']:.2f} % in "
                            f"{rp}: the data or the model changed since that run")
    say(f"fixed-point engine: {100 * acc:.2f} % on {len(test_labels)} held-out clips, as in "
        f"{rp.name}; RTL ({sim}) on {n} of them")
    rtl = rtl_check(model, test_x, test_labels, yq_fixed, n, sim, progress=say)
    results["rtl"] = rtl
    results["table"] = results["table"][:3] + rtl_rows(rtl)
    results["times_s"]["rtl"] = rtl["seconds"]
    rp.write_text(json.dumps(results, indent=1, default=float) + "\n")
    _results_to_model(mdir, results)
    return results


def install_default(model_dir: Path, dest: Path = DEFAULT_MODEL) -> Path:
    """Copy a speech model's files into the package's default model folder."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in dest.iterdir():
        f.unlink()
    for name in MODEL_FILES:
        shutil.copy2(Path(model_dir) / name, dest / name)
    return dest
