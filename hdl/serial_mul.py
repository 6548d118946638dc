"""Shift-and-add multiplier: ``p = a * b``, one bit of ``b`` per cycle.

For the address arithmetic of the control side (a frame count times a
stride, a batch times a frame count): products of run-time values that are
needed a few cycles after the values are known, where a multiplier block
(ECP5 MULT18X18D, ~4 ns combinational) or a wide combinational product would
set the clock.  Each cycle is one add of ``len(p)`` bits (one carry chain).

Ports
-----
clk, rst        clock; synchronous active-high reset
start           1-cycle pulse: take ``a`` and ``b`` (they may change afterwards)
a     [NA]      multiplicand (unsigned)
b     [NB]      multiplier (unsigned): the product takes NB cycles
p     [NP]      out, a register: ``a * b`` modulo 2**NP, valid once ``busy`` is low
                again; held until the next ``start``
busy            out, a register: high for the NB cycles after ``start``

Timing (NB = 3)::

    cycle   0     1     2     3     4
    start   /‾‾‾‾‾\\___________________
    busy    ______/‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾\\____
    p       ------< partial sums    >< a*b
"""

from myhdl import Signal, always_seq, block, intbv, modbv


@block
def serial_mul(clk, rst, start, a, b, p, busy):
    NA, NB, NP = len(a), len(b), len(p)
    assert NB >= 1 and NA >= 1, "serial_mul: a and b need at least one bit"
    mcand = Signal(modbv(0)[NP:])            # a, shifted left once per cycle
    mplier = Signal(intbv(0)[NB:])           # b's bits still to use, lowest first
    left = Signal(intbv(0, min=0, max=NB + 1))
    MASK = (1 << NP) - 1

    @always_seq(clk.posedge, reset=rst)
    def step():
        if start:
            mcand.next = a
            mplier.next = b
            p.next = 0
            left.next = NB
            busy.next = True
        elif left != 0:
            if mplier[0]:
                p.next = (p + mcand) & MASK
            mcand.next = mcand << 1
            mplier.next = mplier >> 1
            left.next = left - 1
            busy.next = left != 1

    return step
