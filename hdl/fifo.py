"""Synchronous FIFO with valid/ready on both sides.

Ports
-----
clk, rst        clock; synchronous active-high reset
in_data         [width] write data        in_valid / in_ready: write handshake
out_data        [width] head of the FIFO  out_valid / out_ready: read handshake
count           [clog2(depth+1)] number of words held

Parameters
----------
width           data bits (>= 1)
depth           words (>= 2, any value; not only powers of two)

Timing: a word written in cycle n is visible on ``out_data`` in cycle n+1
(first-word fall-through from a register array, so reads need no latency).
``in_ready`` is low when full, ``out_valid`` low when empty; a simultaneous
read and write on a full FIFO is not accepted on the write side.

::

    clk       _/‾\\_/‾\\_/‾\\_/‾\\_
    in_valid  __/‾‾‾\\_________
    in_data   --<A >---------
    out_valid ______/‾‾‾‾\\___     (out_ready high)
    out_data  ------<A  >----
"""

from myhdl import Signal, always, always_comb, always_seq, block, intbv


@block
def fifo(clk, rst, in_data, in_valid, in_ready, out_data, out_valid, out_ready, count,
         width, depth):
    assert width >= 1, f"fifo: width must be >= 1, got {width}"
    assert depth >= 2, f"fifo: depth must be >= 2, got {depth}"
    assert len(in_data) == width and len(out_data) == width, \
        "fifo: in_data/out_data must be `width` bits"

    mem = [Signal(intbv(0)[width:]) for _ in range(depth)]
    rd_ptr = Signal(intbv(0, min=0, max=depth))
    wr_ptr = Signal(intbv(0, min=0, max=depth))
    n = Signal(intbv(0, min=0, max=depth + 1))
    do_wr = Signal(bool(0))
    do_rd = Signal(bool(0))

    # "not empty" and "not full" as flip-flops, updated with the count: the handshakes
    # start at a register, not at a compare of the count
    nz = Signal(bool(0))
    nf = Signal(bool(1))

    @always_comb
    def handshake():
        in_ready.next = nf
        out_valid.next = nz
        do_wr.next = in_valid and nf
        do_rd.next = out_ready and nz

    @always_comb
    def head():
        out_data.next = mem[rd_ptr]
        count.next = n

    @always(clk.posedge)
    def write():
        # no reset on the storage: it maps to distributed RAM
        if do_wr:
            mem[wr_ptr].next = in_data

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if do_wr:
            if wr_ptr == depth - 1:
                wr_ptr.next = 0
            else:
                wr_ptr.next = wr_ptr + 1
        if do_rd:
            if rd_ptr == depth - 1:
                rd_ptr.next = 0
            else:
                rd_ptr.next = rd_ptr + 1
        if do_wr and not do_rd:
            n.next = n + 1
            nz.next = True
            nf.next = n != depth - 1
        elif do_rd and not do_wr:
            n.next = n - 1
            nz.next = n != 1
            nf.next = True

    return handshake, head, write, seq


def top(cfg, width: int = 16, depth: int = 4):
    """The FIFO on fresh signals (for conversion, lint and synthesis)."""
    from myhdl import ResetSignal

    clk = Signal(bool(0))
    rst = ResetSignal(0, active=1, isasync=False)
    in_data, out_data = Signal(intbv(0)[width:]), Signal(intbv(0)[width:])
    in_valid, in_ready, out_valid, out_ready = (Signal(bool(0)) for _ in range(4))
    count = Signal(intbv(0, min=0, max=depth + 1))
    return fifo(clk, rst, in_data, in_valid, in_ready, out_data, out_valid, out_ready, count,
                width=width, depth=depth)
