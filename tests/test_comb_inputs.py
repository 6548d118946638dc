"""Every ``always_comb`` of the design knows all of its inputs.

MyHDL infers an ``always_comb``'s inputs (its sensitivity list, in simulation
and in the converted Verilog) when the block is *decorated*, from the names
bound in the enclosing function at that moment.  A signal declared further
down and read in the block is silently left out: the block then does not
re-evaluate when that signal changes (a ``ctrl_exec`` rework deadlocked that
way, its readiness compare never seeing the registered availability).  This
test elaborates every block of ``hdl/tops.py`` for ``tiny`` and fails on any
such signal, naming the block, the function and the signal (docs/hdl-notes.md).
"""

from __future__ import annotations

import ast

import pytest
from myhdl import SignalType
from myhdl._always_comb import _AlwaysComb
from myhdl._block import _Block


def _is_signal(v) -> bool:
    return isinstance(v, SignalType) or (
        isinstance(v, (list, tuple)) and v and all(isinstance(x, SignalType) for x in v))


def late_inputs(gen) -> list[str]:
    """Names a comb block reads that were bound only after it was decorated."""
    f = gen.func
    loads = {n.id for n in ast.walk(gen.ast) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Load)}
    cells = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
    out = []
    for name in sorted(loads & set(cells)):
        if name in gen.symdict:
            continue
        try:
            v = cells[name].cell_contents
        except ValueError:            # still unbound: not a signal of this design
            continue
        if _is_signal(v):
            out.append(name)
    return out


def comb_blocks(blk):
    for s in blk.subs:
        if isinstance(s, _Block):
            yield from comb_blocks(s)
        elif isinstance(s, _AlwaysComb):
            yield blk, s


def test_a_late_signal_is_found():
    """The check itself: a comb block reading a signal declared after it is reported."""
    from myhdl import Signal, always_comb, block

    @block
    def late(a, y):
        @always_comb
        def comb():
            y.next = a and b
        b = Signal(bool(0))
        return comb

    top = late(Signal(bool(0)), Signal(bool(0)))
    found = [late_inputs(g) for _, g in comb_blocks(top)]
    assert found == [["b"]]


@pytest.mark.parametrize("name", __import__("ese.hdl.tops", fromlist=["BLOCKS"]).BLOCKS)
def test_every_comb_block_knows_its_inputs(name):
    from ese.config import PRESETS
    from ese.hdl.tops import TOPS
    top = TOPS[name](PRESETS["tiny"])
    bad = [f"{blk.name}.{g.func.__name__}: {', '.join(late)}"
           for blk, g in comb_blocks(top) if (late := late_inputs(g))]
    assert not bad, "always_comb blocks read signals declared after them (move the " \
        "declarations up):\n" + "\n".join(bad)
