"""Helpers for testbenches of AXI4 masters (run inside the simulator).

* :func:`ram_read` / :func:`ram_write`: cocotbext-axi RAM models bound to the
  ``m_axi`` ports of a read-only or write-only master, over a
  :class:`~ese.rtlsim.cocotb_host.BusMemory` (addresses in ``bad`` answer SLVERR),
  with a pause generator on every channel; :func:`mem_read` /
  :func:`mem_write`: the bench's own accesses to that memory (never faulted).
* :class:`BurstChecker`: protocol checks of one address channel sampled every
  cycle (INCR, full size, aligned, length limit, no 4 KB crossing, stable
  while stalled) and the bursts it saw.
* :func:`words`, :func:`join_words`: bytes <-> little-endian bus words.
* :func:`model_image`: a real memory image from ``model/image.py`` (a small
  random QModel for the configuration under test), used as read/write data.
* :class:`CommandDriver`: drives a master's ``cmd_*`` port from a list of
  commands and checks ``done`` / ``err`` / ``err_code`` / ``busy`` in command
  order; :func:`idle_start`, :func:`slverr_cases`, :func:`throughput_cases`
  and :func:`master_configs`: the rest of the scaffolding the mem_reader and
  mem_writer benches share.
"""

from __future__ import annotations

import random

from cocotbext.axi import AxiRamRead, AxiRamWrite, AxiReadBus, AxiWriteBus

from ese.rtlsim.cocotb_host import BusMemory
from ese.rtlsim.host import PAGE
from tb.common.sim import pauses, start


def words(data: bytes, nb: int) -> list[int]:
    """Little-endian ``nb``-byte words of ``data`` (len a multiple of nb)."""
    assert len(data) % nb == 0
    return [int.from_bytes(data[i:i + nb], "little") for i in range(0, len(data), nb)]


def join_words(ws, nb: int) -> bytes:
    return b"".join(int(w).to_bytes(nb, "little") for w in ws)


#: cocotbext-axi's memory length must fit a Python index (len()): larger spaces wrap at 2**62
MAX_RAM = 2 ** 62


def mem_write(ram, addr: int, data: bytes) -> None:
    """Write the RAM model's memory at bus address ``addr`` (wraps at its size; never faults)."""
    ram.mem.write(addr, data)


def mem_read(ram, addr: int, n: int) -> bytes:
    """Read the RAM model's memory at bus address ``addr`` (wraps at its size; never faults)."""
    return ram.mem.read(addr, n)


def _quiet(dut, prefix, names):
    """Idle the slave-driven handshakes (a model of a failed earlier test may have left them high)."""
    for n in names:
        getattr(dut, f"{prefix}_{n}").value = 0


def ram_read(dut, rng: random.Random, p_pause: float, addr_bits: int, bad: set | None = None,
             prefix: str = "m_axi") -> AxiRamRead:
    """AxiRamRead on ``<prefix>_ar*/r*`` with random pauses on AR and R.

    Its memory (``ram.mem``) is a :class:`BusMemory`: reads of an address in
    ``bad`` (or added to ``ram.mem.faults`` later) answer SLVERR.
    """
    _quiet(dut, prefix, ("arready", "rvalid"))
    mem = BusMemory(min(2 ** addr_bits, MAX_RAM))
    mem.faults.update(bad or ())
    ram = AxiRamRead(AxiReadBus.from_prefix(dut, prefix), dut.clk, dut.rst, mem=mem)
    if p_pause:
        ram.ar_channel.set_pause_generator(pauses(rng, p_pause))
        ram.r_channel.set_pause_generator(pauses(rng, p_pause))
    return ram


def ram_write(dut, rng: random.Random, p_pause: float, addr_bits: int, bad: set | None = None,
              prefix: str = "m_axi") -> AxiRamWrite:
    """AxiRamWrite on ``<prefix>_aw*/w*/b*`` with random pauses on AW, W and B.

    Its memory (``ram.mem``) is a :class:`BusMemory`: a burst writing an
    address in ``bad`` answers SLVERR (and leaves that word unchanged).
    """
    _quiet(dut, prefix, ("awready", "wready", "bvalid"))
    mem = BusMemory(min(2 ** addr_bits, MAX_RAM))
    mem.faults.update(bad or ())
    ram = AxiRamWrite(AxiWriteBus.from_prefix(dut, prefix), dut.clk, dut.rst, mem=mem)
    if p_pause:
        ram.aw_channel.set_pause_generator(pauses(rng, p_pause))
        ram.w_channel.set_pause_generator(pauses(rng, p_pause))
        ram.b_channel.set_pause_generator(pauses(rng, p_pause))
    return ram


class BurstChecker:
    """Checks one AXI4 address channel (``ar`` or ``aw``), sampled at each rising edge."""

    def __init__(self, dut, ch: str, nb: int, addr_bits: int, max_burst: int):
        g = lambda s: getattr(dut, f"m_axi_{ch}{s}")  # noqa: E731
        self.valid, self.ready, self.addr, self.len = g("valid"), g("ready"), g("addr"), g("len")
        self.size, self.burst, self.id = g("size"), g("burst"), g("id")
        self.ch, self.nb, self.A, self.max_burst = ch, nb, addr_bits, max_burst
        self.lb = nb.bit_length() - 1
        self.bursts: list[tuple[int, int]] = []   # (address, beats) in handshake order
        self._held = None

    def sample(self) -> bool:
        """Call once per cycle (pre-edge values); True on a handshake."""
        if not int(self.valid.value):
            assert self._held is None, f"{self.ch}valid dropped before {self.ch}ready"
            return False
        a, n = int(self.addr.value), int(self.len.value) + 1
        cur = (a, n, int(self.size.value), int(self.burst.value))
        if self._held is not None:
            assert cur == self._held, f"{self.ch} channel changed while stalled: {self._held} -> {cur}"
        ch = self.ch
        assert cur[2] == self.lb, f"{ch}size {cur[2]} != {self.lb}"
        assert cur[3] == 1, f"{ch}burst {cur[3]} is not INCR"
        assert int(self.id.value) == 0, f"{ch}id not 0"
        assert a % self.nb == 0, f"{ch}addr 0x{a:x} not aligned to {self.nb}"
        assert 1 <= n <= self.max_burst, f"{ch}len+1 = {n} > max_burst {self.max_burst}"
        assert (a % PAGE) + n * self.nb <= PAGE, \
            f"{ch} burst 0x{a:x} + {n} beats crosses a 4 KB boundary"
        assert a + n * self.nb <= 2 ** self.A, f"{ch} burst 0x{a:x} wraps the address space"
        if int(self.ready.value):
            self.bursts.append((a, n))
            self._held = None
            return True
        self._held = cur
        return False


def model_image(cfg, seed: int = 0, nb: int = 64) -> bytes:
    """A memory image of a small random QModel (model/image.py), padded to ``nb`` bytes."""
    import numpy as np
    from ese.model.image import build_image
    from ese.model.qmodel import QLayer, QModel

    rng = np.random.default_rng(seed)

    def sparse(rows, cols, bits):
        lim = (1 << (bits - 1)) - 1
        w = rng.integers(-lim, lim + 1, size=(rows, cols))
        w[rng.random((rows, cols)) >= 0.2] = 0
        return w.astype(np.int64)

    i, h, p = min(12, cfg.max_input), min(10, cfg.max_cells), min(6, cfg.max_proj)
    layer = QLayer(n_in=i, n_cells=h, n_out=p,
                   wx=sparse(4 * h, i, cfg.weight_bits), wr=sparse(4 * h, p, cfg.weight_bits),
                   bias=rng.integers(-(1 << (cfg.pre_bits - 1)), 1 << (cfg.pre_bits - 1), 4 * h),
                   wf_x=9, wf_r=10, wp=sparse(p, h, cfg.weight_bits), wf_p=9,
                   peep=rng.integers(-200, 200, (3, h)), wf_peep=12)
    image, _ = build_image(QModel(cfg=cfg, layers=[layer]), cfg)
    image = bytes(image)
    return image + bytes(-len(image) % nb)


def split_bursts(addr: int, nbytes: int, nb: int, max_burst: int) -> list[tuple[int, int]]:
    """The documented split: bursts of min(beats left, max_burst, beats to 4 KB)."""
    out, beats = [], nbytes // nb
    while beats:
        n = min(beats, max_burst, (PAGE - addr % PAGE) // nb)
        out.append((addr, n))
        addr, beats = addr + n * nb, beats - n
    return out


def command_cases(rng: random.Random, nb: int, A: int, window: int, image_len: int,
                  n_random: int = 16) -> list[dict]:
    """Commands for a read or write master: dict(addr, nbytes, code) (code 0 = valid).

    Valid commands lie in ``[0, window)`` (regions may overlap) or end exactly at
    the top of the address space; the model image goes at ``image_addr``.
    """
    top = 2 ** A

    def at(beats=1):
        return dict(nbytes=beats * nb, code=0,
                    addr=rng.randrange(0, (window - beats * nb) // nb) * nb)

    cases = [
        at(beats=1),                                                      # one beat
        dict(addr=rng.randrange(1, window // PAGE - 2) * PAGE, nbytes=PAGE, code=0),  # exactly 4 KB
        dict(addr=rng.randrange(1, window // PAGE - 2) * PAGE + 5 * nb, nbytes=PAGE, code=0),
        dict(addr=rng.randrange(1, window // PAGE - 5) * PAGE - 3 * nb,  # crosses 4 boundaries
             nbytes=3 * PAGE + 7 * nb, code=0),
        at(beats=300),                                                    # > 256 beats
        dict(addr=rng.randrange(0, window // nb) * nb, nbytes=0, code=0),  # 0 bytes
        dict(addr=top - 5 * nb, nbytes=5 * nb, code=0),                   # ends at 2**A exactly
        dict(addr=rng.randrange(0, window // PAGE) * PAGE + nb // 2, nbytes=4 * nb, code=6),
        dict(addr=rng.randrange(0, window // nb) * nb, nbytes=3 * nb + nb // 2, code=6),
        dict(addr=nb + 4, nbytes=0, code=6),                              # misaligned, 0 bytes
        dict(addr=top - 2 * nb, nbytes=4 * nb, code=7),                   # wraps 2**A
        dict(addr=top - nb, nbytes=2 ** 32 - nb, code=7),
        dict(addr=window, nbytes=image_len, code=0, image=True),          # the model image
    ]
    for _ in range(n_random):
        beats = rng.choice([1, 2, 3, rng.randrange(1, 40), rng.randrange(1, 90)])
        cases.append(at(beats=beats))
    rng.shuffle(cases)
    return cases


class CommandDriver:
    """The ``cmd_*`` port of a read or write master, and its completion checks.

    Call :meth:`drive` after the falling edge (offers the next command unless
    paused) and :meth:`check` after the rising edge (sees the values before
    it): ``done`` in command order with the expected ``err_code`` for rejected
    commands, code 8 for every other ``err`` pulse (counted in ``err_axi``),
    ``busy`` exactly while commands are in progress.
    """

    def __init__(self, dut, cases: list[dict], pause):
        self.dut, self.cases, self.pause = dut, cases, pause
        self.ci = 0             # next command to issue
        self.n_done = 0
        self.err_axi = 0
        dut.cmd_valid.value = 0

    def drive(self) -> None:
        dut = self.dut
        if self.ci < len(self.cases) and not next(self.pause):
            c = self.cases[self.ci]
            dut.cmd_valid.value = 1
            dut.cmd_addr.value = c["addr"]
            dut.cmd_bytes.value = c["nbytes"]
        else:
            dut.cmd_valid.value = 0

    def check(self, on_done=None) -> None:
        """``on_done(i)``: the bench's own checks when command ``i`` reports done."""
        dut, cases = self.dut, self.cases
        pending = self.ci - self.n_done
        done, err = int(dut.done.value), int(dut.err.value)
        if done:
            assert self.n_done < self.ci, "done without an accepted command"
            c = cases[self.n_done]
            if on_done is not None:
                on_done(self.n_done)
            if c["code"]:
                assert err and int(dut.err_code.value) == c["code"], \
                    f"command {self.n_done}: expected err code {c['code']}, got err={err} " \
                    f"code={int(dut.err_code.value)}"
            self.n_done += 1
        if err and not (done and cases[self.n_done - 1]["code"]):
            assert int(dut.err_code.value) == 8, f"AXI error with code {int(dut.err_code.value)}"
            self.err_axi += 1
        busy = int(dut.busy.value)
        if pending and not done:
            assert busy, f"busy low with {pending} command(s) in progress"
        if done and pending == 1:
            assert not busy, "busy still high in the cycle of the last done"
        if not pending:
            assert not busy, "busy high while idle"
        if int(dut.cmd_valid.value) and int(dut.cmd_ready.value):
            self.ci += 1

    @property
    def finished(self) -> bool:
        return self.n_done == len(self.cases)


async def idle_start(dut, *inputs: str) -> None:
    """Idle ``cmd_valid`` and ``inputs`` (a failed earlier test may have left them driven), clock and reset."""
    dut.cmd_valid.value = 0
    for n in inputs:
        getattr(dut, n).value = 0
    await start(dut)


def slverr_cases(nb: int) -> tuple[list[dict], set]:
    """Commands for the SLVERR test and the faulted word addresses they touch."""
    cases = [dict(addr=0x1000 - 3 * nb, nbytes=40 * nb, code=0),
             dict(addr=0x8000, nbytes=2 * nb, code=0),
             dict(addr=0x9000 + nb, nbytes=0, code=0),
             dict(addr=0x9000 + nb, nbytes=nb, code=0)]
    bad = {0x1000 - nb, 0x1000 + 5 * nb, 0x8000 + nb, 0x9000 + nb}
    return cases, bad


def throughput_cases(nb: int) -> list[dict]:
    """Long back-to-back commands for the throughput test."""
    beats = 2048 if nb <= 8 else 1024
    return [dict(addr=0x100 * nb, nbytes=beats * nb, code=0),
            dict(addr=0x100 * nb + beats * nb, nbytes=200 * nb, code=0),
            dict(addr=0x7000 - 3 * nb, nbytes=77 * nb, code=0)]


def master_configs():
    """pytest params (cfg, block parameters) for the AXI master benches."""
    import pytest
    from ese.config import TINY
    return [
        pytest.param(TINY, dict(max_burst=256, max_outstanding=4), id="d64a32"),
        pytest.param(TINY.replace(name="axi512", axi_data_bits=512, axi_addr_bits=64),
                     dict(max_burst=16, max_outstanding=2), id="d512a64b16"),
    ]
