"""Segment cursor: walks the activation stream's segments in order (model/schedule.py).

Per frame ``t`` and layer ``l`` the slots are

    layer 0:   Wx, Wr, Wp          layer l > 0:   Wr, Wx, Wp

a ``Wr`` slot is skipped at ``t = 0`` and a ``Wp`` slot in a layer without
projection.  The cursor stands on one slot and shows what it is; ``adv``
moves it to the next slot (skipped slots are shown with ``skip`` and must be
advanced over too: one cycle each).  ``pos`` is the stream position of the
current segment; advancing over a real segment adds its padded length.

Ports
-----
clk, rst      clock; synchronous active-high reset
start         restart at frame 0, layer 0, slot 0, position 0
adv           move to the next slot
frames        T;  n_layers: the model's layers
n_in, n_cells, n_out, proj    lists (max_layers) of the loaded layer table
done          out: the cursor is past the last frame (t == frames)
t, l          out: frame and layer of the slot
kind          out: 0 Wx, 1 Wr, 2 Wp
skip          out: the slot is not a segment (Wr at t = 0, Wp without projection)
ncols, length out: the segment's values and its length padded to bcast_width
pos           out: the segment's stream position (modular)
last_gate     out: the slot is the last gate segment of (l, t)

Parameters
----------
cfg           ese.config.Config
"""

from myhdl import Signal, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2

from .stream_if import stream_widths

WX, WR, WP = 0, 1, 2


@block
def seg_cursor(clk, rst, start, adv, frames, n_layers, n_in, n_cells, n_out, proj,
               done, t, l, kind, skip, ncols, length, pos, last_gate, cfg: Config):
    w = stream_widths(cfg)
    C = cfg.bcast_width
    CSH = C.bit_length() - 1
    L = cfg.max_layers
    k = Signal(intbv(0, min=0, max=3))
    nc = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
    npad = Signal(intbv(0)[len(length):])
    li = Signal(intbv(0, min=0, max=max(L, 2)))
    p_in = Signal(intbv(0, min=0, max=cfg.max_cols + 1))
    p_cells = Signal(intbv(0, min=0, max=cfg.max_cells + 1))
    p_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    p_proj = Signal(bool(0))

    @always_comb
    def layer_index():
        li.next = l if l < L else 0

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
        if k == 2:
            kind.next = WP
        elif (k == 0) == (l == 0):
            kind.next = WX
        else:
            kind.next = WR

    @always_comb
    def slot_size():
        if kind == WX:
            nc.next = p_in
        elif kind == WR:
            nc.next = p_out
        else:
            nc.next = p_cells

    @always_comb
    def slot_flags():
        skip.next = (kind == WR and t == 0) or (kind == WP and not p_proj)
        last_gate.next = (kind == WR and l == 0) or (kind == WX and (l != 0 or t == 0))
        done.next = t >= frames

    @always_comb
    def padded():
        npad.next = ((nc + C - 1) >> CSH) << CSH

    @always_comb
    def outs():
        ncols.next = nc
        length.next = npad

    @always_seq(clk.posedge, reset=rst)
    def walk():
        if start:
            t.next = 0
            l.next = 0
            k.next = 0
            pos.next = 0
        elif adv:
            if not skip:
                pos.next = pos + npad
            if k == 2:
                k.next = 0
                if l + 1 >= n_layers:
                    l.next = 0
                    t.next = t + 1
                else:
                    l.next = l + 1
            else:
                k.next = k + 1

    return (layer_index, row_in, row_cells, row_out, row_proj, slot_kind, slot_size, slot_flags,
            padded, outs, walk)
