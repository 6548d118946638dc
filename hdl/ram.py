"""Simple dual-port RAM with a synchronous (registered) read: infers block RAM.

``banked_ram`` (below) builds a deep one from banks of ``ram``, each read into a
register of its own before the bank is picked (3 cycles from read to data): the PE
entry memory beyond ENTRY_BANK_WORDS entries (Config.entry_banks).

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

from myhdl import Signal, always, always_comb, block, intbv

from ese.config import Config, clog2
from ese.pipeline import ENTRY_BANK_WORDS

from .onehot import onehot_mux, onehot_of


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


@block
def _bank(clk, we, waddr, wdata, re, raddr, q, width, depth, k, ab, bb):
    """Bank ``k`` of a ``banked_ram``: its write decode, its RAM and its read register."""
    bwe = Signal(bool(0))
    bwa = Signal(intbv(0)[bb:])
    bra = Signal(intbv(0)[bb:])
    bq = Signal(intbv(0)[width:])

    @always_comb
    def decode():
        bwe.next = we and waddr[ab:bb] == k
        bwa.next = waddr[bb:]
        bra.next = raddr[bb:]

    mem = ram(clk, bwe, bwa, wdata, re, bra, bq, width=width, depth=depth)

    @always(clk.posedge)
    def out_reg():
        q.next = bq
    return decode, mem, out_reg


@block
def banked_ram(clk, we, waddr, wdata, re, raddr, rdata, width, depth, bank):
    """A deep ``ram`` as banks of ``bank`` words, read with two more registers.

    Every bank is read (``re``, the low address bits) into its RAM's read register and
    then into a register of its own, with no logic between: the block RAMs' output
    never goes through the bank multiplexer in the cycle it is read; the bank is
    picked a cycle later into ``rdata`` (registered).  Ports as ``ram``, except the
    timing: a read issued in cycle n (``re``, ``raddr``) shows its word on ``rdata``
    in cycle n+3, and ``rdata`` follows the pipeline every cycle (``re`` low: the
    banks hold their words, the stages behind them move on).  ``bank``: a power of
    two, below ``depth``.
    """
    assert bank >= 2 and bank & (bank - 1) == 0 and bank < depth, \
        f"banked_ram: bank must be a power of two below depth {depth}, got {bank}"
    AB, BB = clog2(depth), clog2(bank)
    assert len(waddr) >= AB and len(raddr) >= AB, \
        f"banked_ram: address ports must have at least clog2({depth}) = {AB} bits"
    assert len(rdata) == width, f"banked_ram: rdata is {len(rdata)} bits, width is {width}"
    NB = -(-depth // bank)
    qs = [Signal(intbv(0)[width:]) for _ in range(NB)]
    SB = max(1, AB - BB)
    sel1 = Signal(intbv(0)[SB:])          # the bank of the read in the RAMs' register
    oh1 = Signal(intbv(0)[NB:])           # ... one-hot
    oh2 = Signal(intbv(0)[NB:])           # ... in the bank registers (one-hot: no decode)
    picked = Signal(intbv(0)[width:])
    wa, ra = Signal(intbv(0)[AB:]), Signal(intbv(0)[AB:])   # the addresses (sliced here:
    wd = Signal(intbv(0)[width:])                            # a port may be a slice itself)

    WX, RX = len(waddr) > AB, len(raddr) > AB

    @always_comb
    def ports_in():
        if WX:
            wa.next = waddr[AB:]
        else:
            wa.next = waddr
        if RX:
            ra.next = raddr[AB:]
        else:
            ra.next = raddr
        wd.next = wdata

    banks = [_bank(clk, we, wa, wd, re, ra, qs[k], width=width,
                   depth=min(bank, depth - k * bank), k=k, ab=AB, bb=BB) for k in range(NB)]

    @always(clk.posedge)
    def select():
        if re:
            sel1.next = ra[AB:BB]
        oh2.next = oh1
        rdata.next = picked
    return ports_in, banks, onehot_of(sel1, oh1), onehot_mux(oh2, qs, picked), select


def top(cfg: Config, width: int | None = None, depth: int | None = None):
    """``ram`` on fresh port signals; default shape = the PE entry memory of ``cfg``
    (one bank of it when it is banked, Config.entry_banks)."""
    width = cfg.entry_bits if width is None else width
    if depth is None:
        depth = cfg.pe_entry_depth if cfg.entry_banks == 1 else ENTRY_BANK_WORDS
    ab = clog2(depth)
    clk, we, re = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    waddr, raddr = Signal(intbv(0)[ab:]), Signal(intbv(0)[ab:])
    wdata, rdata = Signal(intbv(0)[width:]), Signal(intbv(0)[width:])
    return ram(clk, we, waddr, wdata, re, raddr, rdata, width=width, depth=depth)


def top_banked(cfg: Config, width: int, depth: int, bank: int):
    """``banked_ram`` on fresh port signals."""
    ab = clog2(depth)
    clk, we, re = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    waddr, raddr = Signal(intbv(0)[ab:]), Signal(intbv(0)[ab:])
    wdata, rdata = Signal(intbv(0)[width:]), Signal(intbv(0)[width:])
    return banked_ram(clk, we, waddr, wdata, re, raddr, rdata, width=width, depth=depth,
                      bank=bank)
