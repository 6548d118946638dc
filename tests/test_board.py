"""The board flow (docs/boards.md): the simulated SoC through ``--engine board``, the toy
ULX3S build through the real flow, the KV260 project, and the board pieces without a board.

The RTL-marked tests build things (under ``build/board/``): the simulated SoC of ``tiny``
(LiteX + Verilator, cached per configuration), the ULX3S SoC's bitstream without the core
(Yosys, nextpnr, ecppack) and the KV260's Vivado project on a toy core (no Vivado).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ese.config import PRESETS

ESE = [str(Path(sys.executable).parent / "ese")]
BOARD = [sys.executable, "-m", "ese.board"]

#: the core of the KV260 project test: tiny cut to one channel and the smallest maxima
#: and memories a configuration allows (the project, not the core, is under test)
TOY = PRESETS["tiny"].replace(name="toy", n_ch=1, max_input=8, max_cells=8, max_proj=8,
                              max_layers=1, pe_entry_depth=64, lut_bits=6, window=8,
                              max_frames=1023)


def _one_error_line(r, *words):
    """rc 2, one line on stderr holding ``words``, no traceback."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


# ------------------------------------------------------------------ the simulated SoC
@pytest.mark.rtl
def test_simulated_soc_runs_bundles_bit_exact(tmp_path):
    """`ese infer --engine board` against the simulated SoC (LiteDRAM on the SDRAM model,
    the UART bridge, litex_server) equals `--engine fixed`: 3 sequences on 2 channels (two
    STARTs, the second without LOAD), a second model loaded over the first, a bundle made for
    one channel; the HostIO CSRs are where the address map says; a bundle for another PE
    count is refused with rc 2, from `ese infer` and from `ese transcribe`."""
    from ese.board.boards import LITEX_MAP
    from ese.board.sim import SimulatedSoC
    model, bundle = tmp_path / "m.npz", tmp_path / "b"
    subprocess.run(ESE + ["random-model", "-o", str(model), "--input", "12", "--cells", "10",
                          "--proj", "6", "--layers", "2", "--seed", "3"], check=True)
    subprocess.run(ESE + ["compress", str(model), "-o", str(bundle), "--config", "tiny"],
                   check=True)
    model2, bundle2 = tmp_path / "m2.npz", tmp_path / "b2"
    subprocess.run(ESE + ["random-model", "-o", str(model2), "--input", "9", "--cells", "13",
                          "--seed", "4", "--no-peephole"], check=True)
    subprocess.run(ESE + ["compress", str(model2), "-o", str(bundle2), "--config", "tiny",
                          "--density", "0.4"], check=True)
    # a bundle for one channel: the image does not depend on n_ch, the driver runs the
    # board's two channels a START
    conf1 = tmp_path / "ch1.json"
    conf1.write_text('{"base": "tiny", "name": "ch1", "n_ch": 1}')
    bundle1 = tmp_path / "b1"
    subprocess.run(ESE + ["compress", str(model), "-o", str(bundle1), "--config", str(conf1)],
                   check=True)
    # a bundle the tiny hardware cannot load: 8 PEs
    conf = tmp_path / "pe8.json"
    conf.write_text('{"base": "tiny", "name": "pe8", "n_pe": 8}')
    bundle3 = tmp_path / "b3"
    subprocess.run(ESE + ["compress", str(model), "-o", str(bundle3), "--config", str(conf)],
                   check=True)
    rng = np.random.default_rng(3)
    np.save(tmp_path / "x.npy", rng.uniform(-1, 1, size=(3, 6, 12)).astype(np.float32))
    np.save(tmp_path / "x2.npy", rng.uniform(-1, 1, size=(5, 9)).astype(np.float32))

    def infer(b, x, engine, *extra):
        out = tmp_path / f"y_{b.name}_{engine}.npy"
        r = subprocess.run(ESE + ["infer", str(b), str(tmp_path / x), "-o", str(out),
                                  "--engine", engine, *extra], capture_output=True, text=True)
        return r, out

    with SimulatedSoC(PRESETS["tiny"], say=lambda m: None) as soc:
        csr = json.loads((soc.dir / "csr.json").read_text())
        assert csr["csr_registers"]["ese_host_irq"]["addr"] == LITEX_MAP.host_csr
        assert csr["csr_registers"]["ese_host_cycles"]["addr"] == LITEX_MAP.host_csr + 4
        assert csr["memories"]["ese"]["base"] == LITEX_MAP.regs
        assert csr["memories"]["main_ram"]["base"] == LITEX_MAP.dram_host
        for b, x in ((bundle, "x.npy"), (bundle2, "x2.npy"), (bundle1, "x.npy")):
            r, y_board = infer(b, x, "board", "--board-url", soc.url, "--stats",
                               str(tmp_path / "s.json"))
            assert r.returncode == 0, r.stderr[-2000:]
            _, y_fixed = infer(b, x, "fixed")
            a, f = np.load(y_board), np.load(y_fixed)
            assert a.shape == f.shape and np.array_equal(a, f), f"{b.name}: board != fixed"
            st = json.loads((tmp_path / "s.json").read_text())
            assert st["engine"] == "board" and st["source"] == f"board {soc.url}"
            assert st["cycles"] > 0 and st["load_cycles"] > 0 and st["n_ch"] == 2
            assert st["runs"] == {"x.npy": 2, "x2.npy": 1}[x], st
        r, _ = infer(bundle3, "x.npy", "board", "--board-url", soc.url)
        _one_error_line(r, "PEs")
        # ese transcribe --engine board reaches the board: the recognizer's 16-PE bundle is
        # refused by the 4-PE tiny hardware, in one line
        from ese.speech.wav import write_wav
        write_wav(tmp_path / "a.wav", np.random.default_rng(5).uniform(-0.1, 0.1, 16000), 16000)
        r = subprocess.run(ESE + ["transcribe", str(tmp_path / "a.wav"), "--engine", "board",
                                  "--board-url", soc.url], capture_output=True, text=True)
        _one_error_line(r, "16 PEs", soc.url)


# ------------------------------------------------------------------ builds
@pytest.mark.rtl
def test_toy_soc_builds_through_the_ulx3s_flow():
    """The ULX3S SoC without the core through the same flow as make board: LiteX, Yosys,
    nextpnr-ecp5 without --timing-allow-fail, ecppack; a bitstream, the clock met, the
    figures parsed.  The smallest ese_top (4 PEs, one channel) is ~23,000 LUTs, over ten
    minutes of place and route: the core's integration is tested in the simulated SoC
    (above), its place and route by make board."""
    from ese.board import build
    out = build.BOARD_BUILD / "flow-test"
    s = build.build_ulx3s(build.get_board("ulx3s"), out=out, with_core=False,
                          say=lambda m: None)
    assert s["bitstream"] and Path(s["bitstream"]).stat().st_size > 100_000
    clk = [c for c in s["clocks"].values() if c["constraint_mhz"] == pytest.approx(50.0)]
    assert clk and clk[0]["pass"] and clk[0]["achieved_mhz"] >= 50.0, s["clocks"]
    util = s["utilization"]
    assert 0 < util["TRELLIS_COMB"][0] < util["TRELLIS_COMB"][1] == 83640, util
    assert util["EHXPLLL"][0] == 1, util
    assert "--timing-allow-fail" not in next((out / "gateware").glob("build_*.sh")).read_text()
    # make board-load on this bitstream: no ULX3S is attached here, openFPGALoader says so
    from ese.board.boards import BoardError
    try:
        build.load_ulx3s(build.get_board("ulx3s"), out=out, say=lambda m: None)
    except BoardError as e:
        assert "could not program a ULX3S (is one attached by USB?" in str(e), e


@pytest.mark.rtl
def test_kv260_project_is_written_and_exits_2_without_vivado(tmp_path):
    """make board BOARD=kv260 without Vivado (on the toy core): the project and scripts are
    written, every file the Tcl reads exists, the part is LiteX's KV260 part; exit 2 with one
    line saying what to run where."""
    from ese.board.boards import BOARDS
    from ese.board.build import check_vivado_project
    out = tmp_path.resolve() / "kv260"
    conf = tmp_path / "toy.json"            # the toy core: the project is what is tested
    conf.write_text(json.dumps(TOY.to_dict()))
    env = dict(os.environ, PATH="/usr/bin:/bin")     # no vivado on this PATH
    r = subprocess.run(BOARD + ["build", "--board", "kv260", "--config", str(conf), "--out",
                                str(out)], capture_output=True, text=True, env=env)
    _one_error_line(r, "Vivado is not on PATH", "bash build_xilinx_kv260.sh")
    gw = out / "gateware"
    assert check_vivado_project(gw, BOARDS["kv260"]) == []
    from litex_boards.platforms import xilinx_kv260
    assert xilinx_kv260.Platform().device == BOARDS["kv260"].device
    tcl = (gw / "xilinx_kv260.tcl").read_text()
    assert "create_project -force -name xilinx_kv260 -part xck26-sfvc784-2lv-c" in tcl
    assert "zynq_ultra_ps_e" in tcl and "PSU__SAXIGP2__DATA_WIDTH {64}" in tcl
    v = (gw / "xilinx_kv260.v").read_text()
    assert "ese_top" in v and ".saxigp2_araddr" in v and ".maxigp1_awaddr" in v
    # a check that can fail: a file the Tcl reads goes missing
    next((out / "core").glob("*.v")).unlink()
    assert any("does not exist" in p for p in check_vivado_project(gw, BOARDS["kv260"]))


# ------------------------------------------------------------------ without a board
def test_parse_nextpnr_reads_the_last_report():
    from ese.board.build import parse_nextpnr
    log = """Info: Max frequency for clock '$glbnet$crg_clkout': 30.00 MHz (FAIL at 50.00 MHz)
Info: Device utilisation:
Info: 	          TRELLIS_COMB:  5000/83640     5%
ERROR: Max frequency for clock '$glbnet$crg_clkout': 41.52 MHz (FAIL at 50.00 MHz)
Info: Device utilisation:
Info: 	          TRELLIS_COMB: 51234/83640    61%
Info: 	                DP16KD:   150/  208    72%
"""
    s = parse_nextpnr(log)
    assert s["clocks"] == {"$glbnet$crg_clkout": {"achieved_mhz": 41.52, "constraint_mhz": 50.0,
                                                  "pass": False}}
    assert s["utilization"] == {"TRELLIS_COMB": [51234, 83640], "DP16KD": [150, 208]}


def test_board_cli_errors_are_one_line():
    """Unknown board (argparse), load without a bitstream or board, infer with a bad URL or
    no litex_server: rc 2 and one line."""
    r = subprocess.run(BOARD + ["build", "--board", "nexys"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = subprocess.run(BOARD + ["load", "--board", "kv260"], capture_output=True, text=True)
    _one_error_line(r, "ULX3S")


def test_engine_board_bad_url_and_no_server(tmp_path):
    from ese.board.sim import free_port
    model, bundle = tmp_path / "m.npz", tmp_path / "b"
    subprocess.run(ESE + ["random-model", "-o", str(model), "--input", "4", "--cells", "4",
                          "--seed", "1"], check=True)
    subprocess.run(ESE + ["compress", str(model), "-o", str(bundle)], check=True)
    np.save(tmp_path / "x.npy", np.zeros((3, 4), np.float32))
    base = ESE + ["infer", str(bundle), str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                  "--engine", "board"]
    r = subprocess.run(base + ["--board-url", "http://x"], capture_output=True, text=True)
    _one_error_line(r, "board URL", "tcp://HOST:PORT")
    r = subprocess.run(base + ["--board-url", f"tcp://127.0.0.1:{free_port()}"],
                       capture_output=True, text=True)
    _one_error_line(r, "no litex_server at", "litex_server --uart")


def test_zynq_bus_maps_registers_and_buffer(tmp_path):
    """The Zynq bus on stand-in files: registers at the HPM1 window's offset, the DMA buffer
    at its physical address; the protocol's identify reads the ID through it; a block
    outside the buffer is refused."""
    from ese import regmap
    from ese.board.zynq import PAGE, ZynqBus
    from ese.rtlsim.host import Host, run_sync
    regs = 0xB000_0000
    devmem = tmp_path / "mem"
    with open(devmem, "wb") as f:          # a sparse stand-in for /dev/mem up to the window
        f.truncate(regs + PAGE)
    buf = tmp_path / "udmabuf0"
    buf.write_bytes(bytes(1 << 16))
    sysfs = tmp_path / "sys"
    sysfs.mkdir()
    (sysfs / "phys_addr").write_text("0x70000000\n")
    (sysfs / "size").write_text(str(1 << 16))
    bus = ZynqBus(regs=regs, devmem=str(devmem), udmabuf=str(buf), sysfs=str(sysfs))
    assert (bus.mem_base, bus.mem_size) == (0x7000_0000, 1 << 16)
    ident = (regmap.MAGIC << 8) | regmap.VERSION
    run_sync(bus.write32(regmap.ADDR["ID"], ident))
    run_sync(bus.write32(regmap.ADDR["HWCFG0"], regmap.const_value("HWCFG0", PRESETS["kv260"])))
    hw = run_sync(Host(bus, PRESETS["kv260"]).identify())
    assert hw["n_ch"] == PRESETS["kv260"].n_ch and hw["n_pe"] == 16
    assert run_sync(bus.wait_irq(1000)) is False, "no irq: the watchdog ends the wait"
    run_sync(bus.write32(regmap.ADDR["IRQ_STATUS"], 1))
    assert run_sync(bus.wait_irq(1000)) is True
    run_sync(bus.write_mem(0x7000_0100, b"ESE!"))
    assert run_sync(bus.read_mem(0x7000_0100, 4)) == b"ESE!"
    with pytest.raises(ValueError, match="outside the DMA buffer"):
        run_sync(bus.write_mem(0x7000_0000 + (1 << 16) - 2, b"1234"))
    bus.close()
    with open(devmem, "rb") as f:
        f.seek(regs)
        assert int.from_bytes(f.read(4), "little") == ident
    assert buf.read_bytes()[0x100:0x104] == b"ESE!"


def test_run_sync_refuses_a_coroutine_that_waits():
    import asyncio
    from ese.rtlsim.host import run_sync

    async def waits():
        await asyncio.sleep(0)

    async def returns():
        return 7

    assert run_sync(returns()) == 7
    with pytest.raises(RuntimeError, match="waited"):
        run_sync(waits())


def test_litex_bus_paces_writes_and_keeps_bytes_after_a_block():
    """LitexBus (without a server: a fake client recording the traffic): blocks go out in
    chunks of at most CHUNK_WORDS words, each followed by a read-back (the pacing the
    simulated serial port needs); a block that ends inside a word keeps that word's other
    bytes; reads come back in order, little-endian; host and core addresses translate."""
    from ese.board.boards import AddressMap
    from ese.board.remote import CHUNK_WORDS, LitexBus
    from ese.rtlsim.host import run_sync

    class FakeClient:
        def __init__(self):
            self.mem, self.log = {}, []

        def write(self, addr, data):
            data = data if isinstance(data, list) else [data]
            self.log.append(("w", addr, len(data)))
            for k, v in enumerate(data):
                self.mem[addr + 4 * k] = v

        def read(self, addr, length=None):
            self.log.append(("r", addr, length))
            got = [self.mem.get(addr + 4 * k, 0) for k in range(length or 1)]
            return got if length is not None else got[0]

    amap = AddressMap(regs=0x8000_0000, host_csr=0x8000, dram_host=0x4000_0000,
                      dram_core=0x1000_0000, dram_size=1 << 20)
    bus = object.__new__(LitexBus)
    bus.amap, bus.client = amap, FakeClient()
    bus.mem_base, bus.mem_size = amap.dram_core, amap.dram_size
    bus.client.mem[0x4000_0000 + 4 * 576] = 0xAABBCCDD        # the word the block ends in
    data = bytes(range(256)) * 9 + b"\x01\x02"                # 2,306 bytes: 576 words + 2 bytes
    run_sync(bus.write_mem(0x1000_0000, data))
    writes = [e for e in bus.client.log if e[0] == "w"]
    assert [n for _, _, n in writes] == [CHUNK_WORDS, CHUNK_WORDS, 577 - 2 * CHUNK_WORDS]
    for k, e in enumerate(bus.client.log):
        if e[0] == "w":
            assert bus.client.log[k + 1] == ("r", e[1], None), "a chunk without its read-back"
    assert run_sync(bus.read_mem(0x1000_0000, len(data))) == data
    assert bus.client.mem[0x4000_0000 + 4 * 576] == 0xAABB0201
    run_sync(bus.write32(0x30, 7))
    assert bus.client.mem[0x8000_0030] == 7 and run_sync(bus.read32(0x30)) == 7
