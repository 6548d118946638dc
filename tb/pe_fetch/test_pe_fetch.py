"""pe_fetch: the decoded entry stream of encoded random matrices, avail gating, throughput.

Matrices of every nasty kind (tb/pe/stim.py) are encoded with model/encode.py
and loaded (in random order, with pauses) at random offsets; then commands
with random vector/accumulator bases and shifts walk them, some with ``avail``
= all columns, some with ``avail`` starting at 0 and growing slowly, with random
idle gaps or back to back.  Checked from a cycle trace:

* the stream of each command equals ``Mat.stream`` (model decoding rule),
  fillers included; ``o_end`` once per command, after its last entry;
* no entry of column j leaves before ``j < avail`` held in its issue cycle;
* with ``avail`` = all: ``o_end`` exactly E + Z + 6 cycles after acceptance
  (E entries, Z empty columns), i.e. one entry per cycle across columns.
"""

import random

import pytest

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from tb.common.sim import pauses, start, watchdog
from tb.common.trace import Trace

FETCH_LAT = 6   # o_end - accept = E + Z + FETCH_LAT (pe_fetch docstring)


async def load(dut, loads, rng, p_idle):
    """Write (sel, addr, data) words through the load port, with random pauses."""
    order = list(loads)
    rng.shuffle(order)
    idle = pauses(rng, p_idle)
    i = 0
    while i < len(order):
        await FallingEdge(dut.clk)
        if next(idle):
            dut.ld_we.value = 0
            continue
        sel, addr, data = order[i]
        dut.ld_we.value = 1
        dut.ld_sel.value = sel
        dut.ld_addr.value = addr
        dut.ld_data.value = data
        i += 1
    await FallingEdge(dut.clk)
    dut.ld_we.value = 0


async def issue(dut, tr, cmd, avail=None):
    """Hold cmd_valid (with ``avail`` if given) until accepted; return the accept row."""
    ptr_base, ncols, vec_base, acc_base, shift = cmd
    while True:
        dut.cmd_valid.value = 1
        dut.cmd_ptr_base.value = ptr_base
        dut.cmd_ncols.value = ncols
        dut.cmd_vec_base.value = vec_base
        dut.cmd_acc_base.value = acc_base
        dut.cmd_shift.value = shift
        if avail is not None:
            dut.avail.value = avail
        t = tr.now
        await ReadOnly()
        ok = int(dut.cmd_ready.value)
        await FallingEdge(dut.clk)
        if ok:
            dut.cmd_valid.value = 0
            return t


async def wait_ready(dut):
    while True:
        await ReadOnly()
        ok = int(dut.cmd_ready.value)
        await FallingEdge(dut.clk)
        if ok:
            return


@cocotb.test()
async def fetch_stream(dut):
    from tb.pe.stim import acc_base, scenario

    p = tb_params()
    cfg = tb_config()
    rng = random.Random(p["seed"])
    lay, regions, pe_idx = scenario(cfg, p["seed"])
    all_cols = cfg.max_cols
    shift_max = cfg.max_align_shift

    dut.ld_we.value = 0
    dut.cmd_valid.value = 0
    dut.avail.value = all_cols
    await start(dut)
    cocotb.start_soon(watchdog(dut.clk, p["watchdog"], "pe_fetch test"))
    tr = Trace(dut, ["cmd_valid", "cmd_ready", "avail", "o_valid", "o_vaddr", "o_aaddr",
                     "o_weight", "o_shift", "o_end", "busy"], signed=["o_weight"]).start()
    await FallingEdge(dut.clk)
    await load(dut, lay.loads, rng, 0.3)

    # commands: every matrix once with avail = all and once gated, plus ncols = 0
    plan = [(i, "all") for i in range(len(lay.mats))] \
        + [(i, rng.choice(["slow", "zero"])) for i in range(len(lay.mats))] \
        + [(None, "all"), (None, "all")]
    rng.shuffle(plan)
    cmds = []            # (cmd, mat index or None, mode, accept row)
    for mi, mode in plan:
        if mi is None:
            cmd = (rng.randrange(cfg.ptr_depth), 0, rng.randrange(cfg.vec_depth),
                   rng.randrange(2 * cfg.gate_rows_per_pe), rng.randrange(shift_max + 1))
        else:
            m = lay.mats[mi]
            vb = rng.randrange(cfg.vec_depth - m.cols + 1)
            cmd = (m.ptr_base, m.cols, vb, acc_base(cfg, regions[mi]), rng.randrange(shift_max + 1))
        # random idle gap, or back to back
        for _ in range(rng.choice([0, 0, 1, 3, 10])):
            await FallingEdge(dut.clk)
        if mode == "all":
            t = await issue(dut, tr, cmd, all_cols)
        else:
            await wait_ready(dut)           # never lower avail under a running command
            start_av = 0 if mode == "zero" else rng.randrange(cmd[1] + 1)
            t = await issue(dut, tr, cmd, start_av)
            av = start_av
            rate = rng.choice([0.03, 0.1, 0.4])     # mostly slower than the walker
            while av < cmd[1]:
                if rng.random() < rate:
                    av = min(cmd[1], av + rng.choice([1, 1, 1, 2, 5]))
                    dut.avail.value = av
                await FallingEdge(dut.clk)
            dut.avail.value = all_cols
        cmds.append((cmd, mi, mode, t))
    # drain
    while True:
        await ReadOnly()
        b = int(dut.busy.value) or int(dut.cmd_valid.value)
        await FallingEdge(dut.clk)
        if not b:
            break
    for _ in range(4):
        await FallingEdge(dut.clk)

    rows = tr.rows
    accepts = [t for t, r in enumerate(rows) if r["cmd_valid"] and r["cmd_ready"]]
    assert accepts == [c[3] for c in cmds], "accept cycles disagree with the driver"
    ends = [t for t, r in enumerate(rows) if r["o_end"]]
    assert len(ends) == len(cmds), f"{len(ends)} o_end pulses for {len(cmds)} commands"
    outs = [(t, (r["o_vaddr"], r["o_aaddr"], r["o_weight"], r["o_shift"]))
            for t, r in enumerate(rows) if r["o_valid"]]
    k = 0
    n_entries = n_empty = n_cycles = n_edge = 0
    for (cmd, mi, mode, t0), t_end in zip(cmds, ends):
        if mi is None:
            exp = []
        else:
            m = lay.mats[mi]
            exp = m.stream(cmd[2], cmd[3], cmd[4])
        got = []
        while k < len(outs) and outs[k][0] < t_end:
            got.append(outs[k])
            k += 1
        assert [g[1] for g in got] == exp, \
            f"command {cmd} ({'ncols=0' if mi is None else lay.mats[mi].kind}, {mode}): " \
            f"stream differs ({len(got)} entries, expected {len(exp)}); first difference at " \
            f"{next((i for i, (a, b) in enumerate(zip([g[1] for g in got], exp)) if a != b), None)}"
        assert not got or got[0][0] > t0, "entry before its command was accepted"
        for tt, (va, *_rest) in got:
            j = va - cmd[2]
            assert j < rows[tt - 2]["avail"], \
                f"entry of column {j} issued at row {tt - 2} with avail {rows[tt - 2]['avail']}"
            if rows[tt - 3]["avail"] == j and rows[tt - 2]["avail"] > j:
                n_edge += 1          # issued in the very cycle avail let column j go
        if mode == "all":
            E = 0 if mi is None else lay.mats[mi].n_entries
            Z = 0 if mi is None else lay.mats[mi].empty_cols
            want = E + Z + FETCH_LAT if mi is not None else 3
            assert t_end - t0 == want, \
                f"command {cmd}: o_end {t_end - t0} cycles after accept, expected {want} " \
                f"(E={E}, Z={Z})"
            n_entries += E
            n_empty += Z
            n_cycles += t_end - t0
    assert k == len(outs), f"{len(outs) - k} entries after the last o_end"
    assert n_edge >= 3, f"avail gating hardly exercised: {n_edge} entries waited for avail"
    cocotb.log.info(f"pe_fetch: {len(cmds)} commands, {len(outs)} entries, {n_edge} released by "
                    f"a rising avail in their issue cycle; avail=all commands: "
                    f"{n_entries} entries + {n_empty} empty columns in {n_cycles} cycles "
                    f"({n_cycles / max(1, n_entries):.3f} cycles/entry incl. start-up)")


# ----------------------------------------------------------------------------- pytest side

def configs():
    from ese.config import TINY
    alt = TINY.replace(name="pe_alt", n_pe=3, n_ch=3, weight_bits=8, index_bits=2, act_bits=12,
                       act_frac=8, cell_bits=12, cell_frac=8, pre_bits=12, pre_frac=8,
                       gate_frac=10, max_align_shift=4, acc_bits=34, max_input=24,
                       max_cells=20, max_proj=16, max_layers=2, pe_entry_depth=700)
    return {"tiny": TINY, "pe_alt": alt}


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg_name", ["tiny", "pe_alt"])
def test_pe_fetch(sim, cfg_name):
    from ese.config import clog2  # noqa: F401
    from ese.hdl.convert import config_key
    from ese.hdl.pe_fetch import top

    cfg = configs()[cfg_name]
    params = dict(cfg=cfg.to_dict(), seed=11 + len(cfg_name), watchdog=60000)
    run_cocotb("pe_fetch", lambda: top(cfg), __name__, sim, config_key(cfg), params)
