"""Entries per PE under load-balanced and plain pruning: ``ese report --plot`` (docs/cli.md).

The numbers (:func:`pe_load`) and the drawing (:func:`plot_pe_load`) are kept
apart, so that tests can check the numbers the plot draws.

What is compared: one model pruned two ways at the same density, encoded for
the bundle's configuration (``n_pe``, ``index_bits``):

* the bundle *as compressed*: the per-PE counts of its manifest, i.e. what
  its image holds (load-balanced, unless it was compressed with
  ``--no-balance``);
* the *other* pruning (global magnitude for a load-balanced bundle, and the
  other way round), recomputed from the float model the bundle was
  compressed from: pruned with the bundle's density (and per-matrix
  densities, if any) by ``model/prune.py``, quantized with the bundle's own
  binary point of each matrix (``model/fixed.py``), encoded with
  ``encode_matrix`` (``model/encode.py``).

A bundle holds only its *pruned* float model (``pruned.npz``), and pruning
that again keeps exactly its own non-zeros whatever the method, so the other
pruning cannot be derived from the bundle alone.  The float model is passed
as ``source`` (``ese report BUNDLE --plot FILE.png --source MODEL.npz``) and
is checked first: pruned, quantized and encoded the bundle's way it must give
the bundle's integer matrices bit for bit.  Without ``source`` the plot shows
the bundle alone, with a one-line note saying why.

The figure: top, the entries (non-zeros + fillers) of every PE, one stacked
segment per matrix, one panel per pruning, with the mean (a perfectly even
split) as a dashed line; bottom, the fillers of every PE (zero-weight entries
the encoder inserts where a gap exceeds ``2**index_bits - 1`` positions) for
both prunings side by side; title: configuration, ``n_pe``, density, and each
pruning's PE balance bound (mean / max entries per PE over all matrices,
:func:`ese.perf.pe_balance_bound`).

matplotlib is imported only when drawing (:func:`require_matplotlib`), and
only its Agg canvas: no window is ever opened, no global pyplot state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ese import perf
from ese.model.bundle import Bundle
from ese.model.encode import encode_matrix
from ese.model.fixed import quantize
from ese.model.image import matrix_list
from ese.model.modelfile import FloatModel
from ese.model.prune import prune_model, stored

BALANCED = "load-balanced"
PLAIN = "global magnitude"

#: the note on a plot drawn without the float model
NO_SOURCE_NOTE = ("{other} pruning not shown: the bundle holds only its pruned model; "
                  "give the model it was compressed from (--source MODEL.npz)")


class PlotError(ValueError):
    """A plot that cannot be made (no matplotlib, a source model that is not the bundle's)."""


@dataclass(frozen=True)
class PruningLoad:
    """Per-PE counts of one pruning of the model, one row per matrix (image order).

    ``pruning`` is :data:`BALANCED` or :data:`PLAIN`; ``origin`` says where the
    counts come from (``"bundle"``: its manifest; else the recomputation).
    """

    pruning: str
    origin: str
    nnz: np.ndarray        #: (n_matrices, n_pe) int64: non-zero weights
    fillers: np.ndarray    #: (n_matrices, n_pe) int64: filler entries

    @property
    def entries(self) -> np.ndarray:
        """(n_matrices, n_pe): entries the PE memories hold (non-zeros + fillers)."""
        return self.nnz + self.fillers

    @property
    def entries_per_pe(self) -> np.ndarray:
        return self.entries.sum(axis=0)

    @property
    def nnz_per_pe(self) -> np.ndarray:
        return self.nnz.sum(axis=0)

    @property
    def fillers_per_pe(self) -> np.ndarray:
        return self.fillers.sum(axis=0)

    @property
    def mean_entries(self) -> float:
        return float(self.entries_per_pe.mean())

    @property
    def bound(self) -> float:
        """The PE balance bound: mean / max entries per PE (:func:`ese.perf.pe_balance_bound`)."""
        return perf.pe_balance_bound(self.entries_per_pe)


@dataclass(frozen=True)
class PELoad:
    """What :func:`plot_pe_load` draws: the bundle as compressed and the other pruning."""

    config: str
    n_pe: int
    index_bits: int
    density: float
    per_matrix_densities: bool     #: the bundle was compressed with per-matrix overrides
    matrices: tuple                #: matrix names in image order ('l0_Wx', ...)
    compressed: PruningLoad        #: the bundle as compressed
    other: Optional[PruningLoad]   #: the other pruning, None without the float model
    note: Optional[str] = None     #: why ``other`` is missing

    def of(self, pruning: str) -> Optional[PruningLoad]:
        """The counts of ``pruning`` (:data:`BALANCED` or :data:`PLAIN`), None if not shown."""
        for pl in (self.compressed, self.other):
            if pl is not None and pl.pruning == pruning:
                return pl
        return None

    @property
    def balanced(self) -> Optional[PruningLoad]:
        return self.of(BALANCED)

    @property
    def plain(self) -> Optional[PruningLoad]:
        return self.of(PLAIN)


# ----------------------------------------------------------------------------- numbers
def _compression(bundle: Bundle) -> dict:
    comp = bundle.manifest.get("compression")
    if not isinstance(comp, dict) or "density" not in comp or "balance" not in comp:
        raise PlotError("the bundle's manifest has no compression settings (key "
                        "'compression'): it does not say how it was pruned")
    return comp


def _check_shapes(source: FloatModel, bundle: Bundle, name: str) -> None:
    mats = bundle.manifest["matrices"]
    n_layers = int(bundle.manifest["model"]["n_layers"])
    if len(source.layers) != n_layers:
        raise PlotError(f"{name} has {len(source.layers)} layer(s), the bundle {n_layers}: "
                        f"not the model it was compressed from")
    for m in mats:
        have = source.layers[m["layer"]].matrices().get(m["kind"])
        shape = None if have is None else tuple(have.shape)
        if shape != (m["rows"], m["cols"]):
            raise PlotError(f"{name}: {m['name']} is {shape or 'missing'}, the bundle's is "
                            f"{(m['rows'], m['cols'])}: not the model it was compressed from")


def _quantized(source: FloatModel, bundle: Bundle, balance: bool) -> list:
    """``source`` pruned (``balance``) and quantized the bundle's way, in image order."""
    comp = _compression(bundle)
    cfg = bundle.cfg
    pruned = prune_model(source, cfg, density=float(comp["density"]), balance=balance,
                         densities=comp.get("densities") or None)
    return [quantize(stored(pruned.layers[m["layer"]], m["kind"]), cfg.weight_bits,
                     int(m["weight_frac"]))
            for m in bundle.manifest["matrices"]]


def check_source(source: FloatModel, bundle: Bundle, name: str = "the source model") -> None:
    """Raise :class:`PlotError` unless ``bundle`` was compressed from ``source``.

    Pruned with the bundle's settings and quantized with its binary points,
    ``source`` must give the integer matrices of the bundle's image exactly.
    """
    _check_shapes(source, bundle, name)
    balance = bool(_compression(bundle)["balance"])
    want = matrix_list(bundle.qmodel)
    for (mname, _k, _kind, w, _wf, _sh), got in zip(want, _quantized(source, bundle, balance)):
        if not np.array_equal(np.asarray(w), got):
            raise PlotError(f"{name} is not the model this bundle was compressed from: pruned "
                            f"and quantized the bundle's way, its {mname} differs from the "
                            f"bundle's")


def recompute_load(source: FloatModel, bundle: Bundle, balance: bool,
                   origin: str = "recomputed") -> PruningLoad:
    """Per-PE counts of ``source`` pruned with ``balance`` at the bundle's density, encoded."""
    cfg = bundle.cfg
    encs = [encode_matrix(w, cfg.n_pe, cfg.index_bits)
            for w in _quantized(source, bundle, balance)]
    return PruningLoad(pruning=BALANCED if balance else PLAIN, origin=origin,
                       nnz=np.array([e.nnz_per_pe for e in encs], dtype=np.int64),
                       fillers=np.array([e.fillers_per_pe for e in encs], dtype=np.int64))


def bundle_load(bundle: Bundle) -> PruningLoad:
    """Per-PE counts of the bundle as compressed (its manifest)."""
    mats = bundle.manifest["matrices"]
    balance = bool(_compression(bundle)["balance"])
    return PruningLoad(pruning=BALANCED if balance else PLAIN, origin="bundle",
                       nnz=np.array([m["nnz_per_pe"] for m in mats], dtype=np.int64),
                       fillers=np.array([m["fillers_per_pe"] for m in mats], dtype=np.int64))


def pe_load(bundle: Bundle, source: Optional[FloatModel] = None,
            source_name: str = "the source model") -> PELoad:
    """The numbers of the plot: the bundle as compressed and, given ``source``, the other pruning.

    ``source`` is the float model the bundle was compressed from (checked by
    :func:`check_source`; ``source_name`` names it in messages).  Raises
    :class:`PlotError` for a source that is not the bundle's or a bundle
    without compression settings.
    """
    comp = _compression(bundle)
    cfg = bundle.cfg
    compressed = bundle_load(bundle)
    other_pruning = PLAIN if compressed.pruning == BALANCED else BALANCED
    other, note = None, None
    if source is None:
        note = NO_SOURCE_NOTE.format(other=other_pruning)
    else:
        check_source(source, bundle, source_name)
        other = recompute_load(source, bundle, balance=other_pruning == BALANCED,
                               origin=f"recomputed from {source_name}")
    return PELoad(config=cfg.name, n_pe=cfg.n_pe, index_bits=cfg.index_bits,
                  density=float(comp["density"]),
                  per_matrix_densities=bool(comp.get("densities")),
                  matrices=tuple(m["name"] for m in bundle.manifest["matrices"]),
                  compressed=compressed, other=other, note=note)


# ----------------------------------------------------------------------------- drawing
def require_matplotlib():
    """``(Figure, FigureCanvasAgg)``; :class:`PlotError` if matplotlib is not installed."""
    from ese import deps
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotError(f"ese report --plot needs matplotlib, which is not installed ({e}): "
                        f"{deps.extra('plot').install}") from None
    return Figure, FigureCanvasAgg


def _title(load: PELoad) -> str:
    dens = f"density {load.density:g}" + (" (with per-matrix overrides)"
                                          if load.per_matrix_densities else "")
    bounds = ", ".join(f"{p} {pl.bound:.3f}" for p in (BALANCED, PLAIN)
                       if (pl := load.of(p)) is not None)
    return (f"config {load.config!r}: {load.n_pe} PEs, {dens}, index {load.index_bits} bit\n"
            f"PE balance bound (mean / max entries per PE): {bounds}")


def _caption(load: PELoad) -> str:
    g = (1 << load.index_bits) - 1
    lines = [f"entries = non-zeros + fillers (zero-weight entries where a gap exceeds "
             f"{g} positions).  PE balance bound = mean / max entries per PE, all matrices: "
             f"a PE handles one entry per cycle,",
             "so a frame takes at least the busiest PE's entries in cycles: the steady PE "
             "utilization cannot exceed the bound."]
    if load.note:
        lines.append(f"Note: {load.note}.")
    return "\n".join(lines)


def plot_pe_load(load: PELoad, path) -> Path:
    """Draw ``load`` into the PNG file ``path`` (written as PNG whatever its name); returns it.

    Raises :class:`PlotError` without matplotlib, OSError if ``path`` cannot be written.
    """
    Figure, FigureCanvasAgg = require_matplotlib()
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    fig = Figure(figsize=(12, 8), dpi=100)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 2, height_ratios=(3, 2), left=0.07, right=0.84, top=0.85,
                          bottom=0.16, hspace=0.5, wspace=0.08)
    ax_bal = fig.add_subplot(gs[0, 0])
    ax_pln = fig.add_subplot(gs[0, 1], sharey=ax_bal)
    ax_fil = fig.add_subplot(gs[1, :])
    cmap = colormaps["tab10" if len(load.matrices) <= 10 else "tab20"]
    colors = [cmap(i % cmap.N) for i in range(len(load.matrices))]
    pe = np.arange(load.n_pe)
    bar_w = 0.85 if load.n_pe <= 64 else 1.0

    handles = None
    for ax, pruning in ((ax_bal, BALANCED), (ax_pln, PLAIN)):
        pl = load.of(pruning)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(-0.6, load.n_pe - 0.4)
        ax.set_xlabel("PE")
        if pl is None:
            ax.set_title(f"{pruning}\nnot available", fontsize=10)
            ax.text(0.5, 0.5, "not available\n(see the note below)",
                    ha="center", va="center", transform=ax.transAxes, fontsize=9,
                    color="0.35")
            ax.set_xticks([])
            ax.tick_params(labelleft=False)
            continue
        bottom = np.zeros(load.n_pe, dtype=np.int64)
        bars = []
        for i, name in enumerate(load.matrices):
            bars.append(ax.bar(pe, pl.entries[i], bottom=bottom, width=bar_w,
                               color=colors[i], linewidth=0, label=name))
            bottom = bottom + pl.entries[i]
        mean = ax.axhline(pl.mean_entries, color="black", linestyle="--", linewidth=1.2,
                          label="mean (an even split)")
        handles = bars + [mean]
        how = "as compressed" if pl.origin == "bundle" else "recomputed"
        ax.set_title(f"{pruning} ({how})\nmax {int(pl.entries_per_pe.max())}, mean "
                     f"{pl.mean_entries:.1f}: bound {pl.bound:.3f}", fontsize=10)
        if ax is ax_pln:
            ax.tick_params(labelleft=False)
    ax_bal.set_ylabel("entries per PE (stacked by matrix)")
    if handles:
        fig.legend(handles=handles, labels=[h.get_label() for h in handles],
                   loc="upper left", bbox_to_anchor=(0.85, 0.85), fontsize=9, frameon=False)

    shown = [(p, load.of(p)) for p in (BALANCED, PLAIN) if load.of(p) is not None]
    width = bar_w / len(shown)
    for j, (pruning, pl) in enumerate(shown):
        off = (j - (len(shown) - 1) / 2) * width
        ax_fil.bar(pe + off, pl.fillers_per_pe, width=width, linewidth=0,
                   color=("tab:blue", "tab:orange")[pruning == PLAIN],
                   label=f"{pruning}\n({int(pl.fillers_per_pe.sum())} in all)")
    ax_fil.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_fil.set_xlim(-0.6, load.n_pe - 0.4)
    ax_fil.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_fil.set_xlabel("PE")
    ax_fil.set_ylabel("filler entries per PE")
    ax_fil.set_title(f"fillers (a gap beyond {(1 << load.index_bits) - 1} positions; "
                     f"index {load.index_bits} bit)", fontsize=10)
    ax_fil.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False)

    fig.suptitle(_title(load), fontsize=11)
    fig.text(0.07, 0.015, _caption(load), fontsize=8, va="bottom", ha="left")
    fig.savefig(path, format="png")
    return path
