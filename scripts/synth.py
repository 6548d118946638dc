#!/usr/bin/env python3
"""Yosys resource estimate of the generated Verilog for the XCKU060.

    python scripts/synth.py --config tiny [--top ese_top] [--timeout 3600]
    python scripts/synth.py --config fast --block pe_array     # any block of ese.hdl

Converts the configuration into build/gen/<preset>, then synthesizes every
module of each chosen top (default ``ese_top`` if it exists, else every top)
once, on its own:

    yosys -p "read_verilog -lib SUB.v ...; read_verilog M.v;
              synth_xilinx -family xcu -noiopad -top M; tee -o J stat -json"

The separately converted modules a module instantiates (``pe`` and
``channel`` in ``ese_top``, see ese.hdl.hier) are black boxes there, so a
module's count is its own logic; a module without submodules is synthesized
whole.  The top's estimate is the sum over its modules of (own count x
instances in the design); it leaves out optimization across module
boundaries (constant inputs of an instance, unused outputs), so it is a
slight overestimate.  A module with a vendor version (ese.hdl.vendor:
``dsp_mac`` as one DSP48E1 primitive, which Vivado retargets to a DSP48E2) is
synthesized from that text, in its own run and as a black box in its
parents' (build/synth/<preset>/vendor/).  Prints LUT / FF / BRAM36 (RAMB36 +
RAMB18/2) / DSP (DSP48E2, DSP48E1) with the percentage of the XCKU060, per
module and for the top.  Results:
build/synth/<preset>/<top>.json, whose ``summary`` (LUT, FF, BRAM36, DSP) is
the whole design's estimate, ``modules`` the per-module table and ``hdl`` the
hash of the hardware sources it was made from (``ese.hdl.tops.hdl_digest``), and
build/synth/<preset>/modules/<module>.json (each module's own Yosys
statistics and summary).  ``--block NAME``
synthesizes a block that is not a registered top (``pe_array``, ``core``, ...) from
its ``top(cfg)`` factory in ``ese.hdl.NAME``, the same way (into build/gen/<preset>/
blocks).  Exit 1 if a run fails or times out, 2 on bad usage or a missing yosys.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

#: XCKU060 totals (docs/synthesis.md)
PART = {"LUT": 331_680, "FF": 663_360, "BRAM36": 1_080, "DSP": 2_760}


#: LUTs taken by each UltraScale LUT-RAM / shift-register primitive Yosys maps to
#: (UG574, distributed RAM: a LUT holds 64x1 or 32x2 bits; RAM32M/RAM64M are 4 LUTs,
#: the octal RAM32M16/RAM64M8, RAM64X8SW and RAM32X16DR8 a whole slice of 8)
LUTRAM_LUTS = {
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "RAM64X8SW": 8, "RAM32X16DR8": 8,
    "SRL16E": 1, "SRLC32E": 1,
}


def summarize(cells: dict[str, int]) -> dict[str, float]:
    """LUT / FF / BRAM36 / DSP counts from Yosys' cell-type counts."""
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c))
    lut += sum(n * LUTRAM_LUTS[c] for c, n in cells.items() if c in LUTRAM_LUTS)
    ff = sum(n for c, n in cells.items() if re.fullmatch(r"FD[CPRSE]E?", c))
    bram = sum(n for c, n in cells.items() if c.startswith("RAMB36")) \
        + 0.5 * sum(n for c, n in cells.items() if c.startswith("RAMB18"))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP48"))   # E2, and E1 (vendor)
    return {"LUT": lut, "FF": ff, "BRAM36": bram, "DSP": dsp}


def netlist_file(out_json: Path) -> Path:
    """Where :func:`run_yosys` writes the mapped netlist of ``out_json``'s module."""
    return Path(f"{Path(out_json).with_suffix('')}.netlist.json")


def run_yosys(src: Path, top: str, out_json: Path, timeout: float, log: Path,
              blackboxes=()) -> dict:
    """Synthesize module ``top`` of ``src``; ``blackboxes``: files of its submodules.
    Besides the cell counts, the result holds the module's logic depth and DSP
    registers (scripts/logic_depth.py, from the mapped netlist written next to
    ``out_json`` as ``<module>.netlist.json``)."""
    libs = "".join(f"read_verilog -lib {b}; " for b in blackboxes)
    net = netlist_file(out_json)
    script = (f"{libs}read_verilog {src}; synth_xilinx -family xcu -noiopad -top {top}; "
              f"tee -q -o {out_json}.stat stat -json; write_json {net}")
    t0 = time.time()
    with open(log, "w") as lf:
        p = subprocess.Popen(["yosys", "-p", script], stdout=lf, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def progress():
            while not stop.wait(30):
                print(f"    ... {top}: {time.time() - t0:.0f} s", flush=True)
        th = threading.Thread(target=progress, daemon=True)
        th.start()
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise
        finally:
            stop.set()
    if rc != 0:
        raise RuntimeError(f"yosys failed (rc {rc}), see {log}")
    stat = json.loads(Path(f"{out_json}.stat").read_text())
    Path(f"{out_json}.stat").unlink()
    design = stat["modules"].get(f"\\{top}") or stat["design"]    # its own cells
    cells = {k.lstrip("$\\"): v for k, v in design.get("num_cells_by_type", {}).items()}
    r = {"top": top, "seconds": round(time.time() - t0, 1), "cells": cells,
         "summary": summarize(cells), "yosys": stat}
    r.update(module_depth(net, top))
    return r


def module_depth(netlist: Path, top: str) -> dict:
    """``{"depth", "dsp"}`` of module ``top`` of a mapped netlist (scripts/logic_depth.py)."""
    import logic_depth
    mod = json.loads(Path(netlist).read_text())["modules"].get(top)
    if mod is None:
        return {}
    return {"depth": logic_depth.depth(mod, top).as_dict(),
            "dsp": logic_depth.dsp_registers(mod)}


def depth_lines(results: dict, label=lambda m, n, src=None: n) -> list:
    """The logic-depth report of ``make synth``: per module its deepest path, the
    count of endpoints past the goal, and the DSP slices without their registers;
    ``label(module, name, src)`` names a netlist signal (its MyHDL block; a DSP
    slice by the signal assigned on its source line ``src``)."""
    import logic_depth
    g = logic_depth.GOAL
    out = [f"logic depth (XCKU060 netlist; goal <= {g['lut']} LUT levels + {g['chains']} "
           f"carry chain, no DSP crossed; L = LUT levels, +m = MUXF7-9 of wide LUTs, "
           f"c = carry chains/cells, d = DSPs crossed):"]
    for m, r in results.items():
        d = r.get("depth")
        if not d:
            continue
        mux = f"+{d['muxf']}m" if d.get("muxf") else ""
        short = f"{d['lut']}L{mux} {d['chains']}c/{d['carry']} {d['dsp']}d"
        ok = "ok  " if d["meets_goal"] else "DEEP"
        out.append(f"  {m:<16}{short:>14} {ok} {label(m, d['start'])} -> {label(m, d['end'])}"
                   f"  ({d['over_goal']:,} of {d['endpoints']:,} endpoints past the goal)")
    bad = [(m, x) for m, r in results.items() for x in r.get("dsp", ()) if x["missing"]]
    n_dsp = sum(len(r.get("dsp", ())) for r in results.values())
    out.append(f"DSP slices: {n_dsp} mapped (per module), {len(bad)} without every input, "
               f"product and output register (slice = its own register, fabric = flip-flops "
               f"straight next to it, which Vivado moves in; port = from a module port):")
    for m, x in bad:
        regs = ", ".join(f"{k} {v}" for k, v in x["registers"].items())
        out.append(f"  {m}: {x['type']} {label(m, x['output'], x.get('src'))}: {regs}; "
                   f"missing {', '.join(x['missing'])}")
    return out


def convert_blocks(cfg, out: Path, factories: dict):
    """Convert each block's ``top(cfg)`` (and its submodules) into ``out``.

    Returns ``(table, res)`` like scripts/lint.py's ``convert``: res maps a block
    name to its ``Module``, or to the error text if it failed.
    """
    import warnings
    from ese.hdl.convert import ModuleTable, elaborate
    table = ModuleTable(cfg)
    res: dict = {}
    mods: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # MyHDL's "Signal is not driven" for constants
        for name, factory in factories.items():
            try:
                mods[name] = table.add_top(elaborate(factory, cfg), name)
            except Exception as e:  # noqa: BLE001 - reported per block
                res[name] = f"elaboration failed: {type(e).__name__}: {e}"
        table.write(out, strict=False)
    for name, m in mods.items():
        res[name] = m.error or m
    return table, res


def _namer(table, src_dirs=()):
    """``label(module, netlist name, src=None)``: the MyHDL block and signal of a name
    of a converted module (scripts/pnr_names.py), or the name as it is; with
    ``src`` (``channel.v:12345``), the signal assigned on that line."""
    try:
        import pnr_names
        names = pnr_names.design_names(table)
    except Exception:  # noqa: BLE001 - names are a convenience; the figures stand alone
        return lambda m, n, src=None: n

    def label(module, name, src=None):
        if module not in names:
            return name
        n = pnr_names.Names(names, module, src_dirs=src_dirs)
        target = n.assigned(src) if src else ""
        if target:
            return f"{pnr_names.label(n.resolve(target))} ({src})"
        if name in ("-", "") or name.startswith(("DSP48", "FD", "LUT")):
            return f"{name} ({src})" if src else name
        return pnr_names.label(n.resolve(name))
    return label


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Yosys resource estimate for the XCKU060")
    ap.add_argument("--config", default="tiny", help="preset name or JSON file (default tiny)")
    ap.add_argument("--top", action="append", help="top to synthesize (repeatable; "
                    "default ese_top if it exists, else every top)")
    ap.add_argument("--block", action="append", default=[],
                    help="block of ese.hdl to synthesize from its top(cfg) factory "
                         "(repeatable; e.g. pe_array; no default top then)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per top (default 3600)")
    a = ap.parse_args(argv)

    from ese.config import ConfigError, load_config
    try:
        cfg = load_config(a.config)
    except ConfigError as e:
        print(f"synth: {e}", file=sys.stderr)
        return 2
    if shutil.which("yosys") is None:
        print("synth: yosys not found (apt-get install yosys)", file=sys.stderr)
        return 2
    import importlib.util
    spec = importlib.util.spec_from_file_location("ese_lint", ROOT / "scripts" / "lint.py")
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    from ese.hdl import tops as _tops
    names = sorted(_tops.TOPS)
    want = a.top or ([] if a.block else (["ese_top"] if "ese_top" in names else names))
    bad = [t for t in want if t not in names]
    if bad:
        print(f"synth: unknown top(s) {', '.join(bad)} (have: {', '.join(names)})", file=sys.stderr)
        return 2
    import importlib
    factories = {}
    for b in a.block:
        try:
            factories[b] = importlib.import_module(f"ese.hdl.{b}").top
        except (ImportError, AttributeError):
            print(f"synth: no block ese.hdl.{b} with a top(cfg) factory", file=sys.stderr)
            return 2
    gen = ROOT / "build" / "gen" / cfg.name
    gen.mkdir(parents=True, exist_ok=True)
    print(f"synth {cfg.name}: converting {', '.join(want + a.block)} ...", flush=True)
    table, conv = lint.convert(cfg, gen, want) if want else (None, {})
    if factories:
        btable, bconv = convert_blocks(cfg, gen / "blocks", factories)
        conv.update(bconv)
        want = want + a.block
    out = ROOT / "build" / "synth" / cfg.name
    mods = out / "modules"
    mods.mkdir(parents=True, exist_ok=True)
    fails = 0
    done: dict = {}                    # module name -> yosys result (each module once)
    from ese.hdl import vendor
    from ese.hdl.tops import hdl_digest
    srcs: dict = {}                    # Module -> the file synthesized (vendor or converted)

    def source(m):
        if m not in srcs:
            srcs[m] = vendor.synthesis_sources([m.path], cfg, out / "vendor")[0]
        return srcs[m]

    def vendor_note(m):
        if source(m) == m.path:
            return None
        return vendor.DESCRIPTION.get(m.block, "vendor version")

    def row(name, s, seconds=None, n=None):
        pc = {k: 100.0 * s[k] / PART[k] for k in PART}
        cnt = "" if n is None else f"x{n:,}"
        t = "" if seconds is None else f"{seconds:.0f}"
        print(f"{name:<16}{cnt:>7}{s['LUT']:>10,.0f}{pc['LUT']:>6.1f}%{s['FF']:>10,.0f}"
              f"{pc['FF']:>6.1f}%{s['BRAM36']:>9,.1f}{pc['BRAM36']:>6.1f}%{s['DSP']:>7,.0f}"
              f"{pc['DSP']:>6.1f}%{t:>7}")

    for t in want:
        if isinstance(conv[t], str):
            print(f"{t:<16}{conv[t]}")
            fails += 1
            continue
        top = conv[t]
        counts = (btable if t in factories else table).instances(top)
        print(f"\n{t}: {len(counts)} module(s)")
        print(f"{'module':<16}{'inst':>7}{'LUT':>10}{'%':>7}{'FF':>10}{'%':>7}{'BRAM36':>9}"
              f"{'%':>7}{'DSP':>7}{'%':>7}{'s':>7}")
        total = {k: 0.0 for k in PART}
        ok = True
        for m, n in counts.items():
            if m.name not in done:
                print(f"  {m.name}: yosys synth_xilinx ...", flush=True)
                try:
                    r = run_yosys(source(m), m.name, mods / f"{m.name}.json", a.timeout,
                                  mods / f"{m.name}.log", [source(c) for c in m.children])
                except subprocess.TimeoutExpired:
                    print(f"{m.name:<16}timed out after {a.timeout:.0f} s (--timeout)")
                    ok = False
                    break
                # ValueError: Yosys' JSON, or a vendor module that does not fit (VendorError)
                except (RuntimeError, KeyError, ValueError) as e:
                    print(f"{m.name:<16}{e}")
                    ok = False
                    break
                r["source"] = str(source(m))
                if vendor_note(m):
                    r["vendor"] = vendor_note(m)
                r["whole"] = not m.children
                r["submodules"] = {c.name: k for c, k in m.children.items()}
                r["config"] = cfg.to_dict()
                r["part"] = {"name": "xcku060-ffva1156-2-e", **PART}
                (mods / f"{m.name}.json").write_text(json.dumps(r, indent=1, sort_keys=True))
                done[m.name] = r
            r = done[m.name]
            row(m.name, r["summary"], r["seconds"], n)
            for k in PART:
                total[k] += n * r["summary"][k]
        if not ok:
            fails += 1
            continue
        row(f"{t} (estimate)", total)
        whole = [m.name for m in counts if not m.children]
        parts = [m.name for m in counts if m.children]
        if parts:
            print(f"  estimate = sum of (module x instances); synthesized whole: "
                  f"{', '.join(whole)}; with their submodules as black boxes: "
                  f"{', '.join(parts)} (no optimization across module boundaries)")
        vendored = {m.name: vendor_note(m) for m in counts if vendor_note(m)}
        for name, note in vendored.items():
            print(f"  {name}: {note}; one DSP of the XCKU060 each")
        label = _namer(btable if t in factories else table, [gen, gen / "blocks"])
        for line in depth_lines({m.name: done[m.name] for m in counts}, label):
            print(line)
        # the whole design (for a module without submodules: the module itself)
        est = {"top": t, "estimate": bool(parts), "summary": total,
               "modules": {m.name: {"instances": n, "summary": done[m.name]["summary"],
                                    "whole": not m.children,
                                    "depth": done[m.name].get("depth"),
                                    "dsp_missing": sum(1 for x in done[m.name].get("dsp", ())
                                                       if x["missing"])}
                           for m, n in counts.items()},
               "vendor": vendored,
               "config": cfg.to_dict(), "hdl": hdl_digest(),
               "part": {"name": "xcku060-ffva1156-2-e", **PART}}
        (out / f"{t}.json").write_text(json.dumps(est, indent=1, sort_keys=True))
    print(f"results: {out.relative_to(ROOT)}/<top>.json (whole design), modules/<module>.json")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
