#!/usr/bin/env python3
"""Vivado bitstream of the generated design (non-project batch flow).

    python scripts/bitstream.py --config tiny [--top ese_top] [--jobs 2]

Needs ``vivado`` on PATH (source Vivado's settings64.sh); exits 2 with one
clear line otherwise.  Converts the configuration into build/gen/<preset>
(``convert_all``), writes build/vivado/<preset>/files.f: the converted files,
except that a module with a vendor version (ese.hdl.vendor: ``dsp_mac`` as one
DSP48E1 primitive, retargeted by Vivado to a DSP48E2) is read from its vendor
text in build/vivado/<preset>/vendor/ (:func:`file_list`), then runs

    vivado -mode batch -source scripts/vivado/build.tcl
           -tclargs build/vivado/<preset>/files.f build/vivado/<preset> TOP PART XDC JOBS

Reports (utilization, timing summary, power, DRC), checkpoints and
``<top>.bit`` land in build/vivado/<preset>/.  Exit status is Vivado's
(build.tcl exits 1 when timing is not met).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TCL = ROOT / "scripts" / "vivado" / "build.tcl"
XDC = ROOT / "constraints" / "ese_top.xdc"
PART = "xcku060-ffva1156-2-e"


def file_list(cfg, files, out: Path) -> Path:
    """``out/files.f``: the absolute paths of ``files`` (converted Verilog, compile order)
    with the vendor version of a module where it has one (written into ``out/vendor``)."""
    from ese.hdl.vendor import synthesis_sources
    srcs = synthesis_sources(files, cfg, out / "vendor")
    p = out / "files.f"
    p.write_text("".join(f"{Path(f).resolve()}\n" for f in srcs))
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Vivado bitstream (vivado must be on PATH)")
    ap.add_argument("--config", default="tiny", help="preset name or JSON file (default tiny)")
    ap.add_argument("--top", default="ese_top", help="top module (default ese_top)")
    ap.add_argument("--part", default=PART, help=f"FPGA part (default {PART})")
    ap.add_argument("--xdc", type=Path, default=XDC, help="constraints file")
    ap.add_argument("--jobs", type=int, default=2, help="Vivado threads (default 2)")
    a = ap.parse_args(argv)

    vivado = shutil.which("vivado")
    if vivado is None:
        print("bitstream: vivado is not on PATH (source settings64.sh of Vivado 2023.2 or "
              "later); nothing was run", file=sys.stderr)
        return 2
    from ese.config import ConfigError, load_config
    try:
        cfg = load_config(a.config)
    except ConfigError as e:
        print(f"bitstream: {e}", file=sys.stderr)
        return 2
    if not a.xdc.exists():
        print(f"bitstream: constraints {a.xdc} not found", file=sys.stderr)
        return 2
    from ese.hdl.convert import convert_all
    gen = ROOT / "build" / "gen" / cfg.name
    out = ROOT / "build" / "vivado" / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = convert_all(cfg, gen)
    if a.top not in [f.stem for f in files]:
        print(f"bitstream: top {a.top!r} was not generated (have: "
              f"{', '.join(f.stem for f in files)})", file=sys.stderr)
        return 2
    try:
        flist = file_list(cfg, files, out)
    except ValueError as e:           # a vendor module that does not fit (VendorError)
        print(f"bitstream: {e}", file=sys.stderr)
        return 2
    cmd = [vivado, "-mode", "batch", "-nojournal", "-log", str(out / "vivado.log"),
           "-source", str(TCL), "-tclargs", str(flist), str(out), a.top, a.part,
           str(a.xdc.resolve()), str(a.jobs)]
    print("bitstream:", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=out).returncode


if __name__ == "__main__":
    sys.exit(main())
