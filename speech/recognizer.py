"""The spoken-word recognizer: a speech model folder and the engines that run it.

A *speech model* is a folder:

================  ==========================================================
``speech.json``   words, front-end parameters (:class:`FeatureSpec`), how it
                  was trained and its measured accuracy
``head.npz``      ``norm_mean``, ``norm_std`` (n_mels,): feature normalization;
                  ``cls_w`` (words, P), ``cls_b`` (words,): the classifier
``manifest.json``, ``image.bin``, ``pruned.npz``
                  the LSTM compressed for the accelerator (an ``ese compress``
                  bundle); optional
``float.npz``     an LSTM float model file; optional (used by ``--engine float``
                  when there is no bundle)
================  ==========================================================

Recognition of a one-second clip: log-mel features (``features.py``) ->
LSTM (float engine, integer engine or RTL) -> maximum of every output over
time -> linear classifier -> the best-scoring word.  The LSTM is the only
part the accelerator runs; the front end, the maximum and the classifier are
host work.

The project's default model (``speech/default/``, trained by ``make
speech``) is used when no folder is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ese.model.bundle import BundleError, load_bundle
from ese.model.modelfile import FloatModel, ModelError, load_model

from .features import FeatureSpec, Normalizer, fit_clip, utterance_features

DEFAULT_MODEL = Path(__file__).resolve().parent / "default"
SPEECH_JSON = "speech.json"
HEAD = "head.npz"
FLOAT = "float.npz"
FORMAT = "ese-speech-model"
VERSION = 1
ENGINES = ("float", "fixed", "rtl")


@dataclass
class SpeechModel:
    path: Optional[Path]
    words: tuple
    features: FeatureSpec
    norm: Normalizer
    cls_w: np.ndarray
    cls_b: np.ndarray
    info: dict = field(default_factory=dict)
    bundle: object = None                   #: ese.model.bundle.Bundle or None
    _float: Optional[FloatModel] = field(default=None, repr=False)

    @property
    def float_model(self) -> FloatModel:
        """The LSTM in float: the bundle's pruned model, else ``float.npz``."""
        if self._float is None:
            if self.bundle is not None:
                self._float = self.bundle.pruned
            elif self.path is not None and (self.path / FLOAT).exists():
                self._float = load_model(self.path / FLOAT)
            else:
                raise ModelError(f"speech model {self.path}: no LSTM ({FLOAT} or a bundle)")
        return self._float

    @property
    def n_out(self) -> int:
        return int(self.cls_w.shape[1])

    def default_engine(self) -> str:
        return "fixed" if self.bundle is not None else "float"


def save_speech_model(path, words, spec: FeatureSpec, norm: Normalizer, cls_w, cls_b,
                      info: Optional[dict] = None, float_model: Optional[FloatModel] = None
                      ) -> Path:
    """Write ``speech.json`` and ``head.npz`` (and ``float.npz``) into folder ``path``;
    a bundle is added next to them with ``ese.model.bundle.save_bundle``."""
    from ese.model.modelfile import save_model
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "version": VERSION, "words": list(words),
           "features": spec.to_dict(), "info": info or {}}
    (path / SPEECH_JSON).write_text(json.dumps(doc, indent=1) + "\n")
    np.savez(path / HEAD, norm_mean=np.asarray(norm.mean, np.float64),
             norm_std=np.asarray(norm.std, np.float64),
             cls_w=np.asarray(cls_w, np.float64), cls_b=np.asarray(cls_b, np.float64))
    if float_model is not None:
        save_model(float_model, path / FLOAT)
    return path


def load_speech_model(path=None) -> SpeechModel:
    """Read a speech model folder (default: the project's); one-line :class:`ModelError`."""
    path = DEFAULT_MODEL if path is None else Path(path)
    if not path.is_dir():
        raise ModelError(f"speech model {path} not found (expected a folder with "
                         f"{SPEECH_JSON})" if not path.exists() else
                         f"speech model {path} is a file, expected a folder with {SPEECH_JSON}")
    sj = path / SPEECH_JSON
    if not sj.exists():
        raise ModelError(f"{path} is not a speech model: {SPEECH_JSON} is missing")
    try:
        doc = json.loads(sj.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
        if doc.get("version") != VERSION:
            raise ValueError(f"version {doc.get('version')!r}, this program reads {VERSION}")
        words = tuple(str(w) for w in doc["words"])
        spec = FeatureSpec.from_dict(doc["features"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError) as e:
        raise ModelError(f"{sj}: not a valid speech model description "
                         f"({type(e).__name__}: {e})") from None
    hp = path / HEAD
    try:
        with np.load(hp, allow_pickle=False) as z:
            arrs = {k: np.asarray(z[k], dtype=np.float64)
                    for k in ("norm_mean", "norm_std", "cls_w", "cls_b")}
    except FileNotFoundError:
        raise ModelError(f"{path}: {HEAD} is missing") from None
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise ModelError(f"{hp}: cannot read ({type(e).__name__}: {e})") from None
    if arrs["norm_mean"].shape != (spec.n_mels,) or arrs["norm_std"].shape != (spec.n_mels,):
        raise ModelError(f"{hp}: normalization is not ({spec.n_mels},)")
    if arrs["cls_w"].ndim != 2 or arrs["cls_w"].shape[0] != len(words) \
            or arrs["cls_b"].shape != (len(words),):
        raise ModelError(f"{hp}: classifier does not match the {len(words)} words")
    bundle = None
    if (path / "manifest.json").exists():
        try:
            bundle = load_bundle(path)
        except BundleError as e:
            raise ModelError(str(e)) from None
        if bundle.n_in != spec.n_inputs or bundle.n_out != arrs["cls_w"].shape[1]:
            raise ModelError(f"{path}: the bundle's LSTM ({bundle.n_in} -> {bundle.n_out}) "
                             f"does not fit the front end ({spec.n_inputs}) and classifier "
                             f"({arrs['cls_w'].shape[1]})")
    elif not (path / FLOAT).exists():
        raise ModelError(f"{path}: no LSTM (neither a bundle nor {FLOAT})")
    return SpeechModel(path=path, words=words, features=spec,
                       norm=Normalizer(arrs["norm_mean"], arrs["norm_std"]),
                       cls_w=arrs["cls_w"], cls_b=arrs["cls_b"], info=doc.get("info", {}),
                       bundle=bundle)


# --------------------------------------------------------------------------- engines
def run_rtl_engine(bundle_dir, x_q, sim: str = "verilator", progress=None):
    """The accelerator's RTL on ``x_q`` (B, T, I) ints: ``(y_q, stats)``.

    The one place the speech code reaches the RTL engine (MyHDL, cocotb and
    a simulator are imported only when it runs).
    """
    from ese.hdl import run_rtl
    return run_rtl.run(bundle_dir, x_q, sim=sim, waves=False, progress=progress)


def lstm_outputs(model: SpeechModel, x: np.ndarray, engine: str, sim: str = "verilator",
                 progress: Optional[Callable[[str], None]] = None, chunk: int = 256) -> tuple:
    """Run the LSTM of ``model`` on inputs ``x`` (B, T, I) with ``engine``.

    Returns ``(y float64 (B, T, P), y_q int64 or None, stats or None)``: the
    integer engines also hand back their raw outputs (so that a caller can
    compare them bit for bit) and the RTL its statistics.
    """
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    x = np.asarray(x, dtype=np.float64)
    if engine == "float":
        from ese.model.lstm_float import run_layer
        fm = model.float_model
        parts = []
        for s in range(0, x.shape[0], chunk):
            y = x[s:s + chunk]
            for layer in fm.layers:
                y = run_layer(layer, y)
            parts.append(y)
        return np.concatenate(parts), None, None
    if model.bundle is None:
        raise ModelError(f"--engine {engine} needs a compressed model (a bundle in "
                         f"{model.path}); this speech model has a float LSTM only")
    from ese.model.fixed import dequantize
    from ese.model.lstm_fixed import quantize_input, run_fixed
    cfg = model.bundle.cfg
    xq = quantize_input(x, cfg)
    stats = None
    if engine == "fixed":
        yq = np.concatenate([run_fixed(model.bundle.qmodel, xq[s:s + chunk])
                             for s in range(0, xq.shape[0], chunk)])
    else:
        if x.shape[1] > cfg.max_frames:
            raise ModelError(f"{x.shape[1]} steps exceed the configuration's max_frames "
                             f"{cfg.max_frames}")
        yq, stats = run_rtl_engine(model.bundle.path, xq, sim=sim, progress=progress)
        yq = np.asarray(yq, dtype=np.int64)
    return dequantize(yq, cfg.act_frac), yq, stats


def classify(model: SpeechModel, y: np.ndarray) -> np.ndarray:
    """Class scores (logits) from LSTM outputs (B, T, P): max over time, then linear."""
    return np.max(y, axis=1) @ model.cls_w.T + model.cls_b


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def clip_inputs(model: SpeechModel, clips) -> np.ndarray:
    """LSTM inputs (B, T, I) of clips already at the model's rate (any length each)."""
    spec = model.features
    batch = np.stack([fit_clip(c, spec) for c in clips])
    return utterance_features(batch, spec, model.norm)
