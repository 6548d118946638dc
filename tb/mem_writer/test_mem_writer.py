"""mem_writer: AXI4 write master against cocotbext-axi's AxiRamWrite.

Per configuration, one simulator build and one cocotb run with three tests:

* ``traffic``: back-to-back commands (1 beat, exactly 4 KB, 4 KB boundaries,
  > 256 beats, 0 bytes, ending at the top of the address space, a model memory
  image from ``model/image.py``, random lengths, and the rejected ones) with
  random pauses on AW, W, B, the command port and the input stream.  Checked
  every cycle: AW protocol (INCR, size, 4 KB, length, stable while stalled),
  the exact burst split, W beats (data in stream order, WSTRB all ones, WLAST on
  each burst's last beat, never ahead of their AW), outstanding bursts,
  ``done`` after the last B of each command, ``err``/``err_code``, ``busy``;
  at the end the whole memory against a byte-array model.
* ``slverr``: faulted addresses make BRESP = SLVERR: one ``err`` (code 8) per
  bad burst, commands still complete.
* ``throughput``: no pauses, long transfers: >= 0.9 words per cycle on W.
"""

from __future__ import annotations

import random

import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.axi import (BurstChecker, CommandDriver, command_cases, idle_start, master_configs,
                          model_image, ram_write, slverr_cases, split_bursts, throughput_cases,
                          words)
from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.scoreboard import Scoreboard
from tb.common.sim import BaseTB

WINDOW = 0x40000  # valid random commands write inside [0, WINDOW)


class MemModel:
    """Bytes the memory must hold: writes applied in command order."""

    def __init__(self):
        self.regions: dict[int, bytearray] = {}

    def add(self, addr: int, data: bytes):
        """A new region (its initial contents)."""
        self.regions[addr] = bytearray(data)

    def patch(self, addr: int, data: bytes):
        """Write into the region holding [addr, addr + len(data))."""
        for base, buf in self.regions.items():
            if base <= addr and addr + len(data) <= base + len(buf):
                buf[addr - base:addr - base + len(data)] = data
                return
        raise AssertionError(f"test bug: 0x{addr:x} outside the modelled regions")


def _burst_len(splits, data_cmds, k):
    for i in data_cmds:
        if k < len(splits[i]):
            return splits[i][k][1]
        k -= len(splits[i])
    raise AssertionError("more W bursts than commands")


class TB(BaseTB):
    """mem_writer, its AXI write slave (AxiRamWrite over a BusMemory, pauses on
    AW, W and B), its command port and its input stream.

    ``bad``: word addresses whose writes answer SLVERR.
    """

    def __init__(self, dut, rng: random.Random, p_pause: float, bad: set | None = None):
        super().__init__(dut, rng)
        self.p, self.cfg = tb_params(), tb_config()
        self.nb, self.A = self.cfg.axi_data_bits // 8, self.cfg.axi_addr_bits
        self.ram = ram_write(dut, rng, p_pause, self.A, bad=bad)
        self.mem = self.ram.mem

    def prepare(self, cases, image: bytes = b"") -> tuple[MemModel, list[int]]:
        """Background in memory and the model; data words of every valid command."""
        nb, rng = self.nb, self.rng
        model = MemModel()
        bg = rng.randbytes(WINDOW + len(image) + 2 * nb)
        self.mem.write(0, bg)
        model.add(0, bg)
        stream = []
        for c in cases:
            if c["code"] == 0 and c["addr"] >= WINDOW + len(image):   # top of the address space
                bgt = rng.randbytes(c["nbytes"] + nb)
                self.mem.write(c["addr"] - nb, bgt)
                model.add(c["addr"] - nb, bgt)
        for c in cases:
            if c["code"] or not c["nbytes"]:
                continue
            data = image if c.get("image") else rng.randbytes(c["nbytes"])
            stream += words(data, nb)
            model.patch(c["addr"], data)            # in command order (regions may overlap)
        return model, stream

    def check_memory(self, model: MemModel) -> None:
        for base, buf in model.regions.items():
            got = self.mem.read(base, len(buf))
            if got != bytes(buf):
                k = next(j for j in range(len(buf)) if got[j] != buf[j])
                raise AssertionError(f"memory differs at 0x{base + k:x}: got {got[k]:#x}, "
                                     f"expected {buf[k]:#x}")

    async def reset(self) -> None:
        """Idle every input (a failed earlier test may have left them driven), clock and reset."""
        await idle_start(self.dut, "i_valid")

    async def run(self, cases, stream, p_cmd: float, p_in: float, max_cycles: int) -> dict:
        """Issue ``cases`` and feed ``stream`` (all data words, command order); check; return stats."""
        dut, p, nb = self.dut, self.p, self.nb
        max_out = p["max_outstanding"]
        aw = BurstChecker(dut, "aw", nb, self.A, p["max_burst"])
        cmd, in_pause = CommandDriver(dut, cases, self.pauses(p_cmd)), self.pauses(p_in)
        data_cmds = [i for i, c in enumerate(cases) if c["code"] == 0 and c["nbytes"]]
        splits = {i: split_bursts(cases[i]["addr"], cases[i]["nbytes"], nb, p["max_burst"])
                  for i in data_cmds}
        cum_bursts, tot = {}, 0
        for i, c in enumerate(cases):
            tot += len(splits.get(i, []))
            cum_bursts[i] = tot
        w_data = Scoreboard("W data", fmt=hex)
        for w in stream:
            w_data.expect(w)
        ones = (1 << nb) - 1
        si = 0              # next input word to offer
        w_beats = 0         # beats of the current W burst
        w_bursts: list[int] = []
        n_b = 0
        max_seen = 0
        first_w = last_w = None
        dut.i_valid.value = 0

        def on_done(i):
            assert n_b == cum_bursts[i], \
                f"done for command {i} after {n_b} B responses, expected {cum_bursts[i]}"

        for cyc in range(max_cycles):
            await FallingEdge(dut.clk)
            cmd.drive()
            if si < len(stream) and not next(in_pause):
                dut.i_valid.value = 1
                dut.i_data.value = stream[si]
            else:
                dut.i_valid.value = 0
            await RisingEdge(dut.clk)
            # --- everything below sees the values before this edge ---
            aw_valid_now = int(dut.m_axi_awvalid.value)
            n_aw_before = len(aw.bursts)
            aw.sample()
            if int(dut.i_valid.value) and int(dut.i_ready.value):
                si += 1
            if int(dut.m_axi_wvalid.value):
                assert len(w_bursts) < n_aw_before + aw_valid_now, "W beat ahead of its AW"
            if int(dut.m_axi_wvalid.value) and int(dut.m_axi_wready.value):
                w_data.observe(int(dut.m_axi_wdata.value))
                assert int(dut.m_axi_wstrb.value) == ones, "WSTRB not all ones"
                w_beats += 1
                k = len(w_bursts)
                want_len = _burst_len(splits, data_cmds, k)
                last = int(dut.m_axi_wlast.value)
                assert last == (w_beats == want_len), \
                    f"W burst {k}: wlast={last} at beat {w_beats} of {want_len}"
                if last:
                    w_bursts.append(w_beats)
                    w_beats = 0
                first_w = cyc if first_w is None else first_w
                last_w = cyc
            if int(dut.m_axi_bvalid.value) and int(dut.m_axi_bready.value):
                n_b += 1
                assert n_b <= len(w_bursts), "B response before the burst's last W beat"
            n_fly = len(aw.bursts) - n_b
            assert n_fly <= max_out, f"{n_fly} write bursts in flight > max_outstanding {max_out}"
            max_seen = max(max_seen, n_fly)
            cmd.check(on_done)
            if cmd.finished:
                break
        else:
            raise AssertionError(f"only {cmd.n_done} of {len(cases)} commands done after "
                                 f"{max_cycles} cycles")
        w_data.finish(len(stream))
        assert si == len(stream), f"{si} words taken, {len(stream)} expected"
        want = [b for i in data_cmds for b in splits[i]]
        assert aw.bursts == want, "AW bursts differ from the documented split"
        assert w_bursts == [n for _, n in want], "W burst lengths differ from AW"
        dut.cmd_valid.value = 0
        dut.i_valid.value = 0
        return dict(cycles=cyc, first=first_w, last=last_w, max_out=max_seen, err_axi=cmd.err_axi,
                    beats=w_data.matched, bursts=len(want), splits=splits)


@cocotb.test()
async def traffic(dut):
    p, cfg = tb_params(), tb_config()
    rng = random.Random(p["seed"])
    nb = cfg.axi_data_bits // 8
    image = model_image(cfg, p["seed"], nb)
    cases = command_cases(rng, nb, cfg.axi_addr_bits, WINDOW, len(image))
    tb = TB(dut, rng, 0.3)
    model, stream = tb.prepare(cases, image)
    await tb.reset()
    tb.watchdog(60000, "traffic")
    st = await tb.run(cases, stream, p_cmd=0.3, p_in=0.3, max_cycles=60000)
    tb.check_memory(model)
    im = next(c for c in cases if c.get("image"))
    assert tb.mem.read(im["addr"], len(image)) == image
    assert st["max_out"] >= 2, "never more than one write burst in flight"
    dut._log.info("traffic: %d commands, %d words, %d bursts, %d cycles, max in flight %d",
                  len(cases), st["beats"], st["bursts"], st["cycles"], st["max_out"])


@cocotb.test()
async def slverr(dut):
    p, cfg = tb_params(), tb_config()
    rng = random.Random(p["seed"] + 1)
    nb = cfg.axi_data_bits // 8
    cases, bad = slverr_cases(nb)
    tb = TB(dut, rng, 0.2, bad=bad)
    model, stream = tb.prepare(cases)
    for a in bad:                       # a failed write leaves memory unchanged
        model.patch(a, tb.mem.read(a, nb))
    await tb.reset()
    tb.watchdog(5000, "slverr")
    st = await tb.run(cases, stream, p_cmd=0.2, p_in=0.2, max_cycles=5000)
    bad_bursts = sum(any(a <= x < a + n * nb for x in bad)
                     for sp in st["splits"].values() for a, n in sp)
    assert st["err_axi"] == bad_bursts, f"{st['err_axi']} AXI error pulses, expected {bad_bursts}"
    assert bad_bursts >= 3
    tb.check_memory(model)


@cocotb.test()
async def throughput(dut):
    p, cfg = tb_params(), tb_config()
    rng = random.Random(p["seed"] + 2)
    nb = cfg.axi_data_bits // 8
    cases = throughput_cases(nb)
    tb = TB(dut, rng, 0.0)
    model, stream = tb.prepare(cases)
    await tb.reset()
    tb.watchdog(20000, "throughput")
    st = await tb.run(cases, stream, p_cmd=0.0, p_in=0.0, max_cycles=20000)
    tb.check_memory(model)
    rate = st["beats"] / (st["last"] - st["first"] + 1)
    dut._log.info("throughput: %d words in %d cycles = %.3f words/cycle; done %d cycles after "
                  "the last W beat", st["beats"], st["last"] - st["first"] + 1, rate,
                  st["cycles"] - st["last"])
    assert rate >= 0.9, f"throughput {rate:.3f} words/cycle < 0.9"


# ----------------------------------------------------------------------------- pytest side
@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg,blk", master_configs())
def test_mem_writer(sim, cfg, blk):
    from ese.hdl import mem_writer
    from ese.hdl.convert import config_key

    params = dict(cfg=cfg.to_dict(), seed=11 + cfg.axi_data_bits, **blk)
    run_cocotb("mem_writer", lambda: mem_writer.top(cfg, **blk), __name__, sim,
               config_key(cfg, blk), params)
