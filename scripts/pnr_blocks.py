#!/usr/bin/env python3
"""Out-of-context timing of every block of ``hdl/`` at a preset's parameters (docs/timing.md).

    make pnr-blocks PRESET=kws [FREQ=120] [BLOCKS=pe,requant]
    python scripts/pnr_blocks.py --config kws [--freq 120] [--block pe ...] [--jobs 2]
                                 [--timeout 3600] [--paths 3] [--require]

Converts the preset (every block, as ``make verilog`` does, into
build/gen/<preset>/; ``--gen DIR``: only the chosen blocks, into DIR), then for
each chosen block, two at a time (nextpnr is
single-threaded):

* **a block** is wrapped in ``<block>_ooc`` (scripts/pnr_wrap.py): a register
  on every input and every output port, the block kept as its own module, so
  that the paths from its inputs and to its outputs are timed too (nextpnr out
  of context times register-to-register paths only: ``requant`` alone has
  none);
* **a composite** (a block that instantiates ``pe`` or ``channel``:
  ``pe_array``, ``core``, ``ese_top``) is wrapped the same way with every
  ``pe``/``channel`` instance replaced by a register-only stub: its own glue
  (broadcast fan-out, lag and MAC trees, gather OR, scheduler, controller) is
  timed at its real fan-out; the PEs and channels are timed as blocks of their
  own.  ``dsp_mac`` stays inside ``pe`` and ``pe_lanes``;

then synthesizes it (``synth_ecp5``) and places and routes it
(``nextpnr-ecp5 --out-of-context``) exactly as ``make pnr`` does
(scripts/pnr.py).  A block whose netlist needs more than the part holds is
listed as not fitting (Yosys count), without a nextpnr run.  Writes
build/pnr/<preset>/blocks/<block>/ (``nextpnr.json`` as nextpnr wrote it,
``summary.json``, logs, ``ooc.v``, ``stubs/``) and
build/pnr/<preset>/blocks/blocks.json (the table).  Exit 1 if a run failed
(or, with ``--require``, a block missed the target or did not fit), 2 on bad
usage or a missing tool.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pnr  # noqa: E402
import pnr_names  # noqa: E402
import pnr_wrap  # noqa: E402

#: the block target (issue 18: every block of kws and chip, alone, >= 120 MHz)
BLOCK_MHZ = 120.0
#: separately converted modules a composite block's glue is timed without
STUBBED = ("pe", "channel")
#: the share of the part's flip-flops the stubs may take before they are folded
STUB_FF_SHARE = 0.5


@dataclass
class Job:
    """One block's run: its files (submodules first, stubs in place), the wrapper
    top and the modules kept as their own."""
    block: str
    module: str
    work: Path
    files: list
    top: str
    keep: list
    stubs: dict = field(default_factory=dict)      #: module name -> instances of it
    gen: Path | None = None                        #: the converted Verilog's folder
    fold: int = 1                                  #: input bits per stub register
    stub_outputs: dict = field(default_factory=dict)   #: module -> pnr_wrap.stub_outputs

    @property
    def kind(self) -> str:
        if not self.stubs:
            return "block"
        folded = f", folded {self.fold}:1" if self.fold > 1 else ""
        return "glue, stubs: " + ", ".join(f"{n} x{k}" for n, k in self.stubs.items()) + folded


def stub_fold(modules: dict, counts: dict) -> int:
    """Input bits per stub register (scripts/pnr_wrap.py ``stub``): 1 unless the
    stubs of every instance would take more than :data:`STUB_FF_SHARE` of the
    part's flip-flops (``chip``'s 256-PE arrays: a PE has 465 input bits), then
    the smallest fold that fits, at most 4 (one LUT4)."""
    for fold in (1, 2, 3, 4):
        regs = sum(counts[m] * pnr_wrap.stub_registers(m.path.read_text(), m.name, fold)
                   for m in modules)
        if regs <= STUB_FF_SHARE * pnr.CAPACITY["FF"]:
            return fold
    return 4


def plan(block: str, module, table, work: Path) -> Job:
    """Write ``work/ooc.v`` (and ``work/stubs/``) for ``module`` (a converted
    ``ese.hdl.convert.Module``) and return its :class:`Job`."""
    counts = table.instances(module)
    stubbed = [m for m in counts if m is not module and m.block in STUBBED]
    # the modules left once the stubbed ones stand in for theirs (dsp_mac inside pe goes)
    kept: set = set()

    def reach(m):
        if m in kept or m in stubbed:
            return
        kept.add(m)
        for c in m.children:
            reach(c)
    reach(module)
    fold = stub_fold(stubbed, counts) if stubbed else 1
    files, stubs, outs = [], {}, {}
    for m in table.order(module):               # submodules first
        if m in stubbed:
            name, text = pnr_wrap.stub(m.path.read_text(), m.name, fold)
            files.append(pnr_wrap.write(work / "stubs" / f"{name}.v", text))
            stubs[m.name] = counts[m]
            outs[m.name] = pnr_wrap.stub_outputs(m.path.read_text(), m.name, fold)
        elif m in kept:
            files.append(m.path)
    top, text = pnr_wrap.wrapper(module.path.read_text(), module.name)
    files.append(pnr_wrap.write(work / "ooc.v", text))
    return Job(block, module.name, work, files, top, [module.name, *stubs], stubs,
               Path(module.path).parent, fold, outs)


def run_job(job: Job, cfg, names: dict, freq: float, tools: dict, timeout: float,
            n_paths: int, say=print) -> dict:
    """Synthesize, place and route one job; its summary (also written to
    ``job.work/summary.json``).  ``status``: ok, no fit, failed."""
    s = pnr.summary_base(cfg, job.block, freq, tools["versions"])
    s.update(module=job.module, kind=job.kind, stubs=job.stubs, stub_fold=job.fold,
             top=job.top, status="ok")
    t, cpu = s["seconds"], s["cpu_seconds"] = {}, {}
    tag = f"[{job.block}]"
    try:
        t["yosys"], cpu["yosys"] = pnr.synth(job.files, job.top, job.work, timeout,
                                             tools["yosys"], keep_hierarchy=job.keep,
                                             say=lambda m: say(f"{tag}{m}"))
        need = pnr.estimate_fit(pnr.netlist_cells(job.work / "synth.json", job.top))
        s["synth_estimate"] = need
        over = pnr.overflow(need)
        if over:
            s["status"], s["error"] = "no fit", f"does not fit the part: {', '.join(over)}"
        else:
            t["nextpnr"], cpu["nextpnr"] = pnr.place_route(
                job.work, freq, timeout, tools["nextpnr"], say=lambda m: say(f"{tag}{m}"))
            src = [job.gen or ROOT / "build" / "gen" / cfg.name, job.work, job.work / "stubs"]
            s.update(pnr.analyze(job.work, pnr_names.Names(names, job.top, job.stub_outputs, src),
                                 freq, n_paths))
    except (pnr.FlowError, OSError, ValueError) as e:
        s["status"], s["error"] = "failed", str(e)
    (job.work / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    return s


def time_block(cfg, block: str, out: Path, freq: float = BLOCK_MHZ, yosys: str = pnr.YOSYS,
               n_paths: int = 3, timeout: float = 3600.0, say=print) -> dict:
    """One block alone, start to end: converted into ``out/gen`` (its own folder, so
    that runs in parallel never share a file), wrapped, synthesized, placed and
    routed into ``out``; its summary (:func:`run_job`)."""
    tools = {"yosys": pnr.find_tool(yosys), "nextpnr": pnr.find_tool(pnr.NEXTPNR)}
    tools["versions"] = pnr.versions(tools["yosys"], tools["nextpnr"])
    table, res, names = pnr.convert(cfg, [block], say, gen=out / "gen")
    return run_job(plan(block, res[block], table, out), cfg, names, freq, tools, timeout,
                   n_paths, say)


def reanalyze(cfg, block: str, out: Path, freq: float, n_paths: int) -> dict:
    """``--analyze-only``: a block's summary made again from its folder's nextpnr
    outputs (names, stubs and the earlier summary's run data), no tool run."""
    work = out / block
    s = json.loads((work / "summary.json").read_text())
    if s.get("status") != "ok":
        return s
    names = json.loads((out / "names.json").read_text())
    stubs = {f.stem: pnr_wrap.stub_outputs(f.read_text(), f.stem, s.get("stub_fold", 1))
             for f in sorted((work / "stubs").glob("*.v"))}
    src = [ROOT / "build" / "gen" / cfg.name, work, work / "stubs"]
    s.update(pnr.analyze(work, pnr_names.Names(names, s["top"], stubs, src), freq, n_paths))
    (work / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    return s


def row(s: dict) -> dict:
    """One line of the blocks table."""
    f = pnr.fmax_of(s)
    u = s.get("utilization") or {}
    est = s.get("synth_estimate") or {}

    def used(k):
        return u[k]["used"] if k in u else est.get(k)
    worst = (s.get("paths") or [None])[0]
    r = {"block": s["design"], "kind": s.get("kind", ""), "fmax": f, "hdl": s.get("hdl"),
         "LUT4": used("LUT4"), "FF": used("FF"), "LUTRAM": used("LUTRAM"),
         "DP16KD": used("DP16KD"), "MULT": used("MULT18X18D"),
         "s": sum(s.get("seconds", {}).values()),
         "cpu_s": sum(s.get("cpu_seconds", {}).values())}
    if s["status"] != "ok":
        r["verdict"] = s["status"]
        r["worst"] = s.get("error", "")
    elif f is None:
        r["verdict"], r["worst"] = "no paths", s.get("check", "")
    else:
        r["verdict"] = "meets" if f >= s["target_mhz"] else "FAILS"
        r["worst"] = (f"{worst['from']['label']} -> {worst['to']['label']} "
                      f"({worst['levels']} LUT, carry {worst['carry_chains']}/"
                      f"{worst['carry_cells']}, {worst['logic_pct']:.0f} % logic)") if worst else ""
    return r


COLS = [("block", "block"), ("MHz", "fmax"), ("target", "verdict"), ("LUT4", "LUT4"),
        ("FF", "FF"), ("RAMW", "LUTRAM"), ("DP16KD", "DP16KD"), ("MULT", "MULT"),
        ("CPU s", "cpu_s"), ("worst path", "worst")]


def write_table(cfg, out: Path, results: list, freq: float, versions: dict, markdown: bool,
                say=print) -> list:
    """Rows of ``results`` merged into ``out/blocks.json`` (rows of an earlier run
    are kept for the same configuration and target) and printed; the rows."""
    from ese.hdl.tops import BLOCKS, hdl_digest
    rows = [row(s) for s in results]
    prev = json.loads((out / "blocks.json").read_text()) if (out / "blocks.json").exists() else {}
    same = prev.get("config_values") == cfg.to_dict() and prev.get("target_mhz") == freq
    merged = {**(prev.get("blocks", {}) if same else {}), **{r["block"]: r for r in rows}}
    (out / "blocks.json").write_text(json.dumps(
        {"config": cfg.name, "config_values": cfg.to_dict(), "target_mhz": freq,
         "hdl": hdl_digest(), "part": pnr.PART, "tools": versions,
         "blocks": {b: merged[b] for b in BLOCKS if b in merged}}, indent=1) + "\n")
    say(f"\nblocks of {cfg.name}, out of context on the {pnr.PART['name']} at {freq:g} MHz "
        f"(every port registered; glue = pe/channel as register stubs):")
    say(format_rows(rows, markdown))
    return rows


def analyze_only(a, want: list) -> int:
    """``--analyze-only``: :func:`reanalyze` every chosen block that has a folder."""
    from ese.config import ConfigError, load_config
    try:
        cfg = load_config(a.config)
    except ConfigError as e:
        raise pnr.UsageError(str(e)) from e
    out = pnr.PNR_DIR / cfg.name / "blocks"
    have = [b for b in want if (out / b / "summary.json").exists()]
    if not have:
        raise pnr.UsageError(f"no block results in {pnr._rel(out)} (make pnr-blocks "
                             f"PRESET={cfg.name})")
    results = [reanalyze(cfg, b, out, a.freq, a.paths) for b in have]
    write_table(cfg, out, results, a.freq, results[0].get("tools", {}), a.markdown)
    return 0


def format_rows(rows: list, markdown: bool = False) -> str:
    """The blocks table, as text (scripts/bench_common.table) or Markdown."""
    if not markdown:
        from bench_common import table
        return table(rows, COLS)
    from bench_common import fmt
    out = ["| " + " | ".join(h for h, _ in COLS) + " |",
           "|" + "|".join("---" if k in ("block", "verdict", "worst") else "---:"
                          for _, k in COLS) + "|"]
    out += ["| " + " | ".join(fmt(r.get(k)) for _, k in COLS) + " |" for r in rows]
    return "\n".join(out)


def print_table(config: str, markdown: bool) -> int:
    """``--table``: the stored table of ``config`` (build/pnr/<name>/blocks/blocks.json)."""
    from ese.config import ConfigError, load_config
    try:
        name = load_config(config).name
    except ConfigError as e:
        print(f"pnr-blocks: {e}", file=sys.stderr)
        return 2
    f = pnr.PNR_DIR / name / "blocks" / "blocks.json"
    if not f.exists():
        print(f"pnr-blocks: no {pnr._rel(f)} (make pnr-blocks PRESET={name})", file=sys.stderr)
        return 2
    t = json.loads(f.read_text())
    from ese.hdl.tops import hdl_digest
    stale = [b for b, r in t["blocks"].items() if r.get("hdl") != hdl_digest()]
    print(f"blocks of {name} at {t['target_mhz']:g} MHz ({', '.join(t['tools'].values())})"
          + (f"; made before hdl/ changed: {', '.join(stale)}" if stale else ""))
    print(format_rows(list(t["blocks"].values()), markdown))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Out-of-context timing of every block (ECP5-85F)",
                                 epilog="docs/timing.md explains wrappers, stubs and the table.")
    pnr.add_common_args(ap, freq=BLOCK_MHZ, paths=3, timeout=3600.0,
                        require="a block misses the target or does not fit")
    ap.add_argument("--block", action="append", default=[],
                    help="block to run (repeatable, or a comma list; default every block)")
    ap.add_argument("--jobs", type=int, default=2, help="blocks at a time (default 2)")
    ap.add_argument("--table", action="store_true",
                    help="only print the table of the last runs (blocks.json); run nothing")
    ap.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    ap.add_argument("--analyze-only", action="store_true",
                    help="only rebuild each block's summary and the table from its nextpnr "
                         "outputs (no conversion, no tool run)")
    a = ap.parse_args(argv)
    from ese.hdl.tops import BLOCKS
    if a.table:
        return print_table(a.config, a.markdown)
    want = [b for spec in a.block for b in spec.split(",") if b] or list(BLOCKS)
    try:
        bad = [b for b in want if b not in BLOCKS]
        if bad:
            raise pnr.UsageError(f"unknown block(s) {', '.join(bad)} (have: {', '.join(BLOCKS)})")
        if a.jobs < 1:
            raise pnr.UsageError("--jobs must be positive")
        if a.analyze_only:
            return analyze_only(a, want)
        cfg, tools = pnr.start(a)
    except pnr.UsageError as e:
        print(f"pnr-blocks: {e}", file=sys.stderr)
        return 2
    lock = threading.Lock()

    def say(m):
        with lock:
            print(m, flush=True)
    out = pnr.PNR_DIR / cfg.name / "blocks"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    try:
        table, res, names = pnr.convert(cfg, want, say, a.gen)
    except pnr.FlowError as e:
        print(f"pnr-blocks: {e}", file=sys.stderr)
        return 1
    (out / "names.json").write_text(json.dumps(names))
    say(f"converted in {time.time() - t0:.0f} s; {len(want)} block(s), {a.jobs} at a time, "
        f"target {a.freq:g} MHz")
    jobs = [plan(b, res[b], table, out / b) for b in want]

    def one(i_job):
        i, job = i_job
        say(f"[{job.block}] start ({i + 1}/{len(jobs)}; {job.kind})")
        s = run_job(job, cfg, names, a.freq, tools, a.timeout, a.paths, say)
        f = pnr.fmax_of(s)
        say(f"[{job.block}] {s['status']}" + (f": {f:.1f} MHz" if f is not None else "")
            + (f" ({s['error']})" if s.get("error") else ""))
        return s
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        results = list(ex.map(one, enumerate(jobs)))

    rows = write_table(cfg, out, results, a.freq, tools["versions"], a.markdown, say)
    say(f"wrote {pnr._rel(out)}/blocks.json and <block>/summary.json "
        f"({time.time() - t0:.0f} s)")
    failed = [r["block"] for r in rows if r["verdict"] == "failed"]
    missed = [r["block"] for r in rows if r["verdict"] in ("FAILS", "no fit")]
    if failed:
        print(f"pnr-blocks: failed: {', '.join(failed)}", file=sys.stderr)
    if a.require and missed:
        print(f"pnr-blocks: below {a.freq:g} MHz or not fitting: {', '.join(missed)}",
              file=sys.stderr)
    return 1 if failed or (a.require and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
