#!/usr/bin/env python3
"""Verilator lint of the generated Verilog.

    python scripts/lint.py --config tiny [--top NAME ...] [--out DIR]

Converts the configuration into build/gen/<preset> (``convert_all``), then
runs ``verilator --lint-only -Wall`` (the virtual environment's Verilator) on
every top with the waivers of scripts/lint_waivers.vlt (one file, each
waiver with its reason).  Prints one line per top and a summary; exits 1 if
any warning or error remains, 2 on bad usage or a missing Verilator.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WAIVERS = ROOT / "scripts" / "lint_waivers.vlt"


def verilator() -> str | None:
    venv = Path(sys.executable).parent / "verilator"
    return str(venv) if venv.exists() else shutil.which("verilator")


def convert(cfg, out: Path, only=None) -> dict[str, "Path | str"]:
    """Convert every registered top (or ``only``) into ``out``: name -> file, or error text.

    Like ``convert_all`` (same files, same ``files.f``) but one failing block is
    reported instead of stopping the others.
    """
    from ese.hdl import tops
    from ese.hdl.convert import convert_block, elaborate
    res: dict[str, Path | str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # MyHDL's "Signal is not driven" for constants
        for name, factory in sorted(tops.TOPS.items()):
            if only and name not in only:
                continue
            try:
                res[name] = convert_block(elaborate(factory, cfg), name, out, cfg)
            except Exception as e:  # noqa: BLE001 - reported per block
                res[name] = f"conversion failed: {type(e).__name__}: {e}"
    if not only and all(isinstance(v, Path) for v in res.values()):
        (out / "files.f").write_text("".join(f"{v.name}\n" for v in res.values()))
    return res


def waivers(strict_width: bool, out: Path) -> Path:
    """The waiver file, or (strict) a copy without the section after ``// @width``."""
    if not strict_width:
        return WAIVERS
    text = WAIVERS.read_text().split("// @width")[0]
    p = out / "lint_waivers_strict.vlt"
    p.write_text(text)
    return p


def lint_file(vl: str, src: Path, top: str, vlt: Path = WAIVERS) -> tuple[int, list[str]]:
    cmd = [vl, "--lint-only", "-Wall", "--quiet-exit", str(vlt), str(src), "--top-module", top]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep
               + os.environ.get("PATH", ""))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    msgs = [ln for ln in (p.stdout + p.stderr).splitlines()
            if re.match(r"%(Warning|Error)", ln)]
    return p.returncode, msgs


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
    vl = verilator()
    if vl is None:
        print("lint: verilator not found (run make env)", file=sys.stderr)
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
    conv = convert(cfg, out, a.top)
    tops = list(conv)
    vlt = waivers(a.strict_width, out)
    bad = 0
    for t in tops:
        if isinstance(conv[t], str):
            print(f"  {t:<14} {conv[t]}")
            bad += 1
            continue
        rc, msgs = lint_file(vl, conv[t], t, vlt)
        status = "clean" if rc == 0 and not msgs else f"{len(msgs)} message(s)"
        print(f"  {t:<14} {status}")
        if msgs:
            bad += 1
            for m in (msgs if a.verbose else msgs[:20]):
                print(f"      {m}")
            if len(msgs) > 20 and not a.verbose:
                print(f"      ... {len(msgs) - 20} more (-v)")
        elif rc != 0:
            bad += 1
    print(f"lint {cfg.name}: {len(tops) - bad}/{len(tops)} tops clean "
          f"({time.time() - t0:.1f} s, waivers {WAIVERS.relative_to(ROOT)})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
