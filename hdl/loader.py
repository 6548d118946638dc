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
``layer_table`` / ``layer_checks``, ``matrix_table`` (row shifts, consistency
with the layer table), ``params`` (cell words onto ``pw``), ``pe_beats_out``
(beats onto ``ld``).  A decoder looks at a row's fields as they come, so a
layout may list them in any order.

Pipelined for the clock (one carry chain or a few LUT levels between
flip-flops): a table item goes through an item register (``d_*``) before the
decoders; the layer table is written as its fields come and checked alongside
(a wrong table ends the load anyway); a matrix-table row is checked in the
two cycles after its last field (stage 1: its matrix id from the layer table,
stage 2: the compare and the row shift's write); the verdicts of each table
are registers.  The extent of the region *after* the current one is computed
while the current one is read, a register stage each: the region (N), its
offset and size (A), its end, address and counts less one (B), the compare
with ``image_bytes`` (C); at the end of a region it is copied (``advance``)
and ``ISSUE`` decides from registers.  Everything derived from a table item
holds ``SETTLE`` = 6 cycles after the item is taken, so after a table region
``CHK`` waits for that (``settle``); after a beat region the next extent is
ready long before (``NEXT`` waits otherwise).  The cell words of a bias or
peephole beat are taken straight from ``beat.data`` (no 512-bit beat buffer),
the beat being taken with its last cell word.

Timing: a table item per cycle; a cell word per cycle; a PE beat per cycle,
plus a few cycles per region (request, first word; after a table region the
6 cycles of ``settle``).  Load cycles ~= header and table items + cells of all
layers (biases and peepholes) + PE beats (``groups * pe_rows``) + ~10 per
region + 6 per table region.  Header checks, in this order of
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

    assert MW >= 2, "loader: matrix-table rows of at least 2 words (the row check pipeline)"
    RAB = clog2(max(DEPTH, MAXM + 1) + 1)             # a PE row address (pointer or entry)
    HC = H.bit_length()                                # bits of a cell count
    LT_ITEMS = tuple(n * LW for n in range(LM + 1))  # items of the layer table of n layers
    MT_ITEMS = tuple(n * MW for n in range(MAXM + 1))
    #: ``settle`` is loaded with this at a table item's take (cycle k) and counts down: it
    #: is 0 from k + 7, when everything derived from the item is in registers: the item
    #: register (k + 1), the decoders (the tables' k + 2; the header's k + 3, after its
    #: compares' register), then the derived header fields and the checks between them
    #: (2) and the verdicts (k + 6), and the next region's extent: N, A, B, C (x_over
    #: holds at k + 7)
    SETTLE = 6

    st = enum("IDLE", "ISSUE", "REQ", "ITEMS", "CHK", "BCMD", "PARAM", "NEXT", "PES", "DRAIN")
    rg = enum("HDR", "LT", "MT", "BIAS", "PEEP", "PE")
    state = Signal(st.IDLE)
    cur = Signal(rg.HDR)                     # the region being read
    cur_l = Signal(intbv(0, min=0, max=L + 1))
    pbase = Signal(intbv(0, min=0, max=L * H + 1))    # cur_l * max_cells
    base = Signal(intbv(0)[A:])
    go = Signal(bool(0))                     # a load starts (decoders clear their flags)
    take = Signal(bool(0))                   # a table item is taken this cycle
    req_taken = Signal(bool(0))              # a request is taken by the read port
    bcmd_taken = Signal(bool(0))             # a command is taken by mem_reader
    btake = Signal(bool(0))                  # a beat is taken this cycle
    last = Signal(bool(0))                   # the region's last item is taken
    settle = Signal(intbv(0, min=0, max=SETTLE + 1))   # cycles until the derived registers hold
    advance = Signal(bool(0))                # the next region becomes the current one
    # the next region's extent, a register stage each: N the region, A its offset and size,
    # B its end and address, C the range check
    nx = Signal(rg.LT)
    nx_l = Signal(intbv(0, min=0, max=L + 1))
    x_tab, x_mis, x_over = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    x_off = Signal(intbv(0)[32:])
    x_items = Signal(intbv(0)[NB:])
    x_items_m1 = Signal(modbv(0)[NB:])
    x_beats = Signal(intbv(0)[RB:])
    x_bnz, x_bone = Signal(bool(0)), Signal(bool(0))
    x_cells = Signal(intbv(0)[HC:])
    x_cells_m1 = Signal(modbv(0)[len(x_cells):])
    x_size = Signal(intbv(0)[EB:])
    x_end = Signal(intbv(0)[EB:])
    x_addr = Signal(modbv(0)[A:])
    x_bytes = Signal(modbv(0)[BYTES_BITS:])
    x_row_last = Signal(intbv(0)[5:])
    # the current region's extent (copied from the next one's at ``advance``)
    r_tab, r_mis, r_over = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    r_items = Signal(intbv(0)[NB:])
    r_items_m1 = Signal(modbv(0)[NB:])
    r_beats = Signal(intbv(0)[RB:])
    r_bnz, r_bone = Signal(bool(0)), Signal(bool(0))
    r_cells_m1 = Signal(modbv(0)[len(x_cells):])
    r_addr = Signal(modbv(0)[A:])
    r_bytes = Signal(modbv(0)[BYTES_BITS:])
    r_row_last = Signal(intbv(0)[5:])
    lt_items = Signal(intbv(0)[NB:])         # items of the layer and matrix tables (ROMs)
    mt_items = Signal(intbv(0)[NB:])
    words_left = Signal(intbv(0)[RB:])       # beats of the current command still due
    wl_nz, wl_one = Signal(bool(0)), Signal(bool(0))  # words_left != 0, == 1
    idx = Signal(intbv(0)[NB + 1:])          # item index inside the region
    fld = Signal(intbv(0)[5:])               # field (word) inside a table row
    row = Signal(intbv(0, min=0, max=max(MAXM, L) + 2))   # table row
    # the item register: the decoders see a taken item one cycle later
    d_take = Signal(bool(0))
    d_data = Signal(intbv(0)[32:])
    d_hidx = Signal(intbv(0)[HB:])           # its header word
    d_fld = Signal(intbv(0)[5:])
    d_row = Signal(intbv(0, min=0, max=max(MAXM, L) + 2))

    # header
    exp_v = Signal(intbv(0)[32:])            # ROMs read with the item register: d_hidx's
    chk_v = Signal(intbv(0)[2:])
    # ... its compares, registered (header_compare)
    e_take = Signal(bool(0))
    e_data = Signal(intbv(0)[32:])
    e_hidx = Signal(intbv(0)[HB:])
    e_chk = Signal(intbv(0)[2:])
    e_ne, e_img, e_z = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    e_gt_l, e_gt_m, e_gt_in, e_gt_out, e_gt_d = (Signal(bool(0)) for _ in range(5))
    e_ltake, e_row0, e_ge_m, e_gt_h = (Signal(bool(0)) for _ in range(4))
    e_gt_sh, e_gt_al, e_mis = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    e_fld = Signal(intbv(0)[5:])
    h_bad, h_mism, h_large, h_range = (Signal(bool(0)) for _ in range(4))
    h_cross, h_mis = Signal(bool(0)), Signal(bool(0))
    h_err = Signal(intbv(0)[len(ldr.err):])
    h_image_bytes = Signal(intbv(0)[32:])
    nl = Signal(intbv(0, min=0, max=L + 1))
    nmat = Signal(intbv(0, min=0, max=MAXM + 1))
    lt_off, mt_off, pe_off = (Signal(intbv(0)[32:]) for _ in range(3))
    pe_rows = Signal(intbv(0)[32:])
    pe_beats = Signal(intbv(0)[RB:])         # pe_rows * NGRP
    ent_rows = Signal(intbv(0)[32:])         # entry rows per group: pe_rows - n_matrices - 1
    ent_last = Signal(modbv(0)[RAB:])        # ... - 1
    ent_none = Signal(bool(0))               # ... == 0
    mn_in = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    mn_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    # layer table: one register per layer and field
    # (plain widths, not bounded: a field is written before its check, layer_table)
    t_n_in = [Signal(intbv(0)[MAXC.bit_length():]) for _ in range(LM)]
    t_n_cells = [Signal(intbv(0)[HC:]) for _ in range(LM)]
    t_nb = [Signal(intbv(0)[HC:]) for _ in range(LM)]       # beats of the cells' parameters
    t_n_out = [Signal(intbv(0)[cfg.max_proj.bit_length():]) for _ in range(LM)]
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
    # matrix table: this row's fields (registered, and as of this cycle), the completed
    # row (s_*: its check, stage 1) and the checked row (s2_*: the writes, stage 2)
    m_layer, m_layer_now = Signal(intbv(0)[32:]), Signal(intbv(0)[32:])
    m_kind, m_kind_now = Signal(intbv(0)[32:]), Signal(intbv(0)[32:])
    m_rs, m_rs_now = Signal(intbv(0)[32:]), Signal(intbv(0)[32:])
    s_done, s2_done = Signal(bool(0)), Signal(bool(0))
    s_layer, s_kind, s_rs = (Signal(intbv(0)[32:]) for _ in range(3))
    s_row = Signal(intbv(0, min=0, max=max(MAXM, L) + 2))
    s2_layer = Signal(intbv(0)[LMB:])
    s2_kind = Signal(intbv(0)[2:])
    s2_rs = Signal(intbv(0)[w.rshift:])
    s2_row = Signal(intbv(0, min=0, max=max(MAXM, L) + 2))
    s2_bad = Signal(bool(0))                 # a field out of range
    m_id = Signal(intbv(0)[w.mat + 2:])      # first_matrix + kind of the row's layer
    seen_x = [Signal(bool(0)) for _ in range(LM)]
    seen_r = [Signal(bool(0)) for _ in range(LM)]
    seen_p = [Signal(bool(0)) for _ in range(LM)]
    mt_large, mt_missing = Signal(bool(0)), Signal(bool(0))
    chk_err = Signal(bool(0))                # the table region just read is wrong
    # biases / peepholes: the beat being unpacked
    pidx = Signal(intbv(0, min=0, max=max(CPB, 2)))  # the cell word of the beat on beat.data
    cword = Signal(intbv(0)[CW:])            # ... that word
    p_cell = Signal(intbv(0, min=0, max=H + 1))  # ("cell" is a Verilog keyword)
    pdone = Signal(bool(0))                  # the beat's last cell word: take the beat
    param_last = Signal(bool(0))             # ... and the region's last
    # PE region: group, pointer or entry rows, row address
    grp = Signal(intbv(0, min=0, max=NGRP + 1))
    in_ptr = Signal(bool(1))
    ra = Signal(modbv(0)[RAB:])
    pe_last = Signal(bool(0))
    i_pe_beats = const_mul(clk, rst, pe_rows, pe_beats, NGRP)

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
            beat.ready.next = wl_nz
        elif state == st.PARAM:
            beat.ready.next = wl_nz and pdone
        else:
            beat.ready.next = state == st.DRAIN
        btake.next = beat.valid and (
            (state == st.PES and wl_nz) or state == st.DRAIN or
            (state == st.PARAM and wl_nz and pdone))

    # ---- regions: the next one's extent, a register stage at a time -------------
    @always_seq(clk.posedge, reset=rst)
    def settling():
        if go or take or advance:
            settle.next = SETTLE
        elif settle != 0:
            settle.next = settle - 1

    @always_comb
    def advancing():
        advance.next = settle == 0 and (
            (state == st.CHK and not chk_err) or (state == st.PARAM and param_last) or
            state == st.NEXT)

    @always_seq(clk.posedge, reset=rst)
    def next_region():
        # stage N: the region after the current one
        nx_l.next = cur_l
        if cur == rg.HDR:
            nx.next = rg.LT
        elif cur == rg.LT:
            nx.next = rg.MT
        elif cur == rg.MT:
            nx.next = rg.BIAS
            nx_l.next = 0
        elif cur == rg.BIAS and t_peep[cur_l]:
            nx.next = rg.PEEP
        elif (cur == rg.BIAS or cur == rg.PEEP) and cur_l + 1 < nl:
            nx.next = rg.BIAS
            nx_l.next = cur_l + 1
        else:
            nx.next = rg.PE

    @always_seq(clk.posedge, reset=rst)
    def table_items():
        lt_items.next = LT_ITEMS[int(nl)]

    @always_seq(clk.posedge, reset=rst)
    def matrix_items():
        mt_items.next = MT_ITEMS[int(nmat)]

    @always_seq(clk.posedge, reset=rst)
    def extent_a():
        # stage A: offset, items or beats, bytes
        x_tab.next = nx == rg.LT or nx == rg.MT
        x_items.next = 0
        x_beats.next = 0
        x_cells.next = t_n_cells[nx_l]
        x_size.next = 0
        if nx == rg.LT:
            x_off.next = lt_off
            x_items.next = lt_items
            x_size.next = lt_items << 2
            x_row_last.next = LW - 1
        elif nx == rg.MT:
            x_off.next = mt_off
            x_items.next = mt_items
            x_size.next = mt_items << 2
            x_row_last.next = MW - 1
        elif nx == rg.BIAS:
            x_off.next = t_boff[nx_l]
            x_beats.next = t_nb[nx_l]
            x_size.next = t_nb[nx_l] << LWB
        elif nx == rg.PEEP:
            x_off.next = t_poff[nx_l]
            x_beats.next = t_nb[nx_l]
            x_size.next = t_nb[nx_l] << LWB
        else:
            x_off.next = pe_off
            x_beats.next = pe_beats
            x_size.next = pe_beats << LWB

    @always_seq(clk.posedge, reset=rst)
    def extent_b():
        # stage B: end, address, alignment, counts less one
        x_end.next = x_off + x_size
        x_addr.next = base + x_off
        x_bytes.next = x_beats << LWB
        x_items_m1.next = x_items - 1
        x_cells_m1.next = x_cells - 1
        x_bnz.next = x_beats != 0
        x_bone.next = x_beats == 1
        if x_tab:
            x_mis.next = x_off[2:] != 0
        else:
            x_mis.next = x_off[LWB:] != 0

    @always_seq(clk.posedge, reset=rst)
    def extent_c():
        # stage C: inside the image
        x_over.next = x_end > h_image_bytes

    @always_seq(clk.posedge, reset=rst)
    def region():
        if go:
            # the header: 32-bit items from the image's first byte (its extent is not checked)
            cur.next = rg.HDR
            cur_l.next = 0
            pbase.next = 0
            base.next = image_addr
            r_tab.next = True
            r_mis.next = False
            r_over.next = False
            r_addr.next = image_addr
            r_items.next = HW
            r_items_m1.next = HW - 1
        elif advance:
            cur.next = nx
            cur_l.next = nx_l
            if nx_l != cur_l:
                pbase.next = pbase + H
            r_tab.next = x_tab
            r_mis.next = x_mis
            r_over.next = x_over
            r_addr.next = x_addr
            r_items.next = x_items
            r_items_m1.next = x_items_m1
            r_beats.next = x_beats
            r_bnz.next = x_bnz
            r_bone.next = x_bone
            r_bytes.next = x_bytes
            r_cells_m1.next = x_cells_m1
            r_row_last.next = x_row_last

    @always_comb
    def item_end():
        last.next = take and idx == r_items_m1

    @always_seq(clk.posedge, reset=rst)
    def position():
        if req_taken:
            idx.next = 0
            fld.next = 0
            row.next = 0
        elif take:
            idx.next = idx + 1
            if cur == rg.LT or cur == rg.MT:
                if fld == r_row_last:
                    fld.next = 0
                    row.next = row + 1
                else:
                    fld.next = fld + 1

    @always_seq(clk.posedge, reset=rst)
    def item_reg():
        d_take.next = take
        if take:
            d_data.next = i.data
            d_hidx.next = idx[HB:]
            d_fld.next = fld
            d_row.next = row

    @always_seq(clk.posedge, reset=rst)
    def beats_due():
        if bcmd_taken:
            words_left.next = r_beats
            wl_nz.next = r_bnz
            wl_one.next = r_bone
        elif btake and wl_nz:
            words_left.next = words_left - 1
            wl_nz.next = not wl_one
            wl_one.next = words_left == 2

    # ---- header -------------------------------------------------------------
    @always_seq(clk.posedge, reset=rst)
    def rom_exp():
        exp_v.next = EXP[int(idx[HB:])]

    @always_seq(clk.posedge, reset=rst)
    def rom_chk():
        chk_v.next = CHK[int(idx[HB:])]

    # the compares of a header or layer-table word, registered (32-bit compares are carry
    # chains: they end at flip-flops, and the enables of the header registers and of the
    # layer checks' flags come from flip-flops)
    @always_seq(clk.posedge, reset=rst)
    def header_compare():
        e_take.next = d_take and cur == rg.HDR
        e_ltake.next = d_take and cur == rg.LT
        e_data.next = d_data
        e_hidx.next = d_hidx
        e_fld.next = d_fld
        e_row0.next = d_row == 0
        e_chk.next = chk_v
        e_ne.next = d_data != exp_v
        e_img.next = d_data > image_size
        e_z.next = d_data == 0
        e_gt_l.next = d_data > L
        e_gt_m.next = d_data > MAXM
        e_ge_m.next = d_data >= MAXM
        e_gt_in.next = d_data > cfg.max_input
        e_gt_out.next = d_data > cfg.max_proj
        e_gt_h.next = d_data > H
        e_gt_d.next = d_data > DEPTH
        e_gt_sh.next = d_data > SHIFT_MAX
        e_gt_al.next = d_data > cfg.max_align_shift
        e_mis.next = d_data[LWB:] != 0

    @always_seq(clk.posedge, reset=rst)
    def header():
        if go:
            h_bad.next = False
            h_mism.next = False
            h_large.next = False
            h_range.next = False
            nl.next = 0
            nmat.next = 0
        elif e_take:
            if e_chk == CHECK_FORMAT:
                if e_ne:
                    h_bad.next = True
            elif e_chk == CHECK_FINGERPRINT:
                if e_ne:
                    h_mism.next = True
            if e_hidx == H_IMAGE_BYTES:
                h_image_bytes.next = e_data
                if e_img:
                    h_range.next = True
            elif e_hidx == H_N_LAYERS:
                if e_z or e_gt_l:
                    h_large.next = True
                else:
                    nl.next = e_data[len(nl):]
            elif e_hidx == H_N_MATRICES:
                if e_z or e_gt_m:
                    h_large.next = True
                else:
                    nmat.next = e_data[len(nmat):]
            elif e_hidx == H_N_IN:
                if e_z or e_gt_in:
                    h_large.next = True
                else:
                    mn_in.next = e_data[len(mn_in):]
            elif e_hidx == H_N_OUT:
                if e_z or e_gt_out:
                    h_large.next = True
                else:
                    mn_out.next = e_data[len(mn_out):]
            elif e_hidx == H_LT_OFF:
                lt_off.next = e_data
            elif e_hidx == H_MT_OFF:
                mt_off.next = e_data
            elif e_hidx == H_PE_OFF:
                pe_off.next = e_data
            elif e_hidx == H_PE_ROWS:
                pe_rows.next = e_data
            elif e_hidx == H_MAX_ENTRIES:
                if e_gt_d:
                    h_large.next = True

    @always_seq(clk.posedge, reset=rst)
    def header_rows():
        # entry rows per PE group: the PE rows less the pointer rows
        if pe_rows > nmat:
            ent_rows.next = pe_rows - nmat - 1
        else:
            ent_rows.next = 0
        ent_last.next = ent_rows - 1
        ent_none.next = ent_rows == 0

    @always_seq(clk.posedge, reset=rst)
    def header_cross():
        # checks between fields (the header's order is the layout's): every layer has
        # its 2 or 3 matrices, the PE rows are the pointer rows and at most DEPTH entries
        h_cross.next = (nmat < (nl << 1) or nmat > (nl << 1) + nl or pe_rows <= nmat or
                        ent_rows > DEPTH)
        h_mis.next = lt_off[2:] != 0 or mt_off[2:] != 0 or pe_off[LWB:] != 0

    @always_seq(clk.posedge, reset=rst)
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
        # every field is written as it comes, checked or not (layer_checks): a table that
        # fails its checks ends the load with an error, ``loaded`` low, so what was written
        # does not matter, and the write needs no compare
        if d_take and cur == rg.LT:
            if d_fld == L_N_IN:
                t_n_in[d_row].next = d_data[len(t_n_in[0]):]
            elif d_fld == L_N_CELLS:
                t_n_cells[d_row].next = d_data[HC:]
                t_nb[d_row].next = (d_data[HC:] + (CPB - 1)) >> LCPB
            elif d_fld == L_N_OUT:
                t_n_out[d_row].next = d_data[len(t_n_out[0]):]
            elif d_fld == L_FLAGS:
                t_peep[d_row].next = d_data[PEEP_BIT]
                t_proj[d_row].next = d_data[PROJ_BIT]
            elif d_fld == L_WF_P:
                t_wfp[d_row].next = d_data[LAYER_SHIFT_BITS:]
            elif d_fld == L_SHIFT_X:
                t_shx[d_row].next = d_data[w.shift:]
            elif d_fld == L_SHIFT_R:
                t_shr[d_row].next = d_data[w.shift:]
            elif d_fld == L_S_ACC:
                t_sacc[d_row].next = d_data[LAYER_SHIFT_BITS:]
            elif d_fld == L_S_P:
                t_sp[d_row].next = d_data[LAYER_SHIFT_BITS:]
            elif d_fld == L_BIAS_OFF:
                t_boff[d_row].next = d_data
            elif d_fld == L_PEEP_OFF:
                t_poff[d_row].next = d_data
            elif d_fld == L_FIRST:
                t_mat[d_row].next = d_data[w.mat:]

    @always_seq(clk.posedge, reset=rst)
    def layer_checks():
        if go:
            lt_large.next = False
            lt_mism.next = False
            lt_mis.next = False
        elif e_ltake:
            if e_fld == L_N_IN:
                if (e_row0 and e_gt_in) or (not e_row0 and e_gt_out) or e_z:
                    lt_large.next = True
            elif e_fld == L_N_CELLS or e_fld == L_N_OUT:
                if e_z or (e_fld == L_N_CELLS and e_gt_h) or (e_fld == L_N_OUT and e_gt_out):
                    lt_large.next = True
            elif e_fld == L_WF_P or e_fld == L_S_ACC or e_fld == L_S_P:
                if e_gt_sh:
                    lt_mism.next = True
            elif e_fld == L_SHIFT_X or e_fld == L_SHIFT_R:
                if e_gt_al:
                    lt_mism.next = True
            elif e_fld == L_BIAS_OFF or e_fld == L_PEEP_OFF:
                if e_mis:
                    lt_mis.next = True
            elif e_fld == L_FIRST:
                if e_ge_m:
                    lt_large.next = True

    @always_seq(clk.posedge, reset=rst)
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
        if d_fld == M_LAYER:
            m_layer_now.next = d_data
        else:
            m_layer_now.next = m_layer
        if d_fld == M_KIND:
            m_kind_now.next = d_data
        else:
            m_kind_now.next = m_kind
        if d_fld == M_RSHIFT:
            m_rs_now.next = d_data
        else:
            m_rs_now.next = m_rs

    @always_seq(clk.posedge, reset=rst)
    def matrix_fields():
        s_done.next = False
        if d_take and cur == rg.MT:
            m_layer.next = m_layer_now
            m_kind.next = m_kind_now
            m_rs.next = m_rs_now
            if d_fld == MW - 1:
                # the row is complete: check it in the next two cycles
                s_done.next = True
                s_layer.next = m_layer_now
                s_kind.next = m_kind_now
                s_rs.next = m_rs_now
                s_row.next = d_row

    @always_seq(clk.posedge, reset=rst)
    def matrix_check():
        # stage 1: matrix ``row`` must be kind ``kind`` of layer ``layer``, whose matrices
        # are first_matrix, + 1, + 2 (the PEs' pointer table ids)
        s2_done.next = s_done
        if s_done:
            s2_bad.next = s_layer >= nl or s_kind > KIND_P or s_rs > cfg.max_row_shift
            s2_layer.next = s_layer[LMB:]
            s2_kind.next = s_kind[2:]
            s2_rs.next = s_rs[w.rshift:]
            s2_row.next = s_row
            # the id needs no range check of its own (a 32-bit compare before the
            # adder): a row out of range is bad whatever its id
            if s_layer[LMB:] < LM:
                m_id.next = t_mat[s_layer[LMB:]] + s_kind[2:]
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
        else:
            if d_take and cur == rg.MT and d_fld == M_COLS and d_data > MAXC:
                mt_large.next = True
            if s2_done:
                # stage 2: the row's shift into the layer table
                if s2_bad or m_id != s2_row:
                    mt_large.next = True
                elif s2_kind == KIND_X:
                    t_rsx[s2_layer].next = s2_rs
                    seen_x[s2_layer].next = True
                elif s2_kind == KIND_R:
                    t_rsr[s2_layer].next = s2_rs
                    seen_r[s2_layer].next = True
                else:
                    t_rsp[s2_layer].next = s2_rs
                    seen_p[s2_layer].next = True

    @always_seq(clk.posedge, reset=rst)
    def matrix_verdict():
        # every layer has its W_x and W_r, and its W_p exactly when it has a projection
        miss = False
        for k in range(L):
            if k < nl:
                if not seen_x[k] or not seen_r[k] or seen_p[k] != t_proj[k]:
                    miss = True
        mt_missing.next = miss

    @always_comb
    def table_verdict():
        chk_err.next = (cur == rg.HDR and h_err != 0) or (cur == rg.LT and lt_err != 0) or \
            (cur == rg.MT and (mt_large or mt_missing))

    # ---- biases and peepholes -> every channel, one cell word per cycle ---------------
    @always_comb
    def params_end():
        # the beat is taken with its last cell word (or the region's): no beat buffer
        pdone.next = pidx == CPB - 1 or p_cell == r_cells_m1
        param_last.next = state == st.PARAM and beat.valid and wl_nz and p_cell == r_cells_m1

    @always_comb
    def cell_word():
        cword.next = (beat.data >> (CW * pidx)) & ((1 << CW) - 1)

    @always_seq(clk.posedge, reset=rst)
    def params():
        pw.we.next = False
        if state == st.ISSUE:
            pidx.next = 0
            p_cell.next = 0
        elif state == st.PARAM:
            # one cell word per cycle straight from the beat mem_reader holds on beat.data
            if beat.valid and wl_nz:
                pw.we.next = True
                pw.sel.next = cur == rg.PEEP
                pw.addr.next = pbase + p_cell
                pw.data.next = cword
                p_cell.next = p_cell + 1
                if pdone:
                    pidx.next = 0
                else:
                    pidx.next = pidx + 1
        else:
            pass      # (a complete case: Verilator's CASEINCOMPLETE)

    # ---- PE region -> the PE memories, one beat per cycle -------------------------------
    @always_comb
    def pe_end():
        pe_last.next = state == st.PES and btake and wl_one

    @always_seq(clk.posedge, reset=rst)
    def pe_beats_out():
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
                    if ent_none:
                        grp.next = grp + 1
                    else:
                        in_ptr.next = False
                else:
                    ra.next = ra + 1
            elif ra == ent_last:
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
            if state == st.BCMD or state == st.PARAM or state == st.NEXT or \
                    state == st.PES or state == st.DRAIN:
                state.next = st.DRAIN
            else:
                state.next = st.IDLE
        elif state == st.IDLE:
            if ldr.start:
                ldr.loaded.next = False
                state.next = st.ISSUE
        elif state == st.ISSUE:
            if r_over:
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
            # once every item is decoded and checked (settle): an error, or the next region
            if settle == 0:
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
                    state.next = st.ISSUE
        elif state == st.BCMD:
            if bcmd_taken:
                if cur == rg.PE:
                    state.next = st.PES
                else:
                    state.next = st.PARAM
        elif state == st.PARAM:
            if param_last:
                if settle == 0:
                    state.next = st.ISSUE
                else:
                    state.next = st.NEXT
        elif state == st.NEXT:
            # the next region's extent is still settling (a short region)
            if settle == 0:
                state.next = st.ISSUE
        elif state == st.PES:
            if pe_last:
                ldr.loaded.next = True
                ldr.err.next = 0
                ldr.fin.next = True
                state.next = st.IDLE
        else:   # DRAIN: drop the words still due from mem_reader
            if not wl_nz or (wl_one and beat.valid) or (not m_busy and not beat.valid):
                state.next = st.IDLE

    return (handshakes, beat_side, settling, advancing, next_region, table_items,
            matrix_items, extent_a, extent_b, extent_c, region, item_end, position, item_reg,
            beats_due, rom_exp, rom_chk, header_compare, header, header_rows, header_cross,
            header_verdict,
            layer_table, layer_checks, layer_verdict, layer_row, model_size, matrix_row_now,
            matrix_fields, matrix_check, matrix_table, matrix_verdict, table_verdict,
            params_end, cell_word, params, pe_end, pe_beats_out, i_pe_beats, sequencer)


@block
def const_mul(clk, rst, x, y, k: int):
    """``y`` = ``x * k`` modulo 2**len(y), registered, for a constant ``k`` >= 1: the sum
    of ``x`` shifted by each set bit of ``k`` (adders, never a multiplier block)."""
    assert k >= 1, f"const_mul: k must be >= 1, got {k}"
    KB = k.bit_length()
    W = len(y)

    @always_seq(clk.posedge, reset=rst)
    def mul():
        acc = modbv(0)[W:]
        for b in range(KB):
            if (k >> b) & 1:
                acc[:] = acc + (x << b)
        y.next = acc

    return mul


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
