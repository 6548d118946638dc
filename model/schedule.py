"""The activation stream schedule and its cycle-by-cycle simulation.

The accelerator runs one *stream* of activation segments per frame
(docs/architecture.md "Schedule"); every PE walks its own entries of the
matrix that uses a segment, as soon as the values it needs have been
broadcast.  This module writes that order down once (:func:`frame_segments`)
and simulates the whole machine cycle by cycle over the real per-PE entry
streams (:func:`simulate`), with the RTL's pipeline latencies as named
constants (:class:`Latency`).  ``model/cycles.py`` turns the result into the
figures of docs/performance.md.

Stream order per frame ``t`` (``Wr`` segments are absent at ``t = 0``, where
``y_{-1} = 0``):

    layer 0:    Wx <- x_t           Wr <- y0_{t-1}      Wp <- m0_t
    layer l>0:  Wr <- yl_{t-1}      Wx <- y(l-1)_t      Wp <- ml_t

Each segment is padded to a whole number of broadcast chunks
(``cfg.bcast_width`` values).  A layer without projection has no ``Wp``
segment; its ``y`` is its ``m``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("Wx", "Wr", "Wp")


@dataclass(frozen=True)
class Segment:
    """One segment of the activation stream."""

    layer: int
    kind: str          #: "Wx", "Wr" or "Wp": the matrix that consumes it
    frame: int
    ncols: int         #: values that matter (the matrix's columns)
    length: int        #: ncols padded to whole chunks
    source: tuple      #: ("x", t) | ("y", layer, frame) | ("m", layer, frame)


def frame_segments(layers: list, chunk: int, t: int) -> list:
    """The segments of frame ``t`` in stream order.

    ``layers``: per layer a dict with ``n_in``, ``n_cells``, ``n_out`` and
    ``projection`` (the manifest's layer entries).
    """
    segs = []
    pad = lambda n: -(-int(n) // chunk) * chunk  # noqa: E731
    for k, lay in enumerate(layers):
        wx_src = ("x", t) if k == 0 else ("y", k - 1, t)
        wx = Segment(k, "Wx", t, int(lay["n_in"]), pad(lay["n_in"]), wx_src)
        wr = Segment(k, "Wr", t, int(lay["n_out"]), pad(lay["n_out"]), ("y", k, t - 1))
        order = [wx, wr] if k == 0 else [wr, wx]
        segs.extend(s for s in order if not (s.kind == "Wr" and t == 0))
        if lay["projection"]:
            segs.append(Segment(k, "Wp", t, int(lay["n_cells"]), pad(lay["n_cells"]),
                                ("m", k, t)))
    return segs


@dataclass(frozen=True)
class Latency:
    """Pipeline latencies of the RTL, in cycles (calibrated against it).

    ``bcast``: from the broadcaster's decision to the chunk being readable in
    the PEs' windows; ``lag``: from a PE's position to the broadcaster seeing
    it (lag register + max tree); ``pe_start``: from a command reaching an
    idle PE to its first entry issue; ``retire``: from an entry's issue to its
    product being accumulated; ``ew``: from the gate synchronisation to the
    first m values being available for broadcast; ``drain``: likewise for the
    first y of the projection.
    """

    bcast: int = 3
    lag: int = 4
    pe_start: int = 4
    retire: int = 3
    ew: int = 22
    drain: int = 8


@dataclass
class SimResult:
    cycles: int                       #: until the last y of the last frame is written
    frame_end: list = field(default_factory=list)   #: cycle each frame's last y was written
    pe_busy: int = 0                  #: sum over PEs of cycles with an entry issued


def simulate(layers: list, streams: dict, n_pe: int, frames: int, *, chunk: int,
             window: int, ew_lanes: int, drain_lanes: int, lat: Latency = Latency(),
             max_cycles: int = 50_000_000) -> SimResult:
    """Cycle-by-cycle simulation of ``frames`` frames of one sequence.

    ``streams[(layer, kind)]`` is a list (one per PE) of ``(cols, filler)``
    arrays: the column of every entry of that PE's share of the matrix, in
    stream order, and whether it is a filler.
    """
    # ---- the whole run's segments and every PE's flat entry list ----------
    segs = [s for t in range(frames) for s in frame_segments(layers, chunk, t)]
    nseg = len(segs)
    base = np.zeros(nseg + 1, dtype=np.int64)
    base[1:] = np.cumsum([s.length for s in segs])
    per_pe_pos, per_pe_fil = [], []
    for p in range(n_pe):
        ps, fs = [], []
        for i, s in enumerate(segs):
            cols, fil = streams[(s.layer, s.kind)][p]
            ps.append(base[i] + np.asarray(cols, dtype=np.int64))
            fs.append(np.asarray(fil, dtype=bool))
        per_pe_pos.append(np.concatenate(ps) if ps else np.zeros(0, np.int64))
        per_pe_fil.append(np.concatenate(fs) if fs else np.zeros(0, bool))
    nmax = max((a.size for a in per_pe_pos), default=0)
    BIG = np.iinfo(np.int64).max // 4
    POS = np.full((n_pe, nmax + 1), BIG, dtype=np.int64)
    FIL = np.zeros((n_pe, nmax + 1), dtype=bool)
    for p in range(n_pe):
        n = per_pe_pos[p].size
        POS[p, :n] = per_pe_pos[p]
        FIL[p, :n] = per_pe_fil[p]
    # a segment is complete for a PE once its next entry lies beyond the segment

    # ---- producers: when each value of x / y / m becomes broadcastable ------
    n_layers = len(layers)
    H = [int(l["n_cells"]) for l in layers]
    P = [int(l["n_out"]) for l in layers]
    proj = [bool(l["projection"]) for l in layers]
    ew_start, y_start = {}, {}       # (layer, t) -> cycle the first values exist
    ew_free = drain_free = 0

    def avail(src, j):
        """Cycle from which value j of ``src`` can be broadcast (None: not yet known)."""
        if src[0] == "x":
            return 0
        kind, k, t = src
        if kind == "m":
            s = ew_start.get((k, t))
            return None if s is None else s + j // ew_lanes
        s = y_start.get((k, t))
        if s is None:
            return None
        return s + j // (drain_lanes if proj[k] else ew_lanes)

    # sync points: last gate segment and the Wp segment of every (layer, frame)
    gate_end, wp_end = {}, {}
    for i, s in enumerate(segs):
        if s.kind in ("Wx", "Wr"):
            gate_end[(s.layer, s.frame)] = base[i + 1]
        else:
            wp_end[(s.layer, s.frame)] = base[i + 1]
    order = [(k, t) for t in range(frames) for k in range(n_layers)]

    idx = np.zeros(n_pe, dtype=np.int64)
    ar = np.arange(n_pe)
    head = 0                                  # broadcaster's head
    head_pe = [0] * (lat.bcast + 1)           # what the PEs see, delayed
    minpos_q = [0] * (lat.lag + 1)            # what the broadcaster sees, delayed
    seg_b = 0
    busy = 0
    frame_end = []
    ew_next = 0                                # index into `order` of the next element-wise pass
    dr_next = 0
    last_done = None
    cyc = 0
    while True:
        # -- the oldest position any PE still needs (entries issued but not retired
        #    are approximated by `retire` cycles of delay on the report)
        minpos = minpos_q[0]
        # -- element-wise passes and drains start when every PE passed the segment end
        while ew_next < len(order):
            k, t = order[ew_next]
            if minpos < gate_end[(k, t)] or cyc < ew_free:
                break
            s = cyc + lat.ew
            ew_start[(k, t)] = s
            if not proj[k]:
                y_start[(k, t)] = s
                if k == n_layers - 1:
                    frame_end.append(s + (H[k] - 1) // ew_lanes)
            ew_free = cyc + -(-H[k] // ew_lanes)
            ew_next += 1
        while dr_next < len(order):
            k, t = order[dr_next]
            if not proj[k]:
                dr_next += 1
                continue
            if (k, t) not in ew_start or minpos < wp_end[(k, t)] or cyc < drain_free:
                break
            s = cyc + lat.drain
            y_start[(k, t)] = s
            if k == n_layers - 1:
                frame_end.append(s + (P[k] - 1) // drain_lanes)
            drain_free = cyc + -(-P[k] // drain_lanes)
            dr_next += 1
        if len(frame_end) == frames:
            last_done = frame_end[-1]
            if cyc >= last_done:
                break
        # -- broadcaster: one chunk per cycle if its data exist and the window has room
        if seg_b < nseg:
            s = segs[seg_b]
            j = head - base[seg_b]
            a = avail(s.source, min(j + chunk, s.ncols) - 1)
            if a is not None and a <= cyc and head + chunk - minpos <= window:
                head += chunk
                if head >= base[seg_b + 1]:
                    seg_b += 1
        head_pe.append(head)
        hv = head_pe.pop(0)
        # -- PEs: issue the next entry if it is a filler or its value is in the window
        pos = POS[ar, idx]
        ok = (FIL[ar, idx] | (pos < hv)) & (idx < nmax)
        busy += int(np.count_nonzero(ok))
        idx = idx + ok
        nxt = POS[ar, idx]
        minpos_q.append(int(min(nxt.min(), head)))
        minpos_q.pop(0)
        cyc += 1
        if cyc > max_cycles:
            raise RuntimeError("schedule simulation did not finish (deadlock?)")
    return SimResult(cycles=int(last_done) + 1, frame_end=frame_end, pe_busy=busy)
