"""Interfaces between the blocks: small classes holding Signals, widths written once.

Every group of signals that travels together between two blocks is one class
here (a PE command, an entry stream, a layer-table row, a read request, ...).
A block takes the group as one argument; MyHDL 0.11 converts an interface
argument ``cmd`` with attributes ``valid``, ``ready``, ... into flat Verilog
ports ``cmd_valid``, ``cmd_ready``, ... (after the block's plain signal
ports), so the Verilog port names do not change when a block adopts one.

Each class declares its signals once, in :meth:`Interface.spec`: attribute
name -> :class:`Kind` (bool, unsigned, signed or bounded), every width from
:func:`widths` (itself computed from ``ese.config.Config`` in one place).
From the spec come

* fresh signals: ``PeCmd(cfg)``;
* the elaboration check of a block: ``PeCmd.check(cmd, cfg, "pe_fetch")``
  rejects a wrong object, a missing attribute, a wrong width or signedness
  with one message;
* views: ``cmd.view(ready=rdy_all)`` shares every signal but the named ones
  (one command broadcast to many PEs, each with its own ``ready``);
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


@dataclass(frozen=True)
class Widths:
    """Every derived width and depth of the hardware (docs/architecture.md)."""

    gate_rows: int          #: GR: local gate rows of one PE (regions 0 and 1)
    proj_rows: int          #: PR: local projection rows of one PE (region 2)
    acc_depth: int          #: accumulator words of one lane: 2 GR + PR
    vec_addr: int           #: vector-memory address
    acc_addr: int           #: accumulator address
    entry_addr: int         #: entry-memory address
    ptr_value: int          #: column pointer value: an entry address incl. the end
    ptr_addr: int           #: pointer-memory address
    ncols: int              #: a column count or ``avail``: 0 .. max_cols
    shift: int              #: a product's left shift: 0 .. max_align_shift
    weight: int             #: signed weight of an entry
    index: int              #: relative row index of an entry
    entry: int              #: packed entry: weight << index | gap
    row: int                #: a decoded local row / running position in pe_fetch
    ld_addr: int            #: PE load bus address (entry or pointer memory)
    ld_data: int            #: PE load bus data (entry or pointer)
    param_addr: int         #: bias/peephole/c memory address: layer * max_cells + cell
    frames: int             #: the frame count T: 0 .. max_frames
    frame_index: int        #: a frame index t (one spare value)
    batch: int              #: sequences of one run: 0 .. n_ch
    stage_addr: int         #: input staging buffer address (max_input words)
    stage_ch: int           #: channel number on the staging write bus (one spare bit)
    out_addr: int           #: output buffer address (max_proj words)
    axi_addr: int           #: AXI4 byte address
    axi_data: int           #: AXI4 data


@lru_cache(maxsize=None)
def widths(cfg: Config) -> Widths:
    """The widths of ``cfg`` (cached: a Config is immutable)."""
    gr, pr = cfg.gate_rows_per_pe, cfg.proj_rows_per_pe
    acc_depth = 2 * gr + pr
    ea, pa = clog2(cfg.pe_entry_depth), clog2(cfg.ptr_depth)
    pb = clog2(cfg.pe_entry_depth + 1)
    return Widths(
        gate_rows=gr, proj_rows=pr, acc_depth=acc_depth,
        vec_addr=clog2(cfg.vec_depth), acc_addr=clog2(acc_depth),
        entry_addr=ea, ptr_value=pb, ptr_addr=pa,
        ncols=clog2(cfg.max_cols + 1), shift=clog2(cfg.max_align_shift + 1),
        weight=cfg.weight_bits, index=cfg.index_bits, entry=cfg.entry_bits,
        row=clog2(max(gr, pr) + cfg.max_gap + 2),
        ld_addr=max(ea, pa), ld_data=max(cfg.entry_bits, pb),
        param_addr=clog2(cfg.max_layers * cfg.max_cells),
        frames=clog2(cfg.max_frames + 1), frame_index=clog2(cfg.max_frames + 2),
        batch=clog2(cfg.n_ch + 1),
        stage_addr=clog2(cfg.max_input), stage_ch=clog2(cfg.n_ch) + 1,
        out_addr=clog2(cfg.max_proj),
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


# ---------------------------------------------------------------------------- PE side
class PeCmd(Interface):
    """PE command: walk one matrix (controller -> every ``pe_fetch``).

    ======== ======================= ==============================================
    valid                            a command is offered (held until taken)
    ready    (sink)                  the walker is idle: the command is taken
    ptr_base [clog2(ptr_depth)]      first of the matrix's ncols+1 column pointers
    ncols    [clog2(max_cols+1)]     columns (0: no entry, ``end`` at once)
    vec_base [clog2(vec_depth)]      vector-memory address of column 0
    acc_base [clog2(acc_depth)]      accumulator address of local row 0 (region base)
    shift    [clog2(max_align+1)]    left shift of every product (numerics: shift_M)
    ======== ======================= ==============================================

    A valid/ready handshake; the fields are sampled in the cycle of the
    transfer.  ``ready`` falls for the walk and rises again while the last
    entries are still in the fetch pipeline, so back-to-back commands keep
    the MAC lanes busy::

        cycle      0     1     2     3    ...  E+Z+4
        valid      /‾‾‾‾‾\\_____/‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾\\__
        ready      ‾‾‾‾‾‾\\_____________________/‾‾‾\\__
        fields     < A   >     < B  (held)           >
                         ^ A taken              ^ B taken

    Broadcast to many PEs: one ``PeCmd`` whose ``ready`` is the AND of the
    PEs' (``cmd.view(ready=...)`` per PE); the controller offers a command
    for exactly one cycle, when every PE is ready.
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(valid=BIT, ready=BIT, ptr_base=uint(w.ptr_addr), ncols=uint(w.ncols),
                    vec_base=uint(w.vec_addr), acc_base=uint(w.acc_addr), shift=uint(w.shift))


class EntryStream(Interface):
    """Decoded entries (``pe_fetch`` -> the ``pe_lane`` of its PE index in every channel).

    ====== ================== ===================================================
    valid                     an entry (non-zero or filler) this cycle
    vaddr  [clog2(vec_depth)] vector-memory address of its column (vec_base + j)
    aaddr  [clog2(acc_depth)] accumulator address of its row (acc_base + row)
    weight signed [weight]    its weight (0 for a filler)
    shift  [clog2(max_align+1)] left shift of the product
    end                       one-cycle pulse: the command's entries are all out
    ====== ================== ===================================================

    No backpressure: a lane takes one entry per cycle, always.  ``end``
    follows the last entry of a command by one cycle (a command without
    entries still gets its ``end``); commands' entries and ends are in
    command order::

        cycle      n     n+1   n+2   n+3   n+4
        valid      /‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾\\___________
        vaddr..    < e0  >< e1  >< e2  >
        end        ___________________/‾‾‾‾‾\\___
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(valid=BIT, vaddr=uint(w.vec_addr), aaddr=uint(w.acc_addr),
                    weight=sint(w.weight), shift=uint(w.shift), end=BIT)


class PeLoad(Interface):
    """Load port of one PE's memories (loader -> ``pe_fetch``).

    ===== ================================ =======================================
    we                                     write one word this cycle
    sel                                    0: entry memory, 1: pointer memory
    addr  [max(clog2(entry), clog2(ptr))]  word address
    data  [max(entry_bits, ptr value)]     entry ``w << index_bits | gap`` or
                                           pointer (an absolute entry address)
    ===== ================================ =======================================

    One word per cycle with ``we`` (no handshake: the memories always take it)::

        cycle      0     1     2     3
        we         /‾‾‾‾‾‾‾‾‾‾‾\\_____/‾‾‾‾‾
        sel,addr,  < w0  >< w1  >     < w2
        data
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(we=BIT, sel=BIT, addr=uint(w.ld_addr), data=uint(w.ld_data))


class LoadBus(Interface):
    """The loader's PE load bus: :class:`PeLoad` plus the PE it addresses.

    ``pe`` [0 .. n_pe] selects the PE whose ``we`` is raised; the other fields
    go to every PE.  :meth:`for_pe` is PE ``p``'s :class:`PeLoad` given its
    decoded write enable.  Timing as :class:`PeLoad`.
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(we=BIT, pe=upto(cfg.n_pe + 1), sel=BIT, addr=uint(w.ld_addr),
                    data=uint(w.ld_data))

    def for_pe(self, we) -> PeLoad:
        return PeLoad.of(we=we, sel=self.sel, addr=self.addr, data=self.data)


class VecWrite(Interface):
    """Vector-memory write (controller + channels -> every lane of every PE).

    ==== ===================== ==================================================
    we                         write one word into every lane this cycle ...
    addr [clog2(vec_depth)]    ... at this address (the same in every lane) ...
    data [lanes * act_bits]    ... lane k's word (a signed activation's bit
                               pattern) in bits (k+1)*act_bits-1 .. k*act_bits
    ==== ===================== ==================================================

    ``we``/``addr`` come from the controller, ``data`` from the channels' write-back
    registers in the same cycle.  One word per cycle, no handshake; a word is
    read by the lanes (through ``pe_fetch``'s ``avail`` gating) no earlier than
    the cycle after it is written.  Parameter ``lanes`` (default 1)::

        cycle      n     n+1   n+2
        we         /‾‾‾‾‾‾‾‾‾‾‾\\_____
        addr       < a   >< a+1 >
        data       < x_a >< x_a+1 >     (lane k in slice k)
    """

    @staticmethod
    def spec(cfg, lanes=1, **params):
        return dict(we=BIT, addr=uint(widths(cfg).vec_addr), data=uint(lanes * cfg.act_bits))


class Clear(Interface):
    """Accumulator region clear (controller -> every lane).

    ====== === ======================================================================
    valid      one-cycle pulse: clear region ``region``
    region [2] 0, 1: gate banks; 2: projection
    ====== === ======================================================================

    From the cycle after the pulse every row of the region reads as 0 (any
    size, one cycle: row-valid flags, not a sweep).  Never in the cycle an
    entry writes into the same region (the clear would win)::

        cycle      n     n+1
        valid      /‾‾‾‾‾\\_____
        region     < r  >
        acc[r..]         0 from here
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(valid=BIT, region=uint(2))


class Drain(Interface):
    """Accumulator read port (controller -> lanes -> channels).

    ==== ============================ ===============================================
    addr [clog2(acc_depth)]           accumulator address (every lane)
    data (sink) signed [acc_bits]     ``acc[addr]`` of one lane, registered; with
         or [lanes * acc_bits]        ``lanes``: lane k's in bits (k+1)*acc-1 .. k*acc
    ==== ============================ ===============================================

    One-cycle latency; a row reads its final sum when ``addr`` is given in the
    cycle of the command's ``done`` or later::

        cycle      n     n+1
        addr       < a  >
        data             < acc[a] >
    """

    @staticmethod
    def spec(cfg, lanes=None, **params):
        data = sint(cfg.acc_bits) if lanes is None else uint(lanes * cfg.acc_bits)
        return dict(addr=uint(widths(cfg).acc_addr), data=data)


# ---------------------------------------------------------------------------- layer table
class LayerRow(Interface):
    """One row of the loaded layer table (loader -> controller), combinational.

    ========= ======================= ===========================================
    n_in      [0 .. max_cols]         I (layer 0: model input; else P of layer-1)
    n_cells   [0 .. max_cells]        H
    n_out     [0 .. max_proj]         P (= H without projection)
    peep                              peepholes
    proj                              projection
    shift_x   [clog2(max_align+1)]    product shift of W_x
    shift_r   [clog2(max_align+1)]    product shift of W_r
    s_acc     [6]                     accumulator -> pre-activation right shift
    s_p       [6]                     peephole product right shift
    wf_p      [6]                     projection requant shift (W_p's binary point)
    ptr_x     [clog2(ptr_depth)]      pointer base of W_x
    ptr_r     [clog2(ptr_depth)]      pointer base of W_r
    ptr_p     [clog2(ptr_depth)]      pointer base of W_p
    ========= ======================= ===========================================

    The row of the layer the controller selects (``layer_sel``) in the same
    cycle: a table lookup, no handshake; stable while the selection is.
    Fields of the memory image's layer and matrix tables
    (docs/memory-image.md)::

        cycle      n     n+1
        layer_sel  < l  >< l+1 >
        row        < l  >< l+1 >     (combinational)
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(n_in=upto(cfg.max_cols + 1), n_cells=upto(cfg.max_cells + 1),
                    n_out=upto(cfg.max_proj + 1), peep=BIT, proj=BIT,
                    shift_x=uint(w.shift), shift_r=uint(w.shift),
                    s_acc=uint(LAYER_SHIFT_BITS), s_p=uint(LAYER_SHIFT_BITS),
                    wf_p=uint(LAYER_SHIFT_BITS),
                    ptr_x=uint(w.ptr_addr), ptr_r=uint(w.ptr_addr), ptr_p=uint(w.ptr_addr))


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
    """Bias / peephole memory write (loader -> every channel).

    ==== ================ ============================================================
    we                    write one value this cycle
    sel  [3]              0..3: bias of gate i, f, g, o; 4..6: peephole p_i, p_f, p_o
    addr [param addr]     ``layer * max_cells + cell``
    data [16]             the value (the channel keeps its low pre_bits / weight_bits)
    ==== ================ ============================================================

    One value per cycle with ``we``, no handshake (timing as :class:`PeLoad`).
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(we=BIT, sel=uint(3), addr=uint(widths(cfg).param_addr),
                    data=uint(VALUE_BITS))


class StageWrite(Interface):
    """Input staging buffer write (``ctrl_io`` -> every channel).

    ==== ===================== =======================================================
    we                         write one input value this cycle ...
    ch   [clog2(n_ch)+1]       ... into channel ``ch``'s buffer (the others ignore it)
    addr [clog2(max_input)]    ... at this address (the value's index in the frame)
    data [16]                  the value (int16; the channel keeps act_bits)
    ==== ===================== =======================================================

    One value per cycle with ``we``, no handshake.
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(we=BIT, ch=uint(w.stage_ch), addr=uint(w.stage_addr),
                    data=uint(VALUE_BITS))


class StageRead(Interface):
    """Staging buffer read (controller -> every channel): the frame into X0.

    ===== =================== ========================================================
    issue                     read word ``addr`` of the staging buffer
    addr  [clog2(max_input)]
    ===== =================== ========================================================

    The word appears on the channel's write-back (``wb_valid``/``wb_data``) two
    cycles later; one word per cycle::

        cycle      n     n+1   n+2
        issue      /‾‾‾‾‾\\___________
        addr       < a  >
        wb_valid               /‾‾‾‾‾\\     x[a]
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(issue=BIT, addr=uint(widths(cfg).stage_addr))


class EwCtl(Interface):
    """Element-wise pass controls (controller -> every channel).

    ======== ================== =====================================================
    issue                       present cell k this cycle: the PEs read ``drn.addr``
                                (the cell's gate rows), the channel reads biases,
                                peepholes and c_prev at ``prm_addr``
    gsel     [0 .. n_pe-1]      PE of gate i (f, g, o at gsel+1 .. gsel+3)
    prm_addr [param addr]       ``layer * max_cells + k``
    zero_c                      c_prev = 0 (first frame)
    s_acc    [6]                layer constant: accumulator right shift
    s_p      [6]                layer constant: peephole product right shift
    peep                        layer constant: peepholes on
    ======== ================== =====================================================

    One cell per cycle, no handshake; m (and c) come back on the channel's
    write-back ``ew_unit`` latency + 1 cycles later.  The layer constants are
    held for the whole layer::

        cycle      n     n+1   ...  n+15
        issue      /‾‾‾‾‾\\_____
        gsel,prm.. < k   >
        wb_valid                    /‾‾‾‾‾\\     m[k], c[k]
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(issue=BIT, gsel=upto(cfg.n_pe), prm_addr=uint(widths(cfg).param_addr),
                    zero_c=BIT, s_acc=uint(LAYER_SHIFT_BITS), s_p=uint(LAYER_SHIFT_BITS),
                    peep=BIT)


class ProjCtl(Interface):
    """Projection drain controls (controller -> every channel).

    ===== ============= ==============================================================
    issue               drain one projection row: the PEs read ``drn.addr``, the
                        channel takes PE ``sel``'s accumulator into ``requant``
    sel   [0 .. n_pe-1] PE holding the row
    shift [6]           layer constant: requant right shift (W_p's binary point)
    ===== ============= ==============================================================

    One row per cycle; y comes back on the write-back 3 cycles later::

        cycle      n     n+1   n+2   n+3
        issue      /‾‾‾‾‾\\_________________
        sel        < p  >
        wb_valid                     /‾‾‾‾‾\\   y (requantized acc of PE p)
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(issue=BIT, sel=upto(cfg.n_pe), shift=uint(LAYER_SHIFT_BITS))


class WbCtl(Interface):
    """Where a channel's write-back word goes besides the lanes (controller -> channels).

    ====== ================== ========================================================
    c_we                      write the write-back's c into the c memory ...
    c_addr [param addr]       ... at ``layer * max_cells + k``
    o_we                      write the write-back word into the output buffer ...
    o_addr [clog2(max_proj)]  ... at this address
    ====== ================== ========================================================

    Both in the cycle of the channel's ``wb_valid`` (combinational from it)::

        cycle      n
        wb_valid   /‾‾‾‾‾\\
        c_we,o_we  /‾‾‾‾‾\\     (as the pass needs)
        addrs      < k  >
    """

    @staticmethod
    def spec(cfg, **params):
        w = widths(cfg)
        return dict(c_we=BIT, c_addr=uint(w.param_addr), o_we=BIT, o_addr=uint(w.out_addr))


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
    busy, cycles, macs, stalls       (sink)     STATUS.BUSY, counters (live)
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
    "ERR_BITS", "BYTES_BITS"]
