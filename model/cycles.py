"""Analytic cycle model of one channel (to be calibrated against the RTL).

What is modelled (docs/architecture.md):

* Every PE walks its *own* entry stream of a matrix at one entry per cycle
  (a non-zero or a filler), over a locally held copy of the input vector; a
  column in which the PE has no entry still costs one cycle (the pointer
  step).  So PE ``p`` needs ``work_M(p) = entries_M(p) + empty_cols_M(p)``
  cycles for matrix ``M``.
* PEs synchronise after every matrix (the next phase needs all results), so
  a matrix costs ``W_M = max_p work_M(p)``.  All channels share the weights
  and run in lockstep: the channel count does not change the time.
* Phase overheads per layer and frame:

  - ``ew = ceil(H / ew_lanes)``: the element-wise unit finishes ``ew_lanes``
    cells per cycle after the gate products (W_x, W_r) are done;
  - ``drain = P``: the projection results leave the PEs one per cycle
    (projection layers only; without projection y = m comes out of the
    element-wise unit);
  - ``PIPE_LATENCY`` cycles of pipeline fill per phase (W_x, W_r, element-wise,
    W_p).

* Overlap: W_x x_{t+1} of layer 0 does not depend on the recurrence, so it
  runs while the element-wise unit finishes frame t: that layer's
  ``ew + W_x`` becomes ``max(ew, W_x)`` (plus one extra W_x for the first
  frame).  Deeper layers take the previous layer's y_t as input and pay both.

Per frame: ``sum over layers of (W_x + W_r + W_p + ew + drain + latency) - hidden``.

The figures derived from cycles/frame (ideal cycles/frame, utilization,
latency, effective GOPS) are :func:`ese.perf.frame_figures`, the definitions
of docs/performance.md written once.
"""

from __future__ import annotations

import math

from ese import perf

#: pipeline fill cycles per phase (pointer read, entry read, multiply, accumulate, ...)
PIPE_LATENCY = 8


def _manifest(src) -> dict:
    if isinstance(src, dict):
        return src
    m = getattr(src, "manifest", None)
    if isinstance(m, dict):
        return m
    raise TypeError("estimate() needs a Bundle or a manifest dict")


def _work(m: dict, empty_col_cycles: int = 1) -> list:
    """Cycles each PE spends on matrix ``m`` (entries + empty columns)."""
    entries = m["entries_per_pe"]
    empty = m.get("empty_cols_per_pe") or [0] * len(entries)
    return [int(e) + empty_col_cycles * int(c) for e, c in zip(entries, empty)]


def estimate(src, frames: int | None = None, batch: int | None = None, *,
             empty_col_cycles: int = 1, drain_per_cycle: int = 1,
             pipe_latency: int = PIPE_LATENCY, schedule: str = "overlap") -> dict:
    """Estimated cycles of one channel for a bundle (or its manifest).

    Returns ``cycles_per_frame``, ``ideal_cycles_per_frame``, ``utilization``,
    ``latency_us_at_200mhz``, ``effective_gops``, ``nnz``, ``n_pe``, ``n_ch``
    and ``breakdown`` (per layer and per matrix).  With ``frames`` = T the
    result also has ``frames`` and ``cycles`` (T frames of one sequence per
    channel, including the first frame's unhidden W_x; ``cycles_per_frame``
    is then ``cycles / T``, docs/performance.md).  With ``batch`` = B > n_ch
    the sequences run in ``ceil(B / n_ch)`` passes and ``cycles`` counts all.

    Calibration knobs (defaults = the design as described above):
    ``empty_col_cycles`` (cost of a column without entries in a PE),
    ``drain_per_cycle`` (projection results leaving per cycle),
    ``pipe_latency`` (fill cycles per phase).

    ``schedule``: ``"overlap"`` (default; the model described above) or
    ``"base"``, the base controller of docs/architecture.md: W_x and W_r
    issued back to back with one synchronisation (a PE's cost is its
    W_x + W_r work), W_p streaming as m arrives (element-wise and W_p cost
    ``max(ew, W_p)``), then the drain; no W_x of the next frame hidden.
    """
    if schedule not in ("overlap", "base"):
        raise ValueError(f"unknown schedule {schedule!r} (overlap or base)")
    man = _manifest(src)
    cfg = man["config"]
    n_pe, n_ch, lanes = int(cfg["n_pe"]), int(cfg["n_ch"]), int(cfg.get("ew_lanes", 1))
    mats = {m["name"]: m for m in man["matrices"]}
    nnz = sum(int(m.get("nnz", sum(m["nnz_per_pe"]))) for m in man["matrices"])

    layers_bd, mats_bd = [], []
    per_frame = 0
    fill = 0
    for lay in man["layers"]:
        k = lay["layer"]
        w = {}
        per_pe = {}
        for kind in ("Wx", "Wr", "Wp"):
            m = mats.get(f"l{k}_{kind}")
            if m is None:
                w[kind] = 0
                continue
            work = _work(m, empty_col_cycles)
            per_pe[kind] = work
            w[kind] = max(work) if work else 0
            mats_bd.append({
                "name": m["name"], "cycles": w[kind],
                "mean_pe_cycles": sum(work) / len(work) if work else 0.0,
                "max_entries": max(m["entries_per_pe"]),
                "max_empty_cols": max(m.get("empty_cols_per_pe") or [0]),
                "nnz": int(m.get("nnz", sum(m["nnz_per_pe"]))),
                "fillers": int(sum(m["fillers_per_pe"])),
            })
        proj = bool(lay.get("projection", "l%d_Wp" % k in mats))
        ew = math.ceil(int(lay["n_cells"]) / lanes)
        drain = math.ceil(int(lay["n_out"]) / drain_per_cycle) if proj else 0
        if schedule == "overlap":
            phases = 3 + (1 if proj else 0)
            latency = phases * pipe_latency
            hidden = min(ew, w["Wx"]) if k == 0 else 0
            total = w["Wx"] + w["Wr"] + w["Wp"] + ew + drain + latency - hidden
        else:
            gate = max((a + b for a, b in zip(per_pe.get("Wx", []), per_pe.get("Wr", []))),
                       default=0)
            phases = 2 + (1 if proj else 0)
            latency = phases * pipe_latency
            hidden = w["Wx"] + w["Wr"] - gate        # saved by not syncing between them
            total = gate + max(ew, w["Wp"]) + drain + latency
        per_frame += total
        fill += hidden if schedule == "overlap" else 0
        layers_bd.append({"layer": k, "wx": w["Wx"], "wr": w["Wr"], "wp": w["Wp"],
                          "ew": ew, "drain": drain, "latency": latency,
                          "hidden": hidden, "cycles": total})

    out = perf.frame_figures(per_frame, nnz, n_pe, n_ch)
    out.update({
        "model": "analytic (model/cycles.py): per-PE entries + empty columns, "
                 "sync per matrix, element-wise, drain, pipeline latency",
        "breakdown": {"layers": layers_bd, "matrices": mats_bd,
                      "pipe_latency_per_phase": pipe_latency,
                      "empty_col_cycles": empty_col_cycles, "drain_per_cycle": drain_per_cycle,
                      "schedule": schedule, "first_frame_extra": fill},
    })
    if frames is not None:
        t = int(frames)
        passes = max(1, math.ceil(int(batch) / n_ch)) if batch else 1
        one = per_frame * t + fill
        out["frames"] = t
        out["passes"] = passes
        out["cycles"] = int(one * passes)
        out.update(perf.frame_figures(one / t, nnz, n_pe, n_ch))
    return out


def model_manifest(float_model, cfg) -> dict:
    """The manifest fields :func:`estimate` reads, computed from a float model as given.

    For ``ese infer --stats`` on an uncompressed model: every non-zero of the
    float matrices counts (no pruning, no memory-size check), encoded with
    ``cfg``'s PE count and index width in the hardware's row order.
    """
    import numpy as np

    from .encode import encode_matrix
    from .qmodel import gate_perm

    mats, layers = [], []
    for k, l in enumerate(float_model.layers):
        perm = gate_perm(l.n_cells)
        todo = [("Wx", l.wx[perm]), ("Wr", l.wr[perm])]
        if l.wp is not None:
            todo.append(("Wp", l.wp))
        for kind, w in todo:
            e = encode_matrix((np.asarray(w) != 0).astype(np.int64), cfg.n_pe, cfg.index_bits)
            mats.append({"name": f"l{k}_{kind}", "layer": k, "rows": e.rows, "cols": e.cols,
                         "nnz": int(sum(e.nnz_per_pe)), "nnz_per_pe": e.nnz_per_pe,
                         "fillers_per_pe": e.fillers_per_pe, "entries_per_pe": e.entries_per_pe,
                         "empty_cols_per_pe": [int(np.count_nonzero(np.diff(s.col_ptr) == 0))
                                               for s in e.pes]})
        layers.append({"layer": k, "n_in": l.n_in, "n_cells": l.n_cells, "n_out": l.n_out,
                       "peephole": l.peep is not None, "projection": l.wp is not None})
    return {"config": cfg.to_dict(), "layers": layers, "matrices": mats}
