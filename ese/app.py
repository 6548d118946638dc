"""The application API: one object per model, used by the CLI, `make sim`, `make bench`.

A :class:`Model` holds either a float model (a ``.npz`` model file, or one
built in Python) or a compressed bundle (``docs/memory-image.md``), and runs
it on any engine that model can serve::

    from ese.app import Model
    m = Model.compress(float_model, cfg, density=0.112)  # prune -> quantize -> encode
    m.save("build/bundle")                               # later: Model.load("build/bundle")
    r = m.infer(x, engine="fixed")     # r.y float32, r.y_q int64, r.stats
    v = m.verify(x, sim="verilator")   # integer engine vs RTL bit for bit, SQNR vs float
    m.estimate(frames=8, batch=2)      # the cycle model (model/cycles.py)

Engines
-------
=========  ==================================================================
``float``  the float LSTMP (``model/lstm_float.py``): of a float model as
           given, of a bundle its pruned float model
``fixed``  the golden integer engine (``model/lstm_fixed.py``) on the integer
           model decoded from the bundle's image
``rtl``    the generated Verilog in a simulator, driven like the hardware
           (:func:`rtl_engine`, the one place that imports the RTL runner)
``board``  the accelerator on a board or the simulated SoC, through the same
           host driver (:func:`board_engine`; ``board_url``, docs/boards.md)
=========  ==================================================================

Shapes: frames (T, I) give outputs (T, P); a batch (B, T, I) gives (B, T, P).
Outputs are float32; the integer engines also return the integer outputs in
the activation format.

Errors: a bad request or bad input raises one of :data:`BAD_INPUT` with a
one-line message (the CLI prints it and exits with status 2); an engine whose
extra or system tool is missing raises :class:`ese.deps.MissingDependency`
(also status 2); anything else (an RTL run that fails, a bug) is an internal
failure.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ese.board.boards import BoardError
from ese.config import Config, ConfigError, load_config
from ese.model import cycles, lstm_fixed, lstm_float
from ese.model.bundle import (DEFAULT_DENSITY, Bundle, compress, is_bundle, load_bundle,
                              save_bundle)
from ese.model.fixed import dequantize
from ese.model.image import ImageError
from ese.model.modelfile import FloatModel, ModelError, check_input, load_model

ENGINES = ("float", "fixed", "rtl", "board")
SIMS = ("verilator", "icarus")

Progress = Optional[Callable[[str], None]]


class AppError(ValueError):
    """A request the model cannot serve (unknown engine, an engine a float model lacks)."""


#: Exceptions that mean bad input (one-line message), not an internal failure.
#: ``BundleError`` is an ``ImageError``.
BAD_INPUT = (AppError, ConfigError, ModelError, ImageError, BoardError)


def rtl_engine(bundle_dir, x_q, *, sim: str, waves: bool = False, progress: Progress = None):
    """Run integer frames ``x_q`` (B, T, I) of the bundle in folder ``bundle_dir`` on the RTL.

    Returns ``(y_q (B, T, P) int64, stats)``, the stats measured by the
    accelerator's counters.  The only place that imports the RTL runner
    (MyHDL and cocotb are loaded for this engine only).  Without the
    simulation extra or the simulator it raises
    :class:`ese.deps.MissingDependency` (one line with the install command).
    """
    from ese import deps
    deps.require_simulator(sim)
    from ese.rtlsim import engine

    y_q, stats = engine.run(str(bundle_dir), x_q, sim=sim, waves=waves, progress=progress)
    return np.asarray(y_q), stats


# --- board engine (issue 19) -------------------------------------------------------
def board_engine(bundle: Bundle, x_q, *, url: Optional[str] = None, progress: Progress = None):
    """Run integer frames ``x_q`` (B, T, I) of ``bundle`` on the board at ``url``
    (``tcp://HOST:PORT`` of a litex_server, or ``zynq``; default ``tcp://localhost:1234``).

    Returns ``(y_q (B, T, P) int64, stats)`` measured by the board's counters.
    """
    from ese.board import engine

    y_q, stats = engine.run(bundle, x_q, url=url or engine.DEFAULT_URL, progress=progress)
    return np.asarray(y_q), stats
# --- end of the board engine ---------------------------------------------------------


def sqnr_db(ref, got) -> float:
    """Signal-to-quantization-noise ratio of ``got`` against ``ref`` in dB (inf if equal)."""
    ref = np.asarray(ref, dtype=np.float64)
    err = np.asarray(got, dtype=np.float64) - ref
    pe = float(np.mean(err ** 2))
    ps = float(np.mean(ref ** 2))
    return float("inf") if pe == 0 else 10.0 * np.log10(ps / pe)


def count_mismatches(want, got) -> int:
    """How many values of ``got`` differ from ``want``; -1 if the shapes differ."""
    want, got = np.asarray(want), np.asarray(got)
    if want.shape != got.shape:
        return -1
    return int(np.count_nonzero(want != got))


def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


class InferResult:
    """The outcome of one engine run.

    ``engine``   the engine that ran;
    ``y``        float32 outputs, (T, P) for a (T, I) input, (B, T, P) for (B, T, I);
    ``y_q``      the integer outputs in the activation format (int64, same shape),
                 None for the float engine;
    ``stats``    the run's figures (the ``ese infer --stats`` JSON): measured by
                 the accelerator's counters for ``rtl``, else the cycle model
                 (computed on first access: a float model's costs an encoding);
    ``seconds``  wall time of the engine run.
    """

    def __init__(self, engine: str, y: np.ndarray, y_q: Optional[np.ndarray],
                 stats: Callable[[], dict], seconds: float):
        self.engine, self.y, self.y_q, self.seconds = engine, y, y_q, seconds
        self._stats_fn, self._stats = stats, None

    @property
    def stats(self) -> dict:
        if self._stats is None:
            self._stats = self._stats_fn()
        return self._stats

    @property
    def waveforms(self) -> list:
        """Waveform files the RTL run wrote (``waves=True``), else empty."""
        return list(self.stats.get("waveforms", [])) if self.engine == "rtl" else []

    def __repr__(self) -> str:
        return f"InferResult(engine={self.engine!r}, shape={tuple(self.y.shape)})"


@dataclass
class Verification:
    """The RTL against the integer engine (bit for bit) and the float model (SQNR).

    ``exact`` is the verdict; ``mismatches`` counts differing values (-1 if
    the shapes differ); ``sqnr_db`` compares the RTL's outputs with the float
    engine's (of the pruned model); ``stats`` are the RTL run's measured figures.
    """

    fixed: InferResult
    rtl: InferResult
    y_float: np.ndarray
    mismatches: int
    sqnr_db: float

    @property
    def exact(self) -> bool:
        return self.mismatches == 0

    @property
    def stats(self) -> dict:
        return self.rtl.stats


class Model:
    """One model and the engines that run it (see the module docstring).

    Build one with :meth:`compress`, :meth:`load`, :meth:`from_float` or
    :meth:`open`.  ``cfg`` is the accelerator configuration: a bundle's own,
    or for a float model the one its cycle-model statistics assume.
    """

    def __init__(self, cfg: Config, *, bundle: Optional[Bundle] = None,
                 float_model: Optional[FloatModel] = None):
        if (bundle is None) == (float_model is None):
            raise TypeError("Model needs exactly one of bundle= and float_model=")
        self.cfg = cfg
        self.bundle = bundle
        self._float_model = float_model
        self._float_manifest: Optional[dict] = None
        self._scratch: Optional[tempfile.TemporaryDirectory] = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def compress(cls, float_model: FloatModel, cfg: Config, *, density: float = DEFAULT_DENSITY,
                 balance: bool = True, progress: Progress = None,
                 densities: Optional[dict] = None) -> "Model":
        """Prune (load-balance-aware unless ``balance=False``), quantize and encode for ``cfg``.

        Raises :class:`ModelError` (bad model, does not fit ``cfg``, density
        out of (0, 1]) or :class:`ImageError` (a PE's memories overflow).
        """
        b = compress(float_model, cfg, density=density, balance=balance, progress=progress,
                     densities=densities)
        return cls(cfg, bundle=b)

    @classmethod
    def load(cls, path) -> "Model":
        """A bundle folder written by :meth:`save` (or ``ese compress``)."""
        b = load_bundle(path)
        return cls(b.cfg, bundle=b)

    @classmethod
    def from_float(cls, float_model: FloatModel, cfg=None) -> "Model":
        """An uncompressed float model; ``cfg`` (default ``tiny``) only shapes its statistics."""
        return cls(load_config(cfg), float_model=float_model)

    @classmethod
    def open(cls, path, config=None) -> "Model":
        """A bundle folder or a float model file (``config`` applies to the latter only)."""
        if is_bundle(path):
            if config is not None:
                raise AppError("a bundle carries its own configuration; config= applies to "
                               "float model files only")
            return cls.load(path)
        return cls.from_float(load_model(path), config)

    def save(self, path) -> Path:
        """Write the bundle folder (``manifest.json``, ``image.bin``, ``pruned.npz``)."""
        if self.bundle is None:
            raise AppError("a float model has no bundle to save: compress it first")
        return save_bundle(self.bundle, path)

    # ------------------------------------------------------------------ properties
    @property
    def compressed(self) -> bool:
        """True for a bundle, False for an uncompressed float model."""
        return self.bundle is not None

    @property
    def engines(self) -> tuple:
        """The engines this model runs: a float model runs on ``float`` only."""
        return ENGINES if self.compressed else ("float",)

    @property
    def default_engine(self) -> str:
        """``fixed`` for a bundle, ``float`` for a float model."""
        return "fixed" if self.compressed else "float"

    @property
    def float_model(self) -> FloatModel:
        """What the float engine runs: the model as given, or the bundle's pruned model."""
        return self.bundle.pruned if self.compressed else self._float_model

    @property
    def n_in(self) -> int:
        return self.bundle.n_in if self.compressed else self._float_model.n_in

    @property
    def n_out(self) -> int:
        return self.bundle.n_out if self.compressed else self._float_model.n_out

    @property
    def manifest(self) -> dict:
        """The bundle's manifest; for a float model, the fields the cycle model reads."""
        if self.compressed:
            return self.bundle.manifest
        if self._float_manifest is None:
            self._float_manifest = cycles.model_manifest(self._float_model, self.cfg)
        return self._float_manifest

    # ------------------------------------------------------------------ figures
    def estimate(self, frames: Optional[int] = None, batch: Optional[int] = None) -> dict:
        """The cycle model's figures (``model/cycles.py``) for T = ``frames``, B = ``batch``."""
        if self.compressed:
            return cycles.estimate(self.bundle.qmodel, frames=frames, batch=batch)
        return cycles.estimate_float(self._float_model, self.cfg, frames=frames, batch=batch)

    def summary(self) -> dict:
        """The bundle's manifest summarised, with the cycle estimate (``ese report --json``)."""
        if not self.compressed:
            raise AppError("a float model has no bundle to summarise: compress it first")
        man = self.bundle.manifest
        keep = ("name", "layer", "kind", "rows", "cols", "nnz", "density", "weight_frac",
                "shift", "nnz_per_pe", "fillers_per_pe", "entries_per_pe")
        mats = [{k: m[k] for k in keep if k in m}
                | {"fillers": sum(m["fillers_per_pe"]),
                   "min_nnz_per_pe": min(m["nnz_per_pe"]),
                   "max_nnz_per_pe": max(m["nnz_per_pe"])}
                for m in man["matrices"]]
        return {
            "bundle": str(self.bundle.path),
            "format_version": man.get("format_version"),
            "config": man["config"],
            "formats": man.get("formats"),
            "model": man["model"],
            "compression": man.get("compression"),
            "layers": man["layers"],
            "matrices": mats,
            "pes": man.get("pes"),
            "image": man["image"],
            "estimate": self.estimate(),
        }

    # ------------------------------------------------------------------ engines
    def _check_engine(self, engine: Optional[str], sim: str) -> str:
        engine = engine or self.default_engine
        if engine not in ENGINES:
            raise AppError(f"unknown engine {engine!r} (engines: {', '.join(ENGINES)})")
        if engine not in self.engines:
            raise AppError(f"engine {engine!r} needs a compressed model (Model.compress or a "
                           f"bundle folder); a float model runs only with engine 'float'")
        if engine == "rtl" and sim not in SIMS:
            raise AppError(f"unknown simulator {sim!r} (simulators: {', '.join(SIMS)})")
        return engine

    def _check_input(self, x, engine: str, source: str):
        """``(x (B, T, I) float64, single)``; the RTL's frame counter bounds T."""
        return check_input(x, self.n_in, source=source,
                           max_frames=self.cfg.max_frames if engine in ("rtl", "board")
                           else None)

    def _bundle_dir(self) -> Path:
        """The bundle on disk for the RTL runner: its folder, or a scratch copy."""
        if self.bundle.path is not None:
            return self.bundle.path
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="ese-bundle-")
            save_bundle(self.bundle, Path(self._scratch.name))
            self.bundle.path = None            # the scratch copy is ours, not the bundle's home
        return Path(self._scratch.name)

    def _run_float(self, x: np.ndarray, progress: Progress) -> np.ndarray:
        """Float engine: (B, T, I) -> (B, T, P) float64."""
        return lstm_float.run_float(self.float_model, x, progress=progress)

    def _run_fixed(self, x_q: np.ndarray, progress: Progress) -> np.ndarray:
        """Integer engine: (B, T, I) int64 -> (B, T, P) int64, n_ch sequences per pass.

        The passes mirror the accelerator's (one sequence per channel); every
        sequence is computed on its own, so the outputs equal one pass over all.
        """
        qm = self.bundle.qmodel
        bsz = x_q.shape[0]
        step = max(1, self.cfg.n_ch)
        parts = []
        for s in range(0, bsz, step):
            if bsz > step:
                _say(progress, f"sequences {s + 1}..{min(bsz, s + step)} of {bsz}")
            parts.append(lstm_fixed.run_fixed(qm, x_q[s:s + step]))
        return np.concatenate(parts, axis=0)

    def _run_rtl(self, x_q: np.ndarray, sim: str, waves: bool, progress: Progress):
        """RTL engine: (B, T, I) int64 -> ((B, T, P) int64, measured stats)."""
        y_q, stats = rtl_engine(self._bundle_dir(), x_q, sim=sim, waves=waves, progress=progress)
        want = (x_q.shape[0], x_q.shape[1], self.n_out)
        if y_q.shape != want:
            raise RuntimeError(f"RTL run returned shape {y_q.shape}, expected {want}")
        return y_q, stats

    def _stats_fn(self, engine: str, frames: int, batch: int, sim: str, measured):
        """The stats of a run: measured (rtl) or the cycle model's, plus what ran."""
        def stats():
            if measured is None:
                s = self.estimate(frames=frames, batch=batch)
                s["source"] = "cycle model (model/cycles.py)"
            else:
                s = dict(measured)
                s.setdefault("source", f"rtl simulation ({sim})")  # board: set by the engine
            s.setdefault("frames", frames)
            s["batch"] = batch
            s["engine"] = engine
            return s
        return stats

    def infer(self, x, engine: Optional[str] = None, *, sim: str = "verilator",
              waves: bool = False, progress: Progress = None,
              source: str = "input", board_url: Optional[str] = None) -> InferResult:
        """Run frames ``x`` ((T, I) or (B, T, I), float) on ``engine``.

        ``engine`` defaults to :attr:`default_engine`; ``sim`` and ``waves``
        apply to ``rtl``, ``board_url`` to ``board``; ``progress(message)``
        receives progress lines; ``source`` names the input in error messages.  Bad requests and bad
        input raise one of :data:`BAD_INPUT`.
        """
        engine = self._check_engine(engine, sim)
        x, single = self._check_input(x, engine, source)
        bsz, t_len = x.shape[0], x.shape[1]
        _say(progress, f"{engine} engine: {bsz} sequence(s) x {t_len} frames")
        frac = self.cfg.act_frac
        measured = None
        t0 = time.monotonic()
        if engine == "float":
            y_q = None
            y = self._run_float(x, progress).astype(np.float32)
        elif engine == "fixed":
            y_q = self._run_fixed(lstm_fixed.quantize_input(x, self.cfg), progress)
            y = dequantize(y_q, frac).astype(np.float32)
        elif engine == "board":
            y_q, measured = board_engine(self.bundle, lstm_fixed.quantize_input(x, self.cfg),
                                         url=board_url, progress=progress)
            y = dequantize(y_q, frac).astype(np.float32)
        else:
            y_q, measured = self._run_rtl(lstm_fixed.quantize_input(x, self.cfg), sim, waves,
                                          progress)
            y = dequantize(y_q, frac).astype(np.float32)
        seconds = time.monotonic() - t0
        if single:
            y = y[0]
            y_q = None if y_q is None else y_q[0]
        return InferResult(engine, y, y_q, self._stats_fn(engine, t_len, bsz, sim, measured),
                           seconds)

    def verify(self, x, *, sim: str = "verilator", waves: bool = False,
               progress: Progress = None, source: str = "input") -> Verification:
        """Run ``x`` on the integer engine and on the RTL and compare them.

        The flow of ``make sim`` and ``make bench``.  Returns a
        :class:`Verification` (``exact`` False on any differing value); an RTL
        run that fails raises.
        """
        self._check_engine("rtl", sim)
        fixed = self.infer(x, "fixed", source=source)
        rtl = self.infer(x, "rtl", sim=sim, waves=waves, progress=progress, source=source)
        x64, _ = self._check_input(x, "float", source)
        y_float = self._run_float(x64, None)
        if fixed.y_q.ndim == 2:
            y_float = y_float[0]
        return Verification(fixed=fixed, rtl=rtl, y_float=y_float,
                            mismatches=count_mismatches(fixed.y_q, rtl.y_q),
                            sqnr_db=sqnr_db(y_float, dequantize(rtl.y_q, self.cfg.act_frac)))

    def __repr__(self) -> str:
        if self.compressed:
            what = f"bundle {self.bundle.path}" if self.bundle.path else "bundle (not saved)"
        else:
            what = "float model"
        return f"Model({what}, config {self.cfg.name!r}, {self.n_in} -> {self.n_out})"
