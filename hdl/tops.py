"""Registers every block's ``top(cfg)`` factory for :func:`ese.hdl.convert.convert_all`.

:data:`BLOCKS` lists the blocks of the design (module ``ese.hdl.<name>``, which
must expose ``top(cfg, **params)``).  A listed module that does not exist
(yet) is skipped; any error raised while importing an existing module
propagates.  An existing module without a ``top`` (a block still being
written) is skipped with a warning naming it.  The converted Verilog
module of each block is named like the block (``<name>.v``).
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings

from .convert import TOPS, register_top

#: every block of the design, leaves first (converted in sorted order anyway)
BLOCKS = ("csr", "pe_fetch", "pe_lane", "pe", "ram", "lut_unit", "ew_unit", "requant",
          "mem_reader", "mem_writer", "channel", "controller", "loader", "ese_top")


def present() -> list[str]:
    """Names of the listed blocks whose module exists."""
    return [n for n in BLOCKS if importlib.util.find_spec(f"{__package__}.{n}") is not None]


def _register(name: str, package: str | None = __package__) -> None:
    mod = importlib.import_module(f"{package}.{name}" if package else name)  # errors propagate
    factory = getattr(mod, "top", None)
    if not callable(factory):
        warnings.warn(f"ese.hdl.{name} has no top(cfg, **params) factory yet: not converted",
                      stacklevel=2)
        return
    register_top(name)(factory)


for _name in present():
    _register(_name)
del _name

__all__ = ["BLOCKS", "TOPS", "present"]
