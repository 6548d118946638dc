"""ctrl_io: the frame movers alone, against the frame layout of docs/architecture.md.

Around the DUT, behavioural models with random pauses: the read port (items
of a request, read from a DDR of known contents), every channel's output
buffer (a registered read of known values) and ``mem_writer`` (commands and
words, ``done`` some cycles after a command's last word).

* ``frames``: runs of random FRAMES, BATCH, widths and base addresses; the
  frames of each run requested in order (the scheduler's way: the next frame's
  base is the previous one's plus a stride), then out of order and repeated
  (the shift-and-add path), input and output sides at once.  For every request
  of frame ``t``: one read request per active channel ``c`` at
  ``IN_ADDR + (c*T + t) * stride_in`` of ``n_in`` 16-bit items, each item into
  channel ``c``'s input buffer half ``t mod 2``; one ``mem_writer`` command per
  active channel at ``OUT_ADDR + (c*T + t) * stride_out`` of ``stride_out``
  bytes whose words hold the channel's output buffer half ``t mod 2``
  sign-extended to int16, zeros beyond ``n_out``; ``busy`` until the frame is
  moved.
* ``cancel``: a cancel at every cycle of an input frame's start (the
  multiply, the base, the request) and in its items: the input side stops, the
  next request (the frame after the cancelled one, or a new run's first) is
  complete.
"""

from __future__ import annotations

import random

import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.sim import BaseTB


def ddr16(addr: int) -> int:
    """The int16 (as 16 bits) the DDR model holds at byte address ``addr`` (even)."""
    return (addr * 2654435761 >> 5) & 0xFFFF


def obuf(cfg, ch: int, addr: int) -> int:
    """The value (act_bits) of channel ``ch``'s output buffer at ``addr``."""
    return ((ch + 1) * 40503 + addr * 2246822519 >> 7) & ((1 << cfg.act_bits) - 1)


def sext16(v: int, bits: int) -> int:
    """``bits``-bit two's complement ``v`` as 16 bits."""
    return (v - (1 << bits)) & 0xFFFF if v >> (bits - 1) else v


def stride(n: int, wb: int) -> int:
    return -(-2 * n // wb) * wb


class TB(BaseTB):
    """ctrl_io with its read port, output buffer and writer models."""

    def __init__(self, dut, seed: int, p_pause: float):
        super().__init__(dut, random.Random(seed))
        self.cfg = tb_config()
        self.WB = self.cfg.axi_data_bits // 8
        self.p = p_pause
        self.reqs = []           # read requests: (addr, n, wide)
        self.xw = {}             # (ch, addr) -> value written into an input buffer
        self.cmds = []           # writer commands: (addr, bytes)
        self.words = []          # writer words, in order
        self.dropped = 0         # items of a cancelled request left undelivered

    async def init(self):
        d = self.dut
        for n in ("cancel", "frames", "batch", "in_addr", "out_addr", "n_in", "n_out",
                  "in_frame_req", "in_frame_t", "out_frame_req", "out_frame_t", "req_ready",
                  "i_valid", "i_data", "w_cmd_ready", "w_ready", "w_done", "o_rdata"):
            getattr(d, n).value = 0
        await self.start()
        cocotb.start_soon(self._read_port())
        cocotb.start_soon(self._out_buffers())
        cocotb.start_soon(self._writer())
        cocotb.start_soon(self._input_buffers())

    async def _read_port(self):
        """Takes a request when idle, then delivers its items with pauses; a cancel drops
        the rest (the real port drains)."""
        d, pause = self.dut, self.pauses(self.p)
        items = []
        while True:
            await FallingEdge(d.clk)
            d.req_ready.value = int(not items)
            if items:
                d.i_valid.value = int(not next(pause))
                d.i_data.value = items[0]
            else:
                d.i_valid.value = 0
            await RisingEdge(d.clk)
            if int(d.cancel.value):
                self.dropped += len(items)
                items = []
                continue
            if int(d.i_valid.value) and int(d.i_ready.value):
                items.pop(0)
            if int(d.req_valid.value) and int(d.req_ready.value):
                a, n, wide = int(d.req_addr.value), int(d.req_n.value), int(d.req_wide.value)
                self.reqs.append((a, n, wide))
                items = [ddr16(a + 2 * k) for k in range(n)]

    async def _input_buffers(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            if int(d.xw_we.value):
                self.xw[(int(d.xw_ch.value), int(d.xw_addr.value))] = int(d.xw_data.value)

    async def _out_buffers(self):
        """Every channel's output buffer: the values at ``o_raddr`` one cycle later."""
        d, cfg = self.dut, self.cfg
        B, AB = cfg.vbuf_bank_count, cfg.act_bits
        while True:
            await RisingEdge(d.clk)
            a = int(d.o_raddr.value)
            v = 0
            for c in range(cfg.n_ch):
                for j in range(B):
                    v |= obuf(cfg, c, a + j) << ((c * B + j) * AB)
            d.o_rdata.value = v

    async def _writer(self):
        """Commands and words with pauses; ``done`` 2..6 cycles after a command's last word."""
        d = self.dut
        cpause, wpause = self.pauses(self.p), self.pauses(self.p)
        due, dones, got = [], [], 0
        cycle = 0
        while True:
            await FallingEdge(d.clk)
            d.w_cmd_ready.value = int(not next(cpause))
            d.w_ready.value = int(not next(wpause))
            d.w_done.value = int(bool(dones) and dones[0] <= cycle)
            await RisingEdge(d.clk)
            cycle += 1
            if int(d.w_done.value):
                dones.pop(0)
            if int(d.w_cmd_valid.value) and int(d.w_cmd_ready.value):
                a, b = int(d.w_cmd_addr.value), int(d.w_cmd_bytes.value)
                self.cmds.append((a, b))
                due.append(b // self.WB)
            if int(d.w_valid.value) and int(d.w_ready.value):
                assert due, "a word without a command"
                self.words.append(int(d.w_data.value))
                got += 1
                if got == due[0]:
                    due.pop(0)
                    got = 0
                    dones.append(max(dones[-1] + 1 if dones else 0,
                                     cycle + self.rng.randint(2, 6)))

    def set_run(self, r: dict) -> None:
        d = self.dut
        for k in ("frames", "batch", "in_addr", "out_addr", "n_in", "n_out"):
            getattr(d, k).value = r[k]

    async def request(self, side: str, t: int) -> int:
        """Pulse ``<side>_frame.req`` for frame ``t``; returns the cycles until busy falls."""
        d = self.dut
        await FallingEdge(d.clk)
        getattr(d, f"{side}_frame_req").value = 1
        getattr(d, f"{side}_frame_t").value = t
        await FallingEdge(d.clk)
        getattr(d, f"{side}_frame_req").value = 0
        n = 0
        while int(getattr(d, f"{side}_frame_busy").value):
            await FallingEdge(d.clk)
            n += 1
            assert n < 20000, f"{side} frame {t}: busy for 20000 cycles"
        return n


def check_input(tb: TB, r: dict, t: int, reqs: list, what: str) -> None:
    """Frame ``t`` of run ``r`` was read (requests ``reqs``) into the input buffers."""
    from ese.hdl.stream_if import x_half
    cfg, WB = tb.cfg, tb.WB
    s, T = stride(r["n_in"], WB), r["frames"]
    want = [((r["in_addr"] + (c * T + t) * s) % (1 << cfg.axi_addr_bits), r["n_in"], 0)
            for c in range(r["batch"])]
    assert reqs == want, f"{what}: read requests {reqs}, expected {want}"
    half = (t % 2) * x_half(cfg)
    for c, (a, n, _) in enumerate(want):
        got = [tb.xw.get((c, half + k)) for k in range(n)]
        exp = [ddr16(a + 2 * k) for k in range(n)]
        assert got == exp, f"{what}: channel {c}'s input buffer {got[:8]}..., DDR {exp[:8]}..."


def check_output(tb: TB, r: dict, t: int, cmds: list, words: list, what: str) -> None:
    """Frame ``t`` of run ``r`` was written (commands ``cmds``, words ``words``)."""
    from ese.hdl.stream_if import out_half
    cfg, WB = tb.cfg, tb.WB
    s, T = stride(r["n_out"], WB), r["frames"]
    want = [((r["out_addr"] + (c * T + t) * s) % (1 << cfg.axi_addr_bits), s)
            for c in range(r["batch"])]
    assert cmds == want, f"{what}: writer commands {cmds}, expected {want}"
    nv, half = WB // 2, (t % 2) * out_half(cfg)
    per = s // WB
    assert len(words) == per * r["batch"], f"{what}: {len(words)} words"
    for c in range(r["batch"]):
        vals = [(words[c * per + k // nv] >> (16 * (k % nv))) & 0xFFFF for k in range(s // 2)]
        exp = [sext16(obuf(cfg, c, half + k), cfg.act_bits) if k < r["n_out"] else 0
               for k in range(s // 2)]
        assert vals == exp, f"{what}: channel {c}'s words {vals[:8]}..., expected {exp[:8]}..."


def random_run(cfg, rng: random.Random) -> dict:
    WB, top = cfg.axi_data_bits // 8, 1 << cfg.axi_addr_bits
    r = dict(frames=rng.choice([1, 2, 7, rng.randint(1, 3000), cfg.max_frames]),
             batch=rng.randint(1, cfg.n_ch), n_in=rng.randint(1, cfg.max_input),
             n_out=rng.randint(1, cfg.max_proj))
    span_in = r["batch"] * r["frames"] * stride(r["n_in"], WB)
    span_out = r["batch"] * r["frames"] * stride(r["n_out"], WB)
    # anywhere in the address space, up to its very top (the controller checked the ends)
    r["in_addr"] = WB * rng.randrange((top - span_in) // WB + 1)
    r["out_addr"] = WB * rng.randrange((top - span_out) // WB + 1)
    return r


async def move(tb: TB, r: dict, ts: list, what: str) -> None:
    """Request frames ``ts`` on both sides at once; check each one."""
    async def side(name):
        for t in ts:
            n0 = len(tb.reqs) if name == "in" else len(tb.cmds)
            w0 = len(tb.words)
            await tb.request(name, t)
            if name == "in":
                check_input(tb, r, t, tb.reqs[n0:], f"{what} input frame {t}")
            else:
                check_output(tb, r, t, tb.cmds[n0:], tb.words[w0:], f"{what} output frame {t}")

    cin = cocotb.start_soon(side("in"))
    await side("out")
    await cin


@cocotb.test()
async def frames(dut):
    p, cfg = tb_params(), tb_config()
    tb = TB(dut, p["seed"], p["p_pause"])
    await tb.init()
    tb.watchdog(400_000, "frames")
    for k in range(p["runs"]):
        r = random_run(cfg, tb.rng)
        tb.set_run(r)
        n = min(r["frames"], 4)
        ts = list(range(n))                                   # in order: the fast path
        if r["frames"] > 2:                                   # out of order, repeated
            ts += [tb.rng.randrange(r["frames"]) for _ in range(2)] + [ts[-1]] * 2
        await move(tb, r, ts, f"run {k} {r}")
        dut._log.info(f"run {k}: frames {ts} moved: {r}")


@cocotb.test()
async def cancel(dut):
    p, cfg = tb_params(), tb_config()
    tb = TB(dut, p["seed"] + 1, 0.0)
    await tb.init()
    tb.watchdog(100_000, "cancel")
    r = random_run(cfg, tb.rng)
    r.update(frames=5, batch=cfg.n_ch, n_in=min(cfg.max_input, 9))
    tb.set_run(r)
    d = dut
    for after in range(1, 16):
        for t in (0, 1):
            await FallingEdge(d.clk)
            d.in_frame_req.value = 1
            d.in_frame_t.value = t
            await FallingEdge(d.clk)
            d.in_frame_req.value = 0
            for _ in range(after - 1):
                await FallingEdge(d.clk)
            d.cancel.value = 1
            await FallingEdge(d.clk)
            d.cancel.value = 0
            assert not int(d.in_frame_busy.value), f"busy after a cancel {after} cycles in"
            assert not int(d.req_valid.value), f"a read request after a cancel {after} in"
        # the next requests are complete: frame 2 right after the cancelled frame 1 (whose
        # base may still be in the making), then a new run's 0, 1
        for t in (2, 0, 1):
            n0 = len(tb.reqs)
            await tb.request("in", t)
            check_input(tb, r, t, tb.reqs[n0:], f"frame {t} after a cancel {after} cycles in")


# ----------------------------------------------------------------------------- pytest side
CONFIGS = {
    "tiny": dict(),
    # 3 channels, 4 values per output read (a 128-bit bus: 8 values per word), 12-bit
    # values (sign-extended into DDR's int16)
    "wide": dict(name="io_wide", n_ch=3, axi_data_bits=128, ew_lanes=2, drain_lanes=2,
                 bcast_width=4, window=32, n_pe=8, act_bits=12, act_frac=9, gate_frac=10,
                 cell_frac=10, max_input=40, max_proj=24),
}


def _run(sim: str, cname: str) -> None:
    from ese.config import TINY
    from ese.hdl import ctrl_io
    from ese.hdl.convert import config_key
    cfg = TINY.replace(**CONFIGS[cname]) if CONFIGS[cname] else TINY
    params = dict(cfg=cfg.to_dict(), seed=5 + len(cname), p_pause=0.3, runs=6)
    run_cocotb("ctrl_io", lambda: ctrl_io.top(cfg), __name__, sim, config_key(cfg), params)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
def test_ctrl_io(sim):
    _run(sim, "tiny")


@pytest.mark.rtl
def test_ctrl_io_wide():
    """3 channels, 4 values per output-buffer read, 12-bit values (Icarus: a quick build)."""
    _run("icarus", "wide")
