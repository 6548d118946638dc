"""System test of ese_top: random models end to end, bit-exact with run_fixed.

One build per (simulator, configuration); every case runs inside one cocotb
run (the cocotb tests below share the build): random models (sizes n_pe does
not divide, 1-3 layers, with/without peepholes and projection), batches,
back-to-back runs without reload, random AXI pauses on every channel,
register read-back and every error code.
"""

from __future__ import annotations

import numpy as np
import pytest

import cocotb

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

from ese import regmap
from ese.rtlsim.cocotb_host import HostDriver
from ese.rtlsim.host import layout


class TB(HostDriver):
    """``ese_top`` with its DDR and host models (:class:`~ese.rtlsim.cocotb_host.HostDriver`:
    clock, reset, AXI pauses, register access) and the system test's checks."""

    async def expect_error(self, code: int, what: str, **run_args) -> None:
        """One START (:meth:`run` with ``run_args``) must end in DONE + ERROR with ``code``."""
        st = await self.run(**run_args)
        assert st["DONE"] == 1 and st["ERROR"] == 1 and st["ERR_CODE"] == code, \
            f"{what}: expected error {code} ({regmap.ERR_NAME[code]}), got {st}"
        self.dut._log.info(f"{what}: error {code} {regmap.ERR_NAME[code]} as expected")


def make_case(cfg, n_in, h, proj, layers, peep, seed, b, t):
    """(image bytes, qmodel, x_q (b, t, n_in)) for a random compressed model."""
    from ese.model.bundle import compress
    from ese.model.modelfile import random_model
    fm = random_model(n_in, h, proj=proj, layers=layers, peephole=peep, seed=seed)
    bun = compress(fm, cfg, density=0.3)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(b, t, n_in))
    from ese.model.lstm_fixed import quantize_input
    return bun.image, bun.qmodel, quantize_input(x, cfg)


def check(y, qm, xq, what):
    from ese.model.lstm_fixed import run_fixed
    want = run_fixed(qm, xq)
    bad = np.argwhere(y != want)
    assert bad.size == 0, f"{what}: {len(bad)} of {y.size} outputs differ, first at " \
        f"{tuple(bad[0])}: rtl {y[tuple(bad[0])]} model {want[tuple(bad[0])]}"


def check_counters(runs, reruns, qm, t, image_bytes, cfg, what):
    """MAC: every non-zero of every matrix once per frame and channel's lane, but W_r at
    frame 0 (y_{-1} = 0 is not multiplied); LOAD_CYCLES: the first run loaded the model
    (at least one cycle per AXI beat of its PE region, well under 3 per image beat with
    the bench's AXI pauses), the others did not."""
    nnz = sum(int(np.count_nonzero(m)) for l in qm.layers for m in (l.wx, l.wr, l.wp)
              if m is not None)
    nnz_r = sum(int(np.count_nonzero(l.wr)) for l in qm.layers)
    for r in runs + reruns:
        assert r["MAC"] == t * nnz - nnz_r, \
            f"{what}: MAC {r['MAC']}, expected {t} x {nnz} - {nnz_r} (W_r at frame 0)"
    beats = image_bytes // (cfg.axi_data_bits // 8)
    assert 0 < runs[0]["LOAD_CYCLES"] < 3 * beats + 200, \
        f"{what}: LOAD_CYCLES {runs[0]['LOAD_CYCLES']} for {beats} beats"
    assert all(r["LOAD_CYCLES"] == 0 for r in runs[1:] + reruns), \
        f"{what}: LOAD_CYCLES of a run without load: {[r['LOAD_CYCLES'] for r in reruns]}"


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def models(dut):
    """Random models, loaded once each, several batches back to back."""
    cfg = tb_config()
    p = tb_params()
    tb = TB(dut, cfg, mem_size=1 << 20, p_pause=p.get("p_pause", 0.0), seed=p["seed"])
    await tb.reset()
    for i, c in enumerate(p["cases"]):
        image, qm, xq = make_case(cfg, **c)
        y, runs = await tb.infer(image, xq, qm.n_out, load=True)
        assert not any(r["ERROR"] for r in runs), f"case {i} {c}: error {runs}"
        check(y, qm, xq, f"case {i} {c}")
        # back to back on the loaded model (no LOAD): the state must restart at 0
        xq2 = xq[:, ::-1].copy()
        y2, runs2 = await tb.infer(image, xq2, qm.n_out, load=False)
        assert not any(r["ERROR"] for r in runs2), f"case {i} rerun: error {runs2}"
        check(y2, qm, xq2, f"case {i} {c} rerun")
        check_counters(runs, runs2, qm, c["t"], len(image), cfg, f"case {i} {c}")
        dut._log.info(f"case {i} {c}: ok, cycles {[r['CYCLES'] for r in runs + runs2]}, "
                      f"load {runs[0]['LOAD_CYCLES']} cycles for {len(image)} bytes")


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def registers(dut):
    """Read-back of the identification, configuration and RW registers."""
    cfg = tb_config()
    tb = TB(dut, cfg, p_pause=0.3, seed=5)
    await tb.reset()
    assert await tb.read("ID") == (regmap.MAGIC << 8) | regmap.VERSION
    for r in ("HWCFG0", "HWCFG1", "HWCFG2", "HWCFG3", "HWCFG4", "HWCFG5"):
        assert await tb.read(r) == regmap.const_value(r, cfg), r
    vals = {"IMAGE_ADDR_LO": 0x12345678, "IMAGE_ADDR_HI": 0x9, "IMAGE_SIZE": 0xABCDEF0,
            "IN_ADDR_LO": 0xCAFEBAB8, "OUT_ADDR_LO": 0x1000, "FRAMES": 77, "BATCH": 2,
            "IRQ_EN": 3}
    for r, v in vals.items():
        await tb.write(r, v)
    for r, v in vals.items():
        got = await tb.read(r)
        assert got == v, f"{r}: wrote {v:#x}, read {got:#x}"
    st = regmap.decode("STATUS", await tb.read("STATUS"))
    assert st["BUSY"] == 0 and st["DONE"] == 0 and st["ERROR"] == 0, st
    # an error sets DONE/ERROR/ERR_CODE and IRQ_STATUS; SOFT_RESET clears them
    await tb.write("FRAMES", 0)
    await tb.write("CTRL", regmap.FIELD["CTRL"]["START"].mask)
    assert await tb.wait_irq(2000), "no irq after a START with FRAMES = 0"
    st = regmap.decode("STATUS", await tb.read("STATUS"))
    assert st["DONE"] == 1 and st["ERROR"] == 1 and st["ERR_CODE"] == regmap.ERR["NO_MODEL"], st
    assert await tb.read("IRQ_STATUS") == 3
    await tb.write("CTRL", regmap.FIELD["CTRL"]["SOFT_RESET"].mask)
    st = regmap.decode("STATUS", await tb.read("STATUS"))
    assert st["DONE"] == 0 and st["ERROR"] == 0 and st["ERR_CODE"] == 0, st
    assert await tb.read("IRQ_STATUS") == 0 and not int(dut.irq.value)
    assert await tb.read("FRAMES") == 0 and await tb.read("IMAGE_SIZE") == 0xABCDEF0, \
        "SOFT_RESET must keep the configuration registers"


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def errors(dut):
    """Every error code once; each ends with DONE + ERROR + irq, and the machine still works."""
    import struct
    from ese.model.image import HEADER_FIELDS
    cfg = tb_config()
    tb = TB(dut, cfg, mem_size=1 << 20, p_pause=0.2, seed=7)
    await tb.reset()
    image, qm, xq = make_case(cfg, n_in=6, h=5, proj=3, layers=1, peep=True, seed=9, b=1, t=4)
    lay = layout(len(image), 1, 4, 6, qm.n_out, cfg)
    nb = cfg.axi_data_bits // 8

    def patched(field, value):
        im = bytearray(image)
        struct.pack_into("<I", im, 4 * HEADER_FIELDS.index(field), value)
        return bytes(im)

    async def expect(code, what, **kw):
        args = dict(image_addr=0, image_size=len(image), in_addr=lay["in_addr"],
                    out_addr=lay["out_addr"], frames=4, batch=1, load=False,
                    max_cycles=200_000)
        args.update(kw)
        await tb.expect_error(code, what, **args)

    await expect(regmap.ERR["NO_MODEL"], "START without a model")
    tb.put(0, patched("magic", 0x12345678))
    await expect(regmap.ERR["BAD_MAGIC"], "bad magic", load=True)
    tb.put(0, patched("index_bits", cfg.index_bits + 1))
    await expect(regmap.ERR["CONFIG_MISMATCH"], "header fingerprint", load=True)
    tb.put(0, patched("n_layers", cfg.max_layers + 1))
    await expect(regmap.ERR["MODEL_TOO_LARGE"], "too many layers", load=True)
    tb.put(0, image)
    await expect(regmap.ERR["BAD_FRAMES"], "T = 0", frames=0, load=True)
    await expect(regmap.ERR["BAD_BATCH"], "batch > n_ch", batch=cfg.n_ch + 1, load=True)
    await expect(regmap.ERR["BAD_BATCH"], "batch 0", batch=0, load=True)
    await expect(regmap.ERR["MISALIGNED"], "misaligned input", in_addr=lay["in_addr"] + 2,
                 load=True)
    await expect(regmap.ERR["ADDR_RANGE"], "output wraps", out_addr=(1 << cfg.axi_addr_bits) - nb,
                 load=True)
    # a good load, then an AXI read error on the input frames
    y, runs = await tb.infer(image, xq, qm.n_out, load=True)
    check(y, qm, xq, "before the AXI error")
    tb.mem.faults.add(lay["in_addr"])       # the first input word answers SLVERR
    await expect(regmap.ERR["AXI_ERROR"], "SLVERR on the input frames")
    # still alive: the model is loaded, a clean run works (the fault removed)
    tb.mem.faults.clear()
    y, runs = await tb.infer(image, xq, qm.n_out, load=False)
    assert not any(r["ERROR"] for r in runs), runs
    check(y, qm, xq, "after the errors")
    # an AXI read error while the loader streams the biases, then the PE region: the
    # load stops (the words still due are drained), the model is lost
    from ese.model.image import read_tables
    t = read_tables(image)
    for what, addr in (("biases", t["layers"][0]["bias_offset"]),
                       ("PE region", t["header"]["pe_offset"] + 3 * nb)):
        tb.mem.faults.add(addr)
        await expect(regmap.ERR["AXI_ERROR"], f"SLVERR in the {what} of the image", load=True)
        tb.mem.faults.clear()
        await expect(regmap.ERR["NO_MODEL"], f"after SLVERR in the {what}: the model is lost")
    y, runs = await tb.infer(image, xq, qm.n_out, load=True)
    assert not any(r["ERROR"] for r in runs), runs
    check(y, qm, xq, "after the load errors")


def _make(cfg):
    from ese.hdl.ese_top import top
    return top(cfg)


#: the tiny preset and one with other widths, PE count, channels, AXI width and index width
CONFIGS = {
    "tiny": dict(),
    "wide": dict(name="wide8", n_pe=8, n_ch=3, index_bits=3, weight_bits=10, axi_data_bits=128,
                 max_input=32, max_cells=32, max_proj=24, max_layers=3, pe_entry_depth=1024,
                 ew_lanes=2, drain_lanes=2, bcast_width=4, window=32),
}

CASES = {
    "tiny": [dict(n_in=10, h=9, proj=None, layers=1, peep=False, seed=1, b=1, t=4),
             dict(n_in=7, h=11, proj=5, layers=2, peep=True, seed=2, b=2, t=5),
             dict(n_in=13, h=6, proj=None, layers=3, peep=True, seed=3, b=3, t=4),
             dict(n_in=9, h=10, proj=7, layers=1, peep=False, seed=4, b=2, t=6)],
    "wide": [dict(n_in=19, h=13, proj=11, layers=2, peep=True, seed=5, b=3, t=4),
             dict(n_in=5, h=7, proj=None, layers=1, peep=False, seed=6, b=4, t=5),
             dict(n_in=30, h=21, proj=None, layers=3, peep=True, seed=7, b=2, t=4)],
}


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", list(CONFIGS))
def test_top(sim, cname):
    from ese.config import PRESETS
    from ese.hdl.convert import config_key
    cfg = PRESETS["tiny"].replace(**CONFIGS[cname]) if CONFIGS[cname] else PRESETS["tiny"]
    cases = CASES[cname]
    params = dict(cfg=cfg.to_dict(), seed=1, cases=cases, p_pause=0.2)
    run_cocotb("ese_top", lambda: _make(cfg), __name__, sim, config_key(cfg), params)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
def test_cli_rtl_equals_fixed(sim, tmp_path):
    """`ese infer --engine rtl` gives exactly the `--engine fixed` output (and stats),
    on a configuration with 18-bit entries."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    ese = [sys.executable, "-m", "ese.cli"] if not (Path(sys.executable).parent / "ese").exists() \
        else [str(Path(sys.executable).parent / "ese")]
    model, bundle = tmp_path / "m.npz", tmp_path / "b"
    subprocess.run(ese + ["random-model", "-o", str(model), "--input", "12", "--cells", "10",
                          "--proj", "6", "--layers", "2", "--seed", "3"], check=True)
    # a 6-bit index makes 18-bit entries: 4-byte entry words in the image (the
    # other system tests use 16-bit and narrower ones)
    conf = tmp_path / "tiny_i6.json"
    conf.write_text('{"base": "tiny", "name": "tiny_i6", "index_bits": 6}')
    subprocess.run(ese + ["compress", str(model), "-o", str(bundle), "--config", str(conf)],
                   check=True)
    x = np.random.default_rng(3).uniform(-1, 1, size=(3, 6, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for eng in ("fixed", "rtl"):
        cmd = ese + ["infer", str(bundle), str(tmp_path / "x.npy"), "-o",
                     str(tmp_path / f"y_{eng}.npy"), "--engine", eng,
                     "--stats", str(tmp_path / f"s_{eng}.json")]
        if eng == "rtl":
            cmd += ["--sim", sim]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"ese infer --engine {eng} failed: {r.stderr[-2000:]}"
        outs[eng] = np.load(tmp_path / f"y_{eng}.npy")
    assert outs["rtl"].shape == outs["fixed"].shape == (3, 6, 6)
    assert np.array_equal(outs["rtl"], outs["fixed"]), "rtl and fixed engines differ"
    st = json.loads((tmp_path / "s_rtl.json").read_text())
    for k in ("frames", "cycles", "cycles_per_frame", "ideal_cycles_per_frame", "utilization",
              "latency_us_at_200mhz", "nnz", "n_pe", "n_ch", "load_cycles",
              "load_bytes_per_cycle", "bus_bytes_per_cycle"):
        assert k in st, f"--stats of the rtl engine lacks {k}"
    assert st["frames"] == 6 and st["cycles"] > 0 and st["load_cycles"] > 0


@pytest.mark.rtl
def test_cli_rtl_waves(tmp_path):
    """`ese infer --engine rtl --waves` writes a waveform and says where (Icarus: quick build)."""
    import subprocess
    import sys
    from pathlib import Path
    ese = [str(Path(sys.executable).parent / "ese")]
    model, bundle = tmp_path / "m.npz", tmp_path / "b"
    subprocess.run(ese + ["random-model", "-o", str(model), "--input", "6", "--cells", "5",
                          "--no-peephole", "--seed", "4"], check=True)
    subprocess.run(ese + ["compress", str(model), "-o", str(bundle), "--config", "tiny"],
                   check=True)
    np.save(tmp_path / "x.npy", np.random.default_rng(4).uniform(-1, 1, size=(4, 6)))
    r = subprocess.run(ese + ["infer", str(bundle), str(tmp_path / "x.npy"), "-o",
                              str(tmp_path / "y.npy"), "--engine", "rtl", "--sim", "icarus",
                              "--waves"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith("wrote waveform ")]
    assert lines, f"no waveform reported: {r.stdout}"
    wave = Path(lines[0].split(" ", 2)[2])
    assert wave.exists() and wave.stat().st_size > 1000
