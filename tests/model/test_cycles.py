"""The cycle model (model/cycles.py on model/schedule.py): bounds it must respect.

The model is held to the RTL's cycle counters by tb/core (test_cycle_model);
these tests hold it to bounds that follow from the architecture alone, so a
broken simulation (lost entries, a skipped pass, a wrong batch count) fails
without a simulator.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ese.config import Config
from ese.model import cycles
from ese.model.encode import encode_matrix
from ese.model.modelfile import FloatLayer, FloatModel
from ese.model.qmodel import gate_perm
from ese.model.schedule import frame_slots

from test_image import rand_qmodel

SHAPES = [(16, 16, 8, True), (8, 16, None, False)]


def small(n_pe=4, **kw):
    # the smallest legal stream configuration: ew_lanes 1 (n_pe multiple of 4), chunk 2
    kw.setdefault("bcast_width", 2)
    kw.setdefault("window", 16)
    return Config(name=f"c{n_pe}", n_pe=n_pe, **kw)


def entries_per_pe(qm, cfg):
    """Entries (fillers included) every PE walks per frame, from the encoder directly."""
    tot = np.zeros(cfg.n_pe, dtype=np.int64)
    for l in qm.layers:
        for w in (l.wx, l.wr, l.wp):
            if w is not None:
                tot += encode_matrix(w, cfg.n_pe, cfg.index_bits).entries_per_pe
    return tot


@pytest.mark.parametrize("density", [0.05, 0.3, 1.0])
def test_figures_respect_the_architecture(density):
    cfg = small()
    qm = rand_qmodel(cfg, SHAPES, density=density, seed=13)
    est = cycles.estimate(qm, frames=8)
    nnz = sum(int(np.count_nonzero(a)) for l in qm.layers
              for a in (l.wx, l.wr, l.wp) if a is not None)
    steady = est["steady_cycles_per_frame"]
    assert est["nnz"] == nnz and est["frames"] == 8
    assert est["ideal_cycles_per_frame"] == pytest.approx(nnz / cfg.n_pe)
    assert est["cycles_per_frame"] == pytest.approx(est["cycles"] / 8)
    assert est["latency_us_at_200mhz"] == pytest.approx(est["cycles_per_frame"] * 0.005)
    # a PE issues at most one entry per cycle, so it needs all its entries' cycles
    assert steady >= entries_per_pe(qm, cfg).max()
    # one element-wise sequencer, ew_lanes cells per cycle, every layer every frame
    assert steady >= sum(math.ceil(h / cfg.ew_lanes) for _, h, _, _ in SHAPES)
    assert 0 < est["steady"]["utilization"] <= 1
    # frame 0 has no W_r work (y_-1 = 0) but the fill: at least the other frames' cost
    assert est["cycles"] >= 7 * steady


def test_faster_with_more_pes_and_slower_with_more_weights():
    shapes = [(32, 32, 16, True)]
    prev = None
    for n_pe in (4, 8, 16):
        est = cycles.estimate(rand_qmodel(small(n_pe), shapes, density=0.5, seed=14))
        if prev is not None:
            assert est["steady_cycles_per_frame"] < prev
        prev = est["steady_cycles_per_frame"]
    cfg = small()
    c = [cycles.estimate(rand_qmodel(cfg, shapes, d, seed=15))["steady_cycles_per_frame"]
         for d in (0.1, 0.3, 0.6)]
    assert c[0] < c[1] < c[2]


def test_batch_beyond_the_channels_runs_in_passes():
    cfg = small(n_ch=2)
    qm = rand_qmodel(cfg, [(8, 8, None, False)], 0.3)
    one = cycles.estimate(qm, frames=5, batch=2)
    three = cycles.estimate(qm, frames=5, batch=5)
    assert three["passes"] == 3 and three["cycles"] == 3 * one["cycles"]


def test_float_masks_give_the_quantized_figures():
    """estimate_float (every non-zero of a float model) == estimate of its quantized twin."""
    cfg = small()
    qm = rand_qmodel(cfg, SHAPES, density=0.3, seed=16)
    fls = []
    for l in qm.layers:
        inv = np.argsort(gate_perm(l.n_cells))       # back to the float row order
        fls.append(FloatLayer(wx=l.wx[inv].astype(float), wr=l.wr[inv].astype(float),
                              b=np.zeros(4 * l.n_cells),
                              wp=None if l.wp is None else l.wp.astype(float)))
    fm = FloatModel(layers=fls)
    a = cycles.estimate(qm, frames=6)
    b = cycles.estimate_float(fm, cfg, frames=6)
    assert (a["cycles"], a["nnz"]) == (b["cycles"], b["nnz"])


def test_stream_order():
    """Per frame: layer 0 Wx, Wr, Wp; deeper layers Wr, Wx, Wp; y_{-1} = 0 skips Wr at t = 0."""
    lay = [{"n_in": 5, "n_cells": 8, "n_out": 3, "projection": True},
           {"n_in": 3, "n_cells": 4, "n_out": 4, "projection": False}]
    s0 = frame_slots(lay, 4, 0)
    assert [(s.layer, s.kind, s.skip) for s in s0] == [
        (0, "Wx", False), (0, "Wr", True), (0, "Wp", False),
        (1, "Wr", True), (1, "Wx", False), (1, "Wp", True)]
    s1 = frame_slots(lay, 4, 1)
    assert [s.skip for s in s1] == [False, False, False, False, False, True]
    assert [s.length for s in s1[:5]] == [8, 4, 8, 4, 4]     # padded to whole chunks of 4
    assert s1[1].source == ("y", 0, 0) and s1[4].source == ("y", 0, 1)


def test_one_accumulator_port_up_to_32_rows():
    """Config.acc_one_port: one read port (reads delayed and holding) up to 32 accumulator
    rows; above, a port per region and the read registered once."""
    from ese.config import ACC_ONE_PORT_ROWS, ACC_READ_HOLD, ACC_READ_REG
    # 4 * max_cells / n_pe gate rows + max_proj / n_pe projection rows
    at = small(n_pe=4, max_cells=28, max_proj=16)           # 28 + 4 = 32 rows
    over = small(n_pe=4, max_cells=28, max_proj=20)         # 28 + 5 = 33 rows
    assert ACC_ONE_PORT_ROWS == 32
    assert at.acc_one_port and not over.acc_one_port
    assert at.acc_read_delay == ACC_READ_HOLD > 0 and over.acc_read_delay == ACC_READ_REG
    assert ACC_READ_HOLD != ACC_READ_REG


def test_read_holds_cost_at_most_one_cycle_per_row_read():
    """The model's read holds (one accumulator port) cost cycles where the PEs are busy
    during the passes (this model's W_p runs into the element-wise pass), at most one
    per row a PE has read per frame."""
    from ese.model.schedule import latency_for, simulate
    cfg = small(n_pe=8, max_input=32, max_cells=32, max_proj=16, ew_lanes=2, drain_lanes=2,
                bcast_width=4, window=32)
    assert cfg.acc_one_port
    qm = rand_qmodel(cfg, [(32, 32, 16, True)], density=0.5, seed=17)
    mats, layers = cycles._quantized(qm)
    st = cycles.streams_of(mats, cfg)

    def run(lat, t):
        return simulate(layers, st, cfg.n_pe, t, chunk=cfg.bcast_width, window=cfg.window,
                        ew_lanes=cfg.ew_lanes, drain_lanes=cfg.drain_lanes, lat=lat).cycles

    held = latency_for(cfg)
    plain = dataclasses.replace(held, hold=-1)
    assert held.hold >= 0
    steady = {name: (run(lat, 12) - run(lat, 6)) / 6
              for name, lat in (("held", held), ("plain", plain))}
    rows = cfg.gate_rows_per_pe + cfg.proj_rows_per_pe
    assert steady["plain"] < steady["held"] <= steady["plain"] + rows
