"""``make speech``: data -> training -> pruning -> compression -> the accuracy tables.

:func:`run` does every stage with progress lines and writes into ``out``:

=====================  ======================================================
``data/clips-*/``      the spoken clips (cache: the same data spec is not
                       spoken twice)
``lstm_dense.pt``,     the trained network's ``state_dict`` (``torch.save``):
``lstm_pruned.pt``     what ``ese import-torch --prefix lstm.`` reads
``model/``             the speech model (``recognizer.py``): pruned LSTM, front
                       end, classifier and the compression that derives its
                       hardware form; ready for ``ese transcribe --model``
``results.json``       every table (``evaluation``), the confusion matrix, the
                       RTL check, throughput, times, the training log
``report.md``          the tables in markdown (``evaluate.report_markdown``)
``confusion.png``      confusion matrix of the fixed-point engine
=====================  ======================================================

The models compared on the test clips (``data.test_set``: held-out voices of
both engines, dry and degraded, held-out other words, noise):

* **dense**: torch's forward of the trained dense network;
* **float** (pruned): the numpy float engine (``ese.model.lstm_float``) on the
  pruned LSTM as imported from torch (also compared with torch's forward);
* **fixed** point: the integer engine (``ese.model.lstm_fixed``) on the
  bundle derived by ``ese compress`` (the integer model the accelerator's
  memory image holds);
* **RTL**: the generated Verilog (Verilator) on one clip of every class,
  checked bit for bit against the fixed-point engine on every clip it ran.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import data as D
from . import evaluate as V
from .features import FeatureSpec, stack
from .recognizer import (DEFAULT_MODEL, MODEL_FILES, SPEECH_JSON, classify, clip_inputs,
                         load_speech_model, lstm_outputs, save_speech_model)
from .train import TrainSpec, train
from .vocabulary import split_other_words

THROUGHPUT_BATCH = 256
CHUNK = 512                 #: test clips per engine call (bounds the memory)


def _acc(pred, labels) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(labels)))


def test_inputs(ts: D.TestSet, norm, fspec: FeatureSpec, idx=None) -> np.ndarray:
    """Normalized, stacked LSTM inputs (N, T, I) of the test clips ``idx`` (all)."""
    f = ts.logmel if idx is None else ts.logmel[idx]
    return stack(norm(f), fspec.stack).astype(np.float32)


def _torch_logits(net, state, x) -> np.ndarray:
    import torch
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(x[s:s + CHUNK])).numpy()
                               for s in range(0, len(x), CHUNK)])


def _torch_outputs(net, state, x) -> np.ndarray:
    import torch
    net.load_state_dict(state)
    net.eval()
    with torch.no_grad():
        return net.encode(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def engine_logits(model, x, engine: str, keep=()) -> tuple:
    """Class scores of ``engine`` on inputs ``x``, in chunks; and the raw integer outputs
    of the clips ``keep`` (fixed point), for the RTL's bit-for-bit check."""
    logits, kept = [], {}
    keep = set(int(i) for i in keep)
    for s in range(0, len(x), CHUNK):
        y, yq, _ = lstm_outputs(model, x[s:s + CHUNK], engine)
        logits.append(classify(model, y))
        for i in keep & set(range(s, s + len(y))):
            kept[i] = yq[i - s]
    return np.concatenate(logits), kept


def rtl_subset(ts: D.TestSet, n_classes: int, n: int) -> list:
    """``n`` test clips, one of every class in turn, from the held-out voices, taking
    the engines and dry/degraded copies in turn (deterministic)."""
    by_class = [list(np.flatnonzero((ts.labels == c) & ts.held_out)) for c in range(n_classes)]
    out, k = [], 0
    while len(out) < n and any(by_class):
        c = k % n_classes
        if by_class[c]:
            out.append(int(by_class[c].pop((k * 7919) % len(by_class[c]))))
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


def plot_confusion(m: np.ndarray, classes, path: Path, title: str) -> Optional[Path]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 7.5), dpi=100)
    rate = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("recognized")
    ax.set_ylabel("spoken")
    ax.set_title(title, fontsize=10)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if m[i, j] and i != j:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=6, color="red")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def evaluation(ts: D.TestSet, preds: dict, n_words: int, dspec: D.DataSpec) -> dict:
    """Every table of ``evaluate.py`` for the predictions ``preds``."""
    heard = split_other_words(dspec.seed)[0]
    return {"summary": V.summary(ts, preds, n_words, dspec.flite_held_out, heard),
            "per_voice": V.per_voice(ts, preds, n_words),
            "per_condition": V.per_condition(ts, preds, n_words),
            "silence": V.silence_rows(ts, preds, n_words)}


def run(out, dspec: D.DataSpec, tspec: TrainSpec, cfg, rtl_count: int = 22,
        sim: str = "verilator", workers: int = 2, install: bool = False,
        progress: Optional[Callable[[str], None]] = None, dense_from=None,
        fspec: Optional[FeatureSpec] = None) -> dict:
    """The whole pipeline (module docstring); returns the results dictionary.
    ``dense_from``: an earlier run's ``lstm_dense.pt`` of the same data and spec;
    training then starts at the pruning phase (``train``'s ``dense_state``)."""
    import torch
    from ese.model.torch_import import load_torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda m: None)
    fspec = fspec or FeatureSpec(sample_rate=dspec.sample_rate)
    if fspec.sample_rate != dspec.sample_rate:
        raise D.SpeechError(f"front end at {fspec.sample_rate} Hz, data at "
                            f"{dspec.sample_rate} Hz")
    classes, n_words = dspec.classes, len(dspec.words)
    times = {}
    t_all = time.perf_counter()

    # 1. data
    t0 = time.perf_counter()
    say("[1/7] speaking with espeak-ng and flite (training and held-out speakers)")
    tr, te = D.build_dataset(dspec, out / "data", workers=workers,
                             progress=lambda m: say("      " + m))
    ts = D.test_set(te, dspec, fspec)
    times["data"] = time.perf_counter() - t0
    say(f"      {len(tr)} training utterances, {len(ts)} test clips ({times['data']:.0f} s)")

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
        res = train(tr, fspec, n_words, tspec, cfg.n_pe, progress=lambda m: say("      " + m),
                    dense_state=dense_state,
                    on_dense=lambda st: torch.save(st, out / "lstm_dense.pt"))
    except ValueError as e:
        raise D.SpeechError(f"{dense_from}: {e}") from None
    norm, net = res["norm"], res["net"]
    times["training"] = time.perf_counter() - t0
    test_x = test_inputs(ts, norm, fspec)

    # 3. torch forward of the dense network
    say("[3/7] torch forward on the test clips")
    dense_logits = _torch_logits(net, res["dense"], test_x)
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
    save_speech_model(mdir, classes, fspec, norm, head_w, head_b, pruned_model,
                      config=cfg, density=tspec.density,
                      info={"data": dspec.to_dict(), "training": res["spec"]})
    model = load_speech_model(mdir)
    # ese compress at the same density must keep exactly the weights training kept:
    # SpeechModel.app derives the bundle and raises (ModelError) if it does not
    model.app
    times["compress"] = time.perf_counter() - t0
    man = model.bundle.manifest
    nnz = sum(m["nnz"] for m in man["matrices"])
    dense_w = sum(m["rows"] * m["cols"] for m in man["matrices"])

    # 5. float and fixed-point engines on every test clip
    t0 = time.perf_counter()
    say(f"[5/7] float and fixed-point engines on {len(ts)} test clips")
    sub = rtl_subset(ts, len(classes), rtl_count) if rtl_count > 0 else []
    float_logits, _ = engine_logits(model, test_x, "float")
    fixed_logits, yq_sub = engine_logits(model, test_x, "fixed", keep=sub)
    probe = np.arange(min(CHUNK, len(ts)))             # the float engine computes torch's LSTM
    y_float, _, _ = lstm_outputs(model, test_x[probe], "float")
    float_vs_torch = float(np.max(np.abs(y_float - _torch_outputs(net, res["pruned"],
                                                                   test_x[probe]))))
    times["engines"] = time.perf_counter() - t0
    preds = {"dense": dense_logits.argmax(1), "float": float_logits.argmax(1),
             "fixed": fixed_logits.argmax(1)}
    pruned_torch = _torch_logits(net, res["pruned"], test_x).argmax(1)

    # 6. RTL on a subset
    rtl = None
    if sub:
        say(f"[6/7] RTL ({sim}) on {len(sub)} test clips (one of every class)")
        rtl = rtl_check(model, test_x, ts.labels, sub, yq_sub, sim,
                        progress=lambda m: say("      " + m))
        times["rtl"] = rtl["seconds"]
    else:
        say("[6/7] RTL skipped (--rtl 0)")

    # 7. throughput, tables, confusion
    say("[7/7] throughput and the accuracy tables")
    tp = throughput(model, list(ts.clips(range(min(THROUGHPUT_BATCH, len(ts))))), net,
                    res["dense"])
    ev = evaluation(ts, preds, n_words, dspec)
    cm = V.confusion(preds["fixed"], ts.labels, len(classes))
    png = plot_confusion(cm, classes, out / "confusion.png",
                         f"fixed-point engine, every test clip "
                         f"({100 * _acc(preds['fixed'], ts.labels):.1f} %)")
    times["total"] = time.perf_counter() - t_all
    results = {
        "classes": list(classes), "evaluation": ev,
        "test_clips": len(ts),
        "gap_points": {r["engine"] + (" seen" if r.get("seen") else ""):
                       100 * (r["dense"] - r["fixed"]) for r in ev["summary"]
                       if r.get("condition") == "all" and r["dense"] is not None},
        "float_engine_vs_torch_max_abs": float_vs_torch,
        "pruned_float_agreement_with_torch": float(np.mean(preds["float"] == pruned_torch)),
        "fixed_agreement_with_float": float(np.mean(preds["fixed"] == preds["float"])),
        "rtl": rtl, "throughput": tp, "times_s": times,
        "model": {"nnz": int(nnz), "dense_weights": int(dense_w),
                  "density": nnz / dense_w, "image_bytes": len(model.bundle.image),
                  "config": cfg.name, "estimate": man["estimate"],
                  "steps_per_utterance": fspec.n_steps, "inputs": fspec.n_inputs},
        "confusion": cm.tolist(), "confusion_png": str(png) if png else None,
        "log": res["log"], "data": dspec.to_dict(), "training": res["spec"],
    }
    results["words_only"] = words_only(fixed_logits, ts, n_words)
    results["committed_default"] = compare_with_default(model)
    say(f"      {results['committed_default']['verdict']}")
    if results["committed_default"]["same"]:
        # the committed model again: its own comparison with its predecessor stands
        prev = load_speech_model(DEFAULT_MODEL).info.get("results", {}).get("replacement")
        if prev:
            results["replacement"] = prev
    else:
        t0 = time.perf_counter()
        try:
            ref = load_speech_model(DEFAULT_MODEL)
        except Exception:  # noqa: BLE001 - no committed model to compare with is no verdict
            ref = None
        if ref is not None and ref.compressed:
            results["reference"] = reference_accuracy(ref, ts, classes, dspec)
            results["replacement"] = replacement_verdict(ev["summary"],
                                                         results["reference"]["summary"])
            say(f"      against the committed model: {results['replacement']['verdict']}")
        times["reference"] = time.perf_counter() - t0
    write_results(out, results)
    if install:
        if results.get("replacement", {"replace": True})["replace"]:
            install_default(mdir)
            say(f"installed the model as the project's default ({DEFAULT_MODEL})")
        else:
            say(f"not installed: {results['replacement']['verdict']}")
    return results


def reference_accuracy(ref, ts: D.TestSet, classes, dspec: D.DataSpec,
                       engine: str = "fixed") -> dict:
    """Another speech model (the committed default, say) on the same test clips, with
    its own front end and ``engine``: its predictions mapped onto ``classes`` (a class
    it does not have is never predicted: a 20-word model can only answer words), and
    the summary table's rows for it.  This is what decides whether a run's model
    replaces the committed one (docs/speech.md)."""
    idx = {c: k for k, c in enumerate(classes)}
    to_new = np.array([idx.get(w, -1) for w in ref.words])
    pred = []
    for s in range(0, len(ts), CHUNK):
        clips = ts.clips(range(s, min(len(ts), s + CHUNK)))
        x = clip_inputs(ref, list(clips)).astype(np.float32)
        y, _, _ = lstm_outputs(ref, x, engine)
        pred.append(to_new[classify(ref, y).argmax(1)])
    pred = np.concatenate(pred)
    heard = split_other_words(dspec.seed)[0]
    rows = V.summary(ts, {"fixed": pred}, len(dspec.words), dspec.flite_held_out, heard)
    return {"model": str(ref.path), "classes": list(ref.words), "engine": engine,
            "summary": rows, "accuracy_all": _acc(pred, ts.labels)}


def words_only(logits: np.ndarray, ts: D.TestSet, n_words: int) -> dict:
    """The 20-word accuracy of held-out voices when the answer is restricted to the
    words (``_silence_`` and ``_unknown_`` never chosen): the task a 20-word model does,
    for a like-for-like comparison with one (reported, not the replacement rule)."""
    m = V.masks(ts, n_words)
    hit = np.argmax(logits[:, :n_words], axis=1) == ts.labels
    out = {}
    for eng in ("espeak", "flite"):
        sel = m["word"] & m[eng] & m["held_out"]
        out[eng] = float(hit[sel].mean()) if sel.any() else None
    return out


def replacement_verdict(new_rows, ref_rows) -> dict:
    """Replace the committed model only if the new one is better on the held-out flite
    voices and no worse on the held-out espeak-ng voices (fixed point, dry and
    degraded together)."""
    def goal(rows, eng):
        return next(r["fixed"] for r in rows if r.get("engine") == eng
                    and r.get("condition") == "all" and not r.get("seen"))
    nf, ne = goal(new_rows, "flite"), goal(new_rows, "espeak")
    rf, re_ = goal(ref_rows, "flite"), goal(ref_rows, "espeak")
    better = nf > rf and ne >= re_
    return {"replace": bool(better), "flite": [nf, rf], "espeak": [ne, re_],
            "verdict": (f"held-out flite {100 * nf:.2f} % (committed model {100 * rf:.2f} %), "
                        f"held-out espeak-ng {100 * ne:.2f} % ({100 * re_:.2f} %): "
                        + ("better, replace the committed model" if better else
                           "not better on both, keep the committed model"))}


def _finished_run(out: Path) -> tuple:
    """The results file, results, model and data spec of a finished run in ``out``."""
    rp = out / "results.json"
    if not rp.exists():
        raise D.SpeechError(f"{rp} not found: run the whole pipeline first")
    results = json.loads(rp.read_text())
    model = load_speech_model(out / "model")
    return rp, results, model, D.DataSpec.from_dict(model.info["data"])


def compare_default_run(out, progress: Optional[Callable[[str], None]] = None) -> dict:
    """The committed default model on the test clips of a finished run in ``out``
    (regenerated from the data cache); ``results.json`` and ``report.md`` updated."""
    out = Path(out)
    say = progress or (lambda m: None)
    _, results, model, dspec = _finished_run(out)
    _, te = D.build_dataset(dspec, out / "data", progress=lambda m: say("      " + m))
    ts = D.test_set(te, dspec, model.features)
    fixed_logits, _ = engine_logits(model, test_inputs(ts, model.norm, model.features), "fixed")
    results["words_only"] = words_only(fixed_logits, ts, len(dspec.words))
    say(f"the committed default model on {len(ts)} test clips")
    ref = reference_accuracy(load_speech_model(DEFAULT_MODEL), ts, model.words, dspec)
    results["reference"] = ref
    results["replacement"] = replacement_verdict(results["evaluation"]["summary"],
                                                 ref["summary"])
    write_results(out, results)
    return results


def compare_with_default(model) -> dict:
    """Does this run reproduce the committed model (``speech/default/``)?  Same
    classes, front end and shapes, and the largest difference of any LSTM array,
    classifier weight or normalization constant."""
    try:
        ref = load_speech_model(DEFAULT_MODEL)
    except Exception as e:  # noqa: BLE001 - a missing or older default is a verdict, not a failure
        return {"same": False, "verdict": f"no committed default model to compare with ({e})"}
    a, b = ref.float_model.to_arrays(), model.float_model.to_arrays()
    if ref.words != model.words or ref.features != model.features or \
            ref.cls_w.shape != model.cls_w.shape or \
            {k: np.shape(v) for k, v in a.items()} != {k: np.shape(v) for k, v in b.items()}:
        return {"same": False, "verdict": "the committed default model has other classes, "
                                          "front end or shape"}
    pairs = [(a[k], b[k]) for k in a] + [(ref.cls_w, model.cls_w), (ref.cls_b, model.cls_b),
                                         (ref.norm.mean, model.norm.mean),
                                         (ref.norm.std, model.norm.std)]
    diffs = [float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
             for x, y in pairs]
    worst = float(max(diffs))
    return {"same": worst == 0.0, "max_abs_difference": worst,
            "verdict": "reproduces the committed default model bit for bit" if worst == 0.0
            else f"differs from the committed default model (largest weight difference "
                 f"{worst:.3g})"}


def write_results(out: Path, results: dict) -> None:
    """``results.json``, ``report.md``, and the summary into the model's ``speech.json``."""
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (out / "report.md").write_text(V.report_markdown(results))
    rtl = results["rtl"]
    sj = out / "model" / SPEECH_JSON
    doc = json.loads(sj.read_text())
    doc["info"]["results"] = {
        "summary": results["evaluation"]["summary"],
        "rtl": rtl and {k: rtl[k] for k in ("clips", "bit_exact", "accuracy")}}
    if results.get("replacement"):
        doc["info"]["results"]["replacement"] = results["replacement"]
    sj.write_text(json.dumps(doc, indent=1) + "\n")


def rtl_check(model, test_x, labels, sub, yq_fixed: dict, sim: str,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """The RTL on the test clips ``sub``, checked bit for bit against the fixed-point
    engine's outputs ``yq_fixed`` ({clip: integer outputs})."""
    from ese.model.fixed import dequantize
    t0 = time.perf_counter()
    y_rtl, yq_rtl, stats = lstm_outputs(model, test_x[sub], "rtl", sim=sim, progress=progress)
    exact = [bool(np.array_equal(yq_rtl[k], yq_fixed[i])) for k, i in enumerate(sub)]
    fixed_y = dequantize(np.stack([yq_fixed[i] for i in sub]), model.app.cfg.act_frac)
    rtl = {"clips": len(sub), "indices": list(sub), "sim": sim, "bit_exact": int(sum(exact)),
           "accuracy": _acc(classify(model, y_rtl).argmax(1), labels[sub]),
           "fixed_accuracy_same_clips": _acc(classify(model, fixed_y).argmax(1), labels[sub]),
           "cycles_per_frame": stats["cycles_per_frame"],
           "utilization": stats["utilization"],
           "latency_us_at_200mhz_per_frame": stats["latency_us_at_200mhz"],
           "seconds": time.perf_counter() - t0}
    if progress:
        progress(f"bit-exact with the fixed-point engine on {rtl['bit_exact']}/{len(sub)} "
                 f"clips; {stats['cycles_per_frame']:.0f} cycles/step")
    return rtl


def rerun_rtl(out, n: int, sim: str = "verilator", workers: int = 2,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """Only the RTL stage of a finished ``make speech`` run in folder ``out``: the
    test clips again (from the data cache), the fixed-point engine on all of them
    (it must score what ``results.json`` says, else the data or the model changed),
    the RTL on ``n`` of them; updates ``results.json`` and the model.  No training."""
    out = Path(out)
    say = progress or (lambda m: None)
    rp, results, model, dspec = _finished_run(out)
    _, te = D.build_dataset(dspec, out / "data", workers=workers,
                            progress=lambda m: say("      " + m))
    ts = D.test_set(te, dspec, model.features)
    test_x = test_inputs(ts, model.norm, model.features)
    sub = rtl_subset(ts, len(model.words), n)
    fixed_logits, yq_sub = engine_logits(model, test_x, "fixed", keep=sub)
    acc = _acc(fixed_logits.argmax(1), ts.labels)
    want = results["evaluation"]["summary"][-1]["fixed"]
    if abs(acc - want) > 1e-12:
        raise D.SpeechError(f"the fixed-point engine scores {100 * acc:.2f} % on the test "
                            f"clips now, {100 * want:.2f} % in {rp}: the data or the model "
                            f"changed since that run")
    say(f"fixed-point engine: {100 * acc:.2f} % on {len(ts)} test clips, as in {rp.name}; "
        f"RTL ({sim}) on {len(sub)} of them")
    results["rtl"] = rtl_check(model, test_x, ts.labels, sub, yq_sub, sim, progress=say)
    results["times_s"]["rtl"] = results["rtl"]["seconds"]
    write_results(out, results)
    return results


def install_default(model_dir: Path, dest: Path = DEFAULT_MODEL) -> Path:
    """Copy a speech model's files into the package's default model folder."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in dest.iterdir():
        f.unlink()
    for name in MODEL_FILES:
        shutil.copy2(Path(model_dir) / name, dest / name)
    return dest
