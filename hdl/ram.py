"""Simple dual-port RAM with a synchronous (registered) read: infers block RAM.

Used for the PE's entry memory, column-pointer memory and each lane's vector
memory.  One write port and one read port on the same clock.

Ports
-----
clk             clock (no reset: the storage and the read register are not reset)
we              write enable
waddr           [clog2(depth)] write address
wdata           [width] write data (any signedness; stored as a bit pattern)
re              read enable: ``rdata`` loads ``mem[raddr]`` on the edge, holds otherwise
raddr           [clog2(depth)] read address
rdata           [width] read data, registered: valid the cycle after ``re``

Parameters
----------
width           word bits (>= 1)
depth           words (>= 2, any value; addresses >= depth are not allowed)

Timing: a read issued in cycle n (``re`` high, ``raddr``) shows its word on
``rdata`` in cycle n+1.  A word written in cycle n can be read from cycle n+1
on (read issued in n+1, data in n+2).  A read of the address being written in
the *same* cycle returns undefined data in hardware (old data in simulation);
the users of this RAM never do that.

::

    clk    _/‾\\_/‾\\_/‾\\_/‾\\_
    we     _/‾‾‾\\___________      waddr = A, wdata = D
    re     _____/‾‾‾\\_______      raddr = A
    rdata  ---------< D >---
"""

from myhdl import Signal, always, block, intbv

from ese.config import Config, clog2


@block
def ram(clk, we, waddr, wdata, re, raddr, rdata, width, depth):
    assert width >= 1, f"ram: width must be >= 1, got {width}"
    assert depth >= 2, f"ram: depth must be >= 2, got {depth}"
    assert len(wdata) == width, f"ram: wdata is {len(wdata)} bits, width is {width}"
    assert len(rdata) == width, f"ram: rdata is {len(rdata)} bits, width is {width}"
    assert len(waddr) >= clog2(depth) and len(raddr) >= clog2(depth), \
        f"ram: address ports must have at least clog2({depth}) = {clog2(depth)} bits"

    mem = [Signal(intbv(0)[width:]) for _ in range(depth)]

    @always(clk.posedge)
    def write():
        if we:
            mem[waddr].next = wdata

    @always(clk.posedge)
    def read():
        if re:
            rdata.next = mem[raddr]

    return write, read


def top(cfg: Config, width: int | None = None, depth: int | None = None):
    """``ram`` on fresh port signals; default shape = the PE entry memory of ``cfg``."""
    width = cfg.entry_bits if width is None else width
    depth = cfg.pe_entry_depth if depth is None else depth
    ab = clog2(depth)
    clk, we, re = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    waddr, raddr = Signal(intbv(0)[ab:]), Signal(intbv(0)[ab:])
    wdata, rdata = Signal(intbv(0)[width:]), Signal(intbv(0)[width:])
    return ram(clk, we, waddr, wdata, re, raddr, rdata, width=width, depth=depth)
