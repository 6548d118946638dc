"""core: the compute side (scheduler, PE array, channels) against the integer engine.

Random compressed models (1-3 layers, peepholes and projection on and off,
sizes the PE count does not divide) are loaded straight into the PE memories
(LoadBeat: model/encode.py streams packed G PEs a beat) and the channels'
parameter memories; the bench answers the layer-table lookups and plays both
frame movers (writing each channel's input frames into its X halves, reading
its output buffer), with random delays.  Every output must equal
model/lstm_fixed.run_fixed bit for bit; the run must finish (fin).
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


def make_model(cfg, n_in, h, proj, layers, peep, seed, density=0.3):
    from ese.model.modelfile import random_model
    from ese.model.prune import prune_model
    from ese.model.quantize import quantize_model
    fm = random_model(n_in, h, proj=proj, layers=layers, peephole=peep, seed=seed)
    return quantize_model(prune_model(fm, cfg, density=density), cfg)


def pe_words(qm, cfg):
    """Per PE: (entry words, pointer table) in image matrix order; and the row shifts."""
    from ese.model.image import matrix_list
    mats = matrix_list(qm)
    encs = [encode_matrix(np.asarray(m[3], dtype=np.int64), cfg.n_pe, cfg.index_bits)
            for m in mats]
    per_pe = []
    for p in range(cfg.n_pe):
        words, ptrs = [], [0]
        for e in encs:
            words.extend(int(x) for x in e.pes[p].words(cfg.weight_bits, cfg.index_bits))
            ptrs.append(len(words))
        per_pe.append((words, ptrs))
    return per_pe, [e.row_shift for e in encs], mats


class TB:
    def __init__(self, dut, cfg, rng):
        self.dut, self.cfg, self.rng = dut, cfg, rng
        from ese.hdl.stream_if import stream_widths
        self.w = stream_widths(cfg)

    async def reset(self):
        d = self.dut
        for s in ("ex_go", "cancel", "ld_we", "pw_we", "xw_we", "in_frame_busy", "out_frame_busy"):
            getattr(d, s).value = 0
        await start(d)

    async def load_pes(self, per_pe):
        d, cfg, G = self.dut, self.cfg, self.w.group
        W8 = 8 * self.w.pe_word
        ngrp = -(-cfg.n_pe // G)
        for g in range(ngrp):
            pes = range(g * G, min(cfg.n_pe, g * G + G))
            for sel in (1, 0):                   # pointer tables, then entries
                vals = {p: per_pe[p][1] if sel else per_pe[p][0] for p in pes}
                n = max(len(v) for v in vals.values())
                for a in range(n):
                    beat = 0
                    for j, p in enumerate(pes):
                        if a < len(vals[p]):
                            beat |= vals[p][a] << (j * W8)
                    await FallingEdge(d.clk)
                    d.ld_we.value, d.ld_grp.value, d.ld_sel.value = 1, g, sel
                    d.ld_addr.value, d.ld_data.value = a, beat
        await FallingEdge(d.clk)
        d.ld_we.value = 0

    async def load_params(self, qm):
        d, cfg = self.dut, self.cfg
        for k, lay in enumerate(qm.layers):
            for cell in range(lay.n_cells):
                words = [(0, [int(v) for v in lay.bias[4 * cell:4 * cell + 4]])]
                if lay.has_peep:
                    words.append((1, [int(lay.peep[g, cell]) for g in range(3)] + [0]))
                for sel, vals in words:
                    data = 0
                    for i, v in enumerate(vals):
                        data |= (v & 0xFFFF) << (16 * i)
                    await FallingEdge(d.clk)
                    d.pw_we.value, d.pw_sel.value = 1, sel
                    d.pw_addr.value, d.pw_data.value = k * cfg.max_cells + cell, data
        await FallingEdge(d.clk)
        d.pw_we.value = 0


async def layer_table(dut, rows):
    """Answer the scheduler's layer-table lookups (lsel -> lrow), every cycle."""
    while True:
        await FallingEdge(dut.clk)
        r = rows[min(int(dut.lsel.value), len(rows) - 1)]
        for k, v in r.items():
            getattr(dut, f"lrow_{k}").value = v


async def input_mover(dut, cfg, xq, rng, p_slow):
    """Frame t of sequence c into channel c's X half t mod 2, one value per cycle."""
    from ese.hdl.stream_if import x_half
    XS = x_half(cfg)
    b, t_n, n_in = xq.shape
    while True:
        await FallingEdge(dut.clk)
        if not int(dut.in_frame_req.value):
            continue
        t = int(dut.in_frame_t.value)
        dut.in_frame_busy.value = 1
        for c in range(b):
            for i in range(n_in):
                while rng.random() < p_slow:
                    await FallingEdge(dut.clk)
                    dut.xw_we.value = 0
                await FallingEdge(dut.clk)
                dut.xw_we.value, dut.xw_ch.value = 1, c
                dut.xw_addr.value = (t % 2) * XS + i
                dut.xw_data.value = int(xq[c, t, i]) & 0xFFFF
        await FallingEdge(dut.clk)
        dut.xw_we.value = 0
        dut.in_frame_busy.value = 0


async def output_mover(dut, cfg, out, n_out, rng, p_slow):
    """Frame t of every channel out of the output buffer half t mod 2."""
    from ese.hdl.stream_if import out_half
    OH = out_half(cfg)
    A = cfg.act_bits
    while True:
        await FallingEdge(dut.clk)
        if not int(dut.out_frame_req.value):
            continue
        t = int(dut.out_frame_t.value)
        dut.out_frame_busy.value = 1
        B = cfg.vbuf_bank_count               # values per output buffer read
        for i in range(0, n_out, B):
            while rng.random() < p_slow:
                await FallingEdge(dut.clk)
            dut.o_raddr.value = (t % 2) * OH + i
            await FallingEdge(dut.clk)
            # the values of a read beyond n_out were never written (X on Icarus): unused
            bits = str(dut.o_rdata.value).lower().replace("x", "0").replace("z", "0")
            raw = int(bits, 2)
            for c in range(out.shape[0]):
                for j in range(min(B, n_out - i)):
                    v = (raw >> ((c * B + j) * A)) & ((1 << A) - 1)
                    out[c, t, i + j] = v - (1 << A) if v >> (A - 1) else v
        dut.out_frame_busy.value = 0


@cocotb.test()
async def models(dut):
    from ese.model.image import layer_shifts
    from ese.model.lstm_fixed import quantize_input, run_fixed
    cfg = tb_config()
    prm = tb_params()
    rng = random.Random(prm["seed"])
    tb = TB(dut, cfg, rng)
    await tb.reset()
    table = [{}]
    cocotb.start_soon(layer_table(dut, table))
    measured = []
    for i, case in enumerate(prm["cases"]):
        qm = make_model(cfg, **{k: v for k, v in case.items() if k not in ("b", "t")})
        per_pe, rshifts, mats = pe_words(qm, cfg)
        await tb.load_pes(per_pe)
        await tb.load_params(qm)
        rows, m = [], 0
        for k, lay in enumerate(qm.layers):
            sh = layer_shifts(lay, cfg)
            rows.append(dict(n_in=lay.n_in, n_cells=lay.n_cells, n_out=lay.n_out,
                             peep=int(lay.has_peep), proj=int(lay.has_proj),
                             shift_x=sh["shift_x"], shift_r=sh["shift_r"], s_acc=sh["s_acc"],
                             s_p=sh["s_p"], wf_p=sh["wf_p"], mat=m, rs_x=rshifts[m],
                             rs_r=rshifts[m + 1], rs_p=rshifts[m + 2] if lay.has_proj else 0))
            m += 3 if lay.has_proj else 2
        table[:] = rows
        b, t = case["b"], case["t"]
        x = np.random.default_rng(case["seed"]).uniform(-2, 2, size=(b, t, qm.n_in))
        xq = quantize_input(x, cfg)
        want = run_fixed(qm, xq)
        got = np.zeros_like(want)
        if prm.get("debug"):
            from ese.model.lstm_fixed import run_fixed_trace
            tr = run_fixed_trace(qm, xq)
            dut._log.info(f"DBG acc frame0 {tr[0]['acc'][0, 0, :16].tolist()}")
            dut._log.info(f"DBG m frame0 {tr[0]['m'][0, 0, :4].tolist()} x {xq[0,0,:4].tolist()}")

            async def mon():
                while True:
                    await FallingEdge(dut.clk)
                    if dut.channel0.e_v.value.is_resolvable and int(dut.channel0.e_v.value):
                        raw = int(str(dut.channel0.g_r.value).lower().replace("x", "0"), 2)
                        vals = [(raw >> (48 * j)) & ((1 << 48) - 1) for j in range(4 * cfg.ew_lanes)]
                        vals = [v - (1 << 48) if v >> 47 else v for v in vals]
                        dut._log.info(f"DBG gat {vals}")
            cocotb.start_soon(mon())
        ins = cocotb.start_soon(input_mover(dut, cfg, xq, rng, prm["p_slow"]))
        outs = cocotb.start_soon(output_mover(dut, cfg, got, qm.n_out, rng, prm["p_slow"]))
        await FallingEdge(dut.clk)
        dut.frames.value, dut.n_layers.value = t, len(qm.layers)
        dut.ex_go.value = 1
        await FallingEdge(dut.clk)
        dut.ex_go.value = 0
        n = 0
        while not int(dut.ex_fin.value):
            await FallingEdge(dut.clk)
            n += 1
            assert n < 200_000, f"case {i}: the run did not finish"
        ins.cancel()
        outs.cancel()
        dut.in_frame_busy.value = 0
        dut.out_frame_busy.value = 0
        bad = np.argwhere(got != want)
        if bad.size:
            dut._log.info(f"got frame 0/1 {got[0, :2].tolist()} want {want[0, :2].tolist()}")
        assert bad.size == 0, f"case {i} {case}: {len(bad)} of {got.size} outputs differ, " \
            f"first at {tuple(bad[0])}: rtl {got[tuple(bad[0])]} model {want[tuple(bad[0])]}"
        dut._log.info(f"case {i} {case}: bit-exact, {n} cycles for {t} frames")
        measured.append(n)
        # the datapath starts every run clean (the controller resets it): do it here
        dut.rst.value = 1
        await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
    if prm.get("out"):
        import json
        with open(prm["out"], "w") as f:
            json.dump(measured, f)


def _make(cfg):
    from ese.hdl.core import top
    return top(cfg)


CONFIGS = {
    "tiny": dict(),
    "wide": dict(name="core_wide", n_pe=8, n_ch=3, index_bits=3, weight_bits=10,
                 max_input=32, max_cells=32, max_proj=24, max_layers=3, pe_entry_depth=1024,
                 axi_data_bits=128, ew_lanes=2, drain_lanes=2, bcast_width=4, window=32),
}

CASES = {
    "tiny": [dict(n_in=10, h=9, proj=None, layers=1, peep=False, seed=1, b=1, t=4),
             dict(n_in=7, h=11, proj=5, layers=2, peep=True, seed=2, b=2, t=5),
             dict(n_in=13, h=6, proj=None, layers=3, peep=True, seed=3, b=2, t=4)],
    "wide": [dict(n_in=19, h=13, proj=11, layers=2, peep=True, seed=5, b=3, t=4),
             dict(n_in=30, h=21, proj=None, layers=3, peep=True, seed=7, b=2, t=4)],
}


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", list(CONFIGS))
def test_core(sim, cname):
    from ese.config import PRESETS
    from ese.hdl.convert import config_key
    cfg = PRESETS["tiny"].replace(**CONFIGS[cname]) if CONFIGS[cname] else PRESETS["tiny"]
    import os
    params = dict(cfg=cfg.to_dict(), seed=1, cases=CASES[cname], p_slow=0.2,
                  debug=bool(os.environ.get("ESE_TB_DEBUG")))
    run_cocotb("core", lambda: _make(cfg), __name__, sim, config_key(cfg), params)


#: small configurations for the cycle model's check: PE counts, lanes, windows vary
TIMING = {
    "t8": dict(name="t8", n_pe=8, n_ch=2, index_bits=4, max_input=40, max_cells=40,
               max_proj=32, max_layers=2, pe_entry_depth=2048, ew_lanes=2, drain_lanes=2,
               bcast_width=2, window=16),
    "t16": dict(name="t16", n_pe=16, n_ch=1, index_bits=5, max_input=64, max_cells=64,
                max_proj=48, max_layers=2, pe_entry_depth=2048, ew_lanes=4, drain_lanes=4,
                bcast_width=4, window=32),
}
TIMING_CASES = {
    "t8": [dict(n_in=30, h=40, proj=24, layers=1, peep=True, seed=11, density=0.3, b=2),
           dict(n_in=20, h=32, proj=None, layers=2, peep=False, seed=12, density=0.5, b=1)],
    "t16": [dict(n_in=50, h=64, proj=40, layers=1, peep=True, seed=13, density=0.25, b=1),
            dict(n_in=33, h=48, proj=32, layers=2, peep=True, seed=14, density=0.3, b=1)],
}


@pytest.mark.rtl
@pytest.mark.parametrize("cname", list(TIMING))
def test_cycle_model(cname, tmp_path):
    """model/cycles.py's simulation predicts the core's steady cycles/frame within 3 %."""
    import json
    from ese.config import PRESETS
    from ese.hdl.convert import config_key
    from ese.model import cycles
    from ese.model.schedule import latency_for, simulate
    cfg = PRESETS["tiny"].replace(**TIMING[cname])
    cases = []
    for c in TIMING_CASES[cname]:
        cases += [dict(c, t=6), dict(c, t=12)]
    out = tmp_path / "cycles.json"
    params = dict(cfg=cfg.to_dict(), seed=1, cases=cases, p_slow=0.0, out=str(out))
    run_cocotb("core", lambda: _make(cfg), __name__, "verilator", config_key(cfg), params,
               test_name="timing")
    rtl = json.loads(out.read_text())
    for k, c in enumerate(TIMING_CASES[cname]):
        qm = make_model(cfg, **{key: v for key, v in c.items() if key != "b"})
        mats, layers = cycles._quantized(qm)
        st = cycles.streams_of(mats, cfg)
        model = []
        for t in (6, 12):
            r = simulate(layers, st, cfg.n_pe, t, chunk=cfg.bcast_width, window=cfg.window,
                         ew_lanes=cfg.ew_lanes, drain_lanes=cfg.drain_lanes,
                         lat=latency_for(cfg),
                         x_stage=c["b"] * qm.n_in + 2, out_write=qm.n_out + 2)
            model.append(r.cycles)
        steady_rtl = (rtl[2 * k + 1] - rtl[2 * k]) / 6
        steady_model = (model[1] - model[0]) / 6
        err = abs(steady_model - steady_rtl) / steady_rtl
        print(f"{cname} case {k}: steady cycles/frame RTL {steady_rtl:.1f}, model "
              f"{steady_model:.1f} ({100 * err:.2f} %)")
        assert err <= 0.03, f"{cname} case {k}: model {steady_model:.1f} vs RTL " \
            f"{steady_rtl:.1f} cycles/frame ({100 * err:.1f} %)"
