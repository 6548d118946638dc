"""The cycle model: how many cycles a frame takes on the accelerator.

:func:`estimate` runs the cycle-level simulation of ``model/schedule.py``
(the stream scheduler, every PE's real entry stream, the element-wise and
drain passes, the frame movers) for T and 2T frames and reports the figures
of docs/performance.md (:func:`ese.perf.frame_figures`): cycles/frame at T,
the *steady* cycles/frame (the cost of one more frame, the figure targets
are held on), ideal cycles/frame, utilization, latency at 200 MHz and
effective GOPS.  A test holds it to the RTL's own cycle counters on small
configurations (docs/performance.md says how close).

The model takes a quantized model (``QModel``) or a float model's masks
(:func:`streams_from_float`); everything it needs is the per-PE streams of
model/encode.py, the layer sizes and the configuration.
"""

from __future__ import annotations

import math

import numpy as np

from ese import perf

from .encode import encode_matrix
from .schedule import latency_for, simulate

#: frames of the default run (the definitions want T >= 6)
DEFAULT_T = 6


def streams_of(matrices: list, cfg) -> dict:
    """``{(layer, kind): [(columns, filler) per PE]}`` of ``(layer, kind, int matrix)`` items."""
    out = {}
    for k, kind, w in matrices:
        e = encode_matrix(np.asarray(w, dtype=np.int64), cfg.n_pe, cfg.index_bits)
        out[(k, kind)] = [(e.columns(p), e.pes[p].weights == 0) for p in range(cfg.n_pe)]
    return out


def _quantized(qm) -> tuple:
    mats = [(k, kind, w) for k, l in enumerate(qm.layers)
            for kind, w in (("Wx", l.wx), ("Wr", l.wr), ("Wp", l.wp)) if w is not None]
    layers = [{"n_in": l.n_in, "n_cells": l.n_cells, "n_out": l.n_out,
               "projection": l.has_proj} for l in qm.layers]
    return mats, layers


def streams_from_float(float_model) -> tuple:
    """(matrices, layers) of a float model as given: every non-zero counts (stored row order)."""
    from .qmodel import gate_perm
    mats, layers = [], []
    for k, l in enumerate(float_model.layers):
        perm = gate_perm(l.n_cells)
        mats.append((k, "Wx", (np.asarray(l.wx)[perm] != 0).astype(np.int64)))
        mats.append((k, "Wr", (np.asarray(l.wr)[perm] != 0).astype(np.int64)))
        if l.wp is not None:
            mats.append((k, "Wp", (np.asarray(l.wp) != 0).astype(np.int64)))
        layers.append({"n_in": l.n_in, "n_cells": l.n_cells, "n_out": l.n_out,
                       "projection": l.wp is not None})
    return mats, layers


def mover_cycles(cfg, n_in: int, n_out: int, batch: int) -> tuple:
    """Cycles the frame movers take per frame (input, output) for ``batch`` sequences.

    The input mover writes one value per cycle into each active channel in turn
    (plus a read request per channel); the output mover writes each active
    channel's frame in turn, one ``mem_writer`` command per channel (~20 cycles of
    handshake), reading ``vbuf_bank_count`` values per cycle into the bus word:
    ``axi_data_bits / 16 / vbuf_bank_count + 2`` cycles per word (hdl/ctrl_io.py).
    """
    b = max(1, min(int(batch), cfg.n_ch))
    per_word = cfg.axi_data_bits // 16
    words = -(-int(n_out) // per_word)
    word_cycles = per_word // cfg.vbuf_bank_count + 2
    return b * (int(n_in) + 5), b * (words * word_cycles + 20)


def run_cycles(matrices: list, layers: list, cfg, frames: int, batch: int | None = None,
               streams: dict | None = None) -> int:
    """Cycles of one run of ``frames`` frames (the CYCLES counter)."""
    streams = streams if streams is not None else streams_of(matrices, cfg)
    n_in, n_out = int(layers[0]["n_in"]), int(layers[-1]["n_out"])
    xs, ow = mover_cycles(cfg, n_in, n_out, batch or cfg.n_ch)
    res = simulate(layers, streams, cfg.n_pe, int(frames), chunk=cfg.bcast_width,
                   window=cfg.window, ew_lanes=cfg.ew_lanes, drain_lanes=cfg.drain_lanes,
                   lat=latency_for(cfg), x_stage=xs, out_write=ow)
    return res.cycles


def estimate_model(matrices: list, layers: list, cfg, frames: int | None = None,
                   batch: int | None = None) -> dict:
    """The figures of docs/performance.md for a model given as matrices and layer sizes."""
    nnz = int(sum(int(np.count_nonzero(w)) for _, _, w in matrices))
    streams = streams_of(matrices, cfg)
    t = DEFAULT_T if frames is None else max(1, int(frames))
    c_t = run_cycles(matrices, layers, cfg, t, batch, streams)
    # the cost of one more frame: the schedule is periodic after the first frame, so the
    # difference of a run of half the frames gives it (the RTL bench uses T and 2T)
    h = max(1, t // 2)
    c_h = run_cycles(matrices, layers, cfg, h, batch, streams) if h < t else 0
    steady = perf.steady(c_h, c_t, t - h) if h < t else float(c_t)
    out = perf.frame_figures(c_t / t, nnz, cfg.n_pe, cfg.n_ch)
    out.update({
        "frames": t,
        "cycles": int(c_t),
        "steady_cycles_per_frame": steady,
        "steady": perf.frame_figures(steady, nnz, cfg.n_pe, cfg.n_ch),
        "model": "cycle-level simulation of the stream schedule (model/schedule.py)",
    })
    if batch:
        passes = max(1, math.ceil(int(batch) / cfg.n_ch))
        out["passes"] = passes
        out["cycles"] = int(c_t * passes)
    return out


def estimate(src, frames: int | None = None, batch: int | None = None) -> dict:
    """Figures for a compressed model: a ``QModel``, or anything with ``.qmodel``.

    Without ``frames`` the run is T = 6 frames; the steady figure comes from runs
    of T and T/2 frames.
    With ``batch`` = B > n_ch the sequences run in ``ceil(B / n_ch)`` passes and
    ``cycles`` counts them all.
    """
    qm = getattr(src, "qmodel", src)
    mats, layers = _quantized(qm)
    return estimate_model(mats, layers, qm.cfg, frames, batch)


def estimate_float(float_model, cfg, frames: int | None = None,
                   batch: int | None = None) -> dict:
    """Figures for a float model as given (every non-zero weight counts), on ``cfg``."""
    mats, layers = streams_from_float(float_model)
    return estimate_model(mats, layers, cfg, frames, batch)


def model_manifest(float_model, cfg) -> dict:
    """A manifest-like summary of a float model as given (configuration, sizes, non-zeros)."""
    mats, layers = streams_from_float(float_model)
    return {"config": cfg.to_dict(),
            "layers": [dict(layer=k, **l) for k, l in enumerate(layers)],
            "matrices": [{"name": f"l{k}_{kind}", "layer": k, "kind": kind,
                          "rows": int(w.shape[0]), "cols": int(w.shape[1]),
                          "nnz": int(np.count_nonzero(w))} for k, kind, w in mats]}
