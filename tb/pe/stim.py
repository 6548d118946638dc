"""Stimulus for the PE testbenches (pe_fetch, pe): sparse matrices, memory layout, commands.

Pure numpy (no simulator): random integer matrices with the nasty cases,
encoded with ``model/encode.encode_matrix`` exactly as the compiler does, and
laid out at random offsets in one PE's entry and pointer memories.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ese.config import Config, clog2
from ese.model.encode import encode_matrix

#: matrix kinds; "thin" has one local row per PE (every entry hits the same row back to back)
KINDS = ("random", "empty_cols", "full_cols", "long_gaps", "zero_share", "one_col", "odd_rows",
         "thin")


def weights(rng: np.random.Generator, n: int, wb: int) -> np.ndarray:
    """``n`` non-zero weights of ``wb`` bits, the extremes over-represented."""
    lo, hi = -(1 << (wb - 1)), (1 << (wb - 1)) - 1
    w = rng.integers(lo, hi + 1, size=n)
    ext = rng.random(n) < 0.15
    w[ext] = rng.choice([lo, hi, -1, 1], size=int(ext.sum()))
    w[w == 0] = 1
    return w.astype(np.int64)


def activations(rng: np.random.Generator, n: int, ab: int) -> np.ndarray:
    """``n`` activations of ``ab`` bits, the extremes over-represented."""
    lo, hi = -(1 << (ab - 1)), (1 << (ab - 1)) - 1
    x = rng.integers(lo, hi + 1, size=n)
    ext = rng.random(n) < 0.2
    x[ext] = rng.choice([lo, hi, 0, -1], size=int(ext.sum()))
    return x.astype(np.int64)


def make_matrix(rng: np.random.Generator, kind: str, rows: int, cols: int, cfg: Config,
                p: int, max_dens: float = 0.5) -> np.ndarray:
    """A ``rows x cols`` integer matrix of kind ``kind`` (PE index ``p`` for zero_share)."""
    n_pe, wb = cfg.n_pe, cfg.weight_bits
    dens = float(rng.uniform(0.05, 0.5)) * min(1.0, max_dens / 0.5)
    mask = rng.random((rows, cols)) < dens
    if kind == "empty_cols":
        k = max(1, cols // 3)
        idx = rng.choice(cols, size=k, replace=False)
        mask[:, idx] = False
        mask[:, 0] = False
        mask[:, -1] = False
    elif kind == "full_cols":
        idx = rng.choice(cols, size=max(1, cols // 4), replace=False)
        mask[:, idx] = True
    elif kind == "long_gaps":
        # a PE's local rows far apart: gaps of several max_gap+1 need fillers
        mask[:] = False
        for c in range(cols):
            if rng.random() < 0.8:
                r = rng.choice(rows, size=int(rng.integers(1, 3)), replace=False)
                mask[r, c] = True
        # the last row of every PE share (longest possible gap from row 0)
        mask[rows - 1 - np.arange(min(n_pe, rows)), cols - 1] = True
    elif kind == "zero_share":
        mask[p::n_pe, :] = False
    elif kind == "thin":
        mask = rng.random((rows, cols)) < 0.9
    wq = np.zeros((rows, cols), dtype=np.int64)
    wq[mask] = weights(rng, int(mask.sum()), wb)
    return wq


@dataclass
class Mat:
    """One matrix placed in PE ``p``'s memories."""

    kind: str
    w: np.ndarray           #: full integer matrix (rows x cols)
    p: int                  #: PE index whose share is loaded
    ptr_base: int
    entry_base: int
    words: np.ndarray       #: packed entry words of PE p
    ptrs: np.ndarray        #: absolute column pointers (cols + 1)
    weights: np.ndarray     #: decoded fields of PE p's entries (for stream checks)
    gaps: np.ndarray
    col_ptr: np.ndarray     #: relative pointers (cols + 1)

    @property
    def rows(self) -> int:
        return self.w.shape[0]

    @property
    def cols(self) -> int:
        return self.w.shape[1]

    @property
    def n_entries(self) -> int:
        return int(self.words.size)

    @property
    def empty_cols(self) -> int:
        return int(np.sum(np.diff(self.col_ptr) == 0))

    def local(self, n_pe: int) -> np.ndarray:
        """PE p's share: local rows x cols."""
        return self.w[self.p::n_pe, :]

    def stream(self, vec_base: int, acc_base: int, shift: int) -> list:
        """Expected pe_fetch output: (vaddr, aaddr, weight, shift) per entry, in order."""
        out = []
        for c in range(self.cols):
            pos = 0
            for e in range(int(self.col_ptr[c]), int(self.col_ptr[c + 1])):
                row = pos + int(self.gaps[e])
                out.append((vec_base + c, acc_base + row, int(self.weights[e]), shift))
                pos = row + 1
        return out

    def col_of_entry(self) -> np.ndarray:
        return np.repeat(np.arange(self.cols), np.diff(self.col_ptr))


@dataclass
class Layout:
    cfg: Config
    mats: list = field(default_factory=list)
    loads: list = field(default_factory=list)   #: (sel, addr, data)
    fits: bool = True


def shape_for(rng, kind: str, cfg: Config, region: int, max_entries: int, p: int = 0) -> tuple:
    """Rows and columns of a matrix of ``kind`` that fits region ``region``."""
    rmax = cfg.n_pe * (cfg.gate_rows_per_pe if region < 2 else cfg.proj_rows_per_pe)
    if region < 2:
        rmax = min(rmax, 4 * cfg.max_cells)
    else:
        rmax = min(rmax, cfg.max_proj)
    cmax = cfg.max_cols
    if kind == "one_col":
        return int(rng.integers(1, rmax + 1)), 1
    rows = int(rng.integers(max(1, rmax // 3), rmax + 1))
    if kind == "odd_rows":
        rows = max(1, rows - (rows % cfg.n_pe) - 1) if rows > cfg.n_pe else rows
        if rows % cfg.n_pe == 0 and rows > 1:
            rows -= 1
    if kind == "long_gaps":
        rows = rmax
    if kind == "thin":
        rows = int(rng.integers(min(p + 1, rmax), min(cfg.n_pe, rmax) + 1))  # PE p: 1 row
    cols = int(rng.integers(max(1, cmax // 4), cmax + 1))
    return rows, cols


def place(cfg: Config, rng, specs: list, p: int) -> Layout:
    """Encode ``specs`` = [(kind, wq)] for PE ``p`` and place them at random offsets."""
    lay = Layout(cfg)
    ent, ptr = int(rng.integers(0, 8)), int(rng.integers(0, 4))
    wb, ib = cfg.weight_bits, cfg.index_bits
    for kind, wq in specs:
        enc = encode_matrix(wq, cfg.n_pe, ib)
        s = enc.pes[p]
        words = s.words(wb, ib).astype(np.int64)
        ptrs = s.col_ptr.astype(np.int64) + ent
        m = Mat(kind=kind, w=wq, p=p, ptr_base=ptr, entry_base=ent, words=words, ptrs=ptrs,
                weights=s.weights.astype(np.int64), gaps=s.gaps.astype(np.int64),
                col_ptr=s.col_ptr.astype(np.int64))
        lay.mats.append(m)
        lay.loads += [(0, ent + i, int(v)) for i, v in enumerate(words)]
        lay.loads += [(1, ptr + i, int(v)) for i, v in enumerate(ptrs)]
        ent += words.size + int(rng.integers(0, 5))
        ptr += ptrs.size + int(rng.integers(0, 3))
    lay.fits = ent <= cfg.pe_entry_depth and ptr <= cfg.ptr_depth
    return lay


def scenario(cfg: Config, seed: int, n_mats: int = 10, entry_budget: float = 0.9):
    """Random matrices of every kind (region 0/1 and 2 shapes) placed for one PE."""
    rng = np.random.default_rng(seed)
    p = int(rng.integers(0, cfg.n_pe))
    kinds = list(KINDS) + [str(k) for k in rng.choice(KINDS, size=max(0, n_mats - len(KINDS)))]
    budget = int(cfg.pe_entry_depth * entry_budget) - 16 * len(kinds)
    per = max(8, budget // len(kinds))
    ptr_left = cfg.ptr_depth - 4 * len(kinds)
    specs, regions = [], []
    for i, kind in enumerate(kinds):
        region = 2 if (i % 3 == 2 and kind != "long_gaps") else int(rng.integers(0, 2))
        rows, cols = shape_for(rng, kind, cfg, region, per, p)
        cols = min(cols, max(1, ptr_left // (len(kinds) - i) - 1))
        ptr_left -= cols + 1
        # density cap: the PE share (plus fillers) stays within its entry budget
        cap = per / (1.3 * (-(-rows // cfg.n_pe)) * cols)
        if kind == "full_cols":
            cap /= 2
        wq = make_matrix(rng, kind, rows, cols, cfg, p, max_dens=min(0.5, cap))
        specs.append((kind, wq))
        regions.append(region)
    # drop matrices until the entry memory holds them all
    while True:
        lay = place(cfg, rng, specs, p)
        if lay.fits:
            break
        k = int(np.argmax([m.n_entries for m in lay.mats]))
        kind, wq = specs[k]
        specs[k] = (kind, wq[:, : max(1, wq.shape[1] // 2)])
    return lay, regions, p


def acc_base(cfg: Config, region: int) -> int:
    gr = cfg.gate_rows_per_pe
    return (0, gr, 2 * gr)[region]


def widths(cfg: Config) -> dict:
    from ese.hdl.pe_fetch import fetch_widths
    return fetch_widths(cfg)


__all__ = ["KINDS", "Layout", "Mat", "acc_base", "activations", "clog2", "make_matrix",
           "place", "scenario", "weights", "widths"]
