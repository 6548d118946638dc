"""ctrl_exec: the stream scheduler alone, against behavioural models of its surroundings.

DUT: ``ctrl_exec`` (hdl/ctrl_exec.py ``top``).  Around it, in Python, every cycle:

* **PE array model** (:class:`ArrayModel`): ``n_pe`` PEs, each walking its real
  entry stream (model/encode.py streams of random sparse matrices, fillers and
  empty PEs included) for every command it receives, through pe_fetch's fetch
  pipeline (command FIFO, entry read, decode, issue when the value's position is
  below the head the PE holds; a PE may also pause at random).  Commands,
  chunks and reads reach the PEs ``FAN_STAGES`` cycles late; an issued entry
  reads the window one cycle later and is accumulated ``LANE_RETIRE`` cycles
  later; a read clears its rows ``FAN_STAGES + acc_read_delay`` cycles after
  ``rd`` and, with one accumulator port (Config.acc_one_port), holds the issue of
  its block's PEs for the cycle it arrives (pe_lanes, pe_fetch ``hold``).  The lag
  report is pe_fetch's (head - oldest position the PE may still read, in chunks
  rounded up, 0 when idle or waiting for a value not yet broadcast, saturating),
  maxed over the PEs and delivered ``lag_latency(cfg)`` cycles late with the head
  it is relative to (hdl/pe_array.py).
* **channel model** (:class:`ChannelModel`): the X halves, the Y/M buffer, the
  output buffer and the cell state hold *tags* (which value of which frame and
  layer sits where); an element-wise step writes its m (or y) ``ELAT`` cycles
  after ``ew.issue`` with an ``m_wb`` pulse, a drain step its y ``PLAT`` cycles
  after ``pj.issue`` with ``y_wb``; ``wb_busy`` while any is in flight
  (hdl/channel.py); a broadcast read gives its chunk's tags BC_READ cycles later.
* **frame mover models**: ``in_frame`` / ``out_frame`` requests answered with
  ``busy`` for a random number of cycles (fast, slow or mixed per run); the
  input mover fills the X half of its frame, the output mover reads the output
  half.

Checked every cycle (the bracketed names appear in failure messages):

[cmd]      commands in stream order (model/schedule.py ``frame_slots``: no W_r at
           t = 0, no W_p without projection) with matrix id, base (modulo the
           position width), row shift, accumulator base and product shift from the
           layer table; no PE's command FIFO ever overflows.
[chunk]    broadcast reads in stream order, each chunk once, from the buffer that
           holds the segment's source (X half / Y[l] / M, vbuf_layout), only of a
           segment whose command was pushed in an earlier cycle and only when every
           value of the chunk is written (tags); each chunk on ``bc_valid/bc_pos``
           the next cycle.
[window]   a chunk never overwrites a window word holding a value a PE still needs
           (the model's true oldest needed position over all PEs: every non-filler
           entry not yet past its window read, commands in flight included), and
           every entry reads the value it needs (tags).
[range]    positions a PE compares (entry vs head, head vs oldest) differ by less than
           half the modular range.
[order]    a gate segment of element-wise pass p is broadcast only after every array
           read of pass p-1 was issued; a W_p segment only after every read of the
           previous drain pass (both regions are read-and-clear, one region each).
[ew]       an element-wise pass (l, t) starts only when every PE has accumulated all
           its gate entries of (l, t); its reads cover the cell groups once, in order,
           at the local row / block of the row dealing (row r on PE r mod n_pe, local
           row r div n_pe); every row read holds exactly the (l, t) sum (nothing
           missing, nothing of another pass); no accumulation into the region a read
           hits in the same cycle; each step read_latency(cfg) cycles after its read with
           prm, zero_c (t = 0), dst (M or Y[l]), to_out, oaddr, s_acc, s_p, peep.
[drain]    the same for the projection: rows r0 .. r0+D-1 per step, the block read at
           its first step only, off / dst / to_out / oaddr / shift.
[pass]     reads of two passes never interleave; the channel's write port never takes
           m and y in the same cycle; each step's c_{t-1} was written by (l, t-1).
[in]       input frames requested in order, one at a time, never into the X half of a
           frame whose input segment is still being broadcast.
[out]      output frames requested in order, one at a time, only when the last layer's
           y of the frame are all in its output half; nothing written into a half the
           output mover is reading.
[fin]      ``fin`` a one-cycle pulse, once, after the last output frame is written,
           with every command, chunk and step done and the PEs idle and clean; nothing
           happens after it; every run finishes within a bound.
[stall]    ``stall`` (registered: it tells of the cycle before) only while the
           broadcaster waits for an input frame or a pass of the last layer waits for
           its output half; and high whenever the broadcaster has been waiting for an
           input frame for three cycles.
[cancel]   from the cycle after ``cancel``: no command, chunk read, array read, frame
           request or fin; steps and chunks only those already in flight.  The next
           ``go`` (without a reset) runs correctly.
[table]    the layer table is copied at go: ``lrow`` carries garbage during the run.

Several random models (1..max_layers layers, projection on and off, sizes the
lanes do not divide) and runs per configuration; ``test_ctrl_exec`` runs
configurations with n_pe 4..32, ew_lanes 1..4, drain_lanes 1..8, bcast_width
1..8 and small windows on both simulators.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict, deque

import numpy as np
import pytest

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.sim import BaseTB

from ese.pipeline import CH_BC_READ as BC_READ
from ese.pipeline import CH_PJ_WRITEBACK

#: matrix id offset of each kind within its layer (W_x, W_r, W_p)
KIND_MAT = {"Wx": 0, "Wr": 1, "Wp": 2}
#: channel write-back latency of a drain step (hdl/channel.py PLAT)
PLAT = CH_PJ_WRITEBACK


def elat() -> int:
    """Channel write-back latency of an element-wise step (hdl/channel.py ELAT)."""
    from ese.pipeline import CH_EW_WRITEBACK
    return CH_EW_WRITEBACK


class BenchError(AssertionError):
    pass


# ------------------------------------------------------------------------------ the plan
class Plan:
    """One run: a random model (layer table, per-PE streams) and all that is expected.

    Everything here comes from model/schedule.py (stream order), model/encode.py
    (per-PE entries), the row dealing and hdl/stream_if.py's buffer layout, never
    from ctrl_exec.
    """

    def __init__(self, cfg, rng: random.Random, n_layers: int, frames: int, proj=None):
        from ese.hdl.stream_if import out_half, stream_widths, vbuf_layout
        from ese.model.encode import encode_matrix
        from ese.model.schedule import frame_slots
        self.cfg, self.frames, self.n_layers = cfg, frames, n_layers
        w = stream_widths(cfg)
        self.w = w
        self.PW, self.GR = w.pos, w.gate_rows
        C, NPE = cfg.bcast_width, cfg.n_pe
        EL, DL = cfg.ew_lanes, cfg.drain_lanes
        BLK = 4 * EL
        VL = vbuf_layout(cfg)
        self.VL, self.OH = VL, out_half(cfg)
        nprng = np.random.default_rng(rng.getrandbits(32))

        def sparse(shape):
            dens = rng.choice([0.03, 0.15, 0.4, 0.9])
            lim = (1 << (cfg.weight_bits - 1)) - 1
            wq = nprng.integers(1, lim + 1, size=shape) * nprng.choice([-1, 1], size=shape)
            wq[nprng.random(shape) >= dens] = 0
            return wq.astype(np.int64)

        # ---- layers, matrices, the layer table
        self.layers, self.rows, self.streams = [], [], {}
        n_in = rng.randint(1, min(cfg.max_input, 14))
        mat = 0
        for l in range(n_layers):
            pr = bool(proj[l]) if proj is not None else rng.random() < 0.6
            h = rng.randint(1, min(cfg.max_cells, 13))
            if pr:
                p = rng.randint(1, min(cfg.max_proj, 11))
            else:
                h = p = min(h, cfg.max_proj)
            shapes = {"Wx": (4 * h, n_in), "Wr": (4 * h, p)}
            if pr:
                shapes["Wp"] = (p, h)
            rs = {}
            for kind, shp in shapes.items():
                e = encode_matrix(sparse(shp), NPE, cfg.index_bits)
                rs[kind] = e.row_shift
                per = []
                for q in range(NPE):
                    lp = e.pes[q].positions()
                    per.append(([int(c) for c in lp >> e.row_shift],
                                [int(r) for r in lp & ((1 << e.row_shift) - 1)],
                                [bool(x == 0) for x in e.pes[q].weights]))
                self.streams[(l, kind)] = per
            self.layers.append(dict(n_in=n_in, n_cells=h, n_out=p, projection=pr))
            self.rows.append(dict(
                n_in=n_in, n_cells=h, n_out=p, peep=rng.randint(0, 1), proj=int(pr),
                shift_x=rng.randint(0, cfg.max_align_shift),
                shift_r=rng.randint(0, cfg.max_align_shift),
                s_acc=rng.randint(0, 63), s_p=rng.randint(0, 63),
                wf_p=rng.randint(0, 63) if pr else 0, mat=mat, rs_x=rs["Wx"], rs_r=rs["Wr"],
                rs_p=rs.get("Wp", 0)))
            mat += 3 if pr else 2
            n_in = p
        last = n_layers - 1

        # ---- the stream: commands, chunks, per-PE entries, expected sums
        self.cmds = []          # dicts: layer, kind, frame, base, ncols, length, src, key, fields
        self.ent = []           # per command, per PE: (stream positions, fillers, acc addresses)
        self.chunks = []        # (command, offset) in stream order
        self.exp_rows = defaultdict(Counter)    # (pe, key) -> acc address -> entries
        self.nf_pos = [[] for _ in range(NPE)]  # per PE: positions of its non-filler entries
        pos = 0
        for t in range(frames):
            for s in frame_slots(self.layers, C, t):
                if s.skip:
                    continue
                k = len(self.cmds)
                row = self.rows[s.layer]
                key = ("p" if s.kind == "Wp" else "g", s.layer, t)
                acc_base = self.GR if s.kind == "Wp" else 0
                fields = dict(mat=row["mat"] + KIND_MAT[s.kind], base=pos % (1 << self.PW),
                              rshift=row[{"Wx": "rs_x", "Wr": "rs_r", "Wp": "rs_p"}[s.kind]],
                              acc_base=acc_base,
                              shift={"Wx": row["shift_x"], "Wr": row["shift_r"], "Wp": 0}[s.kind])
                self.cmds.append(dict(layer=s.layer, kind=s.kind, frame=t, base=pos,
                                      ncols=s.ncols, length=s.length, src=s.source, key=key,
                                      last_gate=s.last_gate, fields=fields))
                per = []
                for q, (cols, rws, fil) in enumerate(self.streams[(s.layer, s.kind)]):
                    sp = tuple(pos + c for c in cols)
                    ac = tuple(acc_base + r for r in rws)
                    per.append((sp, tuple(fil), ac))
                    for a, f, x in zip(ac, fil, sp):
                        if not f:
                            self.exp_rows[(q, key)][a] += 1
                            self.nf_pos[q].append(x)
                self.ent.append(per)
                for off in range(0, s.length, C):
                    self.chunks.append((k, off))
                pos += s.length
        self.total = {pk: sum(c.values()) for pk, c in self.exp_rows.items()}
        self.end = pos

        # ---- passes: element-wise (every layer) and drain (projection layers)
        self.ew_passes = [(l, t) for t in range(frames) for l in range(n_layers)]
        self.dr_passes = [(l, t) for t in range(frames) for l in range(n_layers)
                          if self.rows[l]["proj"]]
        self.ew_mark, self.dr_mark = {}, {}     # pass -> command whose push queues its mark
        self.seg_pass = {}                      # command -> (kind, pass) it feeds
        for k, c in enumerate(self.cmds):
            lt = (c["layer"], c["frame"])
            if c["kind"] == "Wp":
                self.dr_mark[self.dr_passes.index(lt)] = k
                self.seg_pass[k] = ("d", self.dr_passes.index(lt))
            else:
                if c["last_gate"]:
                    self.ew_mark[self.ew_passes.index(lt)] = k
                self.seg_pass[k] = ("e", self.ew_passes.index(lt))
        self.ew_steps = []
        for l, t in self.ew_passes:
            row = self.rows[l]
            steps = []
            for g in range(-(-row["n_cells"] // EL)):
                r0 = 4 * g * EL                     # first gate row of the group
                pe0, q = r0 % NPE, r0 // NPE
                assert pe0 % BLK == 0
                dst0 = VL["m"] if row["proj"] else VL["y"][l]
                tag = "m" if row["proj"] else "y"
                steps.append(dict(
                    read=(q, pe0 // BLK),
                    f=dict(prm=(l * cfg.max_cells + g * EL) // EL, zero_c=int(t == 0),
                           dst=dst0 + g * EL, to_out=int(l == last and not row["proj"]),
                           oaddr=(t % 2) * self.OH + g * EL, s_acc=row["s_acc"], s_p=row["s_p"],
                           peep=row["peep"]),
                    tags=tuple((tag, l, t, g * EL + j) if g * EL + j < row["n_cells"] else ("pad",)
                               for j in range(EL))))
            self.ew_steps.append(steps)
        self.dr_steps, self.dr_reads = [], []
        for l, t in self.dr_passes:
            row = self.rows[l]
            steps, reads = [], []
            first = 0
            for j in range(-(-row["n_out"] // DL)):
                r0 = j * DL
                pe0, q = r0 % NPE, r0 // NPE
                off = (pe0 % BLK) // DL
                if off == 0:
                    first = j
                    reads.append(dict(step=j, addr=self.GR + q, blk=pe0 // BLK))
                steps.append(dict(
                    read=off == 0, first=first,
                    f=dict(off=off, dst=VL["y"][l] + r0, to_out=int(l == last),
                           oaddr=(t % 2) * self.OH + r0, shift=row["wf_p"]),
                    tags=tuple(("y", l, t, r0 + i) if r0 + i < row["n_out"] else ("pad",)
                               for i in range(DL))))
            self.dr_steps.append(steps)
            self.dr_reads.append(reads)
        # input segments: frame -> (command, first chunk, last chunk)
        self.x_seg = {}
        for i, (k, off) in enumerate(self.chunks):
            c = self.cmds[k]
            if c["kind"] == "Wx" and c["layer"] == 0:
                f0 = self.x_seg.get(c["frame"], (k, i, i))[1]
                self.x_seg[c["frame"]] = (k, f0, i)

    def tag(self, k: int, col: int):
        """The value a PE needs at column ``col`` of command ``k``'s segment."""
        src = self.cmds[k]["src"]
        return (src[0], src[1], col) if src[0] == "x" else (src[0], src[1], src[2], col)


# ------------------------------------------------------------------------------ PE array
class ArrayModel:
    """n_pe PEs: pe_fetch's command FIFO and fetch pipeline (entry read R, decode D1,
    D2 = issue stage), the shared window, the accumulators (tagged sums), the gather
    reads and the lag report (see the module docstring)."""

    def __init__(self, run):
        from ese.hdl.pe_array import FAN_STAGES, lag_latency
        from ese.pipeline import LANE_RETIRE
        from ese.hdl.stream_if import CMD_FIFO_DEPTH
        plan, cfg = run.plan, run.plan.cfg
        self.run, self.plan, self.cfg = run, plan, cfg
        self.fail = run.fail
        self.NPE = n = cfg.n_pe
        self.C, self.WIN, self.WORDS = cfg.bcast_width, cfg.window, cfg.window // cfg.bcast_width
        self.BLK = 4 * cfg.ew_lanes
        self.FAN, self.LAT, self.RETIRE = FAN_STAGES, lag_latency(cfg), LANE_RETIRE
        self.RD_DELAY = cfg.acc_read_delay
        self.ONE_PORT = cfg.acc_one_port
        self.DEPTH = CMD_FIFO_DEPTH
        self.LAGMAX = (1 << plan.w.lag) - 1
        self.HALF = 1 << (plan.PW - 1)
        self.PMASK = (1 << plan.PW) - 1
        self.fifo = [deque() for _ in range(n)]
        self.act = [False] * n
        self.cur = [0] * n
        self.idx = [0] * n
        self.r, self.d1, self.d2 = [None] * n, [None] * n, [None] * n
        self.head = 0
        self.window = {}                    # word -> (chunk position, tags)
        self.wreads = []                    # non-fillers issued last cycle: (pe, cmd, entry)
        self.accs = defaultdict(list)       # cycle -> [(pe, acc address, key)]
        self.rows = [dict() for _ in range(n)]   # pe -> address -> Counter(key -> entries)
        self.acc_n = Counter()              # (pe, key) -> entries accumulated
        self.read_rows = set()              # (pe, address, key) read and cleared
        self.nf_ptr = [0] * n               # non-filler entries past their window read
        self.rep = {}                       # cycle -> (lag, head) on the report
        self.last_rep = (0, 0)              # a reset array reports lag 0 at head 0
        self.cmd_in, self.bc_in, self.rd_in = {}, {}, {}   # PE cycle -> array input
        self.rd_take = {}                   # cycle a read takes the accumulators -> read
        self.p_pause = run.spec.get("pe_pause", 0.0)
        self.rng = run.rng

    # -- inputs from the controller (they reach the PEs FAN_STAGES cycles later)
    def push(self, n, k):
        self.cmd_in[n + self.FAN] = k

    def bcast(self, n, pos, tags):
        self.bc_in[n + self.FAN] = (pos, tags)

    def read(self, n, addr, blk, key, first):
        self.rd_in[n + self.FAN] = (addr, blk, key, first)

    def needed(self):
        """The oldest stream position any PE still needs (None: nothing left)."""
        best = None
        for p in range(self.NPE):
            lst = self.plan.nf_pos[p]
            i = self.nf_ptr[p]
            if i < len(lst) and (best is None or lst[i] < best):
                best = lst[i]
        return best

    def idle(self) -> bool:
        return not any(self.fifo) and not any(self.act) and all(
            x is None for x in self.r + self.d1 + self.d2) and not self.wreads \
            and not self.accs and not self.cmd_in and not self.bc_in and not self.rd_in \
            and not self.rd_take

    # -- one clock cycle of the array
    def step(self, x):
        plan, fail = self.plan, self.fail
        ent = plan.ent
        C, GR = self.C, plan.GR
        # window reads of the entries issued last cycle (before this cycle's chunk lands)
        for p, k, i in self.wreads:
            sp = ent[k][p][0][i]
            w = self.window.get((sp // C) % self.WORDS)
            want = plan.tag(k, sp - plan.cmds[k]["base"])
            if w is None or w[0] != sp - sp % C or w[1][sp % C] != want:
                fail("window", f"PE {p} reads position {sp} (needs {want}) but its window word "
                     f"holds chunk {None if w is None else w[0]} "
                     f"({None if w is None else w[1][sp % C]})")
            nf = plan.nf_pos[p]
            assert nf[self.nf_ptr[p]] == sp, "bench: non-filler order"
            self.nf_ptr[p] += 1
        self.wreads = []
        # accumulator read (rd FAN_STAGES + RD_DELAY ago): read and clear the block's rows;
        # a read arriving now holds its block's issue (one accumulator port)
        acc_now = self.accs.pop(x, [])
        rd_arr = self.rd_in.pop(x, None)
        held = range(0)
        if rd_arr is not None:
            self.rd_take[x + self.RD_DELAY] = rd_arr
            if self.ONE_PORT:
                held = range(rd_arr[1] * self.BLK, (rd_arr[1] + 1) * self.BLK)
        rd = self.rd_take.pop(x, None)
        if rd is not None:
            addr, blk, key, first = rd
            region = addr >= GR
            kind = "ew" if key[0] == "g" else "drain"
            if first:
                for p in range(self.NPE):
                    tot = plan.total.get((p, key), 0)
                    if self.acc_n[(p, key)] != tot:
                        fail(kind, f"pass {key} starts reading while PE {p} has accumulated "
                             f"{self.acc_n[(p, key)]} of its {tot} entries")
            for p in range(blk * self.BLK, (blk + 1) * self.BLK):
                for q, a, _ in acc_now:
                    if q == p and (a >= GR) == region:
                        fail(kind, f"PE {p}: a read of address {addr} and an accumulation into "
                             f"address {a} hit one accumulator region in the same cycle")
                got = self.rows[p].pop(addr, Counter())
                want = plan.exp_rows.get((p, key), {}).get(addr, 0)
                if dict(got) != ({key: want} if want else {}):
                    fail(kind, f"PE {p} address {addr} read for {key} holds {dict(got)}, "
                         f"expected {want} entries of {key}")
                self.read_rows.add((p, addr, key))
        for p, a, key in acc_now:
            if (p, a, key) in self.read_rows:
                fail("ew" if key[0] == "g" else "drain",
                     f"PE {p}: an entry of {key} accumulates into address {a} after it was read")
            self.rows[p].setdefault(a, Counter())[key] += 1
            self.acc_n[(p, key)] += 1
        # a command arriving at the end of this cycle: the FIFO takes it only if it is not
        # full now (fifo.py: a read in the same cycle does not make room)
        k_in = self.cmd_in.pop(x, None)
        if k_in is not None:
            for p in range(self.NPE):
                if len(self.fifo[p]) >= self.DEPTH:
                    fail("cmd", f"command {k_in} reaches PE {p} whose command FIFO is full")
        # the fetch pipelines
        head = self.head
        HALF, LAGMAX, CM = self.HALF, self.LAGMAX, C - 1
        rng, pp = self.rng, self.p_pause
        lag_max = 0
        retire = x + self.RETIRE
        for p in range(self.NPE):
            fifo = self.fifo[p]
            act, d2, d1, r = self.act[p], self.d2[p], self.d1[p], self.r[p]
            if not act and not fifo and d2 is None and d1 is None and r is None:
                continue
            issue = False
            if d2 is not None:
                k, i = d2
                sp, fl, ac = ent[k][p]
                if not -HALF < sp[i] - head < HALF:
                    fail("range", f"PE {p}: entry position {sp[i]} vs head {head}")
                issue = (fl[i] or (sp[i] < head and p not in held)) \
                    and not (pp and rng.random() < pp)
            d2_take = d2 is None or issue
            d1_take = d1 is None or d2_take
            r_take = r is None or d1_take
            cur, idx = self.cur[p], self.idx[p]
            nent = len(ent[cur][p][0]) if act else 0
            more = act and idx < nent
            rd_go = more and r_take
            last_rd = rd_go and idx + 1 == nent
            f_pop = bool(fifo) and (not act or idx == nent or last_rd)
            # lag: the oldest position this PE may still read (pe_fetch ``oldest``)
            if d2 is not None:
                rpos = ent[d2[0]][p][0][d2[1]]
            elif d1 is not None:
                rpos = plan.cmds[d1[0]]["base"]
            elif r is not None:
                rpos = plan.cmds[r[0]]["base"]
            elif more:
                rpos = plan.cmds[cur]["base"]
            elif fifo:
                rpos = plan.cmds[fifo[0]]["base"]
            else:
                rpos = None
            if rpos is not None:
                behind = head - rpos
                if not -HALF < behind < HALF:
                    fail("range", f"PE {p}: oldest position {rpos} vs head {head}")
                if behind > 0:
                    lg = min((behind + CM) // C, LAGMAX)
                    if lg > lag_max:
                        lag_max = lg
            # the edge
            if issue:
                k, i = d2
                if not ent[k][p][1][i]:        # fillers read and write nothing
                    self.wreads.append((p, k, i))
                    self.accs[retire].append((p, ent[k][p][2][i], plan.cmds[k]["key"]))
            if d2_take:
                self.d2[p] = d1
            if d1_take:
                self.d1[p] = r
            if r_take:
                self.r[p] = (cur, idx) if rd_go else None
            if f_pop:
                self.act[p] = True
                self.cur[p] = fifo.popleft()
                self.idx[p] = 0
            elif rd_go:
                self.idx[p] = idx + 1
            elif act and idx == nent:
                self.act[p] = False
        self.rep[x + self.LAT] = (lag_max, head & self.PMASK)
        # end of the cycle: the chunk (bc FAN_STAGES ago) lands in every window
        bc = self.bc_in.pop(x, None)
        if bc is not None:
            pos, tags = bc
            need = self.needed()
            if need is not None and need < pos + C - self.WIN:
                fail("window", f"chunk {pos} overwrites window word {(pos // C) % self.WORDS} "
                     f"while a PE still needs position {need} (window {self.WIN})")
            self.window[(pos // C) % self.WORDS] = (pos, tags)
            self.head = pos + C
        if k_in is not None:
            for p in range(self.NPE):
                self.fifo[p].append(k_in)


# ------------------------------------------------------------------------------ channels
class ChannelModel:
    """The channels' buffers as tags, write-backs with their latencies."""

    def __init__(self, run):
        self.run, self.plan = run, run.plan
        self.ELAT = elat()
        self.vbuf = {}          # Y/M address -> (tag, cycle written)
        self.obuf = {}          # output address -> (tag, cycle written)
        self.cstate = {}        # prm -> ((layer, frame), cycle written)
        self.xhalf = [None, None]   # (frame, readable from) or ("writing", frame)
        self.writes = defaultdict(list)
        self.last_ew = self.last_pj = -10 ** 9

    def busy(self, n, ew_now, pj_now) -> bool:
        return bool(ew_now or pj_now or n - self.last_ew <= self.ELAT or n - self.last_pj <= PLAT)

    def m_wb(self, n) -> bool:
        return any(w[0] == "m" for w in self.writes.get(n, ()))

    def y_wb(self, n) -> bool:
        return any(w[0] == "y" for w in self.writes.get(n, ()))

    def chunk_tags(self, n, src, half, addr, C):
        """The tags a broadcast read at cycle n returns (one cycle later)."""
        if not src:
            st = self.xhalf[half]
            if st is None or st[0] == "writing" or st[1] > n:
                return tuple(("x-unwritten", half, addr + j) for j in range(C))
            return tuple(("x", st[0], addr + j) for j in range(C))
        out = []
        for j in range(C):
            v = self.vbuf.get(addr + j)
            out.append(v[0] if v is not None and v[1] < n else ("unwritten", addr + j))
        return tuple(out)

    def apply(self, n):
        """Write-backs landing at the end of cycle n."""
        ws = self.writes.pop(n, [])
        if len(ws) > 1:
            self.run.fail("pass", f"the channel's write port takes {len(ws)} write-backs in one "
                          f"cycle ({[w[0] for w in ws]})")
        for kind, dst, tags, to_out, oaddr, prm, lt in ws:
            for j, tg in enumerate(tags):
                self.vbuf[dst + j] = (tg, n)
            if to_out:
                self.run.out_write(n, oaddr, tags)
                for j, tg in enumerate(tags):
                    self.obuf[oaddr + j] = (tg, n)
            if kind == "m":
                self.cstate[prm] = (lt, n)


# ------------------------------------------------------------------------------ one run
class Run:
    """One ``go``: the plan, the models, the cursors over what is expected."""

    def __init__(self, tb, plan: Plan, spec: dict, go_cycle: int):
        from ese.hdl.pe_array import read_latency
        self.tb, self.plan, self.spec, self.cfg = tb, plan, spec, plan.cfg
        self.rng = tb.rng
        self.RL = read_latency(plan.cfg)
        self.go_cycle = go_cycle
        self.arr = ArrayModel(self)
        self.chan = ChannelModel(self)
        self.n_pushed, self.push_cycle = 0, []
        self.n_chunks, self.chunk_cycle = 0, []
        self.bc_expect = {}
        self.ew_rd, self.dr_rd = [0, 0], [0, 0]     # next read: pass, group / read index
        self.ew_st, self.dr_st = [0, 0], [0, 0]     # next step: pass, step
        self.rd_log = {}                            # cycle -> ("e"|"d", pass, step)
        self.rd_hist = []                           # (cycle, record)
        self.pass_last_read = {}                    # ("e"|"d", pass) -> cycle of its last read
        self.open_pass = None
        self.in_req, self.in_end, self.in_done = {}, {}, {}
        self.out_req, self.out_end, self.out_done = {}, {}, {}
        self.fin_cycle = None
        self.cancel_at = None
        self.cancelled = None
        self.cancel_chunk = self.cancel_read = None
        if spec.get("cancel") == "chunk":       # after a random chunk
            self.cancel_chunk = self.rng.randint(1, max(1, (len(plan.chunks) * 2) // 3))
        elif spec.get("cancel") == "pass":      # in the middle of a pass's reads
            self.cancel_read = self.rng.randint(1, max(1, len(plan.ew_passes) - 1))
        self.stall_cycles = 0
        self.prev_wait = (None, False)     # (x_wait, out_wait) of the cycle before
        self.first_push = None
        self.frames_seen = 0

    # -- failures name their invariant
    def fail(self, what, msg):
        raise BenchError(f"[{what}] cycle {self.tb.n} (run {self.tb.run_no}): {msg}")

    # -- inputs of cycle n (driven before the outputs are sampled)
    def mover_busy(self, n, req, end):
        return any(r < n <= end[t] for t, r in req.items())

    def in_busy(self, n):
        return self.cancelled is None and self.mover_busy(n, self.in_req, self.in_end)

    def out_busy(self, n):
        return self.cancelled is None and self.mover_busy(n, self.out_req, self.out_end)

    def duration(self, which):
        sp = self.spec.get(which, "fast")
        if sp == "mixed":
            sp = self.rng.choice(["fast", "slow"])
        return {"fast": (0, 2), "slow": (12, 70), "crawl": (150, 400)}[sp] and \
            self.rng.randint(*{"fast": (0, 2), "slow": (12, 70), "crawl": (150, 400)}[sp])

    def out_write(self, n, oaddr, tags):
        h = oaddr // self.plan.OH
        for t, r in self.out_req.items():
            if t % 2 == h and r <= n <= self.out_end[t]:
                self.fail("out", f"a write into output half {h} while frame {t} is read out")

    # -- everything ctrl_exec did in cycle n
    def observe(self, n, o):
        plan, cfg = self.plan, self.cfg
        if self.cancelled is not None:
            self.after_cancel(n, o)
            return
        if self.fin_cycle is not None:
            busy = [k for k in ("cmd_push", "bcr_valid", "bc_valid", "rd_valid", "ew_issue",
                                "pj_issue", "in_frame_req", "out_frame_req", "ex_fin") if o[k]]
            if busy:
                self.fail("fin", f"{busy} after fin (cycle {self.fin_cycle})")
            return
        for t, d in self.in_done.items():
            if d == n:
                self.chan.xhalf[t % 2] = (t, n)
        self.check_stall(n, o)
        # ---- commands
        if o["cmd_push"]:
            k = self.n_pushed
            if k >= len(plan.cmds):
                self.fail("cmd", f"command {k} pushed, the stream has {len(plan.cmds)}")
            c = plan.cmds[k]
            got = {f: o["cmd_" + f] for f in c["fields"]}
            if got != c["fields"]:
                self.fail("cmd", f"command {k} ({c['kind']} layer {c['layer']} frame "
                          f"{c['frame']}): fields {got}, expected {c['fields']}")
            self.n_pushed += 1
            self.push_cycle.append(n)
            if self.first_push is None:
                self.first_push = n
                self.tb.garbage_table()
            self.arr.push(n, k)
        # ---- broadcast reads
        if o["bcr_valid"]:
            self.broadcast(n, o)
        if o["bc_valid"] or n in self.bc_expect:
            want = self.bc_expect.pop(n, None)
            if want is None or not o["bc_valid"] or o["bc_pos"] != want[0] % (1 << plan.PW):
                self.fail("chunk", f"bc_valid {o['bc_valid']} pos {o.get('bc_pos')}: expected "
                          f"{'nothing' if want is None else want[0]} (the read of "
                          f"{BC_READ} cycles before)")
            self.arr.bcast(n, *want)
        # ---- array reads and steps
        if o["rd_valid"]:
            self.array_read(n, o)
        if o["ew_issue"]:
            self.ew_step(n, o)
        if o["pj_issue"]:
            self.pj_step(n, o)
        # ---- frames
        if o["in_frame_req"]:
            self.in_request(n, o["in_frame_t"])
        if o["out_frame_req"]:
            self.out_request(n, o["out_frame_t"])
        if o["ex_fin"]:
            self.finish(n)
        # ---- the cycle's write-backs and the PEs
        self.chan.apply(n)
        self.arr.step(n)
        if self.cancel_at is None and (
                (self.cancel_chunk is not None and self.n_chunks >= self.cancel_chunk)
                or (self.cancel_read is not None and self.ew_rd[0] == self.cancel_read
                    and self.ew_rd[1] > 0)):
            self.cancel_at = n + 1 + (self.rng.randint(0, 8) if self.cancel_read is None else 0)
        if self.cancel_at == n:
            self.cancelled = n

    def broadcast(self, n, o):
        plan, C = self.plan, self.cfg.bcast_width
        i = self.n_chunks
        if i >= len(plan.chunks):
            self.fail("chunk", "a broadcast read beyond the end of the stream")
        k, off = plan.chunks[i]
        c = plan.cmds[k]
        if k >= self.n_pushed or self.push_cycle[k] >= n:
            self.fail("chunk", f"chunk {i} (position {c['base'] + off}) of a segment whose "
                      f"command is not pushed yet")
        src = c["src"]
        if src[0] == "x":
            want = dict(src=0, half=src[1] % 2, addr=off)
        elif src[0] == "y":
            want = dict(src=1, addr=plan.VL["y"][src[1]] + off)
        else:
            want = dict(src=1, addr=plan.VL["m"] + off)
        got = {f: o["bcr_" + f] for f in want}
        if got != want:
            self.fail("chunk", f"chunk {i} ({c['kind']} layer {c['layer']} frame {c['frame']} "
                      f"offset {off}): read {got}, expected {want}")
        # pass order: the region this segment accumulates into must be read out
        kind, p = plan.seg_pass[k]
        if p > 0:
            last = self.pass_last_read.get((kind, p - 1))
            nreads = len(plan.ew_steps[p - 1]) if kind == "e" else len(plan.dr_reads[p - 1])
            done = (self.ew_rd[0] > p - 1) if kind == "e" else (self.dr_rd[0] > p - 1)
            if nreads and (not done or last is None or last >= n):
                self.fail("order", f"chunk {i} of {c['kind']} layer {c['layer']} frame "
                          f"{c['frame']} before every read of the previous "
                          f"{'element-wise' if kind == 'e' else 'drain'} pass was issued")
        tags = self.chan.chunk_tags(n, got["src"], o["bcr_half"], got["addr"], C)
        for j in range(min(C, c["ncols"] - off)):
            if tags[j] != plan.tag(k, off + j):
                self.fail("chunk", f"chunk {i} value {j}: the buffer holds {tags[j]}, the "
                          f"segment needs {plan.tag(k, off + j)} (read before it was written?)")
        self.bc_expect[n + BC_READ] = (c["base"] + off, tags)
        self.n_chunks += 1
        self.chunk_cycle.append(n)

    def array_read(self, n, o):
        plan = self.plan
        addr, blk = o["rd_addr"], o["rd_blk"]
        if addr < plan.GR:
            p, g = self.ew_rd
            if p >= len(plan.ew_passes):
                self.fail("ew", f"a gate read (address {addr}) after the last pass")
            st = plan.ew_steps[p][g]
            if (addr, blk) != st["read"]:
                self.fail("ew", f"pass {plan.ew_passes[p]} group {g}: read address {addr} block "
                          f"{blk}, expected {st['read']}")
            rec, key, first = ("e", p, g), ("g",) + plan.ew_passes[p], g == 0
            last = g + 1 == len(plan.ew_steps[p])
            self.ew_rd = [p + 1, 0] if last else [p, g + 1]
        else:
            p, r = self.dr_rd
            if p >= len(plan.dr_passes):
                self.fail("drain", f"a projection read (address {addr}) after the last pass")
            rr = plan.dr_reads[p][r]
            if (addr, blk) != (rr["addr"], rr["blk"]):
                self.fail("drain", f"pass {plan.dr_passes[p]} read {r}: address {addr} block "
                          f"{blk}, expected {(rr['addr'], rr['blk'])}")
            rec, key, first = ("d", p, rr["step"]), ("p",) + plan.dr_passes[p], r == 0
            last = r + 1 == len(plan.dr_reads[p])
            self.dr_rd = [p + 1, 0] if last else [p, r + 1]
        if self.open_pass is not None and self.open_pass != rec[:2]:
            self.fail("pass", f"a read of {rec[:2]} while pass {self.open_pass} is reading")
        self.open_pass = None if last else rec[:2]
        if last:
            self.pass_last_read[rec[:2]] = n
        self.rd_log[n] = rec
        self.rd_hist.append((n, rec))
        self.arr.read(n, addr, blk, key, first)

    def check_fields(self, what, n, got, want, label):
        if got != want:
            bad = {f: (got[f], want[f]) for f in want if got[f] != want[f]}
            self.fail(what, f"{label}: (got, expected) {bad}")

    def ew_step(self, n, o):
        plan, chan = self.plan, self.chan
        p, g = self.ew_st
        if p >= len(plan.ew_passes):
            self.fail("ew", "an element-wise step after the last pass")
        l, t = plan.ew_passes[p]
        st = plan.ew_steps[p][g]
        if self.rd_log.get(n - self.RL) != ("e", p, g):
            self.fail("ew", f"step {g} of pass {(l, t)} not read_latency(cfg) after its read "
                      f"(read {self.rd_log.get(n - self.RL)} then)")
        got = {f: o["ew_" + f] for f in st["f"]}
        self.check_fields("ew", n, got, st["f"], f"pass {(l, t)} step {g}")
        if t > 0:
            cs = chan.cstate.get(got["prm"])
            if cs is None or cs[0] != (l, t - 1) or cs[1] >= n:
                self.fail("pass", f"pass {(l, t)} step {g} reads c of {cs} (needs c of "
                          f"{(l, t - 1)} written)")
        chan.writes[n + chan.ELAT].append(("m", got["dst"], st["tags"], got["to_out"],
                                           got["oaddr"], got["prm"], (l, t)))
        chan.last_ew = n
        self.ew_st = [p + 1, 0] if g + 1 == len(plan.ew_steps[p]) else [p, g + 1]

    def pj_step(self, n, o):
        plan, chan = self.plan, self.chan
        p, j = self.dr_st
        if p >= len(plan.dr_passes):
            self.fail("drain", "a drain step after the last pass")
        l, t = plan.dr_passes[p]
        st = plan.dr_steps[p][j]
        rec = self.rd_log.get(n - self.RL)
        if st["read"]:
            if rec != ("d", p, j):
                self.fail("drain", f"step {j} of pass {(l, t)} not read_latency(cfg) after its "
                          f"read (read {rec} then)")
        else:
            prev = [r for c, r in self.rd_hist if c <= n - self.RL]
            if rec is not None or not prev or prev[-1] != ("d", p, st["first"]):
                self.fail("drain", f"step {j} of pass {(l, t)}: the gather does not hold its "
                          f"block (last read {prev[-1] if prev else None})")
        got = {f: o["pj_" + f] for f in st["f"]}
        self.check_fields("drain", n, got, st["f"], f"pass {(l, t)} step {j}")
        chan.writes[n + PLAT].append(("y", got["dst"], st["tags"], got["to_out"], got["oaddr"],
                                      None, (l, t)))
        chan.last_pj = n
        self.dr_st = [p + 1, 0] if j + 1 == len(plan.dr_steps[p]) else [p, j + 1]

    def in_request(self, n, t):
        plan = self.plan
        exp = len(self.in_req)
        if t != exp or t >= plan.frames:
            self.fail("in", f"input frame {t} requested, expected {exp} (of {plan.frames})")
        if t > 0 and not self.in_done.get(t - 1, n) < n:
            self.fail("in", f"input frame {t} requested while frame {t - 1} is still moving")
        if t >= 2:
            _, _, last = plan.x_seg[t - 2]
            if self.n_chunks <= last:
                self.fail("in", f"input frame {t} requested into the X half of frame {t - 2} "
                          f"whose input is still being broadcast")
        k = self.duration("in_speed")
        self.in_req[t], self.in_end[t], self.in_done[t] = n, n + k, n + k + 1
        self.chan.xhalf[t % 2] = ("writing", t)

    def out_request(self, n, t):
        plan = self.plan
        exp = len(self.out_req)
        if t != exp or t >= plan.frames:
            self.fail("out", f"output frame {t} requested, expected {exp} (of {plan.frames})")
        if t > 0 and not self.out_done.get(t - 1, n) < n:
            self.fail("out", f"output frame {t} requested while frame {t - 1} is still moving")
        last = plan.n_layers - 1
        for i in range(plan.rows[last]["n_out"]):
            v = self.chan.obuf.get((t % 2) * plan.OH + i)
            if v is None or v[0] != ("y", last, t, i) or v[1] >= n:
                self.fail("out", f"output frame {t} requested but its value {i} is {v}")
        k = self.duration("out_speed")
        self.out_req[t], self.out_end[t], self.out_done[t] = n, n + k, n + k + 1

    def finish(self, n):
        plan = self.plan
        if len(self.out_done) < plan.frames or max(self.out_done.values()) >= n:
            self.fail("fin", f"fin before the last output frame is written "
                      f"({len(self.out_done)} of {plan.frames} requested)")
        todo = []
        if self.n_pushed != len(plan.cmds):
            todo.append(f"{self.n_pushed} of {len(plan.cmds)} commands")
        if self.n_chunks != len(plan.chunks):
            todo.append(f"{self.n_chunks} of {len(plan.chunks)} chunks")
        if self.ew_st != [len(plan.ew_passes), 0] or self.dr_st != [len(plan.dr_passes), 0]:
            todo.append(f"steps at {self.ew_st} / {self.dr_st}")
        if self.chan.writes:
            todo.append("write-backs in flight")
        if not self.arr.idle() or any(self.arr.rows[p] for p in range(self.cfg.n_pe)):
            todo.append("PEs not idle or accumulators not read out")
        if todo:
            self.fail("fin", "fin with " + ", ".join(todo))
        if n - max(self.out_done.values()) > 8:
            self.fail("fin", f"fin {n - max(self.out_done.values())} cycles after the last "
                      f"output frame")
        self.fin_cycle = n

    def check_stall(self, n, o):
        plan = self.plan
        x_wait = None            # the input frame the broadcaster stands at, not staged
        i = self.n_chunks
        if i < len(plan.chunks):
            k, off = plan.chunks[i]
            c = plan.cmds[k]
            if c["kind"] == "Wx" and c["layer"] == 0 and off == 0:
                d = self.in_done.get(c["frame"])
                if d is None or n <= d:
                    x_wait = c["frame"]
        out_done = sum(1 for d in self.out_done.values() if d < n)
        last = plan.n_layers - 1
        out_wait = False
        for kind, cur, mark, passes in (("e", self.ew_rd, plan.ew_mark, plan.ew_passes),
                                        ("d", self.dr_rd, plan.dr_mark, plan.dr_passes)):
            p = cur[0]
            if p < len(passes) and cur[1] == 0:
                l, t = passes[p]
                k = mark[p]
                writes_out = l == last and (kind == "d" or not plan.rows[l]["proj"])
                if writes_out and k < self.n_pushed and self.push_cycle[k] < n \
                        and t >= out_done + 2:
                    out_wait = True
        # the flag is registered: it answers for the cycle before
        (x_wait, out_wait), self.prev_wait = self.prev_wait, (x_wait, out_wait)
        if o["ex_stall"]:
            self.stall_cycles += 1
            if x_wait is None and not out_wait:
                self.fail("stall", "stall while no input frame and no output half is awaited")
        elif x_wait is not None and self.first_push is not None:
            ref = max(self.first_push, self.chunk_cycle[-1] if self.chunk_cycle else 0)
            if n >= ref + 4:
                self.fail("stall", f"no stall while the broadcaster waits for input frame "
                          f"{x_wait}")

    def after_cancel(self, n, o):
        c = self.cancelled
        busy = [k for k in ("cmd_push", "bcr_valid", "rd_valid", "in_frame_req", "out_frame_req",
                            "ex_fin") if o[k]]
        if o["bc_valid"] and n > c + BC_READ:
            busy.append("bc_valid")
        if (o["ew_issue"] or o["pj_issue"]) and n > c + self.RL:
            busy.append("ew/pj issue")
        if busy:
            self.fail("cancel", f"{busy} {n - c} cycles after cancel")


# ------------------------------------------------------------------------------ the bench
OUTS = ("cmd_push", "bcr_valid", "bc_valid", "rd_valid", "ew_issue", "pj_issue",
        "in_frame_req", "out_frame_req", "ex_fin", "ex_stall")
FIELDS = {"cmd_push": ("cmd_mat", "cmd_base", "cmd_rshift", "cmd_acc_base", "cmd_shift"),
          "bcr_valid": ("bcr_src", "bcr_half", "bcr_addr"),
          "bc_valid": ("bc_pos",),
          "rd_valid": ("rd_addr", "rd_blk"),
          "ew_issue": ("ew_prm", "ew_zero_c", "ew_dst", "ew_to_out", "ew_oaddr", "ew_s_acc",
                       "ew_s_p", "ew_peep"),
          "pj_issue": ("pj_off", "pj_dst", "pj_to_out", "pj_oaddr", "pj_shift"),
          "in_frame_req": ("in_frame_t",),
          "out_frame_req": ("out_frame_t",)}
LROW = ("n_in", "n_cells", "n_out", "peep", "proj", "shift_x", "shift_r", "s_acc", "s_p", "wf_p",
        "mat", "rs_x", "rs_r", "rs_p")
INS = ("ex_go", "cancel", "frames", "n_layers", "rep_lag", "rep_head", "m_wb", "y_wb", "wb_busy",
       "in_frame_busy", "out_frame_busy") + tuple("lrow_" + f for f in LROW)


class TB(BaseTB):
    """ctrl_exec with its models: one :meth:`cycle` drives the inputs after the falling
    edge, samples the outputs (ReadOnly) and runs the checks and the models."""

    def __init__(self, dut, cfg, rng):
        super().__init__(dut, rng)
        self.cfg = cfg
        self.h = {nm: getattr(dut, nm) for nm in set(OUTS) | set(INS) | {"lsel"}
                  | {f for fs in FIELDS.values() for f in fs}}
        self.last = {}
        self.n = 0
        self.run = None
        self.run_no = 0
        self.go_at = None
        self.rst_cycles = 0
        self.table = None        # lrow per lsel; None: garbage
        self.driving = False
        self.deferred = {}

    def set(self, name, v):
        """Drive input ``name`` (after the falling edge; asked in the ReadOnly phase, at the
        next one)."""
        if not self.driving:
            self.deferred[name] = v
        elif self.last.get(name) != v:
            self.h[name].value = v
            self.last[name] = v

    def garbage_table(self):
        """From the first command on, lrow carries garbage: the table is copied at go."""
        self.table = None
        for f in LROW:
            self.set("lrow_" + f, self.rng.getrandbits(len(self.h["lrow_" + f])))

    async def cycle(self):
        await FallingEdge(self.clk)
        n, h, run = self.n, self.h, self.run
        self.driving = True
        for nm, v in self.deferred.items():
            self.set(nm, v)
        self.deferred = {}
        if self.rst_cycles > 0:
            ewi = pji = 0           # outputs are undefined until the reset's first edge
        else:
            ewi, pji = int(h["ew_issue"].value), int(h["pj_issue"].value)
        self.rst.value = int(self.rst_cycles > 0)
        self.set("ex_go", int(self.go_at == n))
        self.set("cancel", int(run is not None and run.cancel_at == n))
        if self.table is not None and self.rst_cycles == 0:
            lsel = int(h["lsel"].value)
            row = self.table[lsel] if lsel < len(self.table) else None
            for f in LROW:
                self.set("lrow_" + f, row[f] if row is not None else
                         self.rng.getrandbits(len(h["lrow_" + f])))
        if run is not None:
            lag, head = run.arr.rep.pop(n, run.arr.last_rep)
            run.arr.last_rep = (lag, head)
            self.set("rep_lag", lag)
            self.set("rep_head", head)
            self.set("m_wb", int(run.chan.m_wb(n)))
            self.set("y_wb", int(run.chan.y_wb(n)))
            self.set("wb_busy", int(run.chan.busy(n, ewi, pji)))
            self.set("in_frame_busy", int(run.in_busy(n)))
            self.set("out_frame_busy", int(run.out_busy(n)))
        self.driving = False
        await ReadOnly()
        if self.rst_cycles > 0:
            self.rst_cycles -= 1
        else:
            o = {}
            for k in OUTS:
                v = int(h[k].value)
                o[k] = v
                if v:
                    for f in FIELDS.get(k, ()):
                        o[f] = int(h[f].value)
            if run is not None:
                run.observe(n, o)
            else:
                busy = [k for k in OUTS if o[k]]
                assert not busy, f"[fin] cycle {n}: {busy} before the first go"
        self.n += 1

    async def reset(self):
        for nm in INS:
            self.set(nm, 0)
        self.start_clock()
        self.rst_cycles = 3
        for _ in range(4):
            await self.cycle()

    async def do_run(self, spec: dict):
        """One go with a fresh random model; returns the run's cycle count (None: cancelled)."""
        cfg = self.cfg
        self.run_no += 1
        nl = min(spec.get("layers", cfg.max_layers), cfg.max_layers)
        proj = spec.get("proj")
        plan = Plan(cfg, self.rng, nl, spec["frames"], None if proj is None else proj[:nl])
        if spec.get("reset"):
            self.rst_cycles = 2
            for _ in range(3):
                await self.cycle()
        for _ in range(self.rng.randint(0, 3)):
            await self.cycle()
        # models of a datapath that starts the run clean (the controller resets it)
        self.table = plan.rows
        self.set("frames", plan.frames)
        self.set("n_layers", nl)
        self.go_at = self.n
        self.run = run = Run(self, plan, spec, self.n)
        limit = self.n + 400 + 60 * len(plan.chunks) + 30 * (len(plan.ew_passes) * 20) \
            + plan.frames * 2 * 80
        while run.fin_cycle is None and (run.cancelled is None or self.n < run.cancelled + 40):
            await self.cycle()
            if self.n > limit:
                raise BenchError(f"[fin] run {self.run_no} {spec}: no fin after "
                                 f"{self.n - run.go_cycle} cycles ({run.n_pushed} of "
                                 f"{len(plan.cmds)} commands, {run.n_chunks} of "
                                 f"{len(plan.chunks)} chunks, passes {run.ew_rd} / {run.dr_rd}, "
                                 f"frames in {len(run.in_req)} out {len(run.out_req)})")
        for _ in range(self.rng.randint(2, 6)):
            await self.cycle()
        if run.cancelled is not None:
            return None, run
        if spec.get("in_speed") == "slow":
            assert run.stall_cycles > 0, "[stall] a slow input mover and no stall"
        return self.n - run.go_cycle, run


@cocotb.test()
async def schedule(dut):
    cfg = tb_config()
    prm = tb_params()
    rng = random.Random(prm["seed"])
    tb = TB(dut, cfg, rng)
    await tb.reset()
    for spec in prm["runs"]:
        cycles, run = await tb.do_run(spec)
        rows = [(r["n_in"], r["n_cells"], r["n_out"], r["proj"]) for r in run.plan.rows]
        dut._log.info(f"run {tb.run_no} {spec}: layers (in, cells, out, proj) {rows}, "
                      f"{len(run.plan.chunks)} chunks, "
                      + (f"cancelled at cycle {run.cancelled - run.go_cycle}" if cycles is None
                         else f"{cycles} cycles, {run.stall_cycles} stall cycles"))


# ------------------------------------------------------------------------------ pytest
def _make(cfg):
    from ese.hdl.ctrl_exec import top
    return top(cfg)


#: configurations: PE counts, lanes, chunk widths and windows (small windows stress room)
CONFIGS = {
    "p4": dict(name="ce_p4", n_pe=4, n_ch=1, index_bits=2, max_input=16, max_cells=16,
               max_proj=16, max_layers=3, ew_lanes=1, drain_lanes=1, bcast_width=2, window=8),
    "p8": dict(name="ce_p8", n_pe=8, n_ch=1, index_bits=3, max_input=16, max_cells=16,
               max_proj=16, max_layers=3, ew_lanes=1, drain_lanes=4, bcast_width=1, window=4),
    "p16": dict(name="ce_p16", n_pe=16, n_ch=1, index_bits=4, max_input=24, max_cells=24,
                max_proj=24, max_layers=2, ew_lanes=4, drain_lanes=8, bcast_width=8, window=32,
                axi_data_bits=128),
    "p32": dict(name="ce_p32", n_pe=32, n_ch=1, index_bits=3, max_input=20, max_cells=20,
                max_proj=20, max_layers=2, ew_lanes=2, drain_lanes=2, bcast_width=4, window=16),
}

#: runs of every configuration (layers are clipped to max_layers)
RUNS = [
    dict(layers=3, frames=4, proj=[1, 0, 1], in_speed="fast", out_speed="slow"),
    dict(layers=2, frames=3, proj=[1, 1], in_speed="slow", out_speed="fast", pe_pause=0.2),
    dict(layers=3, frames=3, in_speed="mixed", out_speed="mixed", cancel="chunk"),
    dict(layers=1, frames=4, proj=[1], in_speed="mixed", out_speed="mixed", pe_pause=0.1),
    dict(layers=2, frames=1, proj=[0, 0], in_speed="fast", out_speed="fast", reset=True),
    dict(layers=3, frames=5, in_speed="fast", out_speed="fast"),
    dict(layers=2, frames=5, proj=[1, 1], in_speed="fast", out_speed="crawl"),
    dict(layers=2, frames=3, in_speed="fast", out_speed="fast", cancel="pass"),
    dict(layers=3, frames=2, in_speed="mixed", out_speed="slow"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", list(CONFIGS))
def test_ctrl_exec(sim, cname):
    from ese.config import PRESETS
    from ese.hdl.convert import config_key
    cfg = PRESETS["tiny"].replace(**CONFIGS[cname])
    params = dict(cfg=cfg.to_dict(), seed=7 + len(cname), runs=RUNS)
    run_cocotb("ctrl_exec", lambda: _make(cfg), __name__, sim, config_key(cfg), params)
