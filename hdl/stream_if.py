"""Widths and interfaces of the stream architecture (docs/architecture.md).

(Draft module of the scaling work; folded into hdl/interfaces.py when it lands.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ese.config import Config, clog2
from ese.model import image as mimage

from .interfaces import BIT, Interface, sint, uint, upto

#: depth of every PE's command FIFO
CMD_FIFO_DEPTH = 4
#: a PE reports "almost full" with this many free places left, so that the
#: controller, which sees the report late, never overfills a FIFO
CMD_FIFO_MARGIN = 2


@dataclass(frozen=True)
class StreamWidths:
    """Derived widths of the PE side of the stream architecture."""

    gate_rows: int      #: GR: local gate rows of one PE
    proj_rows: int      #: PR: local projection rows of one PE
    acc_depth: int      #: accumulator words of one lane: GR + PR (gate region, projection region)
    acc_addr: int       #: accumulator address bits
    entry_addr: int     #: entry-memory address bits
    ptr_value: int      #: an entry address including the end (pointer table values)
    mat: int            #: matrix id bits (pointer table index)
    pos: int            #: stream position bits (modular)
    lag: int            #: bits of a PE's reported lag behind the head, in chunks (saturating)
    slot: int           #: window word address bits (window / bcast_width words)
    sel: int            #: value-in-chunk select bits
    rshift: int         #: row shift bits (0 .. max_row_shift)
    linpos: int         #: linear position bits inside one matrix
    shift: int          #: product left shift bits
    chunk_bits: int     #: bits of one broadcast chunk of one channel
    blk: int            #: gather block select bits (n_pe / (4 * ew_lanes) blocks)
    pe_word: int        #: bytes of one PE word in a load beat (entry or pointer)
    group: int          #: PEs per load beat
    grp: int            #: load group select bits


@lru_cache(maxsize=None)
def stream_widths(cfg: Config) -> StreamWidths:
    gr, pr = cfg.gate_rows_per_pe, cfg.proj_rows_per_pe
    depth = gr + pr
    c = cfg.bcast_width
    max_seg = -(-cfg.max_cols // c) * c
    # positions compared with the head differ by less than 2**(pos-1): a PE is at most
    # (command FIFO + current + one being decoded) segments ahead, a window behind
    span = (CMD_FIFO_DEPTH + 2) * max_seg + cfg.window
    # a PE word in a load beat holds an entry or a pointer (the memory image's format)
    pe_word, group = mimage.pe_word_bytes(cfg), mimage.pe_group(cfg)
    return StreamWidths(
        gate_rows=gr, proj_rows=pr, acc_depth=depth, acc_addr=clog2(depth),
        entry_addr=clog2(cfg.pe_entry_depth), ptr_value=clog2(cfg.pe_entry_depth + 1),
        mat=clog2(cfg.max_matrices), pos=clog2(span) + 1, lag=clog2(cfg.window // c) + 2,
        slot=clog2(cfg.window // c), sel=clog2(c), rshift=clog2(cfg.max_row_shift + 1),
        linpos=cfg.max_row_shift + clog2(cfg.max_cols) + 1,
        shift=clog2(cfg.max_align_shift + 1), chunk_bits=c * cfg.act_bits,
        blk=clog2(cfg.n_pe // (4 * cfg.ew_lanes)), pe_word=pe_word,
        group=group, grp=clog2(-(-cfg.n_pe // group)),
    )


class PeCmdPush(Interface):
    """A matrix command pushed into every PE's command FIFO (controller -> PEs).

    ======== ===================== =================================================
    push                           push this command (the FIFO has room: the
                                   controller watches ``afull``)
    mat      [mat]                 matrix id: index into the PE's pointer table
    base     [pos]                 stream position of the matrix's input segment (a
                                   multiple of bcast_width: pe_fetch keeps the chunk)
    rshift   [rshift]              log2 of the matrix's row stride (model/encode.py)
    acc_base [acc_addr]            accumulator address of local row 0 (0 gates, GR proj)
    shift    [shift]               left shift of every product
    ======== ===================== =================================================

    No handshake: one command per cycle with ``push``; commands reach every PE
    in the same cycle and in the order of the stream segments.
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(push=BIT, mat=uint(w.mat), base=uint(w.pos), rshift=uint(w.rshift),
                    acc_base=uint(w.acc_addr), shift=uint(w.shift))


class Bcast(Interface):
    """One chunk of the activation stream (channels -> every PE's window).

    ===== ======================== ==============================================
    valid                          a chunk this cycle
    pos   [pos]                    stream position of its first value (a multiple
                                   of bcast_width)
    data  [lanes * bcast_width *   lane k's chunk in bits k*C*A .. (k+1)*C*A-1;
          act_bits]                value j of a chunk in bits j*A .. (j+1)*A-1
    ===== ======================== ==============================================

    No handshake; the controller only sends a chunk when every PE's window has
    room for it.  Parameter ``lanes`` (default cfg.n_ch).
    """

    @staticmethod
    def spec(cfg, lanes=None, **params):
        n = cfg.n_ch if lanes is None else lanes
        w = stream_widths(cfg)
        return dict(valid=BIT, pos=uint(w.pos), data=uint(n * w.chunk_bits))


class Entry(Interface):
    """A decoded entry (``pe_fetch`` -> ``pe_lanes``), one per cycle at most.

    ====== ================= =====================================================
    valid                    an entry this cycle
    filler                   a filler (weight 0): no window read, no accumulation
    slot   [slot]            window word of its value (stream position / C mod words)
    sel    [sel]             value of the window word (stream position mod C)
    weight signed [WB+MAS]   its weight, already shifted left by the command's product
                             shift (weight_bits + max_align_shift bits: one DSP input),
                             so every lane's product is aligned without a shifter
    acc    [acc_addr]        accumulator address of its row
    ====== ================= =====================================================

    No backpressure.  The lanes read the window in the cycle of ``valid`` and
    accumulate two cycles later (see pe_lanes).
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(valid=BIT, filler=BIT, slot=uint(w.slot), sel=uint(w.sel),
                    weight=sint(cfg.weight_bits + cfg.max_align_shift), acc=uint(w.acc_addr))


class AccRead(Interface):
    """Read-and-clear port of the accumulators (controller -> PEs -> channels).

    ===== ====================== ===================================================
    valid                        read row ``addr`` and clear it (it reads 0 until
                                 the next accumulation into it)
    addr  [acc_addr]             accumulator address (every lane)
    data  (sink) [lanes * acc]   lane k's sum in bits k*acc .. (k+1)*acc-1, the cycle
                                 after ``valid``, 0 in every other cycle (pe_array
                                 ORs the blocks of PEs)
    ===== ====================== ===================================================
    """

    @staticmethod
    def spec(cfg, lanes=None, **params):
        n = cfg.n_ch if lanes is None else lanes
        return dict(valid=BIT, addr=uint(stream_widths(cfg).acc_addr),
                    data=uint(n * cfg.acc_bits))


class ArrayRead(Interface):
    """Read-and-clear of one accumulator row in every PE, gathered for the channels.

    ===== ============== ===========================================================
    valid                read (and clear) row ``addr`` of every PE
    addr  [acc_addr]     accumulator address
    blk   [blk]          which block of 4*ew_lanes consecutive PEs to gather
    ===== ============== ===========================================================

    The gathered rows come out of the array on a :class:`Gather` a fixed
    number of cycles later (``pe_array.read_latency(cfg)``).
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(valid=BIT, addr=uint(w.acc_addr), blk=uint(w.blk))


class Gather(Interface):
    """Gathered accumulator rows (``pe_array`` -> channels).

    ===== ========================= ====================================================
    valid                           rows of an ``ArrayRead`` issued read_latency(cfg) ago
    data  [n_ch * 4L * acc_bits]    channel c, PE j of the block: bits
                                    (c*4L + j)*acc .. (c*4L + j + 1)*acc - 1
    ===== ========================= ====================================================
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(valid=BIT, data=uint(cfg.n_ch * 4 * cfg.ew_lanes * cfg.acc_bits))


class LagReport(Interface):
    """The PE array's flow-control report (``pe_array`` -> controller).

    ====== ======== ============================================================
    lag    [lag]    the largest lag of any PE (pe_fetch ``lag``) ...
    head   [pos]    ... relative to this head (what the PEs held when they
                    reported; positions only grow, so the report is safe to use late)
    ====== ======== ============================================================

    Every PE still needs positions >= ``head - lag`` (or nothing at all).
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(lag=uint(w.lag), head=uint(w.pos))


class LoadBeat(Interface):
    """The loader's PE load bus: one AXI beat written into a group of PEs.

    ===== ================ ===================================================================
    we                     write this beat
    grp   [grp]            PE group: PEs grp*G .. grp*G + G - 1 (G = words per beat)
    sel                    0: entry memories, 1: pointer tables
    addr  [ld addr]        word address in every PE of the group
    data  [axi_data_bits]  G words of ``pe_word_bytes`` bytes: PE grp*G + j takes word j
    ===== ================ ===================================================================
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(we=BIT, grp=uint(w.grp), sel=BIT,
                    addr=uint(max(w.entry_addr, clog2(cfg.ptr_depth))),
                    data=uint(cfg.axi_data_bits))


class PeWrite(Interface):
    """Load port of one PE (loader -> ``pe_fetch``): entry memory or pointer table.

    ===== ============== ===============================================================
    we                   write one word this cycle
    sel                  0: entry memory, 1: pointer table
    addr  [entry_addr]   word address
    data  [entry bits]   entry ``w << index_bits | gap``, or a pointer (an entry address)
    ===== ============== ===============================================================
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(we=BIT, sel=BIT, addr=uint(max(w.entry_addr, clog2(cfg.ptr_depth))),
                    data=uint(max(cfg.entry_bits, w.ptr_value)))


# ---------------------------------------------------------------------------- channels
def vbuf_layout(cfg: Config) -> dict:
    """Word addresses of the regions of a channel's Y/M vector buffer (values).

    ``Y[l]`` (layer l's y, max_proj values each) then ``M`` (max_cells values);
    every region starts on a multiple of the buffer's bank count.
    """
    b = cfg.vbuf_bank_count
    up = lambda n: -(-n // b) * b  # noqa: E731
    ys = up(cfg.max_proj)
    return {"y": [l * ys for l in range(cfg.max_layers)], "m": cfg.max_layers * ys,
            "depth": cfg.max_layers * ys + up(cfg.max_cells), "y_size": ys}


def x_half(cfg: Config) -> int:
    """Values of one half of a channel's (double-buffered) input buffer X."""
    c = cfg.bcast_width
    return -(-cfg.max_input // c) * c


def out_half(cfg: Config) -> int:
    """Values of one half of a channel's (double-buffered) output buffer."""
    b = cfg.vbuf_bank_count
    return -(-cfg.max_proj // b) * b


class BcRead(Interface):
    """Read one chunk of the activation stream from every channel's buffers.

    ===== =========== ==================================================================
    valid             read a chunk this cycle; it leaves on the channel's ``bc_data``
                      the next cycle
    src               0: the input buffer X (``half``), 1: the Y/M buffer
    half              the X half (frame parity)
    addr  [vaddr]     value address of the chunk's first value (a multiple of bcast_width)
    ===== =========== ==================================================================
    """

    @staticmethod
    def spec(cfg, **params):
        return dict(valid=BIT, src=BIT, half=BIT,
                    addr=uint(clog2(max(vbuf_layout(cfg)["depth"], cfg.max_input))))


class EwStep(Interface):
    """One element-wise step: ``ew_lanes`` cells (controller -> channels).

    ======== ============ ===========================================================
    issue                 the gathered gate rows of cells grp*L .. grp*L+L-1 are on
                          ``gat`` this cycle
    prm      [prm addr]   their parameter word: layer * (max_cells / L) + grp
    zero_c                c_{t-1} = 0 (first frame)
    dst      [vaddr]      Y/M buffer address of the first m of the step
    to_out                also write the m values into the output buffer (last layer,
                          no projection) at ``oaddr``
    oaddr    [oaddr]      output buffer address (half * max_proj + index)
    s_acc, s_p [6], peep  layer constants (held during a pass)
    ======== ============ ===========================================================
    """

    @staticmethod
    def spec(cfg, **params):
        L = cfg.ew_lanes
        return dict(issue=BIT, prm=uint(clog2(cfg.max_layers * cfg.max_cells // L)),
                    zero_c=BIT, dst=uint(len(BcRead(cfg).addr)), to_out=BIT,
                    oaddr=uint(clog2(2 * out_half(cfg))), s_acc=uint(6), s_p=uint(6), peep=BIT)


class PjStep(Interface):
    """One projection drain step: ``drain_lanes`` rows (controller -> channels).

    ====== ========= ==============================================================
    issue            the gathered block holding rows r0 .. r0+D-1 is on ``gat``
    off    [off]     which D-row part of the 4L-row block they are
    dst    [vaddr]   Y buffer address of y[r0]
    to_out           also write them into the output buffer (last layer) ...
    oaddr  [oaddr]   ... at this address
    shift  [6]       requant right shift (W_p's binary point; held during a pass)
    ====== ========= ==============================================================
    """

    @staticmethod
    def spec(cfg, **params):
        nof = max(1, 4 * cfg.ew_lanes // cfg.drain_lanes)
        return dict(issue=BIT, off=uint(clog2(nof)), dst=uint(len(BcRead(cfg).addr)),
                    to_out=BIT, oaddr=uint(clog2(2 * out_half(cfg))), shift=uint(6))


class LayerInfo(Interface):
    """One row of the loaded layer table, as the stream scheduler needs it.

    The loader's layer row plus the first matrix id of the layer (its W_x; W_r
    and W_p follow) and each matrix's row shift (model/encode.py).
    """

    @staticmethod
    def spec(cfg, **params):
        w = stream_widths(cfg)
        return dict(n_in=upto(cfg.max_cols + 1), n_cells=upto(cfg.max_cells + 1),
                    n_out=upto(cfg.max_proj + 1), peep=BIT, proj=BIT,
                    shift_x=uint(w.shift), shift_r=uint(w.shift),
                    s_acc=uint(6), s_p=uint(6), wf_p=uint(6), mat=uint(w.mat),
                    rs_x=uint(w.rshift), rs_r=uint(w.rshift), rs_p=uint(w.rshift))
