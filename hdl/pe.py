"""PE: one ``pe_fetch`` broadcasting its entry stream to ``n_lanes`` ``pe_lane``s.

The lanes (one per channel) run in lockstep on different vectors, so the
vector write port (``vec_we``, ``vec_addr``), the clear and the drain address
are shared and only the data is per lane.  MyHDL top-level ports must be
plain signals, so per-lane data travel on flat buses:

    vec_data[(k+1)*act_bits-1 : k*act_bits]  = lane k's vector word   (lane 0 in the LSBs)
    drn_data[(k+1)*acc_bits-1 : k*acc_bits]  = lane k's accumulator   (two's complement)

Ports
-----
clk, rst                                   clock; synchronous active-high reset
ld_we, ld_sel, ld_addr, ld_data            load port of the entry (ld_sel=0) / pointer (1) memory
cmd_valid, cmd_ready, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base, cmd_shift
                                           matrix command (see pe_fetch)
avail      [clog2(max_cols+1)]             entries of column j only while j < avail
busy                                       pe_fetch busy (command walking or entries in flight
                                           in pe_fetch); low from cycle E+Z+6, while the lanes
                                           write until cycle E+Z+7: wait for ``done``
vec_we, vec_addr                           write one word into every lane's vector memory ...
vec_data   [n_lanes*act_bits]              ... lane k's word in slice k
clr_valid, clr_region [2]                  clear region 0/1/2 of every lane (one cycle)
drn_addr   [clog2(acc_depth)]              accumulator read address (all lanes)
drn_data   [n_lanes*acc_bits]              lane k's acc[drn_addr] in slice k, 1-cycle latency
done                                       one-cycle pulse: the command's last product is written
                                           (AND of the lanes' ``done``; they are identical in timing)

Parameters
----------
cfg         ese.config.Config
n_lanes     lanes (default cfg.n_ch)
ptr_fifo    pe_fetch pointer prefetch depth (default 4)

Timing (cycle 0 = ``cmd_valid & cmd_ready``; ``avail`` = all columns): the
first entry enters the lanes in cycle 6, one entry per cycle follows (each
empty column costs one cycle), and ``done`` pulses in cycle E + Z + 8 for E
entries (fillers included) and Z empty columns (ncols = 0: ``done`` in
cycle 5).  ``cmd_ready`` is high again in cycle E + Z + 4, so a second
command into the same region may follow at once (W_x x then W_r y): held
``cmd_valid`` is accepted in cycle E1 + Z1 + 4 and its ``done`` comes in cycle
E1 + Z1 + E2 + Z2 + 12 (4 idle MAC cycles between the two walks); each command
gets its own ``done`` pulse, in order.  A drain address given in the cycle
of the last ``done`` (or later) reads the final sum in the next cycle.  A
vector word must be written no later than the cycle in which ``avail`` is
raised past its column.
"""

from myhdl import ConcatSignal, Signal, always_comb, block, intbv

from ese.config import Config

from .hier import submodule
from .pe_fetch import fetch_widths, pe_fetch
from .pe_fetch import ports as fetch_ports
from .pe_lane import _signed, pe_lane


@submodule
@block
def pe(clk, rst, ld_we, ld_sel, ld_addr, ld_data,
       cmd_valid, cmd_ready, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base, cmd_shift,
       avail, busy, vec_we, vec_addr, vec_data, clr_valid, clr_region, drn_addr, drn_data, done,
       cfg, n_lanes=None, ptr_fifo=4):
    n = cfg.n_ch if n_lanes is None else n_lanes
    W = fetch_widths(cfg)
    A, ACC = cfg.act_bits, cfg.acc_bits
    assert 1 <= n <= 64, f"pe: n_lanes must be in 1..64, got {n}"
    assert len(vec_data) == n * A, \
        f"pe: vec_data must be n_lanes*act_bits = {n * A} bits, got {len(vec_data)}"
    assert len(drn_data) == n * ACC, \
        f"pe: drn_data must be n_lanes*acc_bits = {n * ACC} bits, got {len(drn_data)}"

    e_valid, e_end = Signal(bool(0)), Signal(bool(0))
    e_vaddr = Signal(intbv(0)[W["VA"]:])
    e_aaddr = Signal(intbv(0)[W["AA"]:])
    e_weight = Signal(_signed(W["WB"]))
    e_shift = Signal(intbv(0)[W["SB"]:])

    fetch = pe_fetch(clk, rst, ld_we, ld_sel, ld_addr, ld_data,
                     cmd_valid, cmd_ready, cmd_ptr_base, cmd_ncols, cmd_vec_base, cmd_acc_base,
                     cmd_shift, avail, e_valid, e_vaddr, e_aaddr, e_weight, e_shift, e_end, busy,
                     cfg=cfg, ptr_fifo=ptr_fifo)

    lanes = []
    drn = [Signal(_signed(ACC)) for _ in range(n)]
    dones = [Signal(bool(0)) for _ in range(n)]
    for k in range(n):
        lanes.append(pe_lane(clk, rst, e_valid, e_vaddr, e_aaddr, e_weight, e_shift, e_end,
                             vec_we, vec_addr, vec_data((k + 1) * A, k * A),
                             clr_valid, clr_region, drn_addr, drn[k], dones[k], cfg=cfg))

    # lanes are identical in timing; done = all lanes done (a constant-free AND)
    done_cat = ConcatSignal(*dones) if n > 1 else None
    drn_cat = ConcatSignal(*reversed(drn)) if n > 1 else None   # lane 0 in the LSBs
    ALL = (1 << n) - 1

    if n == 1:
        @always_comb
        def out1():
            drn_data.next = drn[0][ACC:]
            done.next = dones[0]
        return fetch, lanes, out1

    @always_comb
    def outn():
        drn_data.next = drn_cat
        done.next = done_cat == ALL

    return fetch, lanes, outn


def ports(cfg: Config, n_lanes: int | None = None) -> dict:
    """Fresh signals for every port of ``pe`` (names = port names)."""
    n = cfg.n_ch if n_lanes is None else n_lanes
    W = fetch_widths(cfg)
    s = fetch_ports(cfg)
    for k in ("o_valid", "o_vaddr", "o_aaddr", "o_weight", "o_shift", "o_end"):
        del s[k]
    s.update(
        vec_we=Signal(bool(0)), vec_addr=Signal(intbv(0)[W["VA"]:]),
        vec_data=Signal(intbv(0)[n * cfg.act_bits:]),
        clr_valid=Signal(bool(0)), clr_region=Signal(intbv(0)[2:]),
        drn_addr=Signal(intbv(0)[W["AA"]:]), drn_data=Signal(intbv(0)[n * cfg.acc_bits:]),
        done=Signal(bool(0)),
    )
    return s


def top(cfg: Config, n_lanes: int | None = None, ptr_fifo: int = 4):
    """``pe`` on fresh port signals for ``cfg`` (``n_lanes`` default cfg.n_ch)."""
    n = cfg.n_ch if n_lanes is None else n_lanes     # as ese_top gives it: one module
    return pe(**ports(cfg, n), cfg=cfg, n_lanes=n, ptr_fifo=ptr_fifo)
