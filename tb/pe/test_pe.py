"""pe: one PE index (pe_fetch + pe_lanes) against model/encode.py and numpy.

A random layer (W_x, W_r, W_p; sizes the PE count does not divide, some rows
or columns empty, every index width's fillers) is encoded for ``n_pe`` PEs
with model/encode.py; PE ``p``'s entries and pointer table are loaded through
the load port.  Then several frames of the activation stream run as the
controller runs them (docs/architecture.md "Schedule"): one command per
segment pushed into the FIFO (watching ``afull``), chunks broadcast only when
the window has room by the PE's ``lag`` report, with random pauses; after the
gate segments the bench waits until ``lag`` says the PE passed them and reads
(and clears) the gate rows, likewise the projection rows after W_p.  Every
lane's sums must equal the model's exactly; a second read of a row gives 0.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import cocotb
from cocotb.triggers import FallingEdge

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.sim import start

from ese.model.encode import encode_matrix
from ese.pipeline import FETCH_FIRST


def make_case(cfg, p, seed, n_in, n_cells, n_proj):
    """Matrices, the PE's load words and the expected per-row sums."""
    rng = np.random.default_rng(seed)
    lim = (1 << (cfg.weight_bits - 1)) - 1

    def sparse(rows, cols, density):
        w = rng.integers(-lim, lim + 1, (rows, cols))
        w[rng.random((rows, cols)) >= density] = 0
        if rows > 2:
            w[rng.integers(rows)] = 0                       # an empty row
        if cols > 2:
            w[:, rng.integers(cols)] = 0                    # an empty column
        return w.astype(np.int64)

    mats = {"Wx": sparse(4 * n_cells, n_in, 0.3), "Wr": sparse(4 * n_cells, n_proj, 0.2),
            "Wp": sparse(n_proj, n_cells, 0.15)}
    encs = {k: encode_matrix(m, cfg.n_pe, cfg.index_bits) for k, m in mats.items()}
    words, ptrs = [], [0]
    for k in ("Wx", "Wr", "Wp"):
        s = encs[k].pes[p]
        words.extend(int(x) for x in s.words(cfg.weight_bits, cfg.index_bits))
        ptrs.append(len(words))
    return mats, encs, words, ptrs


class TB:
    """Clock, reset and the drivers of one ``pe``."""

    def __init__(self, dut, cfg, rng):
        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.C = cfg.bcast_width
        self.n = cfg.n_ch

    async def reset(self):
        d = self.dut
        for s in ("ld_we", "cmd_push", "bc_valid", "rd_valid"):
            getattr(d, s).value = 0
        await start(d)

    async def load(self, words, ptrs):
        d = self.dut
        items = [(0, a, w) for a, w in enumerate(words)] + [(1, a, v) for a, v in enumerate(ptrs)]
        self.rng.shuffle(items)
        for sel, a, v in items:
            await FallingEdge(d.clk)
            d.ld_we.value, d.ld_sel.value, d.ld_addr.value, d.ld_data.value = 1, sel, a, v
        await FallingEdge(d.clk)
        d.ld_we.value = 0


@cocotb.test()
async def stream(dut):
    cfg = tb_config()
    prm = tb_params()
    rng = random.Random(prm["seed"])
    p = prm["pe"]
    n_in, n_cells, n_proj = prm["n_in"], prm["n_cells"], prm["n_proj"]
    mats, encs, words, ptrs = make_case(cfg, p, prm["seed"], n_in, n_cells, n_proj)
    tb = TB(dut, cfg, rng)
    await tb.reset()
    await tb.load(words, ptrs)
    C, W, A, ACC, n = cfg.bcast_width, cfg.window, cfg.act_bits, cfg.acc_bits, cfg.n_ch
    GR = cfg.gate_rows_per_pe
    pad = lambda k: -(-k // C) * C  # noqa: E731
    frames = prm["frames"]
    nprng = np.random.default_rng(prm["seed"] + 1)
    lim = (1 << (A - 1)) - 1
    # the stream: per frame x (Wx), y (Wr), m (Wp); vectors per lane
    segs = []            # (mat id, kind, values (n, cols), base, shift)
    pos = 0
    for t in range(frames):
        for mid, kind, cols in ((0, "Wx", n_in), (1, "Wr", n_proj), (2, "Wp", n_cells)):
            vals = nprng.integers(-lim - 1, lim + 1, (n, cols))
            shift = rng.randint(0, cfg.max_align_shift) if kind != "Wp" else 0
            segs.append((mid, kind, vals, pos, shift))
            pos += pad(cols)
    # expected sums of PE p's local rows after each frame's gate and projection parts
    expect = []
    for t in range(frames):
        wx, wr, wp = segs[3 * t], segs[3 * t + 1], segs[3 * t + 2]
        g = (mats["Wx"] @ wx[2].T << wx[4]) + (mats["Wr"] @ wr[2].T << wr[4])    # (4H, n)
        pr = mats["Wp"] @ wp[2].T                                                 # (P, n)
        expect.append((g[p::cfg.n_pe], pr[p::cfg.n_pe]))
    stream_vals = np.zeros((n, pos), dtype=np.int64)
    for mid, kind, vals, base, shift in segs:
        stream_vals[:, base:base + vals.shape[1]] = vals

    d = dut

    mask_pos = (1 << len(d.bc_pos)) - 1
    head = 0                 # chunks sent
    head_pe = [0, 0]         # what the PE saw one and two cycles ago
    cmd_i = 0
    seg_end = [s[3] + pad(s[2].shape[1]) for s in segs]
    p_bc, p_cmd = prm["p_pause"], prm["p_pause"]
    phase = 0                # next sync: 2*t = gates of frame t, 2*t+1 = projection
    reads_done = 0           # phases whose rows have all been read
    sync_seen = 0            # cycles the next synchronisation has been visible
    cycle = 0
    rd_queue = []
    got = []
    in_flight = []           # (cycle its data are on rd_data, read)
    RD_LAT = 1 + cfg.acc_read_delay     # pe_lanes: the read's delay, then its register
    FIRST_BCAST = 3 * (FETCH_FIRST + cfg.entry_read_extra)
    while phase < 2 * frames or rd_queue or in_flight:
        await FallingEdge(d.clk)
        cycle += 1
        assert cycle < 200_000, "pe bench: no progress (hang)"
        # collect the read issued RD_LAT cycles ago; rd_data is 0 in every other cycle
        # (signals are stable at the falling edge: registered outputs changed at the rising one)
        raw = int(d.rd_data.value)
        if in_flight and in_flight[0][0] == cycle:
            got.append((in_flight.pop(0)[1],
                        [(raw >> (k * ACC)) & ((1 << ACC) - 1) for k in range(n)]))
        else:
            assert raw == 0, f"cycle {cycle}: rd_data {raw:#x} without a read"
        lag = int(d.lag.value)
        # the PE's lag is relative to the head it held when it registered the lag
        minpos = head_pe[1] - lag * C          # the lag is in chunks
        # --- commands: push while the FIFO has room, ahead of their segments
        d.cmd_push.value = 0
        if cmd_i < len(segs) and not int(d.afull.value) and rng.random() >= p_cmd:
            mid, kind, vals, base, shift = segs[cmd_i]
            e = encs[kind]
            d.cmd_push.value = 1
            d.cmd_mat.value = mid
            d.cmd_base.value = base & mask_pos
            d.cmd_rshift.value = e.row_shift
            d.cmd_acc_base.value = 0 if kind != "Wp" else GR
            d.cmd_shift.value = shift
            cmd_i += 1
        # --- broadcast: only within pushed segments, only if the window has room, and
        # as in the accelerator: m of frame t once the reads of its gate rows have begun
        # (the element-wise pass produces m while it reads, so W_p accumulates while the
        # reads hold the PE), x of frame t only after the gate rows of t-1 were read (the
        # next writer of a region), y of frame t-1 only after its projection rows were read
        d.bc_valid.value = 0
        hp = head * C
        pushed_end = segs[cmd_i - 1][3] + pad(segs[cmd_i - 1][2].shape[1]) if cmd_i else 0
        s_i = next(i for i in range(len(segs)) if hp < seg_end[i]) if hp < pos else None
        t_i = None if s_i is None else s_i // 3
        ready = s_i is not None and (
            (segs[s_i][1] == "Wp" and phase > 2 * t_i)
            or (segs[s_i][1] == "Wr" and (t_i == 0 or reads_done > 2 * (t_i - 1) + 1))
            or (segs[s_i][1] == "Wx" and (t_i == 0 or reads_done > 2 * (t_i - 1))))
        # the first chunk only well after the fetch could issue (as in the accelerator,
        # which waits until every PE can have seen the command): an entry must wait
        # for its value, not read an empty window
        if ready and hp < pushed_end and hp + C - minpos <= W - C and rng.random() >= p_bc \
                and cycle > FIRST_BCAST:
            chunk = 0
            for k in range(n):
                for j in range(C):
                    v = int(stream_vals[k, hp + j]) & ((1 << A) - 1)
                    chunk |= v << ((k * C + j) * A)
            d.bc_valid.value = 1
            d.bc_pos.value = hp & mask_pos
            d.bc_data.value = chunk
            head += 1
        head_pe = [head * C, head_pe[0]]
        # --- synchronisation and reads (one row per cycle, then the result next cycle)
        d.rd_valid.value = 0
        if not rd_queue and phase < 2 * frames:
            t, proj = divmod(phase, 2)
            end = seg_end[3 * t + 2] if proj else seg_end[3 * t + 1]
            # the PE array and the controller take at least 3 more cycles to react to a
            # report (tree, fan-in, the read's own register): so does the bench
            passed = head_pe[1] >= end and minpos >= end
            sync_seen = sync_seen + 1 if passed else 0
            if sync_seen > 3:
                sync_seen = 0
                rows = expect[t][1].shape[0] if proj else expect[t][0].shape[0]
                base_row = GR if proj else 0
                rd_queue = [(t, proj, r, base_row + r) for r in range(rows)]
                # a second read of the first row must give 0 (read-and-clear)
                if rows:
                    rd_queue.append((t, proj, -1, base_row))
                phase += 1
        if rd_queue:
            item = rd_queue.pop(0)
            d.rd_valid.value = 1
            d.rd_addr.value = item[3]
            in_flight.append((cycle + RD_LAT, item))
            if not rd_queue:
                reads_done += 1
    await FallingEdge(d.clk)
    d.rd_valid.value = 0
    bad = 0
    for (t, proj, r, addr), vals in got:
        want_rows = expect[t][1] if proj else expect[t][0]
        for k in range(n):
            want = 0 if r < 0 else int(want_rows[r, k]) & ((1 << ACC) - 1)
            if vals[k] != want and bad < 10:
                dut._log.error(f"frame {t} {'proj' if proj else 'gate'} row {r} lane {k}: "
                               f"got {vals[k]:#x} want {want:#x}")
            bad += vals[k] != want
    assert bad == 0, f"{bad} accumulator values differ"
    dut._log.info(f"{len(got)} rows read over {frames} frames in {cycle} cycles")


def _make(cfg):
    from ese.hdl.pe import top
    return top(cfg)


CONFIGS = {
    "tiny": dict(),
    "wide": dict(name="pe_wide", n_pe=8, n_ch=3, index_bits=3, weight_bits=10,
                 bcast_width=4, window=32, max_input=40, max_cells=24, max_proj=20),
    "one": dict(name="pe_one", n_pe=4, n_ch=1, index_bits=6, bcast_width=1, window=8,
                max_input=20, max_cells=12, max_proj=12),
}

CASES = {
    "tiny": dict(pe=1, n_in=13, n_cells=9, n_proj=7, frames=3),
    "wide": dict(pe=5, n_in=37, n_cells=21, n_proj=19, frames=3),
    "one": dict(pe=3, n_in=17, n_cells=11, n_proj=10, frames=3),
}


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", list(CONFIGS))
@pytest.mark.parametrize("p_pause", [0.0, 0.3])
def test_pe(sim, cname, p_pause):
    from ese.config import PRESETS
    from ese.hdl.convert import config_key
    cfg = PRESETS["tiny"].replace(**CONFIGS[cname]) if CONFIGS[cname] else PRESETS["tiny"]
    params = dict(cfg=cfg.to_dict(), seed=7, p_pause=p_pause, **CASES[cname])
    run_cocotb("pe", lambda: _make(cfg), __name__, sim, config_key(cfg), params,
               test_name=f"stream_{int(p_pause * 10)}")
