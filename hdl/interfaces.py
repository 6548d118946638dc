"""Interfaces between the blocks: small classes holding Signals, widths written once.

Every group of signals that travels together between two blocks of the
memory and control side is one class here (a read request, a word stream, a
cell-word write, the host registers, ...); those of the PE and channel side
are in hdl/stream_if.py, built the same way.
A block takes the group as one argument; MyHDL 0.11 converts an interface
argument ``cmd`` with attributes ``valid``, ``ready``, ... into flat Verilog
ports ``cmd_valid``, ``cmd_ready``, ... (after the block's plain signal
ports), so the Verilog port names do not change when a block adopts one.

Each class declares its signals once, in :meth:`Interface.spec`: attribute
name -> :class:`Kind` (bool, unsigned, signed or bounded), every width from
:func:`widths` (itself computed from ``ese.config.Config`` in one place).
From the spec come

* fresh signals: ``ReadReq(cfg)``;
* the elaboration check of a block: ``ReadReq.check(req, cfg, "loader req")``
  rejects a wrong object, a missing attribute, a wrong width or signedness
  with one message;
* views: ``req.view(ready=rq.ready)`` shares every signal but the named ones
  (two clients of one read port, each seeing the port's ``ready``);
* flat port dictionaries for a top whose Verilog ports are listed by name
  (``ese_top``): :meth:`Interface.flat` and :meth:`Interface.bind`.

Direction and timing are the docstring's: "source" drives every attribute
except those marked "(sink)".  Timing diagrams are drawn per clock cycle; a
transfer happens at the rising edge that ends a cycle in which ``valid`` and
``ready`` are both high.

MyHDL rules these classes respect (see also docs/hdl-notes.md): attributes are plain
Signals (no lists: a list cannot be a port, and a list element bound to a
sub-block port becomes a memory); one level only (a generator may reference
``cmd.valid`` but not ``a.b.c``); no stored references to other interfaces or
configurations (the converter walks every attribute that has a ``__dict__``).
A slice of an interface port (``ld.addr(12, 0)``) of a converted top needs
the converter fix in ``hdl/convert.py`` (``_name_interface_port_slices``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

from myhdl import Signal, intbv
from myhdl._Signal import _Signal

from ese.config import Config, clog2

# ---------------------------------------------------------------------------- widths

#: bits of a read-port item count (``req.n``)
ITEM_COUNT_BITS = 24
#: bits of a read-port item (16- or 32-bit items, 16-bit ones in the low half)
ITEM_BITS = 32
#: bits of a bias / peephole / input value on its way into a channel (int16 in DDR)
VALUE_BITS = 16
#: bits of a per-layer right shift (s_acc, s_p, wf_p)
LAYER_SHIFT_BITS = 6
#: bits of an error code between blocks (STATUS.ERR_CODE is 8 bits, codes < 16)
ERR_BITS = 4
#: bits of a byte count to the AXI masters
BYTES_BITS = 32
#: bits of a cell word of biases or peepholes (4 int16 values)
CELL_WORD_BITS = 64


@dataclass(frozen=True)
class Widths:
    """Derived widths of the memory and control side (docs/architecture.md).

    The PE and channel side's are :func:`ese.hdl.stream_if.stream_widths`.
    """

    param_addr: int         #: bias/peephole/c memory address: layer * max_cells + cell
    frames: int             #: the frame count T: 0 .. max_frames
    frame_index: int        #: a frame index t (one spare value)
    batch: int              #: sequences of one run: 0 .. n_ch
    stage_addr: int         #: input buffer X address: 2 halves (frame parity) of x_half values
    stage_ch: int           #: channel number on the input write bus (one spare bit)
    out_addr: int           #: output buffer address: 2 halves (frame parity) of out_half values
    axi_addr: int           #: AXI4 byte address
    axi_data: int           #: AXI4 data


@lru_cache(maxsize=None)
def widths(cfg: Config) -> Widths:
    """The widths of ``cfg`` (cached: a Config is immutable)."""
    from .stream_if import out_half, x_half       # (stream_if builds on this module)
    return Widths(
        param_addr=clog2(cfg.max_layers * cfg.max_cells),
        frames=clog2(cfg.max_frames + 1), frame_index=clog2(cfg.max_frames + 2),
        batch=clog2(cfg.n_ch + 1),
        stage_addr=clog2(2 * x_half(cfg)), stage_ch=clog2(cfg.n_ch) + 1,
        out_addr=clog2(2 * out_half(cfg)),
        axi_addr=cfg.axi_addr_bits, axi_data=cfg.axi_data_bits,
    )


# ---------------------------------------------------------------------------- kinds
@dataclass(frozen=True)
class Kind:
    """What one attribute holds: a bool, ``bits`` unsigned or signed bits, or 0 .. hi-1."""

    bits: int
    signed: bool = False
    hi: int | None = None        #: intbv(0, min=0, max=hi)
    boolean: bool = False

    def signal(self) -> Signal:
        if self.boolean:
            return Signal(bool(0))
        if self.signed:
            return Signal(intbv(0, min=-(1 << (self.bits - 1)), max=1 << (self.bits - 1)))
        if self.hi is not None:
            return Signal(intbv(0, min=0, max=self.hi))
        return Signal(intbv(0)[self.bits:])

    def describe(self) -> str:
        if self.boolean:
            return "1 bit"
        return f"{self.bits} bits{' signed' if self.signed else ''}"

    def accepts(self, sig) -> bool:
        """Same width and signedness (bool, plain, bounded and shadow signals alike)."""
        lo = getattr(sig, "min", None)
        return len(sig) == self.bits and bool(lo is not None and lo < 0) == self.signed


BIT = Kind(1, boolean=True)


def uint(bits: int) -> Kind:
    return Kind(bits)


def sint(bits: int) -> Kind:
    return Kind(bits, signed=True)


def upto(hi: int) -> Kind:
    """A bounded unsigned value 0 .. hi-1 (``intbv(0, min=0, max=hi)``)."""
    return Kind(max(1, (hi - 1).bit_length()), hi=hi)


# ---------------------------------------------------------------------------- base
class Interface:
    """A group of Signals passed as one block argument (see the module docstring).

    Subclasses define :meth:`spec`; ``Cls(cfg, **params)`` makes fresh signals.
    """

    @staticmethod
    def spec(cfg: Config, **params) -> dict:
        """Attribute name -> :class:`Kind`, in port order."""
        raise NotImplementedError

    def __init__(self, cfg: Config, **params):
        for name, kind in self.spec(cfg, **params).items():
            setattr(self, name, kind.signal())

    # -- structure ---------------------------------------------------------
    def signals(self) -> dict:
        """Attribute name -> Signal, in declaration order."""
        return {k: v for k, v in vars(self).items() if isinstance(v, _Signal)}

    def flat(self, prefix: str) -> dict:
        """``{f"{prefix}_{attr}": signal}``: the Verilog port names of this interface."""
        return {f"{prefix}_{k}": v for k, v in self.signals().items()}

    def view(self, **replace) -> "Interface":
        """The same interface with some signals replaced (the others shared)."""
        v = copy.copy(self)
        for k, s in replace.items():
            if k not in vars(self):
                raise AttributeError(f"{type(self).__name__} has no signal {k!r}")
            setattr(v, k, s)
        return v

    @classmethod
    def of(cls, **signals) -> "Interface":
        """An interface made of existing signals (no width check: use :meth:`check`)."""
        obj = cls.__new__(cls)
        for k, s in signals.items():
            setattr(obj, k, s)
        return obj

    @classmethod
    def bind(cls, prefix: str, namespace: dict, cfg: Config, **params) -> "Interface":
        """Adopt flat signals ``namespace[f"{prefix}_{attr}"]`` as one interface (checked)."""
        obj = cls.of(**{k: namespace[f"{prefix}_{k}"] for k in cls.spec(cfg, **params)})
        cls.check(obj, cfg, f"{prefix}_*", **params)
        return obj

    @classmethod
    def check(cls, obj, cfg: Config, who: str, **params) -> None:
        """Elaboration check: ``obj`` is a ``cls`` with every signal of the right width."""
        assert isinstance(obj, cls), \
            f"{who}: expected a {cls.__name__} interface, got {type(obj).__name__}"
        for name, kind in cls.spec(cfg, **params).items():
            sig = getattr(obj, name, None)
            assert sig is not None, f"{who}: {cls.__name__} lacks signal {name!r}"
            assert kind.accepts(sig), \
                f"{who}: {cls.__name__}.{name} must be {kind.describe()} for config " \
                f"{cfg.name!r}, got {len(sig)} bits"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.signals())})"


# ---------------------------------------------------------------------------- DDR reads
class ReadReq(Interface):
    """Read request to ``rdport``: a byte range of DDR as 16- or 32-bit items.

    ===== ========== =================================================================
    valid            a request is offered (held until taken)
    ready (sink)     the read port is idle: the request is taken
    addr  [A]        byte address of the first item (a multiple of the item size)
    n     [24]       number of items (>= 1)
    wide             0: 16-bit items, 1: 32-bit items
    ===== ========== =================================================================

    Valid/ready; the fields are sampled at the transfer.  The items follow on
    the port's :class:`ItemStream`; the next request is taken once the last
    item of this one has gone (``ready`` = idle)::

        cycle      0     1     2    ...   k     k+1
        valid      /‾‾‾‾‾\\___________________________
        ready      ‾‾‾‾‾‾\\__________________/‾‾‾‾‾‾‾
        addr,n,wide< R  >
        items                  < i0 ... i(n-1) >
    """

    @staticmethod
    def spec(cfg, count_bits=ITEM_COUNT_BITS, **params):
        return dict(valid=BIT, ready=BIT, addr=uint(cfg.axi_addr_bits), n=uint(count_bits),
                    wide=BIT)


class ItemStream(Interface):
    """Items of a read request (``rdport`` -> its client), valid/ready.

    ===== ========== =================================================================
    valid            an item is on ``data``
    ready (sink)     the client takes it (may be low at any time)
    data  [32]       the item, little-endian; 16-bit items in the low half (upper 0)
    ===== ========== =================================================================

    ::

        cycle      0     1     2     3     4
        valid      /‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾
        ready      ‾‾‾‾‾‾\\_____/‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾
        data       < i0  >< i1 (held)  >< i2  >
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(valid=BIT, ready=BIT, data=uint(ITEM_BITS))


class MemCmd(Interface):
    """Command to an AXI master (``mem_reader`` / ``mem_writer``).

    ===== ======= ===================================================================
    valid         a command is offered (held until taken)
    ready (sink)  the master takes it
    addr  [A]     byte address, a multiple of axi_data_bits/8
    bytes [32]    byte count, a multiple of axi_data_bits/8 (0 allowed)
    ===== ======= ===================================================================

    Valid/ready, fields sampled at the transfer; the words follow (reader) or
    are taken (writer) on the master's :class:`WordStream`.  The next command
    is taken as soon as the last burst of this one is issued::

        cycle      0     1     2    ...
        valid      /‾‾‾‾‾\\_____/‾‾‾‾‾‾‾‾‾
        ready      ‾‾‾‾‾‾\\___________/‾‾‾
        addr,bytes < C0 >      < C1 (held)
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(valid=BIT, ready=BIT, addr=uint(cfg.axi_addr_bits), bytes=uint(BYTES_BITS))


class WordStream(Interface):
    """A stream of AXI data words, valid/ready (``last`` optional: ``last=True``).

    ===== ================ ==========================================================
    valid                  a word is on ``data``
    ready (sink)           the receiver takes it
    data  [axi_data_bits]  little-endian: byte 0 of the word is the lowest address
    last                   (``mem_reader`` only) with the last word of a command
    ===== ================ ==========================================================

    Timing as :class:`ItemStream`.
    """

    @staticmethod
    def spec(cfg, last=False, **params):
        s = dict(valid=BIT, ready=BIT, data=uint(cfg.axi_data_bits))
        if last:
            s["last"] = BIT
        return s

    def without_last(self) -> "WordStream":
        return WordStream.of(valid=self.valid, ready=self.ready, data=self.data)


# ---------------------------------------------------------------------------- channels
class ParamWrite(Interface):
    """Bias / peephole write of one cell (loader -> every channel).

    ==== ================ ============================================================
    we                    write one cell word this cycle
    sel                   0: the biases (b_i, b_f, b_g, b_o), 1: the peepholes
                          (p_i, p_f, p_o, 0)
    addr [param addr]     ``layer * max_cells + cell``
    data [64]             the cell word: value g (int16) in bits 16g+15 .. 16g (the
                          memory image's cell word, docs/memory-image.md)
    ==== ================ ============================================================

    One cell word per cycle with ``we``, no handshake::

        cycle      0     1     2
        we         /‾‾‾‾‾‾‾‾‾‾‾\\_____
        sel,addr,  < c0  >< c1  >
        data
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(we=BIT, sel=BIT, addr=uint(widths(cfg).param_addr),
                    data=uint(CELL_WORD_BITS))


class StageWrite(Interface):
    """Input buffer write (``ctrl_io`` -> every channel's X buffer).

    ==== ======================== ====================================================
    we                            write one input value this cycle ...
    ch   [clog2(n_ch)+1]          ... into channel ``ch``'s buffer (the others ignore it)
    addr [clog2(2 * x_half)]      ... at ``half * x_half + index``: frame t goes into
                                  half t mod 2 (hdl/stream_if.py ``x_half``)
    data [16]                     the value (int16; the channel keeps act_bits)
    ==== ======================== ====================================================

    One value per cycle with ``we``, no handshake.
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(we=BIT, ch=uint(w.stage_ch), addr=uint(w.stage_addr),
                    data=uint(VALUE_BITS))


# ---------------------------------------------------------------------------- control
class FrameReq(Interface):
    """Frame mover request (controller -> ``ctrl_io``, input or output side).

    ==== ===================== =======================================================
    req                        one-cycle pulse: move frame ``t``
    t    [clog2(max_frames+2)] the frame
    busy (sink)                the mover works: from the cycle after ``req`` until
                               the frame is in the staging buffers / written to DDR
    ==== ===================== =======================================================

    ::

        cycle      0     1     2    ...   k
        req        /‾‾‾‾‾\\___________________
        t          < t  >
        busy       ______/‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾\\____   done: look at busy only after req
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(req=BIT, t=uint(widths(cfg).frame_index), busy=BIT)


class LoaderCtl(Interface):
    """Load handshake (controller -> ``loader``).

    ====== ==== =====================================================================
    start       one-cycle pulse: load the image (address and size: loader inputs)
    busy   (sink)  loading
    fin    (sink)  one-cycle pulse at the end of a load; ``err`` holds its code
    err    (sink)  [4] 0 = loaded, else the error code (``ese/regmap.py``)
    loaded (sink)  a model is loaded (cleared by ``start``, and by a cancel while
                   loading)
    ====== ==== =====================================================================

    ::

        cycle      0     1    ...   n
        start      /‾‾‾‾‾\\______________
        busy       ______/‾‾‾‾‾‾‾‾‾‾\\____
        fin        ___________/‾‾‾‾‾\\____
        err                   < code >
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(start=BIT, busy=BIT, fin=BIT, err=uint(ERR_BITS), loaded=BIT)


class ExecCtl(Interface):
    """Run handshake (controller -> ``ctrl_exec``).

    ===== ============ ================================================================
    go                 one-cycle pulse: run ``frames`` frames on the loaded model
    fin   (sink)       one-cycle pulse: the last frame's outputs are written
    stall (sink)       the schedule waits for a frame mover (the STALL counter)
    ===== ============ ================================================================

    ::

        cycle      0     1    ...         n
        go         /‾‾‾‾‾\\__________________
        stall            ___/‾‾\\____/‾\\____
        fin        _________________/‾‾‾‾‾\\
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(go=BIT, fin=BIT, stall=BIT)


class HostRegs(Interface):
    """The registers the controller works from (``csr`` <-> ``controller``).

    Every port of the register block (``ese/regmap.py``: ``OUT_PORTS`` and
    ``IN_PORTS``, with the map's widths) but ``soft_reset`` and ``irq``, which
    go to the top's reset and interrupt:

    =========================================== ======================================
    image_addr, image_size, in_addr, out_addr,  RW registers (held)
    frames, batch, load
    start                                       CTRL.START: one-cycle pulse
    busy, cycles, macs, stalls,      (sink)     STATUS.BUSY, counters (live)
    load_cycles
    done, error, err_code            (sink)     pulse (+ code) ending a START
    =========================================== ======================================
    """

    NOT_HERE = ("soft_reset", "irq")

    @staticmethod
    def spec(cfg, **params):
        from ese import regmap
        return {n: (BIT if w == 1 else uint(w))
                for n, w in {**regmap.OUT_PORTS, **regmap.IN_PORTS}.items()
                if n not in HostRegs.NOT_HERE}


# ---------------------------------------------------------------------------- AXI
class AxiLite(Interface):
    """AXI4-Lite slave port (host -> ``csr``), the AMBA names without the prefix.

    awaddr/awvalid/awready, wdata[32]/wstrb[4]/wvalid/wready, bresp[2]/bvalid/bready,
    araddr/arvalid/arready, rdata[32]/rresp[2]/rvalid/rready; addresses
    ``addr_bits`` wide (default ``cfg.lite_addr_bits``).  Every channel is a
    valid/ready handshake (AMBA AXI4-Lite).
    """

    @staticmethod
    def spec(cfg, addr_bits=None, **params):
        ab = cfg.lite_addr_bits if addr_bits is None else addr_bits
        return dict(awaddr=uint(ab), awvalid=BIT, awready=BIT,
                    wdata=uint(32), wstrb=uint(4), wvalid=BIT, wready=BIT,
                    bresp=uint(2), bvalid=BIT, bready=BIT,
                    araddr=uint(ab), arvalid=BIT, arready=BIT,
                    rdata=uint(32), rresp=uint(2), rvalid=BIT, rready=BIT)


class AxiRead(Interface):
    """AXI4 read master channels AR and R (``mem_reader`` -> DDR).

    arid[1], araddr[A], arlen[8], arsize[3], arburst[2], arvalid/arready;
    rid[1], rdata[D], rresp[2], rlast, rvalid/rready (AMBA AXI4; one ID, INCR).
    """

    @staticmethod
    def spec(cfg, **params):
        a, d = cfg.axi_addr_bits, cfg.axi_data_bits
        return dict(arid=uint(1), araddr=uint(a), arlen=uint(8), arsize=uint(3),
                    arburst=uint(2), arvalid=BIT, arready=BIT,
                    rid=uint(1), rdata=uint(d), rresp=uint(2), rlast=BIT, rvalid=BIT,
                    rready=BIT)


class AxiWrite(Interface):
    """AXI4 write master channels AW, W and B (``mem_writer`` -> DDR).

    awid[1], awaddr[A], awlen[8], awsize[3], awburst[2], awvalid/awready;
    wdata[D], wstrb[D/8], wlast, wvalid/wready; bid[1], bresp[2], bvalid/bready.
    """

    @staticmethod
    def spec(cfg, **params):
        a, d = cfg.axi_addr_bits, cfg.axi_data_bits
        return dict(awid=uint(1), awaddr=uint(a), awlen=uint(8), awsize=uint(3),
                    awburst=uint(2), awvalid=BIT, awready=BIT,
                    wdata=uint(d), wstrb=uint(d // 8), wlast=BIT, wvalid=BIT, wready=BIT,
                    bid=uint(1), bresp=uint(2), bvalid=BIT, bready=BIT)


def reset_signal():
    """A fresh synchronous active-high reset (every block's ``rst``)."""
    from myhdl import ResetSignal
    return ResetSignal(0, active=1, isasync=False)


def clock_reset() -> dict:
    """``{"clk": ..., "rst": ...}`` for a block's ``ports(cfg)``."""
    return {"clk": Signal(bool(0)), "rst": reset_signal()}


__all__ = [c.__name__ for c in Interface.__subclasses__()] + [
    "Interface", "Kind", "Widths", "widths", "BIT", "uint", "sint", "upto", "clock_reset",
    "reset_signal", "ITEM_COUNT_BITS", "ITEM_BITS", "VALUE_BITS", "LAYER_SHIFT_BITS",
    "ERR_BITS", "BYTES_BITS", "CELL_WORD_BITS"]
