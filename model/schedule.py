"""The activation stream schedule and a cycle-level simulation of it.

The accelerator runs one *stream* of activation segments per frame
(docs/architecture.md "Schedule"); every PE walks its own entries of the
matrix that uses a segment as soon as the values it needs have been
broadcast.  This module writes that order down once (:func:`frame_slots`)
and simulates the scheduler, the PEs, the element-wise and drain passes and
the frame movers cycle by cycle over the real per-PE entry streams
(:func:`simulate`), vectorized over the PEs, with the RTL's pipeline
latencies (:class:`Latency`).  ``model/cycles.py`` turns the result into the
figures of docs/performance.md.

Stream order per frame ``t`` (a ``Wr`` slot is skipped at ``t = 0``, where
``y_{-1} = 0``; a ``Wp`` slot in a layer without projection):

    layer 0:    Wx <- x_t           Wr <- y0_{t-1}      Wp <- m0_t
    layer l>0:  Wr <- yl_{t-1}      Wx <- y(l-1)_t      Wp <- ml_t

Every segment is padded to a whole number of broadcast chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ese.pipeline import (CH_BC_READ, CH_EW_WRITEBACK, CH_PJ_WRITEBACK, FETCH_FIRST,
                          TREE_REG_EVERY)

#: every matrix command waits in a PE's FIFO of this depth (hdl/stream_if.py)
CMD_FIFO_DEPTH = 4


@dataclass(frozen=True)
class Slot:
    """One slot of the stream: a segment, or a skipped slot (``skip``)."""

    layer: int
    kind: str          #: "Wx", "Wr" or "Wp": the matrix that consumes the segment
    frame: int
    ncols: int         #: values that matter (the matrix's columns)
    length: int        #: ncols padded to whole chunks (0 for a skipped slot)
    skip: bool
    last_gate: bool    #: the last gate segment of (layer, frame)
    source: tuple      #: ("x", t) | ("y", layer, frame) | ("m", layer, frame)


def frame_slots(layers: list, chunk: int, t: int) -> list:
    """The three slots of every layer of frame ``t`` in stream order.

    ``layers``: per layer a dict with ``n_in``, ``n_cells``, ``n_out`` and
    ``projection`` (the manifest's layer entries).
    """
    out = []
    pad = lambda n: -(-int(n) // chunk) * chunk  # noqa: E731
    for k, lay in enumerate(layers):
        kinds = ("Wx", "Wr", "Wp") if k == 0 else ("Wr", "Wx", "Wp")
        for kind in kinds:
            if kind == "Wx":
                n, src = lay["n_in"], (("x", t) if k == 0 else ("y", k - 1, t))
            elif kind == "Wr":
                n, src = lay["n_out"], ("y", k, t - 1)
            else:
                n, src = lay["n_cells"], ("m", k, t)
            skip = (kind == "Wr" and t == 0) or (kind == "Wp" and not lay["projection"])
            last_gate = (kind == "Wr" and k == 0) or (kind == "Wx" and (k != 0 or t == 0))
            out.append(Slot(k, kind, t, int(n), 0 if skip else pad(n), skip, last_gate, src))
    return out


@dataclass(frozen=True)
class Latency:
    """Cycle counts of the RTL's pipelines (the hardware constants they come from).

    ``bcast``: a chunk the broadcaster sends in cycle t can be used by a PE's issue
    in t + bcast (channel read, controller register, array input register, window
    write).  ``lag``: a PE's state in cycle t reaches the broadcaster in t + lag
    (lag register + max tree: 1 + tree stages, set per n_pe by :func:`latency_for`).
    ``arrive``: a command pushed in t is in the PEs' FIFOs from t + arrive;
    ``first``: from a command's pop to its first issue; ``retire``: an issued entry
    counts as in flight for this many cycles; ``ew``: from the element-wise
    synchronisation to the first m values usable by the broadcaster; ``ew_busy``:
    from an element-wise pass's last issue until the channel's pipeline is empty;
    ``drain``, ``drain_busy`` likewise for the projection drain; ``seen``: a segment
    is broadcast only this many cycles after its command was pushed.  ``hold``: with
    one accumulator read port (``Config.acc_one_port``) a pass's step ``i``
    holds the issue of the PEs its read hits in cycle (pass start) + hold + i;
    -1: no hold.
    """

    bcast: int = 3 + CH_BC_READ
    lag: int = 3
    arrive: int = 2
    first: int = FETCH_FIRST
    retire: int = 3
    ew: int = 5 + CH_EW_WRITEBACK
    ew_busy: int = 4 + CH_EW_WRITEBACK
    drain: int = 5 + CH_PJ_WRITEBACK
    drain_busy: int = 4 + CH_PJ_WRITEBACK
    seen: int = 6
    hold: int = -1


#: cycles from a pass's start to its first read reaching the PEs (ctrl_exec's first
#: step, the array's input register)
READ_ARRIVE = 2


def tree_latency(n: int) -> int:
    """Registered stages of the PE array's reduction trees (hdl/pe_array.py)."""
    levels = max(0, (n - 1).bit_length())
    return max(1, -(-levels // TREE_REG_EVERY))


def latency_for(cfg) -> Latency:
    """The latencies of the configuration's PE array: the tree depth grows with n_pe,
    the accumulator reads wait ``Config.acc_read_delay`` cycles in the PEs (every
    element-wise and drain pass takes that much longer) and, with one accumulator port
    (``Config.acc_one_port``), hold the issue of the PEs they hit; a banked entry
    memory (``Config.entry_read_extra``) delays a command's first entry."""
    # the PE's lag register, the max tree, the scheduler's minpos register
    lag = 2 + tree_latency(cfg.n_pe)
    d, rd = Latency(), cfg.acc_read_delay
    return Latency(lag=lag, seen=1 + lag + 2, first=d.first + cfg.entry_read_extra,
                   ew=d.ew + rd, ew_busy=d.ew_busy + rd,
                   drain=d.drain + rd, drain_busy=d.drain_busy + rd,
                   hold=READ_ARRIVE if cfg.acc_one_port else -1)


@dataclass
class SimResult:
    cycles: int                                     #: until the last output frame is written
    frame_done: list = field(default_factory=list)  #: cycle each frame's last y was written
    pe_busy: int = 0                                #: sum over PEs of cycles with an entry issued
    bcast_stall: int = 0                            #: cycles the broadcaster waited for window room


def simulate(layers: list, streams: dict, n_pe: int, frames: int, *, chunk: int, window: int,
             ew_lanes: int, drain_lanes: int, lat: Latency,
             x_stage: int = 0, out_write: int = 0, max_cycles: int = 50_000_000) -> SimResult:
    """Cycle-level simulation of ``frames`` frames (every channel in lockstep).

    ``streams[(layer, kind)]`` is a list (one per PE) of ``(cols, filler)``
    arrays: the column of every entry of that PE's share of the matrix, in stream
    order, and whether it is a filler.  ``x_stage`` / ``out_write``: cycles the
    frame movers take per input / output frame (0: instantly).
    """
    C = chunk
    slots = [s for t in range(frames) for s in frame_slots(layers, C, t)]
    nsl = len(slots)
    base = np.zeros(nsl + 1, dtype=np.int64)
    base[1:] = np.cumsum([s.length for s in slots])
    segs = [i for i, s in enumerate(slots) if not s.skip]   # real segments, in order
    seg_of = {i: j for j, i in enumerate(segs)}

    # ---- every PE's entries: stream position, filler, command (segment) index ----
    BIG = np.iinfo(np.int64).max // 4
    per = []
    for p in range(n_pe):
        ps, fs, cs = [], [], []
        for j, i in enumerate(segs):
            s = slots[i]
            cols, fil = streams[(s.layer, s.kind)][p]
            ps.append(base[i] + np.asarray(cols, dtype=np.int64))
            fs.append(np.asarray(fil, dtype=bool))
            cs.append(np.full(len(cols), j, dtype=np.int64))
        per.append((np.concatenate(ps) if ps else np.zeros(0, np.int64),
                    np.concatenate(fs) if fs else np.zeros(0, bool),
                    np.concatenate(cs) if cs else np.zeros(0, np.int64)))
    nmax = max((a[0].size for a in per), default=0)
    POS = np.full((n_pe, nmax + 1), BIG, dtype=np.int64)
    FIL = np.zeros((n_pe, nmax + 1), dtype=bool)
    CMD = np.full((n_pe, nmax + 1), len(segs), dtype=np.int64)
    FIRST = np.zeros((n_pe, nmax + 1), dtype=bool)
    for p, (ps, fs, cs) in enumerate(per):
        POS[p, :ps.size], FIL[p, :ps.size], CMD[p, :ps.size] = ps, fs, cs
        if cs.size:
            FIRST[p, :cs.size] = np.concatenate(([True], cs[1:] != cs[:-1]))
    # flat views: PE p's entry i is element p * (nmax + 1) + i
    POSF, FILF, FIRSTF, CMDF = POS.ravel(), FIL.ravel(), FIRST.ravel(), CMD.ravel()
    ENDF = np.zeros(POSF.size, dtype=bool)
    ENDF.reshape(n_pe, nmax + 1)[:, nmax] = True
    for p, (ps, _, _) in enumerate(per):
        ENDF[p * (nmax + 1) + ps.size:(p + 1) * (nmax + 1)] = True
    fidx = np.arange(n_pe, dtype=np.int64) * (nmax + 1)
    cur_pos, cur_fil, cur_first = POSF[fidx], FILF[fidx], FIRSTF[fidx]
    cur_cmd, cur_end = CMDF[fidx], ENDF[fidx]
    cur_first_any = bool(cur_first.any())
    NOISSUE = np.full(n_pe, BIG, dtype=np.int64)
    ready = np.zeros(n_pe, dtype=np.int64)           # earliest issue cycle of the next entry
    arrive = np.full(len(segs) + 1, BIG, dtype=np.int64)   # command j in the FIFOs from
    hist_issue = [np.full(n_pe, BIG, dtype=np.int64) for _ in range(lat.retire)]

    # ---- producers -------------------------------------------------------------------
    n_layers = len(layers)
    H = [int(l["n_cells"]) for l in layers]
    P = [int(l["n_out"]) for l in layers]
    proj = [bool(l["projection"]) for l in layers]
    avail_from = {}          # ("m"|"y", layer, frame) -> (first cycle, values per cycle)

    def avail(src, j):
        if src[0] == "x":
            return x_ready[src[1]] if src[1] < frames else BIG
        a = avail_from.get(src)
        return BIG if a is None else a[0] + j // a[1]

    x_ready = [BIG] * (frames + 2)
    x_used = 0               # frames whose input segment has been broadcast
    x_next, x_busy_until = 0, -1
    # synchronisation marks (pushed by the pusher in stream order)
    ew_q, dr_q = [], []      # (layer, frame, end position)
    ew_busy_until = dr_busy_until = -1
    e_act_until = -1         # last cycle of the current pass's issues
    ew_done_at = []          # cycle from which each element-wise pass counts as done
    blk = 4 * ew_lanes       # PEs a read hits (hdl/pe_array.py)
    nblk, noff = max(1, n_pe // blk), max(1, blk // drain_lanes)
    holds = {}               # cycle -> blocks whose PEs a read holds (one accumulator port)
    b_pass = 0
    out_done, out_next, out_busy_until = 0, 0, -1
    y_done_at = {}           # (layer, frame) -> cycle the last y of it is written
    frame_done = []

    # ---- controller cursors ------------------------------------------------------------
    sp = 0                   # pusher slot
    n_push = 0               # segments pushed
    push_cycle = []          # cycle each segment's command was pushed
    sb, b_off = 0, 0         # broadcaster slot and chunk offset in it
    head = 0
    head_hist = [0] * (lat.bcast + 1)
    minpos_hist = [0] * (lat.lag + 1)
    busy = stall = 0
    cyc = 0
    done_at = None
    while True:
        minpos = minpos_hist[0]
        # -- input frames: X half f mod 2 is free once frame f-2's input was broadcast
        if x_next < frames and cyc > x_busy_until and x_next < x_used + 2:
            x_busy_until = cyc + max(1, x_stage)
            x_ready[x_next] = x_busy_until + 1
            x_next += 1
        # -- element-wise and drain passes (one at a time, after the channel drained)
        free = cyc > e_act_until and cyc > ew_busy_until and cyc > dr_busy_until
        if free and ew_q:
            k, t, end = ew_q[0]
            last = k == n_layers - 1
            if minpos >= end and (proj[k] or not last or t < out_done + 2):
                ew_q.pop(0)
                steps = -(-H[k] // ew_lanes)
                if lat.hold >= 0:
                    for i in range(steps):
                        holds.setdefault(cyc + lat.hold + i, []).append(i % nblk)
                src = ("m", k, t) if proj[k] else ("y", k, t)
                avail_from[src] = (cyc + lat.ew, ew_lanes)
                e_act_until = cyc + steps
                ew_busy_until = cyc + steps + lat.ew_busy
                ew_done_at.append(cyc + steps + 1)     # its reads are all issued then
                if not proj[k]:
                    y_done_at[(k, t)] = cyc + lat.ew + (steps - 1)
                free = False
        if free and dr_q:
            k, t, end = dr_q[0]
            last = k == n_layers - 1
            if minpos >= end and (not last or t < out_done + 2):
                dr_q.pop(0)
                steps = -(-P[k] // drain_lanes)
                if lat.hold >= 0:
                    # a block of 4 * ew_lanes rows is read once, for blk // drain_lanes steps
                    for i in range(0, steps, noff):
                        holds.setdefault(cyc + lat.hold + i, []).append((i // noff) % nblk)
                avail_from[("y", k, t)] = (cyc + lat.drain, drain_lanes)
                e_act_until = cyc + steps
                dr_busy_until = cyc + steps + lat.drain_busy
                y_done_at[(k, t)] = cyc + lat.drain + (steps - 1)
        # -- output frames
        if cyc > out_busy_until and out_next < frames:
            d = y_done_at.get((n_layers - 1, out_next))
            if d is not None and d < cyc:
                frame_done.append(d)
                out_busy_until = cyc + max(1, out_write)
                out_next += 1
        if out_done < out_next and cyc > out_busy_until:
            out_done = out_next
        if out_done == frames:
            done_at = cyc
            break
        # -- pusher: one command a cycle, while the FIFOs have room
        if sp < nsl:
            s = slots[sp]
            if s.skip:
                sp += 1
            else:
                room = n_push < CMD_FIFO_DEPTH or minpos >= base[segs[n_push - CMD_FIFO_DEPTH]]
                if room and len(ew_q) < 3 and len(dr_q) < 3:
                    push_cycle.append(cyc)
                    arrive[n_push] = cyc + lat.arrive
                    if s.last_gate:
                        ew_q.append((s.layer, s.frame, base[sp + 1]))
                    if s.kind == "Wp":
                        dr_q.append((s.layer, s.frame, base[sp + 1]))
                    n_push += 1
                    sp += 1
        # -- broadcaster: one chunk a cycle
        if sb < nsl:
            s = slots[sb]
            if s.skip:
                sb += 1
            else:
                j = seg_of[sb]
                hi = min(b_off + C, s.ncols) - 1
                ok = (j < len(push_cycle) and push_cycle[j] + lat.seen <= cyc
                      and (s.kind == "Wp"
                           or sum(1 for d in ew_done_at if d <= cyc) >= b_pass)
                      and avail(s.source, max(hi, 0)) <= cyc)
                if ok:
                    if head + C - minpos <= window:
                        head += C
                        b_off += C
                        if b_off >= s.length:
                            if s.kind == "Wx" and s.layer == 0:
                                x_used += 1
                            if s.last_gate:
                                b_pass += 1
                            sb += 1
                            b_off = 0
                    else:
                        stall += 1
        head_hist.append(head)
        hv = head_hist.pop(0)
        # -- PEs: issue the next entry when its command is there and its value is in
        # (cur_* hold each PE's next entry; only the PEs that issue move on)
        ok = (ready <= cyc) & (cur_fil | (cur_pos < hv)) & ~cur_end
        held = holds.pop(cyc, None)
        if held:
            free_pe = np.ones(n_pe, dtype=bool)
            for b in held:
                free_pe[b * blk:(b + 1) * blk] = False
            ok &= cur_fil | free_pe
        if cur_first_any:
            ok &= ~cur_first | (arrive[cur_cmd] + lat.first <= cyc)
        n_ok = int(np.count_nonzero(ok))
        if n_ok:
            busy += n_ok
            issued = np.where(ok, cur_pos, BIG)
            fidx += ok
            ready[ok] = cyc + 1
            cur_pos = POSF[fidx]
            cur_fil = FILF[fidx]
            cur_first = FIRSTF[fidx]
            cur_cmd = CMDF[fidx]
            cur_end = ENDF[fidx]
            cur_first_any = bool(cur_first.any())
        else:
            issued = NOISSUE
        hist_issue.append(issued)
        hist_issue.pop(0)
        oldest = min(int(h.min()) for h in hist_issue)
        minpos_hist.append(min(oldest, int(cur_pos.min()), hv))
        minpos_hist.pop(0)
        cyc += 1
        if cyc > max_cycles:
            raise RuntimeError("schedule simulation did not finish (deadlock?)")
    return SimResult(cycles=int(done_at) + 1, frame_done=frame_done, pe_busy=busy,
                     bcast_stall=stall)
