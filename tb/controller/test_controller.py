"""controller: START checks, range checks, sequencing and counters against a Python reference.

The controller is the DUT alone; the blocks around it are small behavioural
models driven from the bench: a loader (busy for a few cycles after its
``start``, then ``fin`` with the case's error code, ``loaded`` and the model's
widths), ``ctrl_exec`` (``fin`` a few cycles after ``go``; ``stall`` and the
core's ``mac_count`` random every cycle) and the busy flags of the read port
and the frame movers (a few cycles more after a ``cancel``).

* ``checks``: random STARTs near every edge (FRAMES 0, max_frames and above;
  BATCH 0, n_ch and above; misaligned addresses; IMAGE_ADDR + IMAGE_SIZE and
  IN_ADDR / OUT_ADDR + BATCH * FRAMES * stride just at, below and above the
  top of the address space, addresses with bits beyond it; the loader's
  error codes; no model) against :func:`expected`, the documented checks in
  their order of priority.  Every START must end in one DONE (with ERROR and
  the code, or a run), the run parameters on the outputs, ``busy`` from START
  to DONE, one ``flush``; a run's CYCLES, MAC, STALL and LOAD_CYCLES are the
  models' cycles and sums; ``ex.go`` comes exactly the documented number of
  cycles after START (no load) or after the loader's ``fin``.
* ``axi_errors``: an AXI read or write error while loading and while running:
  one ``cancel``, DONE + ERROR with the master's code only once the read
  port, the movers and the loader are idle; the next START works.
"""

from __future__ import annotations

import random

import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.sim import BaseTB


def stride(n: int, wb: int) -> int:
    """Bytes of a frame of ``n`` int16 values in DDR (docs/architecture.md)."""
    return -(-2 * n // wb) * wb


def start_checks(cfg, c: dict) -> int:
    """The error code of the checks at START for case ``c`` (0: they pass), in their order
    of priority (hdl/controller.py, docs/architecture.md "Controller")."""
    from ese.regmap import ERR
    WB = cfg.axi_data_bits // 8
    if not c["load"] and not c["loaded"]:
        return ERR["NO_MODEL"]
    if c["frames"] == 0 or c["frames"] > cfg.max_frames:
        return ERR["BAD_FRAMES"]
    if c["batch"] == 0 or c["batch"] > cfg.n_ch:
        return ERR["BAD_BATCH"]
    if (c["load"] and c["image_addr"] % WB) or c["in_addr"] % WB or c["out_addr"] % WB:
        return ERR["MISALIGNED"]
    if c["load"] and c["image_addr"] + c["image_size"] > 1 << cfg.axi_addr_bits:
        return ERR["ADDR_RANGE"]
    return 0


def expected(cfg, c: dict) -> int:
    """The error code a START of case ``c`` must end with (0: a run): the START checks,
    the load's, then the frames' range."""
    from ese.regmap import ERR
    WB = cfg.axi_data_bits // 8
    top = 1 << cfg.axi_addr_bits
    code = start_checks(cfg, c)
    if code:
        return code
    if c["load"] and c["load_err"]:
        return c["load_err"]
    span = c["batch"] * c["frames"]
    if c["in_addr"] + span * stride(c["n_in"], WB) > top or \
            c["out_addr"] + span * stride(c["n_out"], WB) > top:
        return ERR["ADDR_RANGE"]
    return 0


def go_latency(cfg, load: bool) -> int:
    """Cycles from the START pulse (no load) or the loader's ``fin`` (load) to ``ex.go``
    (hdl/controller.py "Timing")."""
    from ese.hdl.ctrl_io import stride_bits
    from ese.hdl.interfaces import widths
    n = 11 + widths(cfg).batch + stride_bits(cfg)
    return n - 3 if load else n


def random_cases(cfg, rng: random.Random, n: int) -> list:
    """``n`` STARTs, most of them near one edge of one check."""
    from ese.regmap import ERR
    A, WB = cfg.axi_addr_bits, cfg.axi_data_bits // 8
    top = 1 << A
    cases, loaded = [], False
    for k in range(n):
        n_in = rng.randint(1, cfg.max_input)
        n_out = rng.randint(1, cfg.max_proj)
        frames = rng.choice([1, 2, rng.randint(1, 300), cfg.max_frames])
        batch = rng.randint(1, cfg.n_ch)
        c = dict(load=rng.random() < 0.5, frames=frames, batch=batch, n_in=n_in, n_out=n_out,
                 image_addr=WB * rng.randrange(1 << 16), image_size=rng.randrange(1 << 20),
                 in_addr=WB * rng.randrange(1 << 16), out_addr=WB * rng.randrange(1 << 16),
                 load_err=0, load_len=rng.randint(1, 6), run_len=rng.randint(1, 12))
        span = batch * frames
        # one edge, or two or three at once (the order of priority); 9 .. 11: a plain case
        for edge in rng.sample(range(12), rng.choice([1, 1, 2, 3])):
            d = rng.choice([-1, 0, 1])
            if edge == 0:
                c["frames"] = rng.choice([0, cfg.max_frames + 1, 1 << 31, cfg.max_frames])
            elif edge == 1:
                c["batch"] = rng.choice([0, cfg.n_ch + 1, 1 << 31, cfg.n_ch])
            elif edge == 2:
                c[rng.choice(["image_addr", "in_addr", "out_addr"])] += rng.randrange(1, WB)
            elif edge == 3:
                c["load"] = True
                c["image_size"] = WB * rng.randrange((1 << 32) // WB)
                c["image_addr"] = top - c["image_size"] + d * WB
            elif edge == 4:
                c["in_addr"] = top - span * stride(n_in, WB) + d * WB
            elif edge == 5:
                c["out_addr"] = top - span * stride(n_out, WB) + d * WB
            elif edge == 6 and A < 64:
                # bits beyond the address space (64-bit registers)
                key = rng.choice(["image_addr", "in_addr", "out_addr"])
                c[key] = c[key] + (rng.randrange(1, 1 << (64 - A)) << A)
            elif edge == 7:
                c["load"] = True
                c["load_err"] = rng.choice([ERR["BAD_MAGIC"], ERR["CONFIG_MISMATCH"],
                                            ERR["MODEL_TOO_LARGE"], ERR["MISALIGNED"],
                                            ERR["ADDR_RANGE"]])
            elif edge == 8:
                c["load"] = False
        for key in ("in_addr", "out_addr", "image_addr"):
            c[key] = max(0, c[key]) % (1 << 64)
        c["loaded"] = loaded
        c["code"] = expected(cfg, c)
        if c["load"] and start_checks(cfg, c) == 0:
            loaded = c["load_err"] == 0          # the load happened
        cases.append(c)
    return cases


class TB(BaseTB):
    """controller, the register inputs, and the behavioural loader, scheduler and busy
    flags around it; every cycle's outputs are recorded by a monitor."""

    REGS = ("image_addr", "image_size", "in_addr", "out_addr", "frames", "batch")

    def __init__(self, dut, seed: int):
        super().__init__(dut, random.Random(seed))
        self.cfg = tb_config()
        self.cycle = 0
        self.loaded = False
        self.load_err, self.load_len, self.run_len = 0, 1, 1
        self.n_in, self.n_out = 1, 1
        self.log = []              # per cycle: dict of the sampled outputs and driven inputs
        self.drain = 0             # cycles the busy flags stay high after a cancel
        self.fault = None          # (state, cycle offset, 'rd' | 'wr'): an AXI error to inject

    async def init(self):
        d = self.dut
        for n in ("regs_start", "regs_load", "ldr_busy", "ldr_fin", "ldr_err", "ldr_loaded",
                  "ex_fin", "ex_stall", "rp_busy", "in_busy", "out_busy", "rd_err", "wr_err",
                  "rd_err_code", "wr_err_code", "mac_count", "m_n_in", "m_n_out"):
            getattr(d, n).value = 0
        for n in self.REGS:
            getattr(d, f"regs_{n}").value = 0
        await self.start()
        cocotb.start_soon(self._models())

    async def _models(self):
        """The loader, the scheduler and the busy flags, cycle by cycle."""
        d, rng = self.dut, self.rng
        ld_left = run_left = busy_left = 0
        ld_active = run_active = False
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            s = {n: int(getattr(d, n).value) for n in (
                "regs_start", "regs_busy", "regs_done", "regs_error", "regs_err_code",
                "ldr_start", "ex_go", "cancel", "flush", "ldr_fin", "ldr_busy", "ex_fin",
                "ex_stall", "mac_count", "rp_busy", "in_busy", "out_busy", "rd_err", "wr_err")}
            s["cycle"] = self.cycle
            self.log.append(s)
            await FallingEdge(d.clk)
            # -- loader: busy after start, then fin with the error code; a cancel drains it
            d.ldr_fin.value = 0
            if s["ldr_start"]:
                ld_active, ld_left = True, self.load_len
                self.loaded = False
            if s["cancel"]:
                if ld_active:
                    ld_active = False
                    self.loaded = False
                run_active = False
                busy_left = self.drain
            if ld_active:
                ld_left -= 1
                if ld_left <= 0:
                    ld_active = False
                    d.ldr_fin.value = 1
                    d.ldr_err.value = self.load_err
                    self.loaded = self.load_err == 0
                    if self.loaded:
                        d.m_n_in.value = self.n_in
                        d.m_n_out.value = self.n_out
            d.ldr_busy.value = int(ld_active or busy_left > 1)
            d.ldr_loaded.value = int(self.loaded)
            # -- scheduler: fin run_len cycles after go; random stalls and MACs meanwhile
            d.ex_fin.value = 0
            if s["ex_go"]:
                run_active, run_left = True, self.run_len
            if run_active:
                run_left -= 1
                if run_left <= 0:
                    run_active = False
                    d.ex_fin.value = 1
            d.ex_stall.value = int(rng.random() < 0.3)
            d.mac_count.value = rng.randint(0, self.cfg.n_pe)
            # -- read port and movers: busy for a while after a cancel (each its own time)
            for n, k in (("rp_busy", 3), ("in_busy", 5), ("out_busy", 0)):
                getattr(d, n).value = int(busy_left > k)
            busy_left = max(0, busy_left - 1)
            # -- an AXI error pulse when asked
            d.rd_err.value = 0
            d.wr_err.value = 0
            if self.fault is not None:
                when, kind = self.fault
                if (when == "load" and ld_active) or (when == "run" and run_active):
                    self.fault = None
                    getattr(d, f"{kind}_err").value = 1
                    getattr(d, f"{kind}_err_code").value = 8

    async def start_case(self, c: dict) -> int:
        """Drive the registers of case ``c`` and pulse START; returns the START cycle."""
        d = self.dut
        await FallingEdge(d.clk)
        for n in self.REGS:
            getattr(d, f"regs_{n}").value = c[n]
        d.regs_load.value = int(c["load"])
        self.load_err, self.load_len = c["load_err"], c["load_len"]
        self.run_len, self.n_in, self.n_out = c["run_len"], c["n_in"], c["n_out"]
        if not c["load"]:
            d.m_n_in.value = c["n_in"]          # the loaded model's widths
            d.m_n_out.value = c["n_out"]
        d.regs_start.value = 1
        start = self.cycle + 1
        await FallingEdge(d.clk)
        d.regs_start.value = 0
        return start

    async def wait_done(self, start: int, what: str, limit: int = 2000) -> list:
        """The cycles from ``start`` to DONE (inclusive), as recorded."""
        assert self.log[start - 1]["cycle"] == start
        for _ in range(limit):
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
            if self.log[-1]["regs_done"]:
                return self.log[start - 1:]
        raise AssertionError(f"{what}: no DONE within {limit} cycles")

    def counters(self) -> dict:
        d = self.dut
        return {n: int(getattr(d, f"regs_{n}").value) for n in (
            "cycles", "macs", "stalls", "load_cycles")}


def check_case(tb: TB, c: dict, cyc: list, what: str) -> None:
    """One START's cycles ``cyc`` (START .. DONE) against case ``c``."""
    cfg, d = tb.cfg, tb.dut
    A = cfg.axi_addr_bits
    assert cyc[0]["regs_start"], f"{what}: the first cycle is not the START pulse"
    assert sum(s["flush"] for s in cyc) == 1 and cyc[1]["flush"], \
        f"{what}: flush must pulse once, the cycle after START"
    assert all(s["regs_busy"] for s in cyc[1:-1]), f"{what}: busy low before DONE"
    assert sum(s["regs_done"] for s in cyc) == 1
    last = cyc[-1]
    assert last["regs_error"] == int(c["code"] != 0) and \
        (c["code"] == 0 or last["regs_err_code"] == c["code"]), \
        f"{what}: DONE with error={last['regs_error']} code={last['regs_err_code']}, " \
        f"expected code {c['code']}"
    assert not any(s["cancel"] for s in cyc), f"{what}: cancel without an AXI error"
    loads = [s["cycle"] for s in cyc if s["ldr_start"]]
    gos = [s["cycle"] for s in cyc if s["ex_go"]]
    if c["code"] == 0:
        assert (int(d.run_frames.value), int(d.run_batch.value)) == (c["frames"], c["batch"])
        assert int(d.run_in_addr.value) == c["in_addr"] % (1 << A)
        assert int(d.run_out_addr.value) == c["out_addr"] % (1 << A)
        assert len(gos) == 1, f"{what}: {len(gos)} go pulses"
        if c["load"]:
            fin = next(s["cycle"] for s in cyc if s["ldr_fin"])
            assert gos[0] - fin == go_latency(cfg, True), \
                f"{what}: go {gos[0] - fin} cycles after the loader's fin, documented " \
                f"{go_latency(cfg, True)}"
        else:
            assert gos[0] - cyc[0]["cycle"] == go_latency(cfg, False), \
                f"{what}: go {gos[0] - cyc[0]['cycle']} cycles after START, documented " \
                f"{go_latency(cfg, False)}"
        run = [s for s in cyc if gos[0] <= s["cycle"]]
        fin = next(i for i, s in enumerate(run) if s["ex_fin"])
        run = run[:fin + 1]
        want = dict(cycles=len(run), macs=sum(s["mac_count"] for s in run),
                    stalls=sum(s["ex_stall"] for s in run),
                    load_cycles=0)
        if c["load"]:
            ld = [s for s in cyc if s["cycle"] >= loads[0]]
            want["load_cycles"] = next(i for i, s in enumerate(ld) if s["ldr_fin"]) + 1
        got = tb.counters()
        assert got == want, f"{what}: counters {got}, expected {want}"
    else:
        assert not gos, f"{what}: a run started despite error {c['code']}"
    assert len(loads) <= 1, f"{what}: {len(loads)} loader starts"


@cocotb.test()
async def checks(dut):
    p, cfg = tb_params(), tb_config()
    tb = TB(dut, p["seed"])
    await tb.init()
    tb.watchdog(400 * p["cases"] + 2000, "checks")
    from collections import Counter
    from ese.regmap import ERR, ERR_NAME
    cases = random_cases(cfg, tb.rng, p["cases"])
    for k, c in enumerate(cases):
        start = await tb.start_case(c)
        cyc = await tb.wait_done(start, f"case {k}")
        check_case(tb, c, cyc, f"case {k} {c}")
    codes = Counter(c["code"] for c in cases)
    dut._log.info(f"{p['cases']} STARTs checked: " + ", ".join(
        f"{ERR_NAME.get(k, 'run')} {n}" for k, n in sorted(codes.items())))
    # every check was met at least once, and the frames' range just at the top passed
    assert set(codes) >= {0, ERR["NO_MODEL"], ERR["BAD_FRAMES"], ERR["BAD_BATCH"],
                          ERR["MISALIGNED"], ERR["ADDR_RANGE"], ERR["BAD_MAGIC"]}, codes


@cocotb.test()
async def axi_errors(dut):
    from ese.regmap import ERR
    p, cfg = tb_params(), tb_config()
    tb = TB(dut, p["seed"] + 1)
    await tb.init()
    tb.watchdog(20000, "axi_errors")
    WB = cfg.axi_data_bits // 8
    base = dict(frames=3, batch=1, n_in=5, n_out=4, image_addr=0, image_size=4096,
                in_addr=64 * WB, out_addr=128 * WB, load_err=0, load_len=20, run_len=30,
                loaded=False)
    for when, kind, load in (("load", "rd", True), ("run", "rd", True), ("run", "wr", False),
                             ("load", "wr", True)):
        c = dict(base, load=load)
        tb.drain = 7
        tb.fault = (when, kind)
        start = await tb.start_case(c)
        cyc = await tb.wait_done(start, f"AXI {kind} error while {when}ing")
        last = cyc[-1]
        assert last["regs_error"] and last["regs_err_code"] == ERR["AXI_ERROR"], \
            f"{kind} error while {when}ing: DONE error={last['regs_error']} " \
            f"code={last['regs_err_code']}"
        cancels = [s["cycle"] for s in cyc if s["cancel"]]
        assert len(cancels) == 1, f"{kind} error while {when}ing: {len(cancels)} cancels"
        after = [s for s in cyc if s["cycle"] > cancels[0]]
        idle = next(i for i, s in enumerate(after) if not (
            s["rp_busy"] or s["in_busy"] or s["out_busy"] or s["ldr_busy"]) and all(
            not (t["rp_busy"] or t["in_busy"] or t["out_busy"] or t["ldr_busy"])
            for t in after[i:]))
        assert after[-1]["cycle"] > after[idle]["cycle"], \
            f"{kind} error while {when}ing: DONE before the read port and movers were idle"
        # the machine still works: a clean run (the model was lost if it was being loaded)
        ok = dict(base, load=True, load_len=3, run_len=4)
        tb.drain = 0
        start = await tb.start_case(ok)
        cyc = await tb.wait_done(start, "the run after an AXI error")
        check_case(tb, dict(ok, code=0), cyc, f"the run after the {kind} error while {when}ing")


# ----------------------------------------------------------------------------- pytest side
CONFIGS = {
    "tiny": dict(),
    # 3 channels (2 bits of BATCH), a 128-bit bus, 64-bit addresses: TOP = 2**64
    "a64": dict(name="ctl_a64", n_ch=3, axi_data_bits=128, axi_addr_bits=64, max_frames=1000),
}


def _run(sim: str, cname: str) -> None:
    from ese.config import TINY
    from ese.hdl import controller
    from ese.hdl.convert import config_key
    cfg = TINY.replace(**CONFIGS[cname]) if CONFIGS[cname] else TINY
    params = dict(cfg=cfg.to_dict(), seed=3 + len(cname), cases=150)
    run_cocotb("controller", lambda: controller.top(cfg), __name__, sim, config_key(cfg),
               params)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
def test_controller(sim):
    _run(sim, "tiny")


@pytest.mark.rtl
def test_controller_a64():
    """64-bit addresses (TOP = 2**64), 3 channels, a 128-bit bus (Icarus: a quick build)."""
    _run("icarus", "a64")
