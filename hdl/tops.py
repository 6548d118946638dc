"""Registers every block's ``top(cfg)`` factory for :func:`ese.hdl.convert.convert_all`.

:data:`BLOCKS` lists the blocks of the design: module ``ese.hdl.<name>``
exposing ``top(cfg, **params)``; its Verilog module is named like the block
(``<name>.v``).  ``make verilog``, ``make lint`` and ``make synth`` work on
this list, so a new block is added here.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

from .convert import TOPS, register_top

#: every block of the design, leaves first
BLOCKS = ("ram", "fifo", "csr", "pe_fetch", "dsp_mac", "pe_lanes", "pe", "pe_array", "lut_unit",
          "ew_unit", "requant", "axi_burst", "mem_reader", "mem_writer", "rdport", "loader", "channel",
          "ctrl_exec", "core", "ctrl_io", "controller", "ese_top")

for _name in BLOCKS:
    register_top(_name)(importlib.import_module(f"{__package__}.{_name}").top)
del _name

__all__ = ["BLOCKS", "TOPS", "hdl_digest"]


def hdl_digest() -> str:
    """A hash of every source file of ``ese.hdl`` (this folder and below): results
    derived from the hardware (the Yosys estimates that ``make bench`` reuses)
    record it, and count as stale when the hardware has changed since."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]
