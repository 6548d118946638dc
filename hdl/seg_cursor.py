"""Segment cursor: walks the activation stream's segments in order (model/schedule.py).

Per frame ``t`` and layer ``l`` the slots are

    layer 0:   Wx, Wr, Wp          layer l > 0:   Wr, Wx, Wp

a ``Wr`` slot is skipped at ``t = 0`` and a ``Wp`` slot in a layer without
projection.  The cursor stands on one slot and shows what it is; ``adv``
moves it to the next slot (skipped slots are shown with ``skip`` and must be
advanced over too: one cycle each).  ``pos`` is the stream position of the
current segment; advancing over a real segment adds its padded length.

Every output is a register, for the current slot (``cur``), the next one (``nxt``,
the slot ``adv`` moves to) and the one after it (``nn``): the cursor keeps four
slots in flight, three described in registers and the fourth by its frame,
layer, slot index and position, whose description is computed from those
registers (the layer table lookups, the padding) and loaded into ``nn`` on
``adv``.  So a user decides from flip-flops, also about the slots ahead.

Besides the slot itself, the cursor describes what the segment reads (its
*source*): ``isx`` the input x (W_x of layer 0), ``ism`` m of its own layer
(W_p), else y of layer ``src`` (W_x of layer l > 0: l - 1; W_r: l) of frame
``tneed`` (W_r: t - 1, else t); and its first chunk: ``need1`` values of the
source must exist for it (min(bcast_width, ncols)), ``last1`` it is the
segment's only chunk.

Ports
-----
clk, rst      clock; synchronous active-high reset
start         restart at frame 0, layer 0, slot 0, position 0; ``ready`` rises three
              cycles later (the slots are loaded)
adv           move to the next slot (only while ``ready``)
frames        T;  n_layers: the model's layers
n_in, n_cells, n_out, proj    lists (max_layers) of the loaded layer table
ready         out: the outputs show a slot
done          out: the cursor is past the last frame (t == frames)
t, l          out: frame and layer of the slot
kind          out: 0 Wx, 1 Wr, 2 Wp
skip          out: the slot is not a segment (Wr at t = 0, Wp without projection)
ncols, length out: the segment's values and its length padded to bcast_width
pos           out: the segment's stream position (modular)
last_gate     out: the slot is the last gate segment of (l, t)
src, tneed, isx, ism, need1, last1    out: its source and first chunk (above)
nxt, nn       out: the same of the next slot and of the one after it

Parameters
----------
cfg           ese.config.Config
"""

from myhdl import Signal, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2

WX, WR, WP = 0, 1, 2


class Slot:
    """The outputs of a seg_cursor for one slot (current or next): a bundle of signals."""

    def __init__(self, cfg: Config, t_bits: int, pos_bits: int):
        C, L = cfg.bcast_width, cfg.max_layers
        self.done, self.skip, self.last_gate = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
        self.isx, self.ism, self.last1 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
        self.t = Signal(intbv(0)[t_bits:])
        self.tneed = Signal(modbv(0)[t_bits:])
        self.l = Signal(intbv(0, min=0, max=L + 1))
        self.src = Signal(intbv(0, min=0, max=max(L, 2)))
        self.kind = Signal(intbv(0, min=0, max=3))
        self.ncols = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
        self.need1 = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
        self.length = Signal(intbv(0)[clog2(cfg.max_cols + C + 1):])
        self.pos = Signal(modbv(0)[pos_bits:])


@block
def seg_cursor(clk, rst, start, adv, frames, n_layers, n_in, n_cells, n_out, proj, ready,
               cur, nxt, nn, cfg: Config):
    """``cur``, ``nxt``, ``nn``: :class:`Slot` bundles of output signals (the current slot,
    the next and the one after it)."""
    C = cfg.bcast_width
    CSH = C.bit_length() - 1
    L = cfg.max_layers
    LM = max(L, 2)
    NCB = len(cur.ncols)
    # the slot after the next one: coordinates in registers, description combinational
    n_t = Signal(intbv(0)[len(cur.t):])
    n_l = Signal(intbv(0, min=0, max=L + 1))
    n_k = Signal(intbv(0, min=0, max=3))
    v = Slot(cfg, len(cur.t), len(cur.pos))       # its description
    li = Signal(intbv(0, min=0, max=LM))
    p_in = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
    p_cells = Signal(intbv(0, min=0, max=cfg.max_cells + 1))
    p_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    p_proj = Signal(bool(0))
    fill = Signal(intbv(0, min=0, max=4))  # slots loaded since start (ready at 3)

    @always_comb
    def layer_index():
        li.next = n_l if n_l < L else 0

    @always_comb
    def row_in():
        p_in.next = n_in[li]

    @always_comb
    def row_cells():
        p_cells.next = n_cells[li]

    @always_comb
    def row_out():
        p_out.next = n_out[li]

    @always_comb
    def row_proj():
        p_proj.next = proj[li]

    @always_comb
    def slot_kind():
        # layer 0: Wx, Wr, Wp; deeper layers: Wr, Wx, Wp
        if n_k == 2:
            v.kind.next = WP
        elif (n_k == 0) == (n_l == 0):
            v.kind.next = WX
        else:
            v.kind.next = WR

    @always_comb
    def slot_size():
        if v.kind == WX:
            v.ncols.next = p_in
        elif v.kind == WR:
            v.ncols.next = p_out
        else:
            v.ncols.next = p_cells

    @always_comb
    def slot_flags():
        v.skip.next = (v.kind == WR and n_t == 0) or (v.kind == WP and not p_proj)
        v.last_gate.next = (v.kind == WR and n_l == 0) or (v.kind == WX and (n_l != 0 or n_t == 0))
        v.done.next = n_t >= frames
        v.t.next = n_t
        v.l.next = n_l

    @always_comb
    def slot_pos():
        # the fourth slot starts where the third ends (slot 0 at 0)
        if fill == 0:
            v.pos.next = 0
        elif nn.skip:
            v.pos.next = nn.pos
        else:
            v.pos.next = nn.pos + nn.length

    @always_comb
    def padded():
        v.length.next = ((v.ncols + C - 1) >> CSH) << CSH

    @always_comb
    def slot_source():
        v.isx.next = v.kind == WX and n_l == 0
        v.ism.next = v.kind == WP
        if v.kind == WX and n_l > 0:
            v.src.next = n_l - 1
        else:
            v.src.next = li
        if v.kind == WR:
            v.tneed.next = n_t - 1
        else:
            v.tneed.next = n_t
        # C is a power of two: ncols >= C is a test of the bits above log2(C), and
        # length <= C  <=>  ncols <= C (no wait for the padding's carry chain)
        if v.ncols[NCB:CSH] != 0:
            v.need1.next = C
        else:
            v.need1.next = v.ncols
        v.last1.next = v.ncols[NCB:CSH] == 0 or v.ncols == C

    @always_seq(clk.posedge, reset=rst)
    def walk():
        if start:
            n_t.next = 0
            n_l.next = 0
            n_k.next = 0
            fill.next = 0
            ready.next = False
        elif adv or fill < 3:
            # every slot moves up one: cur <- nxt <- nn <- the fourth slot's description
            if fill < 3:
                fill.next = fill + 1
            ready.next = fill >= 2
            cur.done.next = nxt.done
            cur.t.next = nxt.t
            cur.l.next = nxt.l
            cur.kind.next = nxt.kind
            cur.skip.next = nxt.skip
            cur.ncols.next = nxt.ncols
            cur.length.next = nxt.length
            cur.pos.next = nxt.pos
            cur.last_gate.next = nxt.last_gate
            cur.src.next = nxt.src
            cur.tneed.next = nxt.tneed
            cur.isx.next = nxt.isx
            cur.ism.next = nxt.ism
            cur.need1.next = nxt.need1
            cur.last1.next = nxt.last1
            nxt.done.next = nn.done
            nxt.t.next = nn.t
            nxt.l.next = nn.l
            nxt.kind.next = nn.kind
            nxt.skip.next = nn.skip
            nxt.ncols.next = nn.ncols
            nxt.length.next = nn.length
            nxt.pos.next = nn.pos
            nxt.last_gate.next = nn.last_gate
            nxt.src.next = nn.src
            nxt.tneed.next = nn.tneed
            nxt.isx.next = nn.isx
            nxt.ism.next = nn.ism
            nxt.need1.next = nn.need1
            nxt.last1.next = nn.last1
            nn.done.next = v.done
            nn.t.next = v.t
            nn.l.next = v.l
            nn.kind.next = v.kind
            nn.skip.next = v.skip
            nn.ncols.next = v.ncols
            nn.length.next = v.length
            nn.pos.next = v.pos
            nn.last_gate.next = v.last_gate
            nn.src.next = v.src
            nn.tneed.next = v.tneed
            nn.isx.next = v.isx
            nn.ism.next = v.ism
            nn.need1.next = v.need1
            nn.last1.next = v.last1
            if n_k == 2:
                n_k.next = 0
                if n_l + 1 >= n_layers:
                    n_l.next = 0
                    n_t.next = n_t + 1
                else:
                    n_l.next = n_l + 1
            else:
                n_k.next = n_k + 1

    return (layer_index, row_in, row_cells, row_out, row_proj, slot_kind, slot_size, slot_flags,
            slot_pos, padded, slot_source, walk)
