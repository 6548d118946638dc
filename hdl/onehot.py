"""One-hot selection: a wide multiplexer without a select decode in its path.

``onehot_mux(sel, words, out)``: ``out`` = ``words[i]`` for the one bit ``i`` set in
``sel`` (0 when none is), as the OR of the words each masked by its select bit: one
AND level and an OR tree of ``len(words)`` inputs per output bit (a 4-input LUT
takes two masked words), instead of a binary multiplexer whose select first has to
be decoded.  The caller registers ``sel`` already one-hot (``onehot_of``, one cycle
early) so the path from the select register is one LUT level plus the OR tree.

``onehot_of(idx, oh)``: ``oh`` = ``1 << idx`` (combinational; for a register input).

Ports
-----
sel     [n] one-hot (or zero) select
words   list of n signals of the same width (slices of one word are fine)
out     [width] the selected word
"""

from myhdl import Signal, always_comb, block, intbv


@block
def _mask(word, bit, y):
    @always_comb
    def mask():
        if bit:
            y.next = word
        else:
            y.next = 0
    return mask


@block
def _or2(a, b, y):
    @always_comb
    def orr():
        y.next = a | b
    return orr


@block
def or_reduce(leaves, out):
    """``out`` = the bitwise OR of the signals ``leaves`` (combinational, a tree of ORs)."""
    insts = []
    level = list(leaves)
    if len(level) == 1:
        insts.append(_or2(level[0], level[0], out))
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            y = out if len(level) == 2 else Signal(intbv(0)[len(out):])
            insts.append(_or2(level[i], level[i + 1], y))
            nxt.append(y)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return insts


@block
def onehot_mux(sel, words, out):
    n = len(words)
    W = len(out)
    assert len(sel) == n and n >= 1, "onehot_mux: one select bit per word"
    assert all(len(w) == W for w in words), "onehot_mux: every word as wide as out"
    insts = []
    level = []
    for i in range(n):
        m = Signal(intbv(0)[W:])
        insts.append(_mask(words[i], sel(i), m))
        level.append(m)
    insts.append(or_reduce(level, out))
    return insts


@block
def onehot_of(idx, oh):
    n = len(oh)

    @always_comb
    def decode():
        if idx < n:
            oh.next = 1 << idx
        else:
            oh.next = 0
    return decode
