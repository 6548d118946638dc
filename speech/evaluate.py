"""The accuracy tables of ``make speech``: per engine, per held-out voice, per
condition, the two non-word classes, the confusion matrix; and their markdown.

Every function takes the :class:`data.TestSet` and ``preds``: ``{model name:
predicted class per test clip}`` for the models compared (``dense``, the
``float`` engine on the pruned LSTM, the ``fixed``-point engine).

Definitions (docs/speech.md):

* *accuracy of an engine or voice*: the clips of the 20 words it spoke, right
  when the word is recognized (``_unknown_`` or ``_silence_`` is wrong);
* *silence / unknown recall*: the share of the noise clips recognized as
  ``_silence_``, of the other-word clips recognized as ``_unknown_``; the
  other words are counted apart as those training also has (spoken by the
  held-out voices: keyword spotting's usual measure, the goal) and those it
  never has;
* *unknown taken for a word*: the share of the other-word clips recognized as
  one of the 20 words (a false alarm of the spotter).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .augment import TEST_SNRS
from .data import TestSet

MODELS = ("dense", "float", "fixed")
MODEL_TITLES = {"dense": "dense float", "float": "pruned float", "fixed": "fixed point"}


def _rate(hit: np.ndarray, sel: np.ndarray) -> Optional[float]:
    n = int(sel.sum())
    return float(hit[sel].mean()) if n else None


def _row(name: str, sel: np.ndarray, hits: dict, **extra) -> dict:
    return {"set": name, "n": int(sel.sum()), **extra,
            **{m: _rate(h, sel) for m, h in hits.items()}}


def masks(ts: TestSet, n_words: int, heard_words=()) -> dict:
    """Boolean selections of the test clips that the tables use; ``heard_words``: the
    other words training has."""
    lab = ts.labels
    eng = np.array(ts.engines)
    degraded = np.array([c.degraded for c in ts.conditions])
    word = lab < n_words
    unknown = lab == n_words + 1
    heard = np.array([t in set(heard_words) for t in ts.texts]) & unknown
    return {"word": word, "silence": lab == n_words, "unknown": unknown,
            "unknown_heard": heard, "unknown_new": unknown & ~heard,
            "dry": ~degraded, "degraded": degraded, "held_out": ts.held_out,
            "espeak": eng == "espeak-ng", "flite": eng == "flite"}


def summary(ts: TestSet, preds: dict, n_words: int, flite_held_out, heard_words=()) -> list:
    """The goal table: 20-word accuracy per engine (held-out voices; dry, degraded,
    both), flite's seen voices, silence recall, unknown recall and unknown taken for
    a word (other words training has, and never has), all clips."""
    m = masks(ts, n_words, heard_words)
    hits = {k: p == ts.labels for k, p in preds.items()}
    rows = []
    for eng, title in (("espeak", "espeak-ng, held-out variants"),
                       ("flite", f"flite, held-out voices ({', '.join(flite_held_out)})")):
        base = m["word"] & m[eng] & m["held_out"]
        rows += [_row(f"{title}, dry", base & m["dry"], hits, engine=eng, condition="dry"),
                 _row(f"{title}, degraded", base & m["degraded"], hits, engine=eng,
                      condition="degraded"),
                 _row(f"{title}, dry and degraded", base, hits, engine=eng, condition="all",
                      goal=True)]
    seen = m["word"] & m["flite"] & ~m["held_out"]
    if seen.any():
        speakers = sorted({ts.speakers[i] for i in np.flatnonzero(seen)})
        rows.append(_row(f"flite, training speakers ({', '.join(speakers)}) at new rates and "
                         f"pitches, dry and degraded", seen, hits, engine="flite",
                         condition="all", seen=True))
    rows.append(_row("_silence_ (noise only) recognized as _silence_", m["silence"], hits,
                     goal=True))
    as_word = {k: p < n_words for k, p in preds.items()}
    for key, what, goal in (("unknown_heard", "other words training has", True),
                            ("unknown_new", "other words training never has", False)):
        if m[key].any():
            rows.append(_row(f"_unknown_ ({what}) recognized as _unknown_", m[key], hits,
                             goal=goal))
            rows.append(_row(f"_unknown_ ({what}) taken for one of the {n_words} words",
                             m[key], as_word, lower_is_better=True, goal=goal))
    rows.append(_row(f"all test clips ({n_words + 2} classes)", np.ones(len(ts), bool), hits))
    return rows


def per_voice(ts: TestSet, preds: dict, n_words: int) -> list:
    """20-word accuracy per speaker (flite voice, espeak-ng variant), dry and degraded."""
    m = masks(ts, n_words)
    hits = {k: p == ts.labels for k, p in preds.items()}
    spk = np.array(ts.speakers)
    rows = []
    for eng in ("flite", "espeak"):
        for s in sorted(set(spk[m["word"] & m[eng]])):
            base = m["word"] & (spk == s)
            rows.append({"engine": "espeak-ng" if eng == "espeak" else eng, "speaker": s,
                         "held_out": bool(ts.held_out[base].all()),
                         "dry": _row("dry", base & m["dry"], hits),
                         "degraded": _row("degraded", base & m["degraded"], hits),
                         "all": _row("all", base, hits)})
    return rows


def per_condition(ts: TestSet, preds: dict, n_words: int) -> list:
    """20-word accuracy of the held-out voices per condition of the degraded copies."""
    m = masks(ts, n_words)
    hits = {k: p == ts.labels for k, p in preds.items()}
    base = m["word"] & m["held_out"]
    c = ts.conditions
    room = np.array([x.room is not None for x in c])
    chan = np.array([x.channel for x in c])
    noise = np.array([x.noise or "" for x in c])
    snr = np.array([x.snr_db if x.snr_db is not None else np.inf for x in c])
    rows = [_row("dry", base & m["dry"], hits),
            _row("room, no noise", base & m["degraded"] & (noise == ""), hits)]
    rows += [_row(f"{s:g} dB SNR", base & (snr == s), hits) for s in TEST_SNRS]
    rows += [_row(f"{k} noise", base & (noise == k), hits) for k in ("white", "pink", "babble")]
    rows += [_row("in a room (any noise)", base & room, hits),
             _row("through a channel", base & chan, hits)]
    return rows


def silence_rows(ts: TestSet, preds: dict, n_words: int) -> list:
    """``_silence_`` recall per noise and level."""
    m = masks(ts, n_words)
    hits = {k: p == ts.labels for k, p in preds.items()}
    c = ts.conditions
    noise = np.array([x.noise or "" for x in c])
    level = np.array([x.level_db if x.level_db is not None else np.nan for x in c])
    rows = [_row(f"{k} noise", m["silence"] & (noise == k), hits)
            for k in ("white", "pink", "babble")]
    rows += [_row(f"{v:g} dBFS", m["silence"] & (level == v), hits)
             for v in sorted(set(level[m["silence"]]))]
    return rows


def confusion(pred, labels, n: int) -> np.ndarray:
    """(n, n) counts: row = spoken class, column = recognized class."""
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(pred)), 1)
    return cm


# --------------------------------------------------------------------------- markdown
def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


def summary_markdown(rows, models=MODELS) -> str:
    head = "| test clips | clips | " + " | ".join(MODEL_TITLES[k] for k in models) + " |"
    out = [head, "|---|---|" + "---|" * len(models)]
    for r in rows:
        out.append(f"| {r['set']} | {r['n']:,} | " + " | ".join(_pct(r[k]) for k in models)
                   + " |")
    return "\n".join(out)


def per_voice_markdown(rows, model: str = "fixed") -> str:
    out = [f"| engine | speaker | held out | dry | degraded | clips ({MODEL_TITLES[model]}) |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['engine']} | {r['speaker']} | {'yes' if r['held_out'] else 'no'} | "
                   f"{_pct(r['dry'][model])} | {_pct(r['degraded'][model])} | "
                   f"{r['all']['n']:,} |")
    return "\n".join(out)


def rows_markdown(rows, first: str, models=("dense", "fixed")) -> str:
    out = [f"| {first} | clips | " + " | ".join(MODEL_TITLES[k] for k in models) + " |",
           "|---|---|" + "---|" * len(models)]
    for r in rows:
        out.append(f"| {r['set']} | {r['n']:,} | " + " | ".join(_pct(r[k]) for k in models)
                   + " |")
    return "\n".join(out)


def confusion_markdown(cm: np.ndarray, classes) -> str:
    """Counts, spoken (rows) x recognized (columns); zeros left blank."""
    short = [c.strip("_")[:4] if not c[0].isalpha() else c for c in classes]
    out = ["| spoken \\ heard | " + " | ".join(short) + " |",
           "|---|" + "---:|" * len(classes)]
    for i, c in enumerate(classes):
        out.append(f"| {c} | " + " | ".join(str(v) if v else "" for v in cm[i]) + " |")
    return "\n".join(out)


def report_markdown(results: dict) -> str:
    """``build/speech/report.md``: every table of a ``make speech`` run."""
    ev = results["evaluation"]
    parts = ["# make speech: accuracy on voices the model never heard", "",
             summary_markdown(ev["summary"]), "",
             "## Per voice (20 words; fixed point)", "", per_voice_markdown(ev["per_voice"]),
             "", "## Per condition (20 words, held-out voices)", "",
             rows_markdown(ev["per_condition"], "condition"), "",
             "## _silence_ clips", "", rows_markdown(ev["silence"], "noise"), "",
             "## Confusion matrix (fixed point, every test clip)", "",
             confusion_markdown(np.array(results["confusion"]), results["classes"]), ""]
    ref = results.get("reference")
    if ref:
        parts += [f"## The committed model on the same clips ({ref['engine']} engine, "
                  f"{len(ref['classes'])} classes)", "",
                  summary_markdown(ref["summary"], models=("fixed",)), ""]
        if results.get("replacement"):
            parts += [results["replacement"]["verdict"], ""]
    wo = results.get("words_only")
    if wo:
        parts += ["The 20-word accuracy of this run's model (fixed point) on the held-out "
                  "voices when its answer is restricted to the words: "
                  + ", ".join(f"{k} {_pct(v)}" for k, v in wo.items()), ""]
    return "\n".join(parts)
