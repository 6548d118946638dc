"""The sweeps of `make bench` (docs/performance.md "Sweeps").

Each sweep prints a table, returns its rows (``"source": "rtl" | "model"``
says where a row's cycles come from; scripts/bench.py writes them to
build/bench/bench.json under ``"sweeps"``) and draws a PNG into the output
folder (build/bench/):

* :func:`sweep_npe` (``sweep_npe.png``): PEs per channel on the paper model at
  one channel: utilization and us/frame from the cycle model at every point and
  from the RTL up to ``rtl_max_pe`` PEs;
* :func:`sweep_index` (``sweep_index.png``): the index width on ``ese32``:
  filler entries and utilization, cycle model only;
* :func:`sweep_nch` (``sweep_nch.png``): channels at one PE count: GOPS from the
  cycle model (and the RTL case's, if it ran) against the Yosys estimate of
  each point (cached by scripts/synth.py, or synthesized with ``synth=True``).

:func:`run` runs the ones asked for with the defaults of ``make bench``.
All performance arithmetic is :mod:`ese.perf`'s; the reference lines are
scripts/bench_refs.py's.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_common import (PAPER, SYNTH_DIR, Say, compress, estimate, fmt,  # noqa: E402
                          matrices, measure_rtl, model_steady, resource_cells,
                          resource_cols, table)
from bench_refs import ESE, H100, RESOURCES, TARGET_GOPS  # noqa: E402

#: PEs per channel of the n_pe sweep
N_PES = (8, 16, 32, 64, 128, 256, 512)
#: index widths of the index sweep
INDEX_BITS = (4, 5, 6)
#: which sweeps exist (``--sweeps`` of scripts/bench.py)
SWEEPS = ("npe", "index", "nch")


# ---------------------------------------------------------------------------- helpers
def pow2_at_least(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(0, (int(n) - 1).bit_length())


def figures(steady: float, nnz: int, cfg) -> dict:
    """A row's performance columns from steady cycles/frame (:func:`ese.perf.frame_figures`)."""
    from ese import perf
    f = perf.frame_figures(steady, nnz, cfg.n_pe, cfg.n_ch)
    return {"steady": float(steady), "ideal": f["ideal_cycles_per_frame"],
            "util": f["utilization"], "us_per_frame": f["latency_us_at_200mhz"],
            "gops": f["effective_gops"]}


def model_name(shape: dict) -> str:
    """``the paper model (153/1024/512)`` or ``the model 16/16/8`` (``, 2 layers``)."""
    s = f"{shape['n_in']}/{shape['cells']}/{shape.get('proj') or '-'}"
    s += f", {shape['layers']} layers" if shape.get("layers", 1) > 1 else ""
    return f"the paper model ({s})" if shape == PAPER else f"the model {s}"


def nnz_of(mats: list) -> int:
    return int(sum(int(np.count_nonzero(w)) for _, _, w in mats))


def max_entries(model) -> int:
    """Entries of the busiest PE (all matrices, fillers included) of a compressed model."""
    per_pe = np.sum([m["entries_per_pe"] for m in model.manifest["matrices"]], axis=0)
    return int(per_pe.max())


def _pyplot(say: Say):
    """matplotlib.pyplot on the Agg backend, or None (with a note) if it is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("note: matplotlib is not installed (pip install matplotlib): no PNG")
        return None
    return plt


def _save(plt, fig, out_dir: Optional[Path], name: str, say: Say) -> Optional[Path]:
    if out_dir is None:
        plt.close(fig)
        return None
    out = Path(out_dir) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    say(f"wrote {out}")
    return out


def _log2_axis(ax, values, label: str) -> None:
    """A log2 x axis ticked at ``values`` (plain numbers), a grid and the legend if any."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(set(values)), labels=[str(v) for v in sorted(set(values))])
    ax.minorticks_off()
    ax.set_xlabel(label)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _src(rows: list, source: str) -> list:
    return [r for r in rows if r.get("source") == source and r.get("steady") is not None]


def _plot_sources(rows: list, xkey: str, axes_keys: list) -> None:
    """Draw the cycle-model rows as a line and the RTL rows as open squares:
    ``axes_keys`` = [(matplotlib axes, row key of its y values)]."""
    for src, style, label in (("model", "o-", "cycle model"), ("rtl", "s", "RTL")):
        rs = _src(rows, src)
        if rs:
            kw = dict(markersize=9, markerfacecolor="none") if src == "rtl" else {}
            for ax, ykey in axes_keys:
                ax.plot([r[xkey] for r in rs], [r[ykey] for r in rs], style, label=label, **kw)


# ---------------------------------------------------------------------------- n_pe
def derive_config(base, n_pe: int, entries: Optional[int] = None):
    """The configuration of one point of the n_pe sweep: ``base`` at one channel, ``n_pe`` PEs.

    The parallel parts around the PEs grow with them, so that the serial phases
    of a frame (the element-wise pass over the cells, the projection drain, the
    broadcast of the activation stream) stay small against the MACs
    (nnz / n_pe cycles), the same rule that gives ``ese32`` (32 PEs) and
    ``fast`` (512 PEs) theirs:

    * ``ew_lanes`` = ``drain_lanes`` = sqrt(n_pe / 8) rounded to a power of two
      (halves up): 8 -> 1, 16 and 32 -> 2, 64 and 128 -> 4, 256 and 512 -> 8;
      halved while validate() refuses it (n_pe a multiple of 4 x ew_lanes,
      max_cells a multiple of ew_lanes);
    * ``bcast_width`` = 2 x ew_lanes, within 2..8;
    * ``window`` = n_pe / 2 rounded up to a power of two, at least 64 (and at
      least 4 chunks): more PEs, more drift between the first and the last;
    * ``pe_entry_depth`` = the smallest power of two >= ``entries`` (the busiest
      PE's entries, :func:`max_entries`), at least 16; ``base``'s if not given.

    Everything else (number formats, index width, largest model, bus) is ``base``'s.
    """
    lanes = 1 << max(0, math.floor((math.log2(n_pe) - 3) / 2 + 0.5))
    while lanes > 1 and (n_pe % (4 * lanes) or base.max_cells % lanes):
        lanes //= 2
    bcast = max(2, min(8, 2 * lanes))
    window = max(64, pow2_at_least(n_pe // 2), 4 * bcast)
    depth = pow2_at_least(max(16, entries)) if entries else base.pe_entry_depth
    return base.replace(name=f"{base.name}-pe{n_pe}", n_ch=1, n_pe=n_pe, ew_lanes=lanes,
                        drain_lanes=lanes, bcast_width=bcast, window=window,
                        pe_entry_depth=depth)


def sweep_npe(shape: dict = PAPER, n_pes=N_PES, base="ese32", *, rtl_max_pe: int = 64,
              sim: str = "verilator", frames: int = 6, density: Optional[float] = None,
              out_dir: Optional[Path] = None, say: Say = print) -> list:
    """PEs per channel at one channel (batch 1): cycle model everywhere, RTL up to rtl_max_pe.

    Each point compresses the model for its own n_pe (load-balanced pruning depends
    on it) with a large entry memory, reads the busiest PE's entries and takes the
    configuration :func:`derive_config` gives for them.  A point measured on the
    RTL gives two rows, ``"model"`` and ``"rtl"`` (with ``exact`` and ``model_err``).
    """
    from ese.config import load_config
    base = load_config(base)
    rows = []
    for i, n in enumerate(n_pes, 1):
        tag = f"[sweep n_pe] {i}/{len(n_pes)} n_pe={n}"
        say(f"{tag}: compress ...")
        probe, _ = compress(shape, derive_config(base, n, 1 << 20), density, cache=False)
        ent = max_entries(probe)
        cfg = derive_config(base, n, ent)
        mats, layers = matrices(probe)
        nnz = nnz_of(mats)
        say(f"{tag}: cycle model ...")
        point = dict(n_pe=n, config=cfg.name, ew_lanes=cfg.ew_lanes, bcast_width=cfg.bcast_width,
                     window=cfg.window, max_entries=ent, pe_entry_depth=cfg.pe_entry_depth,
                     nnz=nnz)
        ms = model_steady(mats, layers, cfg, frames, 1)
        rows.append(dict(point, source="model", **figures(ms, nnz, cfg)))
        if n > rtl_max_pe:
            continue
        say(f"{tag}: RTL ({sim}) ...")
        try:
            # the same pruning and quantization, the derived entry memory
            model, _ = compress(shape, cfg, density, cache=False)
            st = measure_rtl(model, 1, frames, sim, say=lambda s: say(f"{tag}: {s}"))
        except Exception as e:  # noqa: BLE001 - reported in the row, the sweep goes on
            say(f"{tag}: RTL failed: {e}")
            rows.append(dict(point, source="rtl", error=str(e), exact=False))
            continue
        rows.append(dict(point, source="rtl", **figures(st["steady"], nnz, cfg),
                         exact=st["exact"], model_err=st["model_err"], sim=sim))
    print_npe(rows, frames, model_name(shape))
    plot_npe(rows, out_dir, model_name(shape), say)
    return rows


def print_npe(rows: list, frames: int, what: str) -> None:
    print(f"\nSweep n_pe: {what} at one channel, batch 1 (steady, T = {frames} and "
          f"{2 * frames}; source: cycle model or RTL):")
    print(table([dict(r, source="RTL" if r["source"] == "rtl" else "model") for r in rows],
                [("n_pe", "n_pe"), ("source", "source"), ("lanes", "ew_lanes"),
                 ("bcast", "bcast_width"), ("window", "window"), ("depth", "pe_entry_depth"),
                 ("busiest PE", "max_entries"), ("ideal", "ideal"), ("steady cyc/fr", "steady"),
                 ("util", "util"), ("us/frame", "us_per_frame"), ("GOPS", "gops"),
                 ("model err", "model_err"), ("bit-exact", "exact")]))
    print(f"  reference: ESE {ESE['n_pe']} PEs x {ESE['n_ch']} channels {ESE['us_per_frame']} "
          f"us/frame, utilization {ESE['util']}; H100 {H100['us_per_frame']} us/frame at "
          f"batch {H100['batch']}")


def plot_npe(rows: list, out_dir: Optional[Path], what: str,
             say: Say = print) -> Optional[Path]:
    plt = _pyplot(say)
    if plt is None:
        return None
    fig, (ax_us, ax_u) = plt.subplots(1, 2, figsize=(11, 4.2))
    _plot_sources(rows, "n_pe", [(ax_us, "us_per_frame"), (ax_u, "util")])
    ax_us.axhline(ESE["us_per_frame"], color="tab:red", ls="--",
                  label=f"ESE ({ESE['us_per_frame']} us)")
    ax_us.axhline(H100["us_per_frame"], color="tab:green", ls=":",
                  label=f"H100, batch {H100['batch']} ({H100['us_per_frame']} us)")
    ax_u.axhline(ESE["util"], color="tab:red", ls="--", label=f"ESE ({ESE['util']})")
    ax_us.set_yscale("log")
    ax_us.set_ylabel("us per frame at 200 MHz (steady)")
    ax_u.set_ylabel("PE utilization (steady)")
    ax_u.set_ylim(0, 1.05)
    for ax in (ax_us, ax_u):
        _log2_axis(ax, [r["n_pe"] for r in rows], "PEs per channel (n_pe), one channel")
    fig.suptitle(f"{what[0].upper()}{what[1:]} vs PEs per channel")
    return _save(plt, fig, out_dir, "sweep_npe.png", say)


# ---------------------------------------------------------------------------- index width
def fillers_of(mats: list, n_pe: int, index_bits: int) -> tuple:
    """``(fillers, entries, busiest PE's entries)`` of the matrices encoded at ``index_bits``."""
    from ese.model.encode import encode_matrix
    encs = [encode_matrix(np.asarray(w, dtype=np.int64), n_pe, index_bits) for _, _, w in mats]
    fill = int(sum(sum(e.fillers_per_pe) for e in encs))
    per_pe = np.sum([e.entries_per_pe for e in encs], axis=0)
    return fill, int(per_pe.sum()), int(per_pe.max())


def sweep_index(shape: dict = PAPER, cfg="ese32", bits=INDEX_BITS, *, frames: int = 6,
                density: Optional[float] = None, out_dir: Optional[Path] = None,
                say: Say = print) -> list:
    """The index width on ``cfg`` (batch n_ch): fillers and utilization, cycle model only.

    Pruning and quantization do not depend on the index width: the model is
    compressed once and its matrices encoded at every width.
    """
    from ese.config import load_config
    cfg = load_config(cfg)
    say(f"[sweep index] compress for {cfg.name} ...")
    model, _ = compress(shape, cfg, density)
    mats, layers = matrices(model)
    nnz = nnz_of(mats)
    rows = []
    for i, b in enumerate(bits, 1):
        say(f"[sweep index] {i}/{len(bits)} index_bits={b}: encode, cycle model ...")
        cb = cfg.replace(name=f"{cfg.name}-idx{b}", index_bits=b)
        fill, entries, busiest = fillers_of(mats, cb.n_pe, b)
        ms = model_steady(mats, layers, cb, frames, cb.n_ch)
        rows.append(dict(index_bits=b, config=cb.name, n_pe=cb.n_pe, source="model", nnz=nnz,
                         fillers=fill, entries=entries, fillers_pct=100.0 * fill / entries,
                         max_entries=busiest, **figures(ms, nnz, cb)))
    print(f"\nSweep index width: {model_name(shape)} on {cfg.name} ({cfg.n_pe} PEs), batch "
          f"{cfg.n_ch} (cycle model only):")
    print(table([dict(r, source="model") for r in rows],
                [("index bits", "index_bits"), ("source", "source"), ("fillers", "fillers"),
                 ("% of entries", "fillers_pct"), ("entries", "entries"),
                 ("busiest PE", "max_entries"), ("ideal", "ideal"), ("steady cyc/fr", "steady"),
                 ("util", "util"), ("us/frame", "us_per_frame")]))
    plot_index(rows, cfg, out_dir, say)
    return rows


def plot_index(rows: list, cfg, out_dir: Optional[Path], say: Say = print) -> Optional[Path]:
    plt = _pyplot(say)
    if plt is None:
        return None
    fig, (ax_f, ax_u) = plt.subplots(1, 2, figsize=(9, 3.8))
    x = [str(r["index_bits"]) for r in rows]
    bars = ax_f.bar(x, [r["fillers_pct"] for r in rows], color="tab:orange")
    ax_f.bar_label(bars, labels=[f"{r['fillers']:,}" for r in rows], fontsize=8)
    ax_f.set_ylabel("filler entries, % of all entries")
    bars = ax_u.bar(x, [r["util"] for r in rows], color="tab:blue")
    ax_u.bar_label(bars, fmt="%.3f", fontsize=8)
    ax_u.set_ylabel("PE utilization (steady, cycle model)")
    ax_u.set_ylim(0, 1.05)
    for ax in (ax_f, ax_u):
        ax.set_xlabel("index bits")
    fig.suptitle(f"Index width on {cfg.name} ({cfg.n_pe} PEs), cycle model only")
    return _save(plt, fig, out_dir, "sweep_index.png", say)


# ---------------------------------------------------------------------------- n_ch
def nch_points(top: int) -> list:
    """1, 2, 4, ... below ``top``, then ``top``."""
    out, c = [], 1
    while c < top:
        out.append(c)
        c *= 2
    return out + [int(top)]


def sweep_nch(shape: dict, cfg, n_chs, *, rtl: Optional[dict] = None, synth: bool = False,
              synth_dir: Path = SYNTH_DIR, frames: int = 6, density: Optional[float] = None,
              out_dir: Optional[Path] = None, say: Say = print) -> list:
    """Channels at ``cfg``'s n_pe (batch = n_ch): GOPS from the cycle model against Yosys.

    A point is ``cfg`` with n_ch changed (named ``<cfg>-ch<n>``; ``cfg`` itself at
    its own n_ch, so it shares the estimate of the resources table).  Resources
    come from the estimate cache (:func:`bench_common.estimate`); ``synth`` runs
    scripts/synth.py for the points without one.  ``rtl``: the RTL case measured
    at ``cfg`` itself (its stats), an extra ``"rtl"`` row.
    """
    from ese.config import load_config
    from ese.model import cycles
    cfg = load_config(cfg)
    say(f"[sweep n_ch] compress for {cfg.name} ({cfg.n_pe} PEs) ...")
    model, _ = compress(shape, cfg, density)     # pruning depends on n_pe, not on n_ch
    mats, layers = matrices(model)
    streams = cycles.streams_of(mats, cfg)
    nnz = nnz_of(mats)
    rows = []
    for i, c in enumerate(n_chs, 1):
        cc = cfg if c == cfg.n_ch else cfg.replace(name=f"{cfg.name}-ch{c}", n_ch=c)
        say(f"[sweep n_ch] {i}/{len(n_chs)} n_ch={c}: cycle model ...")
        ms = model_steady(mats, layers, cc, frames, c, streams)
        res, status = estimate(cc, synth, lambda s, i=i, c=c: say(
            f"[sweep n_ch] {i}/{len(n_chs)} n_ch={c}: {s}"), synth_dir)
        rows.append(dict(n_ch=c, n_pe=cc.n_pe, config=cc.name, source="model", nnz=nnz,
                         synth=status, **figures(ms, nnz, cc), **resource_cells(res)))
    if rtl is not None:
        res, status = estimate(cfg, False, say, synth_dir)
        rows.append(dict(n_ch=cfg.n_ch, n_pe=cfg.n_pe, config=cfg.name, source="rtl", nnz=nnz,
                         synth=status, **figures(rtl["steady"], nnz, cfg),
                         exact=rtl.get("exact"), **resource_cells(res)))
    print(f"\nSweep n_ch: {model_name(shape)} at {cfg.n_pe} PEs per channel, batch = n_ch "
          f"(GOPS: cycle model, RTL where marked; resources: Yosys estimate of ese_top, "
          f"'-' where none was made{'' if synth else ', --sweep-synth makes them'}):")
    print(table([dict(r, source="RTL" if r["source"] == "rtl" else "model") for r in rows],
                [("n_ch", "n_ch"), ("source", "source"), ("steady cyc/fr", "steady"),
                 ("util", "util"), ("GOPS", "gops")] + resource_cols() +
                [("estimate", "synth")]))
    print(f"  reference: target {fmt(TARGET_GOPS)} GOPS (2 x ESE), ESE {fmt(ESE['gops'])} GOPS")
    plot_nch(rows, cfg, out_dir, model_name(shape), say)
    return rows


def plot_nch(rows: list, cfg, out_dir: Optional[Path], what: str,
             say: Say = print) -> Optional[Path]:
    plt = _pyplot(say)
    if plt is None:
        return None
    fig, (ax_g, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2))
    _plot_sources(rows, "n_ch", [(ax_g, "gops")])
    ax_g.axhline(TARGET_GOPS, color="tab:purple", ls="--", label=f"target {TARGET_GOPS:.0f} GOPS")
    ax_g.axhline(ESE["gops"], color="tab:red", ls=":", label=f"ESE {ESE['gops']:.0f} GOPS")
    ax_g.set_ylabel("effective GOPS (steady)")
    model_rows = [r for r in rows if r["source"] == "model"]
    drawn = False
    for k in RESOURCES:
        pts = [(r["n_ch"], r[f"{k}_pct"]) for r in model_rows if f"{k}_pct" in r]
        if pts:
            ax_r.plot(*zip(*pts), "o-", label=k)
            drawn = True
    ax_r.axhline(100, color="black", lw=0.8)
    if not drawn:
        ax_r.text(0.5, 0.5, "no Yosys estimate yet\n(make bench with --sweep-synth)",
                  ha="center", va="center", transform=ax_r.transAxes)
        ax_r.set_ylim(0, 110)
    else:
        ax_r.set_ylim(bottom=0)
    ax_r.set_ylabel("% of the XCKU060 (Yosys estimate)")
    for ax in (ax_g, ax_r):
        _log2_axis(ax, [r["n_ch"] for r in rows], f"channels (n_ch), {cfg.n_pe} PEs each")
    fig.suptitle(f"{what[0].upper()}{what[1:]} vs channels at {cfg.n_pe} PEs per channel ({cfg.name})")
    return _save(plt, fig, out_dir, "sweep_nch.png", say)


# ---------------------------------------------------------------------------- make bench
def failed(sweeps: dict) -> int:
    """1 if an RTL point of ``sweeps`` ({name: rows}) failed or was not bit-exact, else 0."""
    return int(any(r.get("source") == "rtl" and (r.get("error") or r.get("exact") is False)
                   for rows in sweeps.values() for r in rows))


def run(which, out_dir: Path, *, frames: int = 6, sim: str = "verilator",
        rtl_max_pe: int = 64, synth: bool = False, rtl_results: Optional[dict] = None,
        say: Say = print) -> dict:
    """The sweeps named in ``which`` (of :data:`SWEEPS`) with make bench's defaults.

    The n_ch sweep runs at ``chip``'s n_pe up to its n_ch if the preset exists
    (with the ``paper-chip`` RTL case's figure if ``rtl_results`` holds it), else
    at ``ese32``'s 32 PEs up to ESE's 32 channels.  Returns ``{name: rows}``.
    """
    from ese.config import PRESETS
    out = {}
    if "npe" in which:
        out["n_pe"] = sweep_npe(rtl_max_pe=rtl_max_pe, sim=sim, frames=frames, out_dir=out_dir,
                                say=say)
    if "index" in which:
        out["index_bits"] = sweep_index(frames=frames, out_dir=out_dir, say=say)
    if "nch" in which:
        chip = PRESETS.get("chip")
        if chip is None:
            say(f"note: no preset 'chip' in ese/config.py PRESETS: the n_ch sweep runs at "
                f"ese32's {PRESETS['ese32'].n_pe} PEs up to ESE's {ESE['n_ch']} channels")
            cfg, top = PRESETS["ese32"], ESE["n_ch"]
        else:
            cfg, top = chip, chip.n_ch
        rtl = (rtl_results or {}).get("paper-chip") if chip is not None else None
        out["n_ch"] = sweep_nch(PAPER, cfg, nch_points(top), rtl=rtl, synth=synth,
                                frames=frames, out_dir=out_dir, say=say)
    return out
