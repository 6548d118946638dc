"""The compression pipeline and the bundle folder it writes.

``compress(float_model, cfg)`` = check_fits -> prune (load-balance-aware by
default) -> quantize -> encode + memory image -> cycle estimate.  A bundle
folder holds

=================  =========================================================
``manifest.json``  configuration, number formats, per-layer shifts, per-matrix
                   statistics, image regions (``docs/memory-image.md``)
``image.bin``      the memory image the accelerator loads (``model/image.py``)
``pruned.npz``     the pruned float model, PyTorch order (``--engine float``)
=================  =========================================================

:func:`load_bundle` checks that the three belong together; the integer model
is rebuilt from ``image.bin`` + ``manifest.json`` alone (:func:`read_image`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ese.config import Config, ConfigError
from . import cycles
from .image import ImageError, build_image, parse_header, read_image
from .modelfile import FloatModel, ModelError, check_fits, load_model, save_model, validate_model
from .prune import prune_model
from .qmodel import QModel
from .quantize import quantize_model

MANIFEST = "manifest.json"
IMAGE = "image.bin"
PRUNED = "pruned.npz"
DEFAULT_DENSITY = 0.112


class BundleError(ImageError):
    """A missing, corrupt or inconsistent bundle folder (one-line message)."""


@dataclass
class Bundle:
    """A compressed model: manifest + image (+ the pruned float model)."""

    cfg: Config
    manifest: dict
    image: bytes
    path: Optional[Path] = None
    _qmodel: Optional[QModel] = field(default=None, repr=False)
    _pruned: Optional[FloatModel] = field(default=None, repr=False)

    @property
    def qmodel(self) -> QModel:
        """The integer model, decoded from the image (cached)."""
        if self._qmodel is None:
            self._qmodel = read_image(self.image, self.manifest)
        return self._qmodel

    @property
    def pruned(self) -> FloatModel:
        """The pruned float model (PyTorch order), loaded from ``pruned.npz`` if needed."""
        if self._pruned is None:
            if self.path is None:
                raise BundleError("bundle has no pruned float model")
            p = self.path / PRUNED
            if not p.exists():
                raise BundleError(f"bundle {self.path}: {PRUNED} is missing")
            self._pruned = load_model(p)
            if (self._pruned.n_in, self._pruned.n_out) != (self.n_in, self.n_out):
                raise BundleError(f"bundle {self.path}: {PRUNED} does not match the manifest "
                                  f"(inputs/outputs differ)")
        return self._pruned

    @property
    def n_in(self) -> int:
        return int(self.manifest["model"]["n_in"])

    @property
    def n_out(self) -> int:
        return int(self.manifest["model"]["n_out"])

    @property
    def estimate(self) -> dict:
        return cycles.estimate(self.qmodel)


def _progress(progress, msg):
    if progress is not None:
        progress(msg)


def compress(float_model: FloatModel, cfg: Config, density: float = DEFAULT_DENSITY,
             balance: bool = True, progress: Optional[Callable[[str], None]] = None,
             densities: Optional[dict] = None) -> Bundle:
    """Prune, quantize and encode ``float_model`` for ``cfg``.

    ``progress(message)`` is called at the start of every stage.  Raises
    :class:`ModelError` (bad model, does not fit the size limits, density out
    of (0, 1]) or :class:`ImageError` (a PE's memories overflow).
    """
    try:
        density = float(density)
    except (TypeError, ValueError):
        raise ModelError(f"density must be a number in (0, 1], got {density!r}") from None
    if not (0.0 < density <= 1.0):
        raise ModelError(f"density must be in (0, 1], got {density:g}")
    _progress(progress, "checking model")
    validate_model(float_model)
    check_fits(float_model, cfg)
    _progress(progress, f"pruning to density {density:g} ({'balanced' if balance else 'global'})")
    pruned = prune_model(float_model, cfg, density=density, balance=balance, densities=densities)
    _progress(progress, "quantizing")
    qm = quantize_model(pruned, cfg)
    _progress(progress, "encoding and laying out the memory image")
    image, manifest = build_image(qm, cfg)
    manifest["compression"] = {"density": density, "balance": bool(balance),
                               "densities": dict(densities) if densities else None}
    manifest["estimate"] = cycles.estimate(qm)
    return Bundle(cfg=cfg, manifest=manifest, image=image, _qmodel=qm, _pruned=pruned)


def save_bundle(bundle: Bundle, path) -> Path:
    """Write ``manifest.json``, ``image.bin`` and ``pruned.npz`` into folder ``path``.

    The folder is created (with parents); OSError if it cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BundleError(f"bundle output {path} exists and is not a folder")
    path.mkdir(parents=True, exist_ok=True)
    (path / IMAGE).write_bytes(bundle.image)
    if bundle._pruned is not None:
        save_model(bundle._pruned, path / PRUNED)
    (path / MANIFEST).write_text(json.dumps(bundle.manifest, indent=1) + "\n")
    bundle.path = path
    return path


def is_bundle(path) -> bool:
    """True if ``path`` is a folder (a bundle candidate, checked by :func:`load_bundle`)."""
    return Path(path).is_dir()


def load_bundle(path, decode: bool = False) -> Bundle:
    """Read a bundle folder; raises :class:`BundleError` with one line on any problem.

    The image header is checked against the manifest (size, checksum,
    configuration); ``decode=True`` also decodes the integer model now.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"bundle folder {path} not found")
    mp = path / MANIFEST
    if not mp.exists():
        raise BundleError(f"{path} is not a bundle: {MANIFEST} is missing")
    try:
        manifest = json.loads(mp.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{mp}: corrupt manifest ({type(e).__name__}: {e})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mp}: corrupt manifest (not a JSON object)")
    for key in ("format_version", "config", "model", "layers", "matrices", "image", "regions"):
        if key not in manifest:
            raise BundleError(f"{mp}: corrupt manifest (key {key!r} missing)")
    try:
        cfg = Config.from_dict(manifest["config"])
    except (ConfigError, TypeError) as e:
        raise BundleError(f"{mp}: invalid configuration: {e}") from None
    ip = path / IMAGE
    if not ip.exists():
        raise BundleError(f"{path}: {IMAGE} is missing")
    image = ip.read_bytes()
    want = manifest["image"].get("bytes") if isinstance(manifest["image"], dict) else None
    if want != len(image):
        raise BundleError(f"{ip} is {len(image)} bytes but the manifest says {want}")
    try:
        h = parse_header(image)
    except ImageError as e:
        raise BundleError(f"{ip}: {e}") from None
    if manifest["image"].get("crc32") != h["crc32"]:
        raise BundleError(f"{ip} does not belong to {mp} (checksums differ)")
    b = Bundle(cfg=cfg, manifest=manifest, image=image, path=path)
    if decode:
        try:
            b.qmodel
        except ImageError as e:
            raise BundleError(f"{path}: {e}") from None
    return b
