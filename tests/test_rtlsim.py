"""The RTL runner's Python side (no simulator): environment hygiene, the guard
that keeps simulators out of tests not marked rtl, fault injection of the DDR
model, the DDR frame layout and the engine's stats."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ese.config import TINY


def test_import_changes_no_environment():
    """Importing every runner module leaves os.environ and sys.path as they were."""
    code = ("import os, sys; env, path = dict(os.environ), list(sys.path); "
            "import ese.rtlsim.build, ese.rtlsim.engine, ese.rtlsim.host, ese.rtlsim.job; "
            "assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items()); "
            "assert sys.path == path; print('ok')")
    env = {k: v for k, v in os.environ.items() if k not in ("OBJCACHE", "MAKEFLAGS")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_simulator_env_sets_and_restores(monkeypatch):
    """Around a run: the chosen Verilator's folder first on PATH (no `make env`, no PATH
    set by the user), this interpreter as verilated.mk's PYTHON3, the repository on sys.path."""
    from ese import deps
    from ese.rtlsim import build
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("OBJCACHE", raising=False)
    monkeypatch.setenv("MAKEFLAGS", "-j3")
    before = dict(os.environ)
    vl = deps.find_verilator()
    assert vl is not None and vl.usable, deps.verilator_candidates()
    with pytest.raises(KeyError):
        with build.simulator_env():
            assert os.environ["PATH"] == vl.bin_dir + os.pathsep + "/usr/bin:/bin"
            assert os.environ["MAKEFLAGS"] == ("-j3 CFG_CXXFLAGS_PCH_I=-include "
                                               f"PYTHON3={sys.executable}")
            assert str(build.ROOT) in sys.path
            raise KeyError("restored on an exception too")
    assert dict(os.environ) == before


def test_simulator_env_changes_nothing_twice(monkeypatch):
    from ese.rtlsim import build
    changes = build.simulator_env_changes()
    monkeypatch.setenv("PATH", changes.get("PATH", os.environ["PATH"]))
    monkeypatch.setenv("OBJCACHE", "")
    monkeypatch.setenv("MAKEFLAGS", changes["MAKEFLAGS"])
    assert build.simulator_env_changes() == {}


def test_make_word_escapes_spaces():
    """An interpreter path with a space stays one word of MAKEFLAGS."""
    from ese.rtlsim.build import _make_word
    assert _make_word("/opt/my env/bin/python") == "/opt/my\\ env/bin/python"


def test_no_simulator_in_a_test_not_marked_rtl():
    """This test is not marked rtl: conftest forbids a build, and the runner says why."""
    from ese.rtlsim import build
    with pytest.raises(build.SimulatorForbidden, match="not marked rtl"):
        build.run_cocotb("fifo", lambda: None, "tb.fifo.test_fifo", "icarus", "k", {})


def test_bus_memory_faults_only_bus_accesses():
    from ese.rtlsim.cocotb_host import BusMemory
    m = BusMemory(1 << 16)
    m.write(0x100, bytes(range(16)))
    m.faults.add(0x108)
    assert m[0x100:0x108] == bytes(range(8))          # a word next to the fault
    with pytest.raises(IOError, match="0x108"):
        m[0x108:0x110]
    with pytest.raises(IOError):
        m[0x100:0x110] = bytes(16)
    assert m.read(0x100, 16) == bytes(range(16)), "a faulted write changed the memory"
    m.write(0x108, b"\xff")                           # the bench's own access never faults
    m.faults.clear()
    assert m[0x108:0x109] == b"\xff"
    m.write((1 << 16) + 4, b"\x01")                   # wraps at the size
    assert m.read(4, 1) == b"\x01"


def test_frames_layout():
    from ese.rtlsim.host import layout, mem_size_for, pack_frames, stride, unpack_frames
    cfg = TINY
    nb = cfg.axi_data_bits // 8
    assert stride(5, cfg) == nb * -(-10 // nb)
    x = np.arange(-30, 30).reshape(2, 3, 10)
    data = pack_frames(x, cfg)
    assert len(data) == 2 * 3 * stride(10, cfg)
    assert np.array_equal(unpack_frames(data, 2, 3, 10, cfg), x)
    lay = layout(5000, 2, 3, 10, 7, cfg)
    assert lay["in_addr"] == 8192 and lay["out_addr"] == 8192 + 4096
    assert lay["end"] == lay["out_addr"] + 6 * stride(7, cfg)
    assert mem_size_for(10) == 1 << 16 and mem_size_for((1 << 17) + 1) == 1 << 18


def test_engine_stats_from_counters():
    """Two runs of 5 frames, 100 + 120 cycles: 22 cycles/frame; 40 non-zeros on 4 PEs: 10 ideal;
    the first run loaded a 4096-byte image in 600 cycles (64-bit bus: 512 beats)."""
    from ese.rtlsim.engine import _stats
    manifest = {"matrices": [{"nnz": 25}, {"nnz": 15}], "image": {"bytes": 4096}}
    st = _stats(manifest, TINY, 5, [100, 120], [80, 90], [3, 4], [600, 0])
    assert st["frames"] == 5 and st["cycles"] == 220 and st["runs"] == 2
    assert st["cycles_per_frame"] == 22.0
    assert st["ideal_cycles_per_frame"] == 10.0
    assert st["utilization"] == pytest.approx(10 / 22)
    assert st["latency_us_at_200mhz"] == pytest.approx(0.11)
    assert (st["nnz"], st["n_pe"], st["n_ch"]) == (40, TINY.n_pe, TINY.n_ch)
    assert (st["macs"], st["stall_cycles"]) == (170, 7)
    assert st["load_cycles"] == 600 and st["image_bytes"] == 4096
    assert st["load_bytes_per_cycle"] == pytest.approx(4096 / 600)
    assert st["bus_bytes_per_cycle"] == 8 and st["load_bus_ratio"] == pytest.approx(600 / 512)
