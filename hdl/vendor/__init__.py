"""Vendor versions of converted modules, for synthesis only.

A block listed in :data:`VENDOR` has, besides its converted (behavioral)
Verilog, a generated text with the same module name and ports built from a
vendor primitive: ``dsp_mac`` as one DSP48E1 (:mod:`.dsp_mac_xilinx`).
Simulation always uses the converted module; ``scripts/synth.py`` and
``scripts/bitstream.py`` swap in the vendor text with :func:`synthesis_sources`,
which refuses a vendor module whose port declarations differ from the
converted one's.  ``tb/dsp_mac`` proves the two equal cycle by cycle.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ese.config import Config

from . import dsp_mac_xilinx

#: block -> verilog(cfg, name) of its vendor module
VENDOR = {"dsp_mac": dsp_mac_xilinx.verilog}

#: what each vendor module is, for reports (scripts/synth.py)
DESCRIPTION = {"dsp_mac": "one DSP48E1 primitive (ese.hdl.vendor.dsp_mac_xilinx), "
                          "retargeted to a DSP48E2 by Vivado on UltraScale"}

_MODULE = re.compile(r"^\s*module\s+(\w+)", re.M)
_BLOCK = re.compile(r"^// separately converted block (\w+)\(", re.M)
_DECL = re.compile(r"^\s*(input|output|inout)\s+(signed\s+)?(?:\[\s*([^\]]*?)\s*\]\s*)?(\w+)\s*;",
                   re.M)


class VendorError(ValueError):
    """A vendor module does not match the converted module it replaces."""


def port_declarations(text: str) -> dict:
    """Port name -> (direction, signed, range) of a Verilog module's declarations."""
    return {m.group(4): (m.group(1), bool(m.group(2)), (m.group(3) or "").replace(" ", ""))
            for m in _DECL.finditer(text)}


def block_of(text: str) -> tuple[str, str]:
    """(module name, block name) of a converted file: the block is named in the
    header ``ese.hdl.convert`` writes (``// separately converted block dsp_mac(...)``),
    else it is the module name."""
    mod = _MODULE.search(text)
    if mod is None:
        raise VendorError("no module in the text")
    blk = _BLOCK.search(text)
    return mod.group(1), blk.group(1) if blk else mod.group(1)


def vendor_text(converted: str, cfg: Config) -> str | None:
    """The vendor text replacing the converted module text ``converted``, or None if
    its block has none.  VendorError if the ports differ."""
    name, blk = block_of(converted)
    if blk not in VENDOR:
        return None
    text = VENDOR[blk](cfg, name)
    want, got = port_declarations(converted), port_declarations(text)
    if want != got:
        diff = sorted(p for p in set(want) | set(got) if want.get(p) != got.get(p))
        raise VendorError(f"vendor module {name} ({blk}) for configuration {cfg.name!r}: "
                          f"ports {', '.join(diff)} differ from the converted module "
                          f"(converted {[want.get(p) for p in diff]}, "
                          f"vendor {[got.get(p) for p in diff]})")
    return text


def synthesis_sources(files, cfg: Config, out_dir) -> list[Path]:
    """``files`` (converted Verilog, any order) with every module that has a vendor
    version replaced by it, written into ``out_dir/<module>.v`` (rewritten only
    if its text changed)."""
    out = []
    for f in map(Path, files):
        text = vendor_text(f.read_text(), cfg)
        if text is None:
            out.append(f)
            continue
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        dst = out_dir / f.name
        if dst.resolve() == f.resolve():
            raise VendorError(f"{f}: the vendor text would overwrite the converted file")
        if not dst.exists() or dst.read_text() != text:
            dst.write_text(text)
        out.append(dst)
    return out


def yosys_cells_sim() -> Path:
    """Yosys' simulation models of the Xilinx primitives (``<datdir>/xilinx/cells_sim.v``).

    The data folder is ``yosys-config --datdir`` or else ``<prefix>/share/yosys``
    next to the ``yosys`` binary.  FileNotFoundError with a one-line reason if
    Yosys (or the file) is missing.
    """
    candidates = []
    if shutil.which("yosys-config"):
        r = subprocess.run(["yosys-config", "--datdir"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            candidates.append(Path(r.stdout.strip()))
    exe = shutil.which("yosys")
    if exe:
        candidates.append(Path(exe).resolve().parents[1] / "share" / "yosys")
    if not candidates:
        raise FileNotFoundError("yosys not found (apt-get install yosys): its xilinx/cells_sim.v "
                                "is the DSP48E1 simulation model")
    for d in candidates:
        if (d / "xilinx" / "cells_sim.v").is_file():
            return d / "xilinx" / "cells_sim.v"
    raise FileNotFoundError(f"xilinx/cells_sim.v not found in Yosys' data folder "
                            f"({', '.join(map(str, candidates))})")
