"""Model loader: reads the memory image (docs/memory-image.md) from DDR.

On ``ldr.start`` it reads, through the read port (``hdl/rdport.py``), region
by region in image order: the header (checked against the configuration),
the layer table, the matrix table, every layer's biases and peepholes, then
for every PE its directory row, entries and column pointers.  It fills the
PE memories (load bus ``ld``), the channels' bias/peephole memories (``pw``)
and its own layer table, which the controller reads through ``layer_sel``.
The LUT region is not read: the tables are ROMs built from the
configuration, and the header fingerprint (lut_bits and ranges) guarantees
they are the image's.

Where every field sits (header word, row word, row and region sizes) comes
from ``model/image.py`` at elaboration: its ``Layout`` (the standard one by
default, or another one given as ``layout``) and its constants; nothing here
knows a word number.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst            clock; synchronous active-high reset
ldr                 ``LoaderCtl``: ``ldr.start`` 1-cycle pulse: load the image at
                    ``image_addr``; ``ldr.busy`` loading; ``ldr.fin`` 1-cycle pulse at the
                    end of a load, ``ldr.err`` its code (0 = loaded, else BAD_MAGIC,
                    CONFIG_MISMATCH, MODEL_TOO_LARGE or ADDR_RANGE of ``ese/regmap.py``);
                    ``ldr.loaded`` a model is loaded (cleared by ``start`` and by a cancel
                    while loading)
cancel              1: stop at once (the controller saw an AXI error)
image_addr [A]      byte address of the image (aligned: checked by the controller)
image_size [32]     bytes available at ``image_addr`` (the header's image_bytes must fit)
req, i              ``ReadReq`` / ``ItemStream``: client side of ``rdport``
ld                  ``LoadBus``: PE memory write, PE ``ld.pe``; ``ld.sel`` 0 entries,
                    1 pointers
pw                  ``ParamWrite``: bias/peephole memory write (all channels): ``pw.sel``
                    0..3 bias of gate i,f,g,o, 4..6 peephole p_i,p_f,p_o; address
                    ``layer*max_cells + cell``; ``pw.data`` the 16-bit value
n_layers, m_n_in, m_n_out   the model's layer count, input and output widths
layer_sel           layer whose table row is shown on ``layer`` (combinational)
layer               ``LayerRow``: that row (sizes, flags, shifts, pointer bases of W_x,
                    W_r, W_p)

Parameters
----------
cfg                 ese.config.Config
layout              ``model.image.Layout`` of the images to read (default: the standard one)

Structure: a sequencer walks the regions (one read request each) and checks
the header and tables; per region a decoder takes the items: ``header`` (format
and fingerprint checks, sizes and offsets), ``layer_table``, ``matrix_table``
(the pointer bases of each layer's matrices), ``params`` (biases and
peepholes onto ``pw``), ``pe_dir`` and ``pe_memories`` (entries and pointers
onto ``ld``).  A decoder looks at a row's fields as they come, so a layout
may list them in any order.

Timing: one item per cycle from the read port; a load takes about
(image bytes)/2 cycles plus a few per region.  Header checks (in this order
of priority): magic/version/header size -> BAD_MAGIC; a fingerprint field
(n_pe, widths, fracs, LUT, word sizes) differs -> CONFIG_MISMATCH; layers,
matrices, widths, entries or pointers beyond the configuration (or no matrix)
-> MODEL_TOO_LARGE; image_bytes > image_size -> ADDR_RANGE.  The layer table
(sizes -> MODEL_TOO_LARGE, shifts -> CONFIG_MISMATCH), the matrix table
(columns) and each PE's directory row (entries, pointers) are checked as they
arrive, before anything of the next region is read.
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config, clog2
from ese.model import image as mimage
from ese.regmap import ERR

from .interfaces import (LAYER_SHIFT_BITS, ItemStream, LayerRow, LoadBus, LoaderCtl, ParamWrite,
                         ReadReq, clock_reset, uint, upto, widths)

MAGIC = int.from_bytes(mimage.MAGIC, "little")
ERR_BAD_MAGIC, ERR_MISMATCH, ERR_TOO_LARGE, ERR_ADDR_RANGE = (
    ERR[n] for n in ("BAD_MAGIC", "CONFIG_MISMATCH", "MODEL_TOO_LARGE", "ADDR_RANGE"))
#: header word checks: the image format (-> BAD_MAGIC), the configuration (-> CONFIG_MISMATCH)
CHECK_FORMAT, CHECK_FINGERPRINT = 2, 1


def fingerprint(cfg: Config, layout: mimage.Layout = mimage.STANDARD_LAYOUT) -> tuple:
    """(check, expected value) per header word: CHECK_FORMAT, CHECK_FINGERPRINT or 0."""
    n = len(layout.header)
    chk, exp = [0] * n, [0] * n
    fmt = {"magic": MAGIC, "version": mimage.FORMAT_VERSION,
           "header_bytes": mimage.HEADER_BYTES}
    conf = {"entry_word_bytes": mimage.entry_word_bytes(cfg),
            "ptr_word_bytes": mimage.ptr_word_bytes(cfg),
            "value_word_bytes": mimage.value_word_bytes(cfg),
            **{f: getattr(cfg, f) for f in mimage.CONFIG_HEADER_FIELDS}}
    for kind, fields in ((CHECK_FORMAT, fmt), (CHECK_FINGERPRINT, conf)):
        for f, v in fields.items():
            i = layout.header.index(f)
            chk[i], exp[i] = kind, int(v)
    return tuple(chk), tuple(exp)


@block
def loader(clk, rst, ldr, cancel, image_addr, image_size, req, i, ld, pw,
           n_layers, m_n_in, m_n_out, layer_sel, layer, cfg: Config,
           layout: mimage.Layout = mimage.STANDARD_LAYOUT):
    A = cfg.axi_addr_bits
    L, H = cfg.max_layers, cfg.max_cells
    NPE = cfg.n_pe
    W = widths(cfg)
    assert len(image_addr) == A, "loader: image_addr must be axi_addr_bits wide"
    for cls, obj, name in ((LoaderCtl, ldr, "ldr"), (ReadReq, req, "req"), (ItemStream, i, "i"),
                           (LoadBus, ld, "ld"), (ParamWrite, pw, "pw"), (LayerRow, layer, "layer")):
        cls.check(obj, cfg, f"loader {name}")
    assert mimage.value_word_bytes(cfg) == 2, \
        "loader: bias/peephole values must be 16-bit (pre/weight/act bits <= 16)"

    # ---- the image format, from model/image.py -------------------------------
    ENT_WIDE = mimage.entry_word_bytes(cfg) == 4      # 32-bit items (else 16-bit)
    PTR_WIDE = mimage.ptr_word_bytes(cfg) == 4
    HW = len(layout.header)                           # words of the header
    LW = len(layout.layer)                            # words of a layer-table row
    MW = len(layout.matrix)                           # words of a matrix-table row
    PW = len(layout.pe)                               # words of a PE-directory row
    PE_ROW = mimage.PE_ROW_BYTES
    GATES, PEEPS = mimage.BIAS_PER_CELL, mimage.PEEP_PER_CELL
    MAX_MATRICES = len(mimage.KINDS) * L
    # word of each field the loader decodes: in the header, or in its table row
    hdr, lrow, mrow, prow = (getattr(layout, t).index for t in ("header", "layer", "matrix", "pe"))
    H_IMAGE_BYTES, H_N_LAYERS, H_N_MATRICES = (hdr(f) for f in (
        "image_bytes", "n_layers", "n_matrices"))
    H_N_IN, H_N_OUT = hdr("n_in"), hdr("n_out")
    H_LT_OFF, H_MT_OFF, H_PD_OFF = (hdr(f) for f in (
        "layer_table_offset", "matrix_table_offset", "pe_dir_offset"))
    H_MAX_ENTRIES, H_MAX_PTRS = hdr("max_entries_per_pe"), hdr("max_ptrs_per_pe")
    L_N_IN, L_N_CELLS, L_N_OUT, L_FLAGS = (lrow(f) for f in ("n_in", "n_cells", "n_out", "flags"))
    L_SHIFT_X, L_SHIFT_R, L_S_ACC, L_S_P, L_WF_P = (lrow(f) for f in (
        "shift_x", "shift_r", "s_acc", "s_p", "wf_p"))
    L_BIAS_OFF, L_PEEP_OFF = lrow("bias_offset"), lrow("peep_offset")
    M_LAYER, M_KIND, M_COLS, M_PTR_BASE = (mrow(f) for f in ("layer", "kind", "cols", "ptr_base"))
    P_EOFF, P_NE, P_POFF, P_NP = (prow(f) for f in (
        "entries_offset", "n_entries", "ptrs_offset", "n_ptrs"))
    PEEP_BIT = mimage.FLAG_PEEPHOLE.bit_length() - 1
    PROJ_BIT = mimage.FLAG_PROJECTION.bit_length() - 1
    KIND_X, KIND_R = mimage.KINDS.index("Wx"), mimage.KINDS.index("Wr")
    SHIFT_MAX = (1 << LAYER_SHIFT_BITS) - 1
    HB = clog2(HW)
    CHK, EXP = fingerprint(cfg, layout)
    CHK += (0,) * ((1 << HB) - HW)                   # ROMs of 2**HB words
    EXP += (0,) * ((1 << HB) - HW)
    assert LW <= 32 and MW <= 32, "loader: table rows of at most 32 words (fld is 5 bits)"
    NB = len(req.n)
    PA = W.ptr_addr
    MAXC = cfg.max_cols
    LDB, LAB = len(ld.data), len(ld.addr)

    st = enum("IDLE", "REQ", "HDR", "HCHK", "LT", "LCHK", "MT", "MCHK", "BIAS", "PEEP",
              "DIR", "ENT", "PTR", "NEXT")
    state = Signal(st.IDLE)
    after = Signal(st.HDR)                   # the region a pending request reads
    go = Signal(bool(0))                     # a load starts (decoders clear their flags)
    take = Signal(bool(0))                   # an item is taken this cycle
    req_taken = Signal(bool(0))              # a request is taken by the read port
    last = Signal(bool(0))                   # ... and it is the region's last item
    region_len = Signal(intbv(0)[32:])
    idx = Signal(intbv(0)[NB + 1:])          # item index inside the region
    fld = Signal(intbv(0)[5:])               # field (word) inside a table row
    row_last = Signal(intbv(0)[5:])          # the last field of a row of this region
    row = Signal(intbv(0)[8:])               # table row
    base = Signal(intbv(0)[A:])
    cur_l = Signal(intbv(0, min=0, max=L + 1))
    pbase = Signal(intbv(0, min=0, max=L * H + 1))    # cur_l * max_cells
    pe = Signal(intbv(0, min=0, max=NPE + 1))

    # header
    exp_v = Signal(intbv(0)[32:])
    chk_v = Signal(intbv(0)[2:])
    h_bad, h_mism, h_large, h_range = (Signal(bool(0)) for _ in range(4))
    h_err = Signal(intbv(0)[len(ldr.err):])
    nl = Signal(intbv(0, min=0, max=L + 1))
    nmat = Signal(intbv(0)[8:])
    lt_off, mt_off, pd_off = (Signal(intbv(0)[32:]) for _ in range(3))
    mn_in = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    mn_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    # layer table: one register per layer and field
    t_n_in = [Signal(intbv(0, min=0, max=MAXC + 1)) for _ in range(L)]
    t_n_cells = [Signal(intbv(0, min=0, max=H + 1)) for _ in range(L)]
    t_n_out = [Signal(intbv(0, min=0, max=cfg.max_proj + 1)) for _ in range(L)]
    t_peep = [Signal(bool(0)) for _ in range(L)]
    t_proj = [Signal(bool(0)) for _ in range(L)]
    t_shx = [Signal(intbv(0)[W.shift:]) for _ in range(L)]
    t_shr = [Signal(intbv(0)[W.shift:]) for _ in range(L)]
    t_sacc = [Signal(intbv(0)[LAYER_SHIFT_BITS:]) for _ in range(L)]
    t_sp = [Signal(intbv(0)[LAYER_SHIFT_BITS:]) for _ in range(L)]
    t_wfp = [Signal(intbv(0)[LAYER_SHIFT_BITS:]) for _ in range(L)]
    t_boff = [Signal(intbv(0)[32:]) for _ in range(L)]
    t_poff = [Signal(intbv(0)[32:]) for _ in range(L)]
    t_px = [Signal(intbv(0)[PA:]) for _ in range(L)]
    t_pr = [Signal(intbv(0)[PA:]) for _ in range(L)]
    t_pp = [Signal(intbv(0)[PA:]) for _ in range(L)]
    lt_large, lt_mism = Signal(bool(0)), Signal(bool(0))
    lt_err = Signal(intbv(0)[len(ldr.err):])
    # matrix table: this row's fields (registered, and as of this cycle)
    m_layer, m_layer_now = Signal(intbv(0)[8:]), Signal(intbv(0)[8:])
    m_kind, m_kind_now = Signal(intbv(0)[2:]), Signal(intbv(0)[2:])
    m_ptr, m_ptr_now = Signal(intbv(0)[PA:]), Signal(intbv(0)[PA:])
    mt_large = Signal(bool(0))
    # biases / peepholes
    g4 = Signal(intbv(0)[2:])
    kk = Signal(intbv(0, min=0, max=H + 1))
    vv = Signal(intbv(0)[2:])
    # PE directory row (registered, and as of this cycle)
    d_eoff, d_ne, d_poff, d_np = (Signal(intbv(0)[32:]) for _ in range(4))
    eoff_now, ne_now, poff_now, np_now = (Signal(intbv(0)[32:]) for _ in range(4))

    # ---- handshakes, region bookkeeping --------------------------------------
    @always_comb
    def items():
        i.ready.next = (state == st.HDR or state == st.LT or state == st.MT or
                        state == st.BIAS or state == st.PEEP or state == st.DIR or
                        state == st.ENT or state == st.PTR)
        take.next = i.valid and (state == st.HDR or state == st.LT or state == st.MT or
                                 state == st.BIAS or state == st.PEEP or state == st.DIR or
                                 state == st.ENT or state == st.PTR)
        req_taken.next = state == st.REQ and req.valid and req.ready
        go.next = state == st.IDLE and ldr.start and not cancel
        ldr.busy.next = state != st.IDLE

    @always_comb
    def item_kind():
        # 32-bit items for the tables and wide entry/pointer words, else 16-bit
        if after == st.BIAS or after == st.PEEP:
            req.wide.next = False
        elif after == st.ENT:
            req.wide.next = ENT_WIDE
        elif after == st.PTR:
            req.wide.next = PTR_WIDE
        else:
            req.wide.next = True

    @always_comb
    def lengths():
        if state == st.HDR:
            region_len.next = HW
        elif state == st.LT:
            region_len.next = nl * LW
        elif state == st.MT:
            region_len.next = nmat * MW
        elif state == st.BIAS:
            region_len.next = t_n_cells[cur_l] * GATES
        elif state == st.PEEP:
            region_len.next = t_n_cells[cur_l] * PEEPS
        elif state == st.DIR:
            region_len.next = PW
        elif state == st.ENT:
            region_len.next = d_ne
        else:
            region_len.next = d_np

    @always_comb
    def region_end():
        last.next = take and idx + 1 == region_len

    @always_comb
    def row_size():
        if state == st.LT:
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
            if state == st.LT or state == st.MT:
                if fld == row_last:
                    fld.next = 0
                    row.next = row + 1
                else:
                    fld.next = fld + 1

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
        elif take and state == st.HDR:
            if chk_v == CHECK_FORMAT:
                if i.data != exp_v:
                    h_bad.next = True
            elif chk_v == CHECK_FINGERPRINT:
                if i.data != exp_v:
                    h_mism.next = True
            if idx == H_IMAGE_BYTES:
                if i.data > image_size:
                    h_range.next = True
            elif idx == H_N_LAYERS:
                if i.data == 0 or i.data > L:
                    h_large.next = True
                else:
                    nl.next = i.data
            elif idx == H_N_MATRICES:
                if i.data == 0 or i.data > MAX_MATRICES:
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
            elif idx == H_PD_OFF:
                pd_off.next = i.data
            elif idx == H_MAX_ENTRIES:
                if i.data > cfg.pe_entry_depth:
                    h_large.next = True
            elif idx == H_MAX_PTRS:
                if i.data > cfg.ptr_depth:
                    h_large.next = True

    @always_comb
    def header_verdict():
        if h_bad:
            h_err.next = ERR_BAD_MAGIC
        elif h_mism:
            h_err.next = ERR_MISMATCH
        elif h_large:
            h_err.next = ERR_TOO_LARGE
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
        elif take and state == st.LT:
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
            elif fld == L_PEEP_OFF:
                t_poff[row].next = i.data

    @always_comb
    def layer_verdict():
        if lt_large:
            lt_err.next = ERR_TOO_LARGE
        elif lt_mism:
            lt_err.next = ERR_MISMATCH
        else:
            lt_err.next = 0

    @always_comb
    def layer_row():
        layer.n_in.next = t_n_in[layer_sel]
        layer.n_cells.next = t_n_cells[layer_sel]
        layer.n_out.next = t_n_out[layer_sel]
        layer.peep.next = t_peep[layer_sel]
        layer.proj.next = t_proj[layer_sel]
        layer.shift_x.next = t_shx[layer_sel]
        layer.shift_r.next = t_shr[layer_sel]
        layer.s_acc.next = t_sacc[layer_sel]
        layer.s_p.next = t_sp[layer_sel]
        layer.wf_p.next = t_wfp[layer_sel]
        layer.ptr_x.next = t_px[layer_sel]
        layer.ptr_r.next = t_pr[layer_sel]
        layer.ptr_p.next = t_pp[layer_sel]

    @always_comb
    def model_size():
        n_layers.next = nl
        m_n_in.next = mn_in
        m_n_out.next = mn_out

    # ---- matrix table: each layer's pointer bases --------------------------------
    @always_comb
    def matrix_row_now():
        # a row's fields may come in any order: the one arriving now counts too
        if fld == M_LAYER:
            m_layer_now.next = i.data[8:]
        else:
            m_layer_now.next = m_layer
        if fld == M_KIND:
            m_kind_now.next = i.data[2:]
        else:
            m_kind_now.next = m_kind
        if fld == M_PTR_BASE:
            m_ptr_now.next = i.data[PA:]
        else:
            m_ptr_now.next = m_ptr

    @always_seq(clk.posedge, reset=rst)
    def matrix_table():
        if go:
            mt_large.next = False
        elif take and state == st.MT:
            m_layer.next = m_layer_now
            m_kind.next = m_kind_now
            m_ptr.next = m_ptr_now
            if fld == M_COLS and i.data > MAXC:
                mt_large.next = True
            if fld == MW - 1 and m_layer_now < L:
                if m_kind_now == KIND_X:
                    t_px[m_layer_now].next = m_ptr_now
                elif m_kind_now == KIND_R:
                    t_pr[m_layer_now].next = m_ptr_now
                else:
                    t_pp[m_layer_now].next = m_ptr_now

    # ---- biases and peepholes -> every channel --------------------------------------
    @always_seq(clk.posedge, reset=rst)
    def params():
        pw.we.next = False
        if req_taken:
            g4.next = 0
            kk.next = 0
            vv.next = 0
        elif take and state == st.BIAS:
            # stored order: bias 4k+g is gate g of cell k
            pw.we.next = True
            pw.sel.next = g4
            pw.addr.next = pbase + kk
            pw.data.next = i.data[16:]
            g4.next = (g4 + 1) % GATES
            if g4 == GATES - 1:
                kk.next = kk + 1
        elif take and state == st.PEEP:
            # p_i[0..H), then p_f, then p_o: memories 4, 5, 6
            pw.we.next = True
            pw.sel.next = GATES + vv
            pw.addr.next = pbase + kk
            pw.data.next = i.data[16:]
            if kk + 1 == t_n_cells[cur_l]:
                kk.next = 0
                vv.next = vv + 1
            else:
                kk.next = kk + 1

    # ---- PE directory, entries and pointers -------------------------------------------
    @always_comb
    def pe_dir_now():
        # the directory row as of this cycle (its fields may come in any order)
        eoff_now.next = i.data if idx == P_EOFF else d_eoff
        ne_now.next = i.data if idx == P_NE else d_ne
        poff_now.next = i.data if idx == P_POFF else d_poff
        np_now.next = i.data if idx == P_NP else d_np

    @always_seq(clk.posedge, reset=rst)
    def pe_dir():
        if take and state == st.DIR:
            d_eoff.next = eoff_now
            d_ne.next = ne_now
            d_poff.next = poff_now
            d_np.next = np_now

    @always_seq(clk.posedge, reset=rst)
    def pe_memories():
        ld.we.next = False
        if take and (state == st.ENT or state == st.PTR):
            ld.we.next = True
            ld.pe.next = pe
            ld.sel.next = state == st.PTR
            ld.addr.next = idx[LAB:]
            ld.data.next = i.data[LDB:]

    # ---- sequencer: one read request per region, the checks between them ---------------
    @always_seq(clk.posedge, reset=rst)
    def sequencer():
        ldr.fin.next = False
        req.valid.next = False
        if cancel:
            # an error during a load loses the model; one during a run keeps it
            if state != st.IDLE:
                ldr.loaded.next = False
            state.next = st.IDLE
        elif state == st.IDLE:
            if ldr.start:
                ldr.loaded.next = False
                base.next = image_addr
                req.addr.next = image_addr
                req.n.next = HW
                req.valid.next = True
                after.next = st.HDR
                state.next = st.REQ
        elif state == st.REQ:
            # the request is held until the read port takes it
            if req_taken:
                state.next = after
            else:
                req.valid.next = True
        elif state == st.HDR:
            if last:
                state.next = st.HCHK
        elif state == st.HCHK:
            if h_err != 0:
                ldr.err.next = h_err
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                req.addr.next = base + lt_off
                req.n.next = nl * LW
                req.valid.next = True
                after.next = st.LT
                state.next = st.REQ
        elif state == st.LT:
            if last:
                state.next = st.LCHK
        elif state == st.LCHK:
            if lt_err != 0:
                ldr.err.next = lt_err
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                req.addr.next = base + mt_off
                req.n.next = nmat * MW
                req.valid.next = True
                after.next = st.MT
                state.next = st.REQ
        elif state == st.MT:
            if last:
                state.next = st.MCHK
        elif state == st.MCHK:
            if mt_large:
                ldr.err.next = ERR_TOO_LARGE
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                cur_l.next = 0
                pbase.next = 0
                req.addr.next = base + t_boff[0]
                req.n.next = t_n_cells[0] * GATES
                req.valid.next = True
                after.next = st.BIAS
                state.next = st.REQ
        elif state == st.BIAS or state == st.PEEP:
            if last:
                if state == st.BIAS and t_peep[cur_l]:
                    req.addr.next = base + t_poff[cur_l]
                    req.n.next = t_n_cells[cur_l] * PEEPS
                    req.valid.next = True
                    after.next = st.PEEP
                    state.next = st.REQ
                elif cur_l + 1 < nl:
                    cur_l.next = cur_l + 1
                    pbase.next = pbase + H
                    req.addr.next = base + t_boff[cur_l + 1]
                    req.n.next = t_n_cells[cur_l + 1] * GATES
                    req.valid.next = True
                    after.next = st.BIAS
                    state.next = st.REQ
                else:
                    pe.next = 0
                    req.addr.next = base + pd_off
                    req.n.next = PW
                    req.valid.next = True
                    after.next = st.DIR
                    state.next = st.REQ
        elif state == st.DIR:
            if last:
                if ne_now > cfg.pe_entry_depth or np_now > cfg.ptr_depth:
                    ldr.err.next = ERR_TOO_LARGE
                    ldr.fin.next = True
                    state.next = st.IDLE
                elif ne_now != 0:
                    req.addr.next = base + eoff_now
                    req.n.next = ne_now
                    req.valid.next = True
                    after.next = st.ENT
                    state.next = st.REQ
                elif np_now != 0:
                    req.addr.next = base + poff_now
                    req.n.next = np_now
                    req.valid.next = True
                    after.next = st.PTR
                    state.next = st.REQ
                else:
                    state.next = st.NEXT
        elif state == st.ENT:
            if last:
                if d_np != 0:
                    req.addr.next = base + d_poff
                    req.n.next = d_np
                    req.valid.next = True
                    after.next = st.PTR
                    state.next = st.REQ
                else:
                    state.next = st.NEXT
        elif state == st.PTR:
            if last:
                state.next = st.NEXT
        else:   # NEXT: the next PE, or finished
            if pe + 1 < NPE:
                pe.next = pe + 1
                req.addr.next = base + pd_off + (pe + 1) * PE_ROW
                req.n.next = PW
                req.valid.next = True
                after.next = st.DIR
                state.next = st.REQ
            else:
                ldr.loaded.next = True
                ldr.err.next = 0
                ldr.fin.next = True
                state.next = st.IDLE

    return (items, item_kind, lengths, region_end, row_size, position, rom_exp, rom_chk, header,
            header_verdict, layer_table, layer_verdict, layer_row, model_size, matrix_row_now,
            matrix_table, params, pe_dir_now, pe_dir, pe_memories, sequencer)


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``loader``."""
    L = cfg.max_layers
    return dict(**clock_reset(), ldr=LoaderCtl(cfg), cancel=Signal(bool(0)),
                image_addr=uint(cfg.axi_addr_bits).signal(), image_size=uint(32).signal(),
                req=ReadReq(cfg), i=ItemStream(cfg), ld=LoadBus(cfg), pw=ParamWrite(cfg),
                n_layers=upto(L + 1).signal(), m_n_in=upto(cfg.max_input + 1).signal(),
                m_n_out=upto(cfg.max_proj + 1).signal(), layer_sel=upto(L + 1).signal(),
                layer=LayerRow(cfg))


def top(cfg: Config, layout: mimage.Layout = mimage.STANDARD_LAYOUT):
    """``loader`` on fresh port signals."""
    return loader(**ports(cfg), cfg=cfg, layout=layout)
