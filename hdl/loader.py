"""Model loader: reads the memory image (docs/memory-image.md, format 2) from DDR.

On ``ldr.start`` the loader walks the image region by region, in image order:

* the **header**, the **layer table** and the **matrix table** through the read
  port (``hdl/rdport.py``), one 32-bit item per cycle, checking every field
  against the configuration as it arrives;
* every layer's **biases** and **peepholes** straight from ``mem_reader``'s
  word stream (its *beat port*, ``bcmd``/``beat``): one cell word (4 int16)
  per cycle onto ``pw``, into every channel;
* the **PE region** straight from ``mem_reader``: one AXI beat per cycle onto
  the PE load bus ``ld`` (``LoadBeat``), which writes the words of one beat
  into the ``pe_group`` PEs of a group at once: pointer rows into the pointer
  tables, entry rows into the entry memories.

It keeps the layer table (sizes, flags, shifts, each layer's first matrix id
and the row shifts of its matrices from the matrix table), which the
scheduler reads through ``lsel``/``lrow``.  The LUT region is not read: the
tables are ROMs built from the configuration, and the header fingerprint
(lut_bits and ranges) guarantees they are the image's.

Where every field sits (header word, row word, row and region sizes, the
fingerprint, the PE group) comes from ``model/image.py`` at elaboration: its
``Layout`` (the standard one by default, or ``layout``) and its functions;
nothing here knows a word number.

Ports (interfaces: hdl/interfaces.py, hdl/stream_if.py)
-----
clk, rst            clock; synchronous active-high reset
ldr                 ``LoaderCtl``: ``ldr.start`` 1-cycle pulse: load the image at
                    ``image_addr``; ``ldr.busy`` loading (or draining after a cancel);
                    ``ldr.fin`` 1-cycle pulse at the end of a load, ``ldr.err`` its code
                    (0 = loaded, else BAD_MAGIC, CONFIG_MISMATCH, MODEL_TOO_LARGE,
                    MISALIGNED or ADDR_RANGE of ``ese/regmap.py``); ``ldr.loaded`` a model
                    is loaded (cleared by ``start`` and by a cancel while loading)
cancel              1: stop at once (the controller saw an AXI error); words still due
                    on the beat port are drained (``busy`` until then)
image_addr [A]      byte address of the image (aligned: checked by the controller)
image_size [32]     bytes available at ``image_addr`` (the header's image_bytes must fit)
req, i              ``ReadReq`` / ``ItemStream``: client side of ``rdport`` (32-bit items)
bcmd, beat          ``MemCmd`` / ``WordStream``: the beat port, ``mem_reader``'s command
                    and words while ``bsel`` is high
bsel                out: the beat port owns ``mem_reader`` (the top's mux); raised only
                    while the read port is idle
m_busy              ``mem_reader`` busy (ends a drain)
ld                  ``LoadBeat``: one beat into the PEs of group ``ld.grp``
pw                  ``ParamWrite``: one cell word (``pw.sel`` 0 biases, 1 peepholes) at
                    ``layer*max_cells + cell``, every channel
n_layers, m_n_in, m_n_out   the model's layer count, input and output widths
lsel                layer whose table row is shown on ``lrow`` (combinational)
lrow                ``LayerInfo``: that row

Parameters
----------
cfg                 ese.config.Config (axi_data_bits >= 64: a beat holds whole cell words)
layout              ``model.image.Layout`` of the images to read (default: the standard one)

Structure: a sequencer walks the regions; per region it checks the extent
(``ISSUE``: inside ``image_bytes`` -> else ADDR_RANGE; table offsets a
multiple of 4, beat regions of the beat -> else MISALIGNED), issues one read
request or one ``mem_reader`` command, and hands the data to the region's
decoder: ``header`` (format and fingerprint checks, sizes and offsets),
``layer_table``, ``matrix_table`` (row shifts, consistency with the layer
table), ``params`` (cell words onto ``pw``), ``pe_beats`` (beats onto
``ld``).  A decoder looks at a row's fields as they come, so a layout may
list them in any order.

Timing: a table item per cycle; a cell word per cycle; a PE beat per cycle,
plus a few cycles per region (request, first word).  Load cycles ~= header
and table items + cells of all layers (biases and peepholes) + PE beats
(``groups * pe_rows``) + ~10 per region.  Header checks, in this order of
priority: magic/version/header size -> BAD_MAGIC; a fingerprint field
(n_pe, widths, fracs, LUT, word sizes, PE group) differs -> CONFIG_MISMATCH;
layers, matrices, widths or PE rows beyond the configuration -> MODEL_TOO_LARGE;
a table or PE-region offset misaligned -> MISALIGNED; image_bytes > image_size
-> ADDR_RANGE.  The layer table (sizes, first matrix -> MODEL_TOO_LARGE,
shifts -> CONFIG_MISMATCH, bias/peephole offsets -> MISALIGNED) and the matrix
table (columns, row shifts, rows that do not match the layer table ->
MODEL_TOO_LARGE) are checked before anything of the next region is read.
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv, modbv

from ese.config import Config, clog2
from ese.model import image as mimage
from ese.regmap import ERR

from .interfaces import (LAYER_SHIFT_BITS, BYTES_BITS, ItemStream, LoaderCtl, MemCmd,
                         ParamWrite, ReadReq, WordStream, clock_reset, uint, upto)
from .stream_if import LayerInfo, LoadBeat, stream_widths

MAGIC = int.from_bytes(mimage.MAGIC, "little")
ERR_BAD_MAGIC, ERR_MISMATCH, ERR_TOO_LARGE, ERR_MISALIGNED, ERR_ADDR_RANGE = (
    ERR[n] for n in ("BAD_MAGIC", "CONFIG_MISMATCH", "MODEL_TOO_LARGE", "MISALIGNED",
                     "ADDR_RANGE"))
#: header word checks: the image format (-> BAD_MAGIC), the configuration (-> CONFIG_MISMATCH)
CHECK_FORMAT, CHECK_FINGERPRINT = 2, 1


def fingerprint(cfg: Config, layout: mimage.Layout = mimage.STANDARD_LAYOUT) -> tuple:
    """(check, expected value) per header word: CHECK_FORMAT, CHECK_FINGERPRINT or 0."""
    n = len(layout.header)
    chk, exp = [0] * n, [0] * n
    fmt = {"magic": MAGIC, "version": mimage.FORMAT_VERSION,
           "header_bytes": mimage.HEADER_BYTES}
    for kind, fields in ((CHECK_FORMAT, fmt), (CHECK_FINGERPRINT, mimage.config_fingerprint(cfg))):
        for f, v in fields.items():
            i = layout.header.index(f)
            chk[i], exp[i] = kind, int(v)
    return tuple(chk), tuple(exp)


@block
def loader(clk, rst, ldr, cancel, image_addr, image_size, req, i, bcmd, beat, bsel, m_busy,
           ld, pw, n_layers, m_n_in, m_n_out, lsel, lrow, cfg: Config,
           layout: mimage.Layout = mimage.STANDARD_LAYOUT):
    A = cfg.axi_addr_bits
    DW = cfg.axi_data_bits
    L, H = cfg.max_layers, cfg.max_cells
    LM = max(L, 2)                                     # table entries (index signals >= 1 bit)
    LMB = clog2(LM)
    w = stream_widths(cfg)
    assert len(image_addr) == A, "loader: image_addr must be axi_addr_bits wide"
    for cls, obj, name in ((LoaderCtl, ldr, "ldr"), (ReadReq, req, "req"), (ItemStream, i, "i"),
                           (MemCmd, bcmd, "bcmd"), (WordStream, beat, "beat"),
                           (LoadBeat, ld, "ld"), (ParamWrite, pw, "pw"), (LayerInfo, lrow, "lrow")):
        cls.check(obj, cfg, f"loader {name}")
    assert mimage.value_word_bytes(cfg) == 2, \
        "loader: bias/peephole values must be 16-bit (pre/weight/act bits <= 16)"
    assert DW >= 64, f"loader: axi_data_bits must be >= 64 (a beat holds whole 64-bit cell " \
        f"words), got {DW}"

    # ---- the image format, from model/image.py -------------------------------
    WB = mimage.beat_bytes(cfg)                       # bytes per beat
    LWB = clog2(WB)
    CWB = mimage.cell_word_bytes(cfg)                 # bytes per cell word (8)
    CW = 8 * CWB
    assert CW == len(pw.data)
    CPB = WB // CWB                                   # cell words per beat
    LCPB = clog2(CPB) if CPB > 1 else 0
    NGRP = mimage.pe_groups(cfg)                      # PE groups (beats of G PEs)
    DEPTH = cfg.pe_entry_depth
    MAXM = cfg.max_matrices
    HW = len(layout.header)                           # words of the header
    LW = len(layout.layer)                            # words of a layer-table row
    MW = len(layout.matrix)                           # words of a matrix-table row
    # word of each field the loader decodes: in the header, or in its table row
    hdr, lrw, mrw = (getattr(layout, t).index for t in ("header", "layer", "matrix"))
    H_IMAGE_BYTES, H_N_LAYERS, H_N_MATRICES = (hdr(f) for f in (
        "image_bytes", "n_layers", "n_matrices"))
    H_N_IN, H_N_OUT = hdr("n_in"), hdr("n_out")
    H_LT_OFF, H_MT_OFF, H_PE_OFF = (hdr(f) for f in (
        "layer_table_offset", "matrix_table_offset", "pe_offset"))
    H_MAX_ENTRIES, H_PE_ROWS = hdr("max_entries_per_pe"), hdr("pe_rows")
    L_N_IN, L_N_CELLS, L_N_OUT, L_FLAGS = (lrw(f) for f in ("n_in", "n_cells", "n_out", "flags"))
    L_SHIFT_X, L_SHIFT_R, L_S_ACC, L_S_P, L_WF_P = (lrw(f) for f in (
        "shift_x", "shift_r", "s_acc", "s_p", "wf_p"))
    L_BIAS_OFF, L_PEEP_OFF, L_FIRST = lrw("bias_offset"), lrw("peep_offset"), lrw("first_matrix")
    M_LAYER, M_KIND, M_COLS, M_RSHIFT = (mrw(f) for f in ("layer", "kind", "cols", "row_shift"))
    PEEP_BIT = mimage.FLAG_PEEPHOLE.bit_length() - 1
    PROJ_BIT = mimage.FLAG_PROJECTION.bit_length() - 1
    KIND_X, KIND_R, KIND_P = (mimage.KINDS.index(k) for k in ("Wx", "Wr", "Wp"))
    SHIFT_MAX = (1 << LAYER_SHIFT_BITS) - 1
    HB = clog2(HW)
    CHK, EXP = fingerprint(cfg, layout)
    CHK += (0,) * ((1 << HB) - HW)                   # ROMs of 2**HB words
    EXP += (0,) * ((1 << HB) - HW)
    assert LW <= 32 and MW <= 32, "loader: table rows of at most 32 words (fld is 5 bits)"
    NB = len(req.n)
    MAXC = cfg.max_cols
    # beats of the largest region: the PE region of a full memory
    MAX_BEATS = max(NGRP * (DEPTH + MAXM + 1), -(-H // CPB))
    assert MAX_BEATS * WB < (1 << BYTES_BITS), \
        f"loader: the PE region ({MAX_BEATS} beats) does not fit a {BYTES_BITS}-bit byte count"
    RB = 32 + clog2(NGRP) + 1                         # beats of a region (from 32-bit fields)
    EB = RB + LWB + 2                                 # byte extents (offset + bytes)

    st = enum("IDLE", "ISSUE", "REQ", "ITEMS", "CHK", "BCMD", "PARAM", "PES", "DRAIN")
    rg = enum("HDR", "LT", "MT", "BIAS", "PEEP", "PE")
    state = Signal(st.IDLE)
    cur = Signal(rg.HDR)                     # the region being read
    nxt = Signal(rg.HDR)                     # the region after it
    cur_l = Signal(intbv(0, min=0, max=L + 1))
    nxt_l = Signal(intbv(0, min=0, max=L + 1))
    pbase = Signal(intbv(0, min=0, max=L * H + 1))    # cur_l * max_cells
    base = Signal(intbv(0)[A:])
    go = Signal(bool(0))                     # a load starts (decoders clear their flags)
    take = Signal(bool(0))                   # a table item is taken this cycle
    req_taken = Signal(bool(0))              # a request is taken by the read port
    bcmd_taken = Signal(bool(0))             # a command is taken by mem_reader
    btake = Signal(bool(0))                  # a beat is taken this cycle
    last = Signal(bool(0))                   # the region's last item is taken
    # the current region's extent
    r_off = Signal(intbv(0)[32:])
    r_items = Signal(intbv(0)[NB:])
    r_beats = Signal(intbv(0)[RB:])
    r_end = Signal(intbv(0)[EB:])
    r_tab = Signal(bool(0))                  # a table region (items), else beats
    r_mis = Signal(bool(0))
    r_addr = Signal(modbv(0)[A:])            # its AXI address
    r_bytes = Signal(modbv(0)[BYTES_BITS:])  # a beat region's bytes (< 2**32 when it fits)
    words_left = Signal(intbv(0)[RB:])       # beats of the current command still due
    idx = Signal(intbv(0)[NB + 1:])          # item index inside the region
    fld = Signal(intbv(0)[5:])               # field (word) inside a table row
    row_last = Signal(intbv(0)[5:])          # the last field of a row of this region
    row = Signal(intbv(0, min=0, max=max(MAXM, L) + 2))   # table row

    # header
    exp_v = Signal(intbv(0)[32:])
    chk_v = Signal(intbv(0)[2:])
    h_bad, h_mism, h_large, h_range = (Signal(bool(0)) for _ in range(4))
    h_cross, h_mis = Signal(bool(0)), Signal(bool(0))
    h_err = Signal(intbv(0)[len(ldr.err):])
    h_image_bytes = Signal(intbv(0)[32:])
    nl = Signal(intbv(0, min=0, max=L + 1))
    nmat = Signal(intbv(0, min=0, max=MAXM + 1))
    lt_off, mt_off, pe_off = (Signal(intbv(0)[32:]) for _ in range(3))
    pe_rows = Signal(intbv(0)[32:])
    ent_rows = Signal(intbv(0)[32:])         # entry rows per group: pe_rows - n_matrices - 1
    mn_in = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    mn_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    # layer table: one register per layer and field
    t_n_in = [Signal(intbv(0, min=0, max=MAXC + 1)) for _ in range(LM)]
    t_n_cells = [Signal(intbv(0, min=0, max=H + 1)) for _ in range(LM)]
    t_n_out = [Signal(intbv(0, min=0, max=cfg.max_proj + 1)) for _ in range(LM)]
    t_peep = [Signal(bool(0)) for _ in range(LM)]
    t_proj = [Signal(bool(0)) for _ in range(LM)]
    t_shx = [Signal(intbv(0)[w.shift:]) for _ in range(LM)]
    t_shr = [Signal(intbv(0)[w.shift:]) for _ in range(LM)]
    t_sacc = [Signal(intbv(0)[LAYER_SHIFT_BITS:]) for _ in range(LM)]
    t_sp = [Signal(intbv(0)[LAYER_SHIFT_BITS:]) for _ in range(LM)]
    t_wfp = [Signal(intbv(0)[LAYER_SHIFT_BITS:]) for _ in range(LM)]
    t_boff = [Signal(intbv(0)[32:]) for _ in range(LM)]
    t_poff = [Signal(intbv(0)[32:]) for _ in range(LM)]
    t_mat = [Signal(intbv(0)[w.mat:]) for _ in range(LM)]
    t_rsx = [Signal(intbv(0)[w.rshift:]) for _ in range(LM)]
    t_rsr = [Signal(intbv(0)[w.rshift:]) for _ in range(LM)]
    t_rsp = [Signal(intbv(0)[w.rshift:]) for _ in range(LM)]
    lt_large, lt_mism, lt_mis = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    lt_err = Signal(intbv(0)[len(ldr.err):])
    # matrix table: this row's fields (registered, and as of this cycle)
    m_layer, m_layer_now = Signal(intbv(0)[32:]), Signal(intbv(0)[32:])
    m_kind, m_kind_now = Signal(intbv(0)[32:]), Signal(intbv(0)[32:])
    m_rs, m_rs_now = Signal(intbv(0)[32:]), Signal(intbv(0)[32:])
    m_id = Signal(intbv(0)[w.mat + 2:])       # first_matrix + kind of this row's layer
    seen_x = [Signal(bool(0)) for _ in range(LM)]
    seen_r = [Signal(bool(0)) for _ in range(LM)]
    seen_p = [Signal(bool(0)) for _ in range(LM)]
    mt_large, mt_missing = Signal(bool(0)), Signal(bool(0))
    # biases / peepholes: the beat being unpacked
    pbuf = Signal(intbv(0)[DW:])
    pv = Signal(bool(0))                     # pbuf holds cell words still to write
    pidx = Signal(intbv(0, min=0, max=CPB + 1))
    p_cell = Signal(intbv(0, min=0, max=H + 1))  # ("cell" is a Verilog keyword)
    pdone = Signal(bool(0))                  # pbuf's last cell word is written this cycle
    param_last = Signal(bool(0))             # ... and the region's last
    # PE region: group, pointer or entry rows, row address
    grp = Signal(intbv(0, min=0, max=NGRP + 1))
    in_ptr = Signal(bool(1))
    ra = Signal(intbv(0)[32:])
    pe_last = Signal(bool(0))

    # ---- handshakes ------------------------------------------------------------
    @always_comb
    def handshakes():
        i.ready.next = state == st.ITEMS
        take.next = i.valid and state == st.ITEMS
        req_taken.next = state == st.REQ and req.valid and req.ready
        go.next = state == st.IDLE and ldr.start and not cancel
        ldr.busy.next = state != st.IDLE
        req.wide.next = True
        bsel.next = (state == st.BCMD or state == st.PARAM or state == st.PES or
                     state == st.DRAIN)
        # mem_reader is handed over only once the read port has no word in flight
        bcmd.valid.next = state == st.BCMD and req.ready
        bcmd_taken.next = state == st.BCMD and req.ready and bcmd.ready

    @always_comb
    def beat_side():
        if state == st.PES:
            beat.ready.next = words_left != 0
        elif state == st.PARAM:
            beat.ready.next = words_left != 0 and (not pv or pdone)
        else:
            beat.ready.next = state == st.DRAIN
        btake.next = beat.valid and (
            (state == st.PES and words_left != 0) or state == st.DRAIN or
            (state == st.PARAM and words_left != 0 and (not pv or pdone)))

    # ---- regions: extent of the current one, which comes next -------------------
    @always_comb
    def extent():
        r_tab.next = cur == rg.HDR or cur == rg.LT or cur == rg.MT
        r_items.next = 0
        r_beats.next = 0
        if cur == rg.HDR:
            r_off.next = 0
            r_items.next = HW
        elif cur == rg.LT:
            r_off.next = lt_off
            r_items.next = nl * LW
        elif cur == rg.MT:
            r_off.next = mt_off
            r_items.next = nmat * MW
        elif cur == rg.BIAS:
            r_off.next = t_boff[cur_l]
            r_beats.next = (t_n_cells[cur_l] + CPB - 1) >> LCPB
        elif cur == rg.PEEP:
            r_off.next = t_poff[cur_l]
            r_beats.next = (t_n_cells[cur_l] + CPB - 1) >> LCPB
        else:
            r_off.next = pe_off
            r_beats.next = pe_rows * NGRP

    @always_comb
    def extent_checks():
        r_addr.next = base + r_off
        r_bytes.next = r_beats << LWB
        if r_tab:
            r_end.next = r_off + (r_items << 2)
            r_mis.next = r_off[2:] != 0
        else:
            r_end.next = r_off + (r_beats << LWB)
            r_mis.next = r_off[LWB:] != 0

    @always_comb
    def next_region():
        nxt_l.next = cur_l
        if cur == rg.HDR:
            nxt.next = rg.LT
        elif cur == rg.LT:
            nxt.next = rg.MT
        elif cur == rg.MT:
            nxt.next = rg.BIAS
            nxt_l.next = 0
        elif cur == rg.BIAS and t_peep[cur_l]:
            nxt.next = rg.PEEP
        elif (cur == rg.BIAS or cur == rg.PEEP) and cur_l + 1 < nl:
            nxt.next = rg.BIAS
            nxt_l.next = cur_l + 1
        else:
            nxt.next = rg.PE

    @always_comb
    def item_end():
        last.next = take and idx + 1 == r_items
        if cur == rg.LT:
            row_last.next = LW - 1
        else:
            row_last.next = MW - 1

    @always_seq(clk.posedge, reset=rst)
    def position():
        if req_taken:
            idx.next = 0
            fld.next = 0
            row.next = 0
        elif take:
            idx.next = idx + 1
            if cur == rg.LT or cur == rg.MT:
                if fld == row_last:
                    fld.next = 0
                    row.next = row + 1
                else:
                    fld.next = fld + 1

    @always_seq(clk.posedge, reset=rst)
    def beats_due():
        if bcmd_taken:
            words_left.next = r_beats
        elif btake and words_left != 0:
            words_left.next = words_left - 1

    # ---- header -------------------------------------------------------------
    @always_comb
    def rom_exp():
        exp_v.next = EXP[int(idx[HB:])]

    @always_comb
    def rom_chk():
        chk_v.next = CHK[int(idx[HB:])]

    @always_seq(clk.posedge, reset=rst)
    def header():
        if go:
            h_bad.next = False
            h_mism.next = False
            h_large.next = False
            h_range.next = False
            nl.next = 0
            nmat.next = 0
        elif take and cur == rg.HDR:
            if chk_v == CHECK_FORMAT:
                if i.data != exp_v:
                    h_bad.next = True
            elif chk_v == CHECK_FINGERPRINT:
                if i.data != exp_v:
                    h_mism.next = True
            if idx == H_IMAGE_BYTES:
                h_image_bytes.next = i.data
                if i.data > image_size:
                    h_range.next = True
            elif idx == H_N_LAYERS:
                if i.data == 0 or i.data > L:
                    h_large.next = True
                else:
                    nl.next = i.data
            elif idx == H_N_MATRICES:
                if i.data == 0 or i.data > MAXM:
                    h_large.next = True
                else:
                    nmat.next = i.data
            elif idx == H_N_IN:
                if i.data == 0 or i.data > cfg.max_input:
                    h_large.next = True
                else:
                    mn_in.next = i.data
            elif idx == H_N_OUT:
                if i.data == 0 or i.data > cfg.max_proj:
                    h_large.next = True
                else:
                    mn_out.next = i.data
            elif idx == H_LT_OFF:
                lt_off.next = i.data
            elif idx == H_MT_OFF:
                mt_off.next = i.data
            elif idx == H_PE_OFF:
                pe_off.next = i.data
            elif idx == H_PE_ROWS:
                pe_rows.next = i.data
            elif idx == H_MAX_ENTRIES:
                if i.data > DEPTH:
                    h_large.next = True

    @always_comb
    def header_cross():
        # checks between fields (the header's order is the layout's): every layer has
        # its 2 or 3 matrices, the PE rows are the pointer rows and at most DEPTH entries
        if pe_rows > nmat:
            ent_rows.next = pe_rows - nmat - 1
        else:
            ent_rows.next = 0
        h_cross.next = (nmat < 2 * nl or nmat > 3 * nl or pe_rows <= nmat or
                        pe_rows - nmat - 1 > DEPTH)
        h_mis.next = lt_off[2:] != 0 or mt_off[2:] != 0 or pe_off[LWB:] != 0

    @always_comb
    def header_verdict():
        if h_bad:
            h_err.next = ERR_BAD_MAGIC
        elif h_mism:
            h_err.next = ERR_MISMATCH
        elif h_large or h_cross:
            h_err.next = ERR_TOO_LARGE
        elif h_mis:
            h_err.next = ERR_MISALIGNED
        elif h_range:
            h_err.next = ERR_ADDR_RANGE
        else:
            h_err.next = 0

    # ---- layer table ------------------------------------------------------------
    @always_seq(clk.posedge, reset=rst)
    def layer_table():
        if go:
            lt_large.next = False
            lt_mism.next = False
            lt_mis.next = False
        elif take and cur == rg.LT:
            if fld == L_N_IN:
                if (row == 0 and i.data > cfg.max_input) or \
                        (row != 0 and i.data > cfg.max_proj) or i.data == 0:
                    lt_large.next = True
                else:
                    t_n_in[row].next = i.data
            elif fld == L_N_CELLS:
                if i.data == 0 or i.data > H:
                    lt_large.next = True
                else:
                    t_n_cells[row].next = i.data
            elif fld == L_N_OUT:
                if i.data == 0 or i.data > cfg.max_proj:
                    lt_large.next = True
                else:
                    t_n_out[row].next = i.data
            elif fld == L_FLAGS:
                t_peep[row].next = i.data[PEEP_BIT]
                t_proj[row].next = i.data[PROJ_BIT]
            elif fld == L_WF_P:
                if i.data > SHIFT_MAX:
                    lt_mism.next = True
                else:
                    t_wfp[row].next = i.data
            elif fld == L_SHIFT_X:
                if i.data > cfg.max_align_shift:
                    lt_mism.next = True
                else:
                    t_shx[row].next = i.data
            elif fld == L_SHIFT_R:
                if i.data > cfg.max_align_shift:
                    lt_mism.next = True
                else:
                    t_shr[row].next = i.data
            elif fld == L_S_ACC:
                if i.data > SHIFT_MAX:
                    lt_mism.next = True
                else:
                    t_sacc[row].next = i.data
            elif fld == L_S_P:
                if i.data > SHIFT_MAX:
                    lt_mism.next = True
                else:
                    t_sp[row].next = i.data
            elif fld == L_BIAS_OFF:
                t_boff[row].next = i.data
                if i.data[LWB:] != 0:
                    lt_mis.next = True
            elif fld == L_PEEP_OFF:
                t_poff[row].next = i.data
                if i.data[LWB:] != 0:
                    lt_mis.next = True
            elif fld == L_FIRST:
                if i.data >= MAXM:
                    lt_large.next = True
                else:
                    t_mat[row].next = i.data

    @always_comb
    def layer_verdict():
        if lt_large:
            lt_err.next = ERR_TOO_LARGE
        elif lt_mism:
            lt_err.next = ERR_MISMATCH
        elif lt_mis:
            lt_err.next = ERR_MISALIGNED
        else:
            lt_err.next = 0

    @always_comb
    def layer_row():
        lrow.n_in.next = t_n_in[lsel]
        lrow.n_cells.next = t_n_cells[lsel]
        lrow.n_out.next = t_n_out[lsel]
        lrow.peep.next = t_peep[lsel]
        lrow.proj.next = t_proj[lsel]
        lrow.shift_x.next = t_shx[lsel]
        lrow.shift_r.next = t_shr[lsel]
        lrow.s_acc.next = t_sacc[lsel]
        lrow.s_p.next = t_sp[lsel]
        lrow.wf_p.next = t_wfp[lsel]
        lrow.mat.next = t_mat[lsel]
        lrow.rs_x.next = t_rsx[lsel]
        lrow.rs_r.next = t_rsr[lsel]
        lrow.rs_p.next = t_rsp[lsel]

    @always_comb
    def model_size():
        n_layers.next = nl
        m_n_in.next = mn_in
        m_n_out.next = mn_out

    # ---- matrix table: each layer's row shifts, the rows against the layer table ---
    @always_comb
    def matrix_row_now():
        # a row's fields may come in any order: the one arriving now counts too
        if fld == M_LAYER:
            m_layer_now.next = i.data
        else:
            m_layer_now.next = m_layer
        if fld == M_KIND:
            m_kind_now.next = i.data
        else:
            m_kind_now.next = m_kind
        if fld == M_RSHIFT:
            m_rs_now.next = i.data
        else:
            m_rs_now.next = m_rs

    @always_comb
    def matrix_id():
        if m_layer_now < nl and m_kind_now <= KIND_P:
            m_id.next = t_mat[m_layer_now[LMB:]] + m_kind_now[2:]
        else:
            m_id.next = 0

    @always_seq(clk.posedge, reset=rst)
    def matrix_table():
        if go:
            mt_large.next = False
            for k in range(LM):
                seen_x[k].next = False
                seen_r[k].next = False
                seen_p[k].next = False
        elif take and cur == rg.MT:
            m_layer.next = m_layer_now
            m_kind.next = m_kind_now
            m_rs.next = m_rs_now
            if fld == M_COLS and i.data > MAXC:
                mt_large.next = True
            if fld == MW - 1:
                # the row is complete: matrix ``row`` is kind ``kind`` of layer ``layer``,
                # whose matrices are first_matrix, + 1, + 2 (the PEs' pointer table ids)
                if m_layer_now >= nl or m_kind_now > KIND_P or m_id != row or \
                        m_rs_now > cfg.max_row_shift:
                    mt_large.next = True
                elif m_kind_now == KIND_X:
                    t_rsx[m_layer_now[LMB:]].next = m_rs_now[w.rshift:]
                    seen_x[m_layer_now[LMB:]].next = True
                elif m_kind_now == KIND_R:
                    t_rsr[m_layer_now[LMB:]].next = m_rs_now[w.rshift:]
                    seen_r[m_layer_now[LMB:]].next = True
                else:
                    t_rsp[m_layer_now[LMB:]].next = m_rs_now[w.rshift:]
                    seen_p[m_layer_now[LMB:]].next = True

    @always_comb
    def matrix_verdict():
        # every layer has its W_x and W_r, and its W_p exactly when it has a projection
        miss = False
        for k in range(L):
            if k < nl:
                if not seen_x[k] or not seen_r[k] or seen_p[k] != t_proj[k]:
                    miss = True
        mt_missing.next = miss

    # ---- biases and peepholes -> every channel, one cell word per cycle ---------------
    @always_comb
    def params_end():
        pdone.next = pv and (pidx == CPB - 1 or p_cell + 1 == t_n_cells[cur_l])
        param_last.next = state == st.PARAM and pv and p_cell + 1 == t_n_cells[cur_l]

    @always_seq(clk.posedge, reset=rst)
    def params():
        pw.we.next = False
        if state == st.ISSUE:
            pv.next = False
            pidx.next = 0
            p_cell.next = 0
        elif state == st.PARAM:
            if pv:
                pw.we.next = True
                pw.sel.next = cur == rg.PEEP
                pw.addr.next = pbase + p_cell
                pw.data.next = pbuf[CW:]
                p_cell.next = p_cell + 1
                pbuf.next = pbuf >> CW
                pidx.next = pidx + 1
                if pdone:
                    pv.next = False
            if btake:
                pbuf.next = beat.data
                pv.next = True
                pidx.next = 0
        else:
            pass      # (a complete case: Verilator's CASEINCOMPLETE)

    # ---- PE region -> the PE memories, one beat per cycle -------------------------------
    @always_comb
    def pe_end():
        pe_last.next = state == st.PES and btake and words_left == 1

    @always_seq(clk.posedge, reset=rst)
    def pe_beats():
        ld.we.next = False
        if state == st.ISSUE:
            grp.next = 0
            in_ptr.next = True
            ra.next = 0
        elif state == st.PES and btake:
            ld.we.next = True
            ld.grp.next = grp
            ld.sel.next = in_ptr
            ld.addr.next = ra[len(ld.addr):]
            ld.data.next = beat.data
            if in_ptr:
                # pointer rows 0 .. n_matrices, then the entry rows of the group
                if ra == nmat:
                    ra.next = 0
                    if ent_rows == 0:
                        grp.next = grp + 1
                    else:
                        in_ptr.next = False
                else:
                    ra.next = ra + 1
            elif ra + 1 == ent_rows:
                ra.next = 0
                in_ptr.next = True
                grp.next = grp + 1
            else:
                ra.next = ra + 1

    # ---- sequencer: one request per region, the checks between them ----------------------
    @always_seq(clk.posedge, reset=rst)
    def sequencer():
        ldr.fin.next = False
        req.valid.next = False
        if cancel:
            # an error during a load loses the model; one during a run keeps it
            if state != st.IDLE:
                ldr.loaded.next = False
            if state == st.BCMD or state == st.PARAM or state == st.PES or \
                    state == st.DRAIN:
                state.next = st.DRAIN
            else:
                state.next = st.IDLE
        elif state == st.IDLE:
            if ldr.start:
                ldr.loaded.next = False
                base.next = image_addr
                cur.next = rg.HDR
                cur_l.next = 0
                pbase.next = 0
                state.next = st.ISSUE
        elif state == st.ISSUE:
            if cur != rg.HDR and r_end > h_image_bytes:
                ldr.err.next = ERR_ADDR_RANGE
                ldr.fin.next = True
                state.next = st.IDLE
            elif r_mis:
                ldr.err.next = ERR_MISALIGNED
                ldr.fin.next = True
                state.next = st.IDLE
            elif r_tab:
                req.addr.next = r_addr
                req.n.next = r_items
                req.valid.next = True
                state.next = st.REQ
            else:
                bcmd.addr.next = r_addr
                bcmd.bytes.next = r_bytes
                state.next = st.BCMD
        elif state == st.REQ:
            # the request is held until the read port takes it
            if req_taken:
                state.next = st.ITEMS
            else:
                req.valid.next = True
        elif state == st.ITEMS:
            if last:
                state.next = st.CHK
        elif state == st.CHK:
            if cur == rg.HDR and h_err != 0:
                ldr.err.next = h_err
                ldr.fin.next = True
                state.next = st.IDLE
            elif cur == rg.LT and lt_err != 0:
                ldr.err.next = lt_err
                ldr.fin.next = True
                state.next = st.IDLE
            elif cur == rg.MT and (mt_large or mt_missing):
                ldr.err.next = ERR_TOO_LARGE
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                cur.next = nxt
                cur_l.next = nxt_l
                state.next = st.ISSUE
        elif state == st.BCMD:
            if bcmd_taken:
                if cur == rg.PE:
                    state.next = st.PES
                else:
                    state.next = st.PARAM
        elif state == st.PARAM:
            if param_last:
                if nxt_l != cur_l:
                    pbase.next = pbase + H
                cur.next = nxt
                cur_l.next = nxt_l
                state.next = st.ISSUE
        elif state == st.PES:
            if pe_last:
                ldr.loaded.next = True
                ldr.err.next = 0
                ldr.fin.next = True
                state.next = st.IDLE
        else:   # DRAIN: drop the words still due from mem_reader
            if words_left == 0 or (words_left == 1 and beat.valid) or \
                    (not m_busy and not beat.valid):
                state.next = st.IDLE

    return (handshakes, beat_side, extent, extent_checks, next_region, item_end, position,
            beats_due, rom_exp, rom_chk, header, header_cross, header_verdict, layer_table,
            layer_verdict, layer_row, model_size, matrix_row_now, matrix_id, matrix_table,
            matrix_verdict, params_end, params, pe_end, pe_beats, sequencer)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``loader``."""
    L = cfg.max_layers
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), ldr=LoaderCtl(cfg), cancel=b(),
                image_addr=uint(cfg.axi_addr_bits).signal(), image_size=uint(32).signal(),
                req=ReadReq(cfg), i=ItemStream(cfg), bcmd=MemCmd(cfg), beat=WordStream(cfg),
                bsel=b(), m_busy=b(), ld=LoadBeat(cfg), pw=ParamWrite(cfg),
                n_layers=upto(L + 1).signal(), m_n_in=upto(cfg.max_input + 1).signal(),
                m_n_out=upto(cfg.max_proj + 1).signal(),
                lsel=upto(max(L, 2)).signal(), lrow=LayerInfo(cfg))


def top(cfg: Config, layout: mimage.Layout = mimage.STANDARD_LAYOUT):
    """``loader`` on fresh port signals."""
    return loader(**ports(cfg), cfg=cfg, layout=layout)


@block
def read_mux(bsel, rp_cmd, rp_m, bcmd, beat, mr_cmd, mr_o):
    """mem_reader shared by the read port and the loader's beat port (``bsel``: the loader).

    ``rp_cmd``/``rp_m``: the read port's ``MemCmd`` and ``WordStream``; ``bcmd``/``beat``:
    the loader's; ``mr_cmd``/``mr_o``: mem_reader's command and words (``last`` not used).
    Combinational; the loader raises ``bsel`` only while the read port is idle and keeps
    it until the words of its command are all taken (or drained).
    """

    @always_comb
    def mux():
        if bsel:
            mr_cmd.valid.next = bcmd.valid
            mr_cmd.addr.next = bcmd.addr
            mr_cmd.bytes.next = bcmd.bytes
            mr_o.ready.next = beat.ready
        else:
            mr_cmd.valid.next = rp_cmd.valid
            mr_cmd.addr.next = rp_cmd.addr
            mr_cmd.bytes.next = rp_cmd.bytes
            mr_o.ready.next = rp_m.ready
        bcmd.ready.next = bsel and mr_cmd.ready
        rp_cmd.ready.next = not bsel and mr_cmd.ready
        beat.valid.next = bsel and mr_o.valid
        rp_m.valid.next = not bsel and mr_o.valid
        beat.data.next = mr_o.data
        rp_m.data.next = mr_o.data

    return mux
