"""PE: one ``pe_fetch`` and the ``pe_lanes`` of its PE index (one lane per channel).

Ports
-----
clk, rst     clock; synchronous active-high reset
ld           ``PeWrite``: the load port of the entry memory and pointer table
cmd          ``PeCmdPush``: matrix commands into the command FIFO
afull        the command FIFO is almost full (pe_fetch)
bc           ``Bcast`` (lanes): activation chunks into the window (their positions are
             the fetch's head)
rd           ``AccRead`` (lanes): read-and-clear of the accumulators (data: the row
             ``1 + cfg.acc_read_delay`` cycles after ``valid``, 0 in every other cycle;
             a read holds the fetch's issue for a cycle, see pe_lanes)
lag          [lag] how far behind the head this PE's oldest needed position is (pe_fetch)
mac          a non-filler entry was issued (one MAC in every lane)

Parameters
----------
cfg          ese.config.Config
n_lanes      lanes (default cfg.n_ch)

Timing: pe_fetch (issue) and pe_lanes (window read, product, accumulation):
an entry issued in cycle c is accumulated at the end of cycle c + LANE_RETIRE;
``lag`` covers it until then (ese/pipeline.py).
"""

from myhdl import Signal, block, intbv

from ese.config import Config
from ese.pipeline import ACC_READ_HOLD, LANE_ACC_READ

from .hier import submodule
from .interfaces import clock_reset
from .pe_fetch import pe_fetch
from .pe_lanes import pe_lanes
from .stream_if import AccRead, Bcast, Entry, PeCmdPush, PeWrite, stream_widths


@submodule
@block
def pe(clk, rst, ld, cmd, afull, bc, rd, lag, mac, cfg: Config, n_lanes=None):
    n = cfg.n_ch if n_lanes is None else n_lanes
    ent = Entry(cfg)
    # a read of the accumulators' one port holds the fetch (pe_lanes); with a port per
    # region there is nothing to hold.  The held entry is the one that would read the
    # port when the delayed read does: the issue decision, then ent.valid (the window and
    # accumulator reads) is LANE_ACC_READ cycles, the delay the read waits for the port;
    # its registered word adds one more (acc_read_delay)
    assert ACC_READ_HOLD == LANE_ACC_READ + 1, "pe: the read delay no longer meets the hold"
    hold = rd.valid if cfg.acc_one_port else Signal(bool(0))
    fetch = pe_fetch(clk, rst, ld, cmd, afull, bc.valid, bc.pos, hold, ent, lag, mac, cfg=cfg)
    lanes = pe_lanes(clk, rst, bc, ent, rd, cfg=cfg, n_lanes=n)
    return fetch, lanes


def ports(cfg: Config, n_lanes: int | None = None) -> dict:
    """Fresh signals and interfaces for every port of ``pe``."""
    n = cfg.n_ch if n_lanes is None else n_lanes
    w = stream_widths(cfg)
    return dict(**clock_reset(), ld=PeWrite(cfg), cmd=PeCmdPush(cfg), afull=Signal(bool(0)),
                bc=Bcast(cfg, lanes=n), rd=AccRead(cfg, lanes=n),
                lag=Signal(intbv(0)[w.lag:]), mac=Signal(bool(0)))


def top(cfg: Config, n_lanes: int | None = None):
    """``pe`` on fresh port signals for ``cfg`` (the module of the PE array's instances)."""
    n = cfg.n_ch if n_lanes is None else n_lanes
    return pe(**ports(cfg, n), cfg=cfg, n_lanes=n)
