"""PE: one ``pe_fetch`` broadcasting its entry stream to ``n_lanes`` ``pe_lane``s.

The lanes (one per channel) run in lockstep on different vectors, so the
vector write port (``vec.we``, ``vec.addr``), the clear and the drain address
are shared and only the data is per lane, on flat buses (lane 0 in the LSBs):

    vec.data[(k+1)*act_bits-1 : k*act_bits]  = lane k's vector word
    drn.data[(k+1)*acc_bits-1 : k*acc_bits]  = lane k's accumulator   (two's complement)

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst        clock; synchronous active-high reset
ld              ``PeLoad``: load port of the entry (``ld.sel`` = 0) / pointer (1) memory
cmd             ``PeCmd``: matrix command (see pe_fetch)
avail           [clog2(max_cols+1)] entries of column j only while j < avail
busy            pe_fetch busy (command walking or entries in flight in pe_fetch); low
                from cycle E+Z+6, while the lanes write until cycle E+Z+7: wait for ``done``
vec             ``VecWrite`` (lanes = n_lanes): write one word into every lane's vector
                memory, lane k's word in slice k
clr             ``Clear``: clear region 0/1/2 of every lane (one cycle)
drn             ``Drain`` (lanes = n_lanes): accumulator read address (all lanes); lane k's
                acc[drn.addr] in slice k of ``drn.data``, 1-cycle latency
done            one-cycle pulse: the command's last product is written (AND of the lanes'
                ``done``; they are identical in timing)

Parameters
----------
cfg         ese.config.Config
n_lanes     lanes (default cfg.n_ch)
ptr_fifo    pe_fetch pointer prefetch depth (default 4)

Timing (cycle 0 = ``cmd.valid & cmd.ready``; ``avail`` = all columns): the
first entry enters the lanes in cycle 6, one entry per cycle follows (each
empty column costs one cycle), and ``done`` pulses in cycle E + Z + 8 for E
entries (fillers included) and Z empty columns (ncols = 0: ``done`` in
cycle 5).  ``cmd.ready`` is high again in cycle E + Z + 4, so a second
command into the same region may follow at once (W_x x then W_r y): held
``cmd.valid`` is accepted in cycle E1 + Z1 + 4 and its ``done`` comes in cycle
E1 + Z1 + E2 + Z2 + 12 (4 idle MAC cycles between the two walks); each command
gets its own ``done`` pulse, in order.  A drain address given in the cycle
of the last ``done`` (or later) reads the final sum in the next cycle.  A
vector word must be written no later than the cycle in which ``avail`` is
raised past its column.
"""

from myhdl import ConcatSignal, Signal, always_comb, block

from ese.config import Config

from .hier import submodule
from .interfaces import Clear, Drain, EntryStream, PeCmd, PeLoad, VecWrite, clock_reset, uint, \
    widths
from .pe_fetch import pe_fetch
from .pe_lane import _signed, pe_lane


@submodule
@block
def pe(clk, rst, ld, cmd, avail, busy, vec, clr, drn, done, cfg, n_lanes=None, ptr_fifo=4):
    n = cfg.n_ch if n_lanes is None else n_lanes
    A, ACC = cfg.act_bits, cfg.acc_bits
    assert 1 <= n <= 64, f"pe: n_lanes must be in 1..64, got {n}"
    VecWrite.check(vec, cfg, "pe vec", lanes=n)
    Drain.check(drn, cfg, "pe drn", lanes=n)

    e = EntryStream(cfg)            # the fetch's entries, to every lane
    fetch = pe_fetch(clk, rst, ld, cmd, avail, e, busy, cfg=cfg, ptr_fifo=ptr_fifo)

    lanes = []
    drn_k = [Signal(_signed(ACC)) for _ in range(n)]
    dones = [Signal(bool(0)) for _ in range(n)]
    for k in range(n):
        lane_vec = vec.view(data=vec.data((k + 1) * A, k * A))
        lane_drn = drn.view(data=drn_k[k])
        lanes.append(pe_lane(clk, rst, e, lane_vec, clr, lane_drn, dones[k], cfg=cfg))

    # lanes are identical in timing; done = all lanes done (a constant-free AND)
    done_cat = ConcatSignal(*dones) if n > 1 else None
    drn_cat = ConcatSignal(*reversed(drn_k)) if n > 1 else None   # lane 0 in the LSBs
    ALL = (1 << n) - 1

    if n == 1:
        @always_comb
        def out1():
            drn.data.next = drn_k[0][ACC:]
            done.next = dones[0]
        return fetch, lanes, out1

    @always_comb
    def outn():
        drn.data.next = drn_cat
        done.next = done_cat == ALL

    return fetch, lanes, outn


def ports(cfg: Config, n_lanes: int | None = None) -> dict:
    """Fresh signals and interfaces for every port of ``pe``."""
    n = cfg.n_ch if n_lanes is None else n_lanes
    return dict(**clock_reset(), ld=PeLoad(cfg), cmd=PeCmd(cfg),
                avail=uint(widths(cfg).ncols).signal(), busy=Signal(bool(0)),
                vec=VecWrite(cfg, lanes=n), clr=Clear(cfg), drn=Drain(cfg, lanes=n),
                done=Signal(bool(0)))


def top(cfg: Config, n_lanes: int | None = None, ptr_fifo: int = 4):
    """``pe`` on fresh port signals for ``cfg`` (``n_lanes`` default cfg.n_ch)."""
    return pe(**ports(cfg, n_lanes), cfg=cfg, n_lanes=n_lanes, ptr_fifo=ptr_fifo)
