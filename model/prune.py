"""Load-balance-aware pruning (docs/compression.md) and the global-magnitude baseline.

Rows of a matrix are dealt to PEs round-robin (row ``r`` -> PE ``r mod n_pe``).
Balanced pruning keeps the largest magnitudes *inside each PE's share* so that
every PE keeps the same number of weights (to within one); the baseline keeps
the largest magnitudes of the whole matrix, which lets a PE whose rows happen
to be large keep far more work than the others.

The gate matrices (W_x, W_r: 4H rows) are pruned in the hardware's *stored*
order (cell-interleaved, :func:`ese.model.qmodel.gate_perm`): PE ``p`` owns
stored rows ``s = p mod n_pe``.  W_p is not permuted.  :func:`prune_model`
hands the result back in PyTorch order, zeros where pruned.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .modelfile import FloatLayer, FloatModel, ModelError
from .qmodel import gate_perm, gate_unperm

DEFAULT_DENSITY = 0.112
GATE_MATRICES = ("Wx", "Wr")


def n_keep(size: int, density: float) -> int:
    """Weights kept of a ``size``-element matrix at ``density`` (rounded to nearest)."""
    if not (0.0 <= density <= 1.0):
        raise ModelError(f"density must be in [0, 1], got {density}")
    return int(min(size, max(0, round(density * size))))


def pe_quotas(rows: int, cols: int, n_pe: int, keep: int) -> np.ndarray:
    """Weights each PE keeps: ``keep`` split evenly (lower PEs take the remainder).

    A PE cannot keep more than its share holds (only possible near density 1
    when ``n_pe`` does not divide ``rows``); the excess goes to the others.
    """
    cap = np.array([len(range(p, rows, n_pe)) * cols for p in range(n_pe)], dtype=np.int64)
    q = np.zeros(n_pe, dtype=np.int64)
    left = keep
    while left > 0:
        open_ = np.flatnonzero(q < cap)
        open_ = open_[np.argsort(q[open_], kind="stable")]   # remainder to the least loaded
        base, extra = divmod(left, open_.size)
        add = np.full(open_.size, base, dtype=np.int64)
        add[:extra] += 1
        add = np.minimum(add, cap[open_] - q[open_])
        q[open_] += add
        left -= int(add.sum())
    return q


def balanced_mask(w: np.ndarray, n_pe: int, density: float) -> np.ndarray:
    """Boolean keep-mask: every PE share keeps its quota of largest magnitudes."""
    w = np.asarray(w)
    rows, cols = w.shape
    q = pe_quotas(rows, cols, n_pe, n_keep(w.size, density))
    lrows = -(-rows // n_pe)
    # (n_pe, lrows*cols): PE p's share on row p, padded with -1 (never chosen:
    # the quota never exceeds the real share)
    mag = np.full((lrows * n_pe, cols), -1.0)
    mag[:rows] = np.abs(w)
    mag = mag.reshape(lrows, n_pe, cols).transpose(1, 0, 2).reshape(n_pe, lrows * cols)
    n = mag.shape[1]
    keep = np.zeros_like(mag, dtype=bool)
    kth = sorted({n - int(v) for v in q if 0 < v < n})
    idx = np.argpartition(mag, kth, axis=1) if kth else None
    for v in np.unique(q):
        sel = np.flatnonzero(q == v)
        if v == 0:
            continue
        if v >= n:
            keep[sel] = True
            continue
        # positions n-v.. hold the v largest of each row (kth n-v is in place)
        keep[sel[:, None], idx[sel, n - v:]] = True
    keep = keep.reshape(n_pe, lrows, cols).transpose(1, 0, 2).reshape(lrows * n_pe, cols)
    return keep[:rows]


def global_mask(w: np.ndarray, density: float) -> np.ndarray:
    """Boolean keep-mask of the largest magnitudes of the whole matrix (baseline)."""
    w = np.asarray(w)
    k = n_keep(w.size, density)
    flat = np.zeros(w.size, dtype=bool)
    if k > 0:
        flat[np.argpartition(np.abs(w).ravel(), w.size - k)[w.size - k:]] = True
    return flat.reshape(w.shape)


def prune_matrix(w: np.ndarray, n_pe: int, density: float, balance: bool = True) -> np.ndarray:
    """A pruned copy of ``w`` (rows already in the order the PEs see them)."""
    w = np.asarray(w, dtype=np.float64)
    mask = balanced_mask(w, n_pe, density) if balance else global_mask(w, density)
    return np.where(mask, w, 0.0)


def nnz_per_pe(w: np.ndarray, n_pe: int) -> np.ndarray:
    """Non-zeros of each PE's share (rows round-robin), int64 array of n_pe."""
    w = np.asarray(w)
    per_row = np.count_nonzero(w, axis=1)
    return np.bincount(np.arange(w.shape[0]) % n_pe, weights=per_row,
                       minlength=n_pe).astype(np.int64)


def stored(layer: FloatLayer, name: str) -> np.ndarray:
    """Matrix ``name`` of ``layer`` in the hardware's stored row order."""
    w = layer.matrices()[name]
    return w[gate_perm(layer.n_cells)] if name in GATE_MATRICES else w


def model_nnz_per_pe(model: FloatModel, n_pe: int) -> dict:
    """``{'l0_Wx': [nnz of PE 0, ...], ...}`` for every matrix, in stored order."""
    return {f"l{k}_{name}": nnz_per_pe(stored(l, name), n_pe).tolist()
            for k, l in enumerate(model.layers) for name in l.matrices()}


def _density_for(k: int, name: str, density: float, densities: Optional[dict]) -> float:
    if densities:
        for key in (f"l{k}_{name}", name):
            if key in densities:
                return float(densities[key])
    return float(density)


def prune_model(model: FloatModel, cfg, density: float = DEFAULT_DENSITY, balance: bool = True,
                densities: Optional[dict] = None) -> FloatModel:
    """Prune every weight matrix of ``model``; returns a new model in PyTorch order.

    ``density`` applies to every matrix (so it is also the overall density);
    ``densities`` overrides it per matrix, keyed ``'l0_Wx'`` or ``'Wx'`` (all
    layers).  ``balance=False`` is the global-magnitude baseline.  Biases and
    peepholes are never pruned.
    """
    if densities:
        bad = [key for key in densities
               if key.split("_")[-1] not in ("Wx", "Wr", "Wp") or not
               (key in ("Wx", "Wr", "Wp") or key.startswith("l"))]
        if bad:
            raise ModelError(f"unknown matrix name(s) in densities: {', '.join(bad)} "
                             f"(use 'Wx', 'Wr', 'Wp' or 'l<k>_Wx', ...)")
    out = []
    for k, l in enumerate(model.layers):
        new = {}
        for name, w in l.matrices().items():
            d = _density_for(k, name, density, densities)
            if name in GATE_MATRICES:
                h = l.n_cells
                new[name] = prune_matrix(w[gate_perm(h)], cfg.n_pe, d, balance)[gate_unperm(h)]
            else:
                new[name] = prune_matrix(w, cfg.n_pe, d, balance)
        out.append(FloatLayer(wx=new["Wx"], wr=new["Wr"], b=l.b.copy(),
                              peep=None if l.peep is None else l.peep.copy(),
                              wp=new.get("Wp")))
    return FloatModel(out)
