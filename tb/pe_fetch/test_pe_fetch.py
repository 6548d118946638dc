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

from tb.common.pe_ports import LoadDriver, PeCommandDriver
from tb.common.scoreboard import Scoreboard
from tb.common.sim import BaseTB
from tb.common.trace import Trace

FETCH_LAT = 6   # o_end - accept = E + Z + FETCH_LAT (pe_fetch docstring)


class TB(BaseTB):
    """pe_fetch: clock and reset, the load and command port drivers, a trace of its outputs."""

    def __init__(self, dut, cfg, rng: random.Random):
        super().__init__(dut, rng)
        self.cfg = cfg
        dut.ld_we.value = 0
        dut.cmd_valid.value = 0
        dut.avail.value = cfg.max_cols
        self.trace = Trace(dut, ["cmd_valid", "cmd_ready", "avail", "o_valid", "o_vaddr",
                                 "o_aaddr", "o_weight", "o_shift", "o_end", "busy"],
                           signed=["o_weight"])
        self.cmd = PeCommandDriver(dut, self.trace)

    async def start(self, watchdog_cycles: int) -> None:
        """Clock, reset, watchdog, trace; returns after a falling edge."""
        await super().start()
        self.watchdog(watchdog_cycles, "pe_fetch test")
        self.trace.start()
        await FallingEdge(self.clk)

    async def load(self, loads, p_idle: float) -> None:
        """Write ``loads`` (sel, addr, data) in random order with random idle cycles."""
        order = list(loads)
        self.rng.shuffle(order)
        await FallingEdge(self.clk)
        await LoadDriver(self.dut, self.pauses(p_idle)).write(order)

    async def drain(self) -> None:
        """Wait until no command is offered or running, then 4 more cycles."""
        while True:
            await ReadOnly()
            b = int(self.dut.busy.value) or int(self.dut.cmd_valid.value)
            await FallingEdge(self.clk)
            if not b:
                break
        for _ in range(4):
            await FallingEdge(self.clk)


@cocotb.test()
async def fetch_stream(dut):
    from tb.pe.stim import acc_base, scenario

    p = tb_params()
    cfg = tb_config()
    rng = random.Random(p["seed"])
    lay, regions, pe_idx = scenario(cfg, p["seed"])
    all_cols = cfg.max_cols
    shift_max = cfg.max_align_shift

    tb = TB(dut, cfg, rng)
    await tb.start(p["watchdog"])
    await tb.load(lay.loads, 0.3)

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
            t = await tb.cmd.issue(cmd, all_cols)
        else:
            await tb.cmd.wait_ready()           # never lower avail under a running command
            start_av = 0 if mode == "zero" else rng.randrange(cmd[1] + 1)
            t = await tb.cmd.issue(cmd, start_av)
            av = start_av
            rate = rng.choice([0.03, 0.1, 0.4])     # mostly slower than the walker
            while av < cmd[1]:
                if rng.random() < rate:
                    av = min(cmd[1], av + rng.choice([1, 1, 1, 2, 5]))
                    dut.avail.value = av
                await FallingEdge(dut.clk)
            dut.avail.value = all_cols
        cmds.append((cmd, mi, mode, t))
    await tb.drain()

    rows = tb.trace.rows
    accepts = [t for t, r in enumerate(rows) if r["cmd_valid"] and r["cmd_ready"]]
    assert accepts == [c[3] for c in cmds], "accept cycles disagree with the driver"
    ends = [t for t, r in enumerate(rows) if r["o_end"]]
    assert len(ends) == len(cmds), f"{len(ends)} o_end pulses for {len(cmds)} commands"
    # the entry stream, in order: each command's entries (Mat.stream, fillers
    # included) strictly between its acceptance and its o_end
    entries = Scoreboard("pe_fetch entry stream")
    through = []         # entries expected up to and including command k
    for cmd, mi, mode, _ in cmds:
        what = f"command {cmd} ({'ncols=0' if mi is None else lay.mats[mi].kind}, {mode})"
        for e in ([] if mi is None else lay.mats[mi].stream(cmd[2], cmd[3], cmd[4])):
            entries.expect(e, note=what)
        through.append(entries.matched + len(entries.pending))
    k = 0                # the command whose entries are coming
    n_edge = 0
    for tt, r in enumerate(rows):
        if r["o_end"]:
            assert entries.matched == through[k], \
                f"command {cmds[k][0]}: o_end after {entries.matched - (through[k - 1] if k else 0)} " \
                f"entries, expected {through[k] - (through[k - 1] if k else 0)}"
            k += 1
        if r["o_valid"]:
            assert k < len(cmds), "entry after the last o_end"
            cmd, _, _, t0 = cmds[k]
            assert tt > t0, f"command {cmd}: entry before its command was accepted"
            entries.observe((r["o_vaddr"], r["o_aaddr"], r["o_weight"], r["o_shift"]))
            j = r["o_vaddr"] - cmd[2]
            assert j < rows[tt - 2]["avail"], \
                f"entry of column {j} issued at row {tt - 2} with avail {rows[tt - 2]['avail']}"
            if rows[tt - 3]["avail"] == j and rows[tt - 2]["avail"] > j:
                n_edge += 1          # issued in the very cycle avail let column j go
    entries.finish()
    n_entries = n_empty = n_cycles = 0
    for (cmd, mi, mode, t0), t_end in zip(cmds, ends):
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
    assert n_edge >= 3, f"avail gating hardly exercised: {n_edge} entries waited for avail"
    cocotb.log.info(f"pe_fetch: {len(cmds)} commands, {entries.matched} entries, {n_edge} released "
                    f"by a rising avail in their issue cycle; avail=all commands: "
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
