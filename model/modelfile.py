"""The float model file (`.npz`, docs/lstm.md) and input frames (`.npy`).

Layer ``k`` of a model file holds

=================  ========  ============================================
key                shape     meaning
=================  ========  ============================================
``l{k}_Wx``        (4H, I)   input weights, rows in gate order i, f, g, o
``l{k}_Wr``        (4H, P)   recurrent weights
``l{k}_b``         (4H,)     bias
``l{k}_pi/pf/po``  (H,)      peepholes (all three or none)
``l{k}_Wp``        (P, H)    projection (absent: P = H, y = m)
=================  ========  ============================================

Everything here is in PyTorch's row order; the hardware's stored order is an
internal matter of the quantizer (docs/numerics.md).  Every problem with a
file or a model raises :class:`ModelError` with one line naming it, so that the
command line can print it without a traceback.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np


class ModelError(ValueError):
    """A malformed, inconsistent or unsupported model or input (one-line message)."""


_KEY = re.compile(r"^l(\d+)_(Wx|Wr|b|pi|pf|po|Wp)$")
_PEEP = ("pi", "pf", "po")


@dataclass
class FloatLayer:
    """One LSTM(P) layer in float64, PyTorch row order."""

    wx: np.ndarray                       #: (4H, I)
    wr: np.ndarray                       #: (4H, P)
    b: np.ndarray                        #: (4H,)
    peep: Optional[np.ndarray] = None    #: (3, H): p_i, p_f, p_o; None = no peepholes
    wp: Optional[np.ndarray] = None      #: (P, H); None = no projection

    @property
    def n_in(self) -> int:
        return int(self.wx.shape[1])

    @property
    def n_cells(self) -> int:
        return int(self.wx.shape[0]) // 4

    @property
    def n_out(self) -> int:
        return int(self.wp.shape[0]) if self.wp is not None else self.n_cells

    @property
    def has_peep(self) -> bool:
        return self.peep is not None

    @property
    def has_proj(self) -> bool:
        return self.wp is not None

    def matrices(self) -> dict:
        """The weight matrices of the layer by short name ('Wx', 'Wr' and maybe 'Wp')."""
        d = {"Wx": self.wx, "Wr": self.wr}
        if self.wp is not None:
            d["Wp"] = self.wp
        return d


@dataclass
class FloatModel:
    """A stack of LSTM(P) layers; layer k+1 takes layer k's y as its x."""

    layers: list = field(default_factory=list)

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    def copy(self) -> "FloatModel":
        return FloatModel([FloatLayer(wx=l.wx.copy(), wr=l.wr.copy(), b=l.b.copy(),
                                      peep=None if l.peep is None else l.peep.copy(),
                                      wp=None if l.wp is None else l.wp.copy())
                           for l in self.layers])

    def to_arrays(self) -> dict:
        """The model as the `.npz` key -> array mapping of the file contract."""
        d = {}
        for k, l in enumerate(self.layers):
            d[f"l{k}_Wx"], d[f"l{k}_Wr"], d[f"l{k}_b"] = l.wx, l.wr, l.b
            if l.peep is not None:
                for j, n in enumerate(_PEEP):
                    d[f"l{k}_{n}"] = l.peep[j]
            if l.wp is not None:
                d[f"l{k}_Wp"] = l.wp
        return d


# --------------------------------------------------------------------------- checks
def _as_float(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        raise ModelError(f"{name}: dtype {a.dtype} is not a float type")
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ModelError(f"{name}: {bad} value(s) are NaN or Inf")
    return np.array(a, dtype=np.float64)


def _shape(name: str, a: np.ndarray, want: tuple, what: str = "") -> None:
    if a.shape != want:
        raise ModelError(f"{name}: shape {a.shape}, expected {want}{what}")


def _check_wx(k: int, wx) -> np.ndarray:
    wx = _as_float(f"l{k}_Wx", wx)
    if wx.ndim != 2 or wx.shape[0] == 0 or wx.shape[0] % 4 or wx.shape[1] == 0:
        raise ModelError(f"l{k}_Wx: shape {wx.shape}, expected (4H, I) with H, I >= 1")
    return wx


def validate_model(model: FloatModel) -> FloatModel:
    """Check shapes, consistency between layers and values; raise :class:`ModelError`."""
    if not model.layers:
        raise ModelError("model has no layers")
    prev_out = None
    for k, l in enumerate(model.layers):
        wx = _check_wx(k, l.wx)
        h, i = wx.shape[0] // 4, wx.shape[1]
        wp = None if l.wp is None else _as_float(f"l{k}_Wp", l.wp)
        if wp is not None:
            if wp.ndim != 2 or wp.shape[0] == 0:
                raise ModelError(f"l{k}_Wp: shape {wp.shape}, expected (P, {h}) with P >= 1")
            _shape(f"l{k}_Wp", wp, (wp.shape[0], h), f" (P, H) with H = {h} from l{k}_Wx")
        p = wp.shape[0] if wp is not None else h
        wr = _as_float(f"l{k}_Wr", l.wr)
        _shape(f"l{k}_Wr", wr, (4 * h, p), f" (4H, P) with H = {h}, P = {p}")
        b = _as_float(f"l{k}_b", l.b)
        _shape(f"l{k}_b", b, (4 * h,), f" (4H,) with H = {h}")
        peep = None
        if l.peep is not None:
            peep = _as_float(f"l{k} peepholes", l.peep)
            _shape(f"l{k} peepholes", peep, (3, h), f" (3, H) with H = {h}")
        if prev_out is not None and i != prev_out:
            raise ModelError(f"l{k}_Wx: layer {k} takes {i} inputs but layer {k - 1} "
                             f"produces {prev_out}")
        prev_out = p
        model.layers[k] = FloatLayer(wx=wx, wr=wr, b=b, peep=peep, wp=wp)
    return model


def from_arrays(arrays: dict, source: str = "model") -> FloatModel:
    """Build and validate a model from the file contract's key -> array mapping."""
    layer_keys: dict = {}
    unknown = []
    for key in arrays:
        m = _KEY.match(key)
        if m is None:
            unknown.append(key)
        else:
            layer_keys.setdefault(int(m.group(1)), {})[m.group(2)] = arrays[key]
    if unknown:
        raise ModelError(f"{source}: unexpected key(s) {', '.join(sorted(unknown))} "
                         f"(expected l<k>_Wx, l<k>_Wr, l<k>_b, l<k>_pi/pf/po, l<k>_Wp)")
    if not layer_keys:
        raise ModelError(f"{source}: no layers (missing key l0_Wx)")
    n = max(layer_keys) + 1
    layers = []
    for k in range(n):
        d = layer_keys.get(k, {})
        missing = [f"l{k}_{s}" for s in ("Wx", "Wr", "b") if s not in d]
        if missing:
            raise ModelError(f"{source}: missing key(s) {', '.join(missing)}")
        have = [s for s in _PEEP if s in d]
        if have and len(have) != 3:
            lack = [f"l{k}_{s}" for s in _PEEP if s not in d]
            raise ModelError(f"{source}: peepholes need l{k}_pi, l{k}_pf and l{k}_po "
                             f"together; missing {', '.join(lack)}")
        peep = None
        if have:
            h = _check_wx(k, d["Wx"]).shape[0] // 4
            vecs = []
            for s in _PEEP:
                v = _as_float(f"l{k}_{s}", d[s])
                if v.shape != (h,):
                    raise ModelError(f"l{k}_{s}: shape {v.shape}, expected ({h},)")
                vecs.append(v)
            peep = np.stack(vecs)
        layers.append(FloatLayer(wx=d["Wx"], wr=d["Wr"], b=d["b"], peep=peep, wp=d.get("Wp")))
    return validate_model(FloatModel(layers))


# --------------------------------------------------------------------------- files
def load_model(path) -> FloatModel:
    """Load and validate a float model `.npz`; every problem is a :class:`ModelError`."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file {path} not found")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ModelError(f"{path}: not an .npz archive (a single array?)")
        with z:
            arrays = {k: z[k] for k in z.files}
    except ModelError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as e:
        raise ModelError(f"{path}: cannot read model file ({type(e).__name__}: {e})") from None
    return from_arrays(arrays, source=str(path))


def save_model(model: FloatModel, path) -> None:
    """Write ``model`` as an `.npz` following the file contract (float32 is not forced)."""
    validate_model(model)
    np.savez(path, **model.to_arrays())


def check_fits(model: FloatModel, cfg) -> None:
    """Raise :class:`ModelError` if ``model`` exceeds the configuration's limits."""
    def over(what, val, lim, fld):
        if val > lim:
            raise ModelError(f"{what} is {val} but configuration {cfg.name!r} accepts at most "
                             f"{lim} ({fld})")
    over("number of layers", len(model.layers), cfg.max_layers, "max_layers")
    for k, l in enumerate(model.layers):
        if k == 0:   # deeper layers take the previous y, bounded by max_proj below
            over("input width", l.n_in, cfg.max_input, "max_input")
        over(f"layer {k} cells", l.n_cells, cfg.max_cells, "max_cells")
        over(f"layer {k} output width", l.n_out, cfg.max_proj, "max_proj")


def random_model(n_in: int, cells: int, proj: Optional[int] = None, layers: int = 1,
                 peephole: bool = True, seed: int = 0) -> FloatModel:
    """A random model with PyTorch's init: every weight U(-1/sqrt(H), 1/sqrt(H)).

    Peepholes are drawn 10x smaller (trained peepholes are small).  The bias is
    one vector (PyTorch's two biases summed would be U(-2/sqrt(H), 2/sqrt(H)); we
    keep the single-bias range).
    """
    for name, v in (("input", n_in), ("cells", cells), ("layers", layers)):
        if int(v) < 1:
            raise ModelError(f"random model: {name} must be >= 1, got {v}")
    if proj is not None and int(proj) < 1:
        raise ModelError(f"random model: proj must be >= 1, got {proj}")
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(cells)
    out = []
    i = n_in
    for _ in range(layers):
        p = proj if proj is not None else cells
        u = lambda *shape, s=k: rng.uniform(-s, s, size=shape)
        out.append(FloatLayer(wx=u(4 * cells, i), wr=u(4 * cells, p), b=u(4 * cells),
                              peep=u(3, cells, s=0.1 * k) if peephole else None,
                              wp=u(p, cells) if proj is not None else None))
        i = p
    return FloatModel(out)


def read_input(path) -> np.ndarray:
    """The array of an input file `.npy`, unchecked (:func:`check_input` checks it).

    Raises :class:`ModelError` if the file is missing or not a `.npy` array.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"input file {path} not found")
    try:
        x = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        raise ModelError(f"{path}: cannot read input file ({type(e).__name__}: {e})") from None
    if not isinstance(x, np.ndarray):
        raise ModelError(f"{path}: expected a .npy array, got an .npz archive")
    return x


def load_input(path, n_in: int, max_frames: Optional[int] = None):
    """Load input frames `.npy`: (T, I) or (B, T, I).

    Returns ``(x, single)``: ``x`` float64 of shape (B, T, I), ``single`` True
    when the file held one (T, I) sequence (the output then drops B again).
    """
    return check_input(read_input(path), n_in, source=str(path), max_frames=max_frames)


def check_input(x, n_in: int, source: str = "input", max_frames: Optional[int] = None):
    """Validate an input array; returns ``(x (B,T,I) float64, single)``."""
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ModelError(f"{source}: shape {x.shape}: expected (T, I) or (B, T, I)")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ModelError(f"{source}: dtype {x.dtype} is not numeric")
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.shape[2] != n_in:
        raise ModelError(f"{source}: frames have {x.shape[2]} values but the model takes {n_in}")
    if x.shape[1] == 0:
        raise ModelError(f"{source}: no frames (T = 0)")
    if x.shape[0] == 0:
        raise ModelError(f"{source}: no sequences (B = 0)")
    if max_frames is not None and x.shape[1] > max_frames:
        raise ModelError(f"{source}: {x.shape[1]} frames, the configuration accepts at most "
                         f"{max_frames} (max_frames)")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ModelError(f"{source}: {int(np.size(x) - np.count_nonzero(np.isfinite(x)))} "
                         f"value(s) are NaN or Inf")
    return x, single
