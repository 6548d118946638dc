"""A toy hierarchy for the separately converted modules of :mod:`ese.hdl.hier`.

``toy`` instantiates ``scale`` three times (two parameter variants: gain 2
twice, gain 3 once with another reset value) and every ``scale`` holds one
``counter``, so the converted design is four modules: ``counter``,
``scale_g2``, ``scale_g3_r5`` and ``toy``.  The connections cover what a
module port can meet: interface arguments (``Stream``: valid + signed data)
on both sides, an interface that is itself a top-level port, plain signals,
an unsigned slice of an input bus, a concatenation, a constant, an unused
input, an output nobody reads, outputs into a list of signals, and a
non-zero reset value.

toy ports
---------
clk, rst          clock, synchronous active-high reset
a (Stream 12)     a_valid, a_data (signed 12): the sample (tested in -128..127)
b [8]             b_* bits: scale0 adds b[3:0], scale1 adds {b[1:0], 2'b01}
y0, y1, y2 (Stream 12)  registered, one cycle after a:
                  y0.data = 2*a + b[3:0]; y1.data = -2*a + {b[1:0],01}; y2.data = 3*a + 3;
                  y*.valid = a.valid; data hold when a.valid is low; after reset
                  y0/y1 data 0, y2 data 5
beats [16]        {beats of scale2, beats of scale0}: valid samples counted (mod 256)
"""

from myhdl import ConcatSignal, ResetSignal, Signal, always_comb, always_seq, block, intbv, modbv

from ese.hdl.hier import submodule


class Stream:
    """valid + signed data (an interface: ports ``<name>_valid``, ``<name>_data``)."""

    def __init__(self, bits: int, init: int = 0):
        self.valid = Signal(bool(0))
        self.data = Signal(intbv(init, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


@submodule
@block
def counter(clk, rst, en, count):
    """count <= count + 1 (wrapping) in every cycle with en."""
    @always_seq(clk.posedge, reset=rst)
    def step():
        if en:
            count.next = count + 1
    return step


@submodule(key=lambda p: f"g{p['gain']}_r{int(p['o'].data._init)}")
@block
def scale(clk, rst, i, o, k, spare, beats, gain):
    """o.data <= gain * i.data + k when i.valid (registered); o.valid <= i.valid;
    beats counts the valid samples.  ``spare`` is not used.  (i.data and o.data
    are equally wide: MyHDL writes ``i_data * gain + k`` with an unsigned k, an
    unsigned Verilog expression, exact only modulo the width of o.data.)"""
    cnt = counter(clk, rst, i.valid, beats)

    @always_seq(clk.posedge, reset=rst)
    def regs():
        o.valid.next = i.valid
        if i.valid:
            o.data.next = i.data * gain + k
    return cnt, regs


@block
def toy(clk, rst, a, b, y0, y1, y2, beats):
    s0, s1 = Stream(12), Stream(12)
    k2 = Signal(intbv(3)[4:])                        # a constant input
    k1 = ConcatSignal(b(2, 0), intbv(1)[2:])         # {b[1:0], 2'b01}
    spare = Signal(bool(0))
    bt = [Signal(modbv(0)[8:]) for _ in range(3)]   # outputs into a list
    u0 = scale(clk, rst, s0, y0, b(4, 0), spare, bt[0], gain=2)
    u1 = scale(clk, rst, s1, y1, k1, spare, bt[1], gain=2)    # bt[1]: read by nobody
    u2 = scale(clk, rst, a, y2, k2, spare, bt[2], gain=3)     # a top-level interface

    @always_comb
    def fan():
        s0.valid.next = a.valid
        s0.data.next = a.data
        s1.valid.next = a.valid
        s1.data.next = -a.data

    beats_cat = ConcatSignal(bt[2], bt[0])

    @always_comb
    def out():
        beats.next = beats_cat
    return u0, u1, u2, fan, out


def top():
    """``toy`` on fresh port signals (y2's data resets to 5)."""
    return toy(Signal(bool(0)), ResetSignal(0, active=1, isasync=False), Stream(12),
               Signal(intbv(0)[8:]), Stream(12), Stream(12), Stream(12, init=5),
               Signal(intbv(0)[16:]))
