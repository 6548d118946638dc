"""The spoken-word recognizer: a speech model folder and the engines that run it.

A *speech model* is a folder of three files, all of them source (nothing in it
is derived):

================  ==========================================================
``speech.json``   the classes (``"words"``: the words, then ``_silence_``
                  and ``_unknown_`` if the model has them), front-end
                  parameters (:class:`FeatureSpec`), the compression that
                  makes the LSTM's hardware form (``"lstm": {"config",
                  "density"}``), how it was trained and its accuracy
``head.npz``      ``norm_mean``, ``norm_std`` (n_mels,): feature normalization;
                  ``cls_w`` (classes, P), ``cls_b`` (classes,): the classifier
``pruned.npz``    the LSTM: the trained, pruned float weights (a model file,
                  ``ese.model.modelfile``)
================  ==========================================================

The memory image, quantized weights and manifest are *not* stored: they are
derived when the model is first run on the fixed-point engine or the RTL,
by ``ese compress`` of ``pruned.npz`` at the recorded configuration and
density (:meth:`SpeechModel.app`, an :class:`ese.app.Model`; 0.05 s for the
default model).  The image format and encoder may change; the weights do not.
Deriving also checks that compression keeps exactly the weights training
kept (the training masks are the hardware's load-balanced masks), so a
change of the pruning or of the configuration's PE count that would alter
the trained model is an error, not a silent accuracy loss.  ``"config":
null`` makes a float-only model.

Recognition of a one-second clip: log-mel features (``features.py``) ->
LSTM (float engine, integer engine or RTL) -> maximum of every output over
time -> linear classifier -> the best-scoring class (a word, ``_silence_``
or ``_unknown_``).  The LSTM is the only part the accelerator runs; the
front end, the maximum and the classifier are host work.

The project's default model (``speech/default/``, trained by ``make
speech``) is used when no folder is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ese.config import PRESETS, Config, ConfigError, load_config
from ese.model.modelfile import FloatModel, ModelError, load_model

from .features import FeatureSpec, Normalizer, fit_clip, utterance_features

DEFAULT_MODEL = Path(__file__).resolve().parent / "default"
SPEECH_JSON = "speech.json"
HEAD = "head.npz"
LSTM = "pruned.npz"
MODEL_FILES = (SPEECH_JSON, HEAD, LSTM)
FORMAT = "ese-speech-model"
VERSION = 2
ENGINES = ("float", "fixed", "rtl", "board")


def same_weights(a: FloatModel, b: FloatModel) -> bool:
    """True if every weight matrix of ``a`` and ``b`` is identical (values and zeros)."""
    return len(a.layers) == len(b.layers) and all(
        np.array_equal(x, y) for la, lb in zip(a.layers, b.layers)
        for x, y in zip(la.matrices().values(), lb.matrices().values()))


def config_spec(cfg: Optional[Config]):
    """How ``speech.json`` records a configuration: a preset's name, else its fields."""
    if cfg is None:
        return None
    if PRESETS.get(cfg.name) == cfg:
        return cfg.name
    return cfg.to_dict()


@dataclass
class SpeechModel:
    path: Optional[Path]
    words: tuple
    features: FeatureSpec
    norm: Normalizer
    cls_w: np.ndarray
    cls_b: np.ndarray
    float_model: FloatModel                 #: the trained, pruned LSTM (``pruned.npz``)
    config: object = None                   #: preset name or Config fields; None = float only
    density: Optional[float] = None         #: the density training pruned to
    info: dict = field(default_factory=dict)
    _app: object = field(default=None, repr=False)

    @property
    def compressed(self) -> bool:
        """True when the model has a hardware form (fixed-point and RTL engines)."""
        return self.config is not None

    @property
    def app(self):
        """The LSTM as an :class:`ese.app.Model`: compressed for the recorded
        configuration (derived on first use, see the module docstring), or the
        float model alone."""
        if self._app is None:
            from ese.app import Model
            if not self.compressed:
                self._app = Model.from_float(self.float_model)
            else:
                try:
                    cfg = (load_config(self.config) if isinstance(self.config, str)
                           else Config.from_dict(self.config))
                except (ConfigError, TypeError) as e:
                    raise ModelError(f"speech model {self.path}: configuration: {e}") from None
                m = Model.compress(self.float_model, cfg, density=self.density, balance=True)
                if not same_weights(self.float_model, m.bundle.pruned):
                    raise ModelError(
                        f"speech model {self.path}: ese compress --config {cfg.name} "
                        f"--density {self.density:g} does not keep exactly the weights "
                        f"training kept (the training masks are not this configuration's "
                        f"load-balanced masks: n_pe {cfg.n_pe} or the pruning changed)")
                self._app = m
        return self._app

    @property
    def bundle(self):
        """The derived ``ese compress`` bundle (None for a float-only model)."""
        return self.app.bundle if self.compressed else None

    @property
    def n_out(self) -> int:
        return int(self.cls_w.shape[1])

    def default_engine(self) -> str:
        return "fixed" if self.compressed else "float"


def save_speech_model(path, words, spec: FeatureSpec, norm: Normalizer, cls_w, cls_b,
                      float_model: FloatModel, config: Optional[Config] = None,
                      density: Optional[float] = None, info: Optional[dict] = None) -> Path:
    """Write ``speech.json``, ``head.npz`` and ``pruned.npz`` into folder ``path``.

    ``config`` (with the ``density`` training pruned to) gives the model its
    hardware form; without it the model runs on the float engine only.  The
    weights are stored compressed, in float32 where that is lossless (torch's
    weights are float32), so that the committed default model stays small.
    """
    if config is not None and density is None:
        raise ValueError("a configuration needs the density training pruned to")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "version": VERSION, "words": list(words),
           "features": spec.to_dict(),
           "lstm": {"file": LSTM, "config": config_spec(config),
                    "density": None if config is None else float(density)},
           "info": info or {}}
    (path / SPEECH_JSON).write_text(json.dumps(doc, indent=1) + "\n")
    np.savez(path / HEAD, norm_mean=np.asarray(norm.mean, np.float64),
             norm_std=np.asarray(norm.std, np.float64),
             cls_w=np.asarray(cls_w, np.float64), cls_b=np.asarray(cls_b, np.float64))
    arrays = {}
    for k, a in float_model.to_arrays().items():
        a = np.asarray(a)
        arrays[k] = a.astype(np.float32) if np.array_equal(a.astype(np.float32), a) else a
    np.savez_compressed(path / LSTM, **arrays)
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
        lstm = doc["lstm"]
        config, density = lstm["config"], lstm["density"]
        if config is not None:
            if not isinstance(config, (str, dict)):
                raise TypeError(f"lstm.config must be a preset name or an object, "
                                f"got {config!r}")
            density = float(density)
            if not 0.0 < density <= 1.0:
                raise ValueError(f"lstm.density must be in (0, 1], got {density:g}")
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
    if not (path / LSTM).exists():
        raise ModelError(f"{path}: {LSTM} (the LSTM) is missing")
    fm = load_model(path / LSTM)
    if fm.n_in != spec.n_inputs or fm.n_out != arrs["cls_w"].shape[1]:
        raise ModelError(f"{path}: the LSTM ({fm.n_in} -> {fm.n_out}) does not fit the front "
                         f"end ({spec.n_inputs}) and classifier ({arrs['cls_w'].shape[1]})")
    return SpeechModel(path=path, words=words, features=spec,
                       norm=Normalizer(arrs["norm_mean"], arrs["norm_std"]),
                       cls_w=arrs["cls_w"], cls_b=arrs["cls_b"], float_model=fm,
                       config=config, density=density, info=doc.get("info", {}))


# --------------------------------------------------------------------------- engines
def lstm_outputs(model: SpeechModel, x: np.ndarray, engine: str, sim: str = "verilator",
                 progress: Optional[Callable[[str], None]] = None, chunk: int = 256,
                 board_url: Optional[str] = None) -> tuple:
    """Run the LSTM of ``model`` on inputs ``x`` (B, T, I) with ``engine``.

    Returns ``(y float (B, T, P), y_q int64 or None, stats or None)``: the
    integer engines also hand back their raw outputs (so that a caller can
    compare them bit for bit) and the RTL and the board (at ``board_url``) their
    measured statistics.  The float
    engine and the RTL run through :class:`ese.app.Model`; the fixed-point
    engine runs the same integer model (``lstm_fixed.run_fixed``) on batches
    of ``chunk`` clips rather than the accelerator's ``n_ch`` per pass (the
    outputs are the same, the host is ~4x faster).
    """
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    x = np.asarray(x, dtype=np.float64)
    if engine != "float" and not model.compressed:
        raise ModelError(f"--engine {engine} needs a model with a hardware configuration; "
                         f"speech model {model.path} is float only")
    app = model.app
    if engine == "float":
        return app.infer(x, "float").y, None, None
    if engine == "fixed":
        from ese.model.fixed import dequantize
        from ese.model.lstm_fixed import quantize_input, run_fixed
        xq = quantize_input(x, app.cfg)
        yq = np.concatenate([run_fixed(app.bundle.qmodel, xq[s:s + chunk])
                             for s in range(0, xq.shape[0], chunk)])
        return dequantize(yq, app.cfg.act_frac), yq, None
    r = app.infer(x, engine, sim=sim, progress=progress, board_url=board_url)
    return r.y, np.asarray(r.y_q, dtype=np.int64), r.stats


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
