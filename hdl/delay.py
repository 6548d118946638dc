"""Delay lines: a signal delayed by a fixed number of registers.

``delay_reg(clk, rst, d, q, n)``: ``q`` is ``d`` delayed by ``n >= 1`` cycles
(``n`` registers, reset to 0).  Used to align control with a datapath of
known latency (e.g. an element-wise step with the gathered rows it uses).
"""

from myhdl import Signal, always_seq, block, intbv


@block
def _dreg(clk, rst, a, y):
    @always_seq(clk.posedge, reset=rst)
    def reg():
        y.next = a
    return reg


@block
def delay_reg(clk, rst, d, q, n: int):
    """``q`` = ``d`` delayed by ``n`` >= 1 cycles."""
    assert n >= 1, f"delay_reg: n must be >= 1, got {n}"
    chain = [Signal(intbv(0)[len(d):]) for _ in range(n - 1)] + [q]
    insts = []
    for i in range(n):
        src = d if i == 0 else chain[i - 1]
        insts.append(_dreg(clk, rst, src, chain[i]))
    return insts
