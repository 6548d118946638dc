"""mem_reader: AXI4 read master against cocotbext-axi's AxiRamRead.

Per configuration, one simulator build and one cocotb run with three tests:

* ``traffic``: back-to-back commands (1 beat, exactly 4 KB, 4 KB boundaries,
  > 256 beats, 0 bytes, ending at the top of the address space, a model memory
  image from ``model/image.py``, random lengths, and the rejected ones:
  misaligned address / count, address-space wrap) with random pauses on AR, R,
  the command port and the output stream.  Checked every cycle: AR protocol
  (INCR, size, 4 KB, length, stable while stalled), outstanding bursts, the
  exact burst split, every word bit for bit against the memory, ``o_last``,
  ``done`` / ``err`` / ``err_code`` in command order, ``busy``.
* ``slverr``: faulted addresses answer SLVERR: data still delivered, one
  ``err`` (code 8) per bad beat.
* ``throughput``: no pauses, long transfers: >= 0.9 words per cycle.
"""

from __future__ import annotations

import random

import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.axi import (BurstChecker, CommandDriver, command_cases, idle_start, master_configs,
                          model_image, ram_read, slverr_cases, split_bursts, throughput_cases,
                          words)
from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.scoreboard import Scoreboard
from tb.common.sim import BaseTB

WINDOW = 0x40000  # valid random commands read inside [0, WINDOW)


class TB(BaseTB):
    """mem_reader, its AXI read slave (AxiRamRead over a BusMemory, pauses on AR
    and R), its command port and its output stream.

    ``bad``: word addresses whose reads answer SLVERR.
    """

    def __init__(self, dut, rng: random.Random, p_pause: float, bad: set | None = None):
        super().__init__(dut, rng)
        self.p, self.cfg = tb_params(), tb_config()
        self.nb, self.A = self.cfg.axi_data_bits // 8, self.cfg.axi_addr_bits
        self.ram = ram_read(dut, rng, p_pause, self.A, bad=bad)
        self.mem = self.ram.mem

    def fill(self, cases, image: bytes) -> None:
        """Random background in [0, WINDOW), the model image and the top of the address space."""
        self.mem.write(0, self.rng.randbytes(WINDOW))
        for c in cases:
            if c.get("image"):
                self.mem.write(c["addr"], image)
            elif c["code"] == 0 and c["addr"] >= WINDOW:      # top of the address space
                self.mem.write(c["addr"], self.rng.randbytes(c["nbytes"]))

    async def reset(self) -> None:
        """Idle every input (a failed earlier test may have left them driven), clock and reset."""
        await idle_start(self.dut, "o_ready")

    async def run(self, cases, p_cmd: float, p_out: float, max_cycles: int) -> dict:
        """Issue ``cases`` back to back, collect and check everything; return stats."""
        dut, p, nb = self.dut, self.p, self.nb
        max_out = p["max_outstanding"]
        ar = BurstChecker(dut, "ar", nb, self.A, p["max_burst"])
        cmd, out_pause = CommandDriver(dut, cases, self.pauses(p_cmd)), self.pauses(p_out)
        data_cmds = [i for i, c in enumerate(cases) if c["code"] == 0 and c["nbytes"]]
        out = Scoreboard("o stream", fmt=lambda t: f"0x{t[0]:x} (o_last={t[1]})")
        words_through = {}          # data command -> words of the data commands up to it
        for i in data_cmds:
            want = words(self.mem.read(cases[i]["addr"], cases[i]["nbytes"]), nb)
            for k, w in enumerate(want):
                out.expect((w, int(k == len(want) - 1)),
                           note=f"command {i} (addr 0x{cases[i]['addr']:x}) word {k}")
            words_through[i] = len(out.pending)
        n_out = 0                   # bursts in flight (AR handshake .. last R)
        max_seen = 0
        first_beat = last_beat = None
        dut.o_ready.value = 0

        def on_done(i):
            if i in words_through:
                # in order: all of command i's words seen (the next one's may be arriving)
                assert out.matched >= words_through[i], f"done for command {i} before its last word"

        for cyc in range(max_cycles):
            await FallingEdge(dut.clk)
            cmd.drive()
            dut.o_ready.value = int(not next(out_pause))
            await RisingEdge(dut.clk)
            # --- everything below sees the values before this edge ---
            if ar.sample():
                n_out += 1
            if int(dut.m_axi_rvalid.value) and int(dut.m_axi_rready.value) \
                    and int(dut.m_axi_rlast.value):
                n_out -= 1
            assert 0 <= n_out <= max_out, f"{n_out} read bursts in flight > max_outstanding {max_out}"
            max_seen = max(max_seen, n_out)
            if int(dut.o_valid.value) and int(dut.o_ready.value):
                out.observe((int(dut.o_data.value), int(dut.o_last.value)))
                first_beat = cyc if first_beat is None else first_beat
                last_beat = cyc
            cmd.check(on_done)
            if cmd.finished:
                break
        else:
            raise AssertionError(f"only {cmd.n_done} of {len(cases)} commands done after "
                                 f"{max_cycles} cycles")
        out.finish()
        # exact burst split, in command order
        want = [b for i in data_cmds for b in split_bursts(cases[i]["addr"], cases[i]["nbytes"],
                                                           nb, p["max_burst"])]
        assert ar.bursts == want, "AR bursts differ from the documented split"
        dut.cmd_valid.value = 0
        return dict(cycles=cyc, first=first_beat, last=last_beat, max_out=max_seen,
                    err_axi=cmd.err_axi, beats=out.matched, bursts=len(ar.bursts))


@cocotb.test()
async def traffic(dut):
    p, cfg = tb_params(), tb_config()
    rng = random.Random(p["seed"])
    nb = cfg.axi_data_bits // 8
    image = model_image(cfg, p["seed"], nb)
    cases = command_cases(rng, nb, cfg.axi_addr_bits, WINDOW, len(image))
    tb = TB(dut, rng, 0.3)
    tb.fill(cases, image)
    await tb.reset()
    tb.watchdog(60000, "traffic")
    st = await tb.run(cases, p_cmd=0.3, p_out=0.3, max_cycles=60000)
    im = next(c for c in cases if c.get("image"))
    assert tb.mem.read(im["addr"], len(image)) == image
    assert st["max_out"] >= 2, "never more than one read burst in flight"
    dut._log.info("traffic: %d commands, %d words, %d bursts, %d cycles, max in flight %d",
                  len(cases), st["beats"], st["bursts"], st["cycles"], st["max_out"])


@cocotb.test()
async def slverr(dut):
    p, cfg = tb_params(), tb_config()
    rng = random.Random(p["seed"] + 1)
    nb = cfg.axi_data_bits // 8
    cases, bad = slverr_cases(nb)
    tb = TB(dut, rng, 0.2, bad=bad)
    tb.fill(cases, b"")
    for a in bad:
        tb.mem.write(a, bytes(nb))      # SLVERR beats return zeros: that is what is expected
    await tb.reset()
    tb.watchdog(5000, "slverr")
    st = await tb.run(cases, p_cmd=0.2, p_out=0.2, max_cycles=5000)
    assert st["err_axi"] == len(bad), f"{st['err_axi']} AXI error pulses, expected {len(bad)}"


@cocotb.test()
async def throughput(dut):
    p, cfg = tb_params(), tb_config()
    rng = random.Random(p["seed"] + 2)
    nb = cfg.axi_data_bits // 8
    cases = throughput_cases(nb)
    tb = TB(dut, rng, 0.0)
    tb.fill(cases, b"")
    await tb.reset()
    tb.watchdog(20000, "throughput")
    st = await tb.run(cases, p_cmd=0.0, p_out=0.0, max_cycles=20000)
    rate = st["beats"] / (st["last"] - st["first"] + 1)
    dut._log.info("throughput: %d words in %d cycles = %.3f words/cycle; first word %d cycles "
                  "after the first command", st["beats"], st["last"] - st["first"] + 1, rate,
                  st["first"])
    assert rate >= 0.9, f"throughput {rate:.3f} words/cycle < 0.9"


# ----------------------------------------------------------------------------- pytest side
@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg,blk", master_configs())
def test_mem_reader(sim, cfg, blk):
    from ese.hdl import mem_reader
    from ese.hdl.convert import config_key

    params = dict(cfg=cfg.to_dict(), seed=7 + cfg.axi_data_bits, **blk)
    run_cocotb("mem_reader", lambda: mem_reader.top(cfg, **blk), __name__, sim,
               config_key(cfg, blk), params)
