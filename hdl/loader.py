"""Model loader: reads the memory image (docs/memory-image.md) from DDR.

On ``start`` it reads, through the read port (``hdl/rdport.py``): the
128-byte header (checked against the configuration), the layer table, the
matrix table, every layer's biases and peepholes, then for every PE its
directory row, entries and column pointers.  It fills the PE memories (load
bus ``ld_*``), the channels' bias/peephole memories (``pw_*``) and its own
layer table, which the controller reads through ``lt_sel``.  The LUT region
is not read: the tables are ROMs built from the configuration, and the
header fingerprint (lut_bits and ranges) guarantees they are the image's.

Ports
-----
clk, rst            clock; synchronous active-high reset
start               1-cycle pulse: load the image at ``image_addr``
cancel               1: stop at once (the controller saw an AXI error)
image_addr [A]      byte address of the image (aligned: checked by the controller)
image_size [32]     bytes available at ``image_addr`` (the header's image_bytes must fit)
busy                loading
fin                 1-cycle pulse at the end of a load; ``err`` holds its code
err        [4]      0 = loaded, else 1 BAD_MAGIC, 2 CONFIG_MISMATCH, 3 MODEL_TOO_LARGE,
                    7 ADDR_RANGE (image larger than image_size)
loaded              a model is loaded (cleared by ``start`` and by a cancel while loading)
req_*, i_*          client side of ``rdport`` (request, item stream)
ld_we, ld_pe, ld_sel, ld_addr, ld_data
                    PE memory write: PE ``ld_pe``; ``ld_sel`` 0 entries, 1 pointers
pw_we, pw_sel, pw_addr, pw_data
                    bias/peephole memory write (all channels): ``pw_sel`` 0..3 bias of gate
                    i,f,g,o, 4..6 peephole p_i,p_f,p_o; address ``layer*max_cells + cell``;
                    ``pw_data`` the 16-bit value (sign-extended by the user)
n_layers, m_n_in, m_n_out   the model's layer count, input and output widths
lt_sel              layer whose table row is shown on the ``l_*`` outputs (combinational)
l_n_in, l_n_cells, l_n_out, l_peep, l_proj, l_shift_x, l_shift_r, l_s_acc, l_s_p,
l_wf_p, l_ptr_x, l_ptr_r, l_ptr_p
                    that row: sizes, flags, shifts, pointer bases of W_x, W_r, W_p

Parameters
----------
cfg                 ese.config.Config

Timing: one item per cycle from the read port; a load takes about
(image bytes)/2 cycles plus a few per region.  Header checks (in this order
of priority): magic/version/header size -> BAD_MAGIC; a fingerprint field
(n_pe, widths, fracs, LUT, word sizes) differs -> CONFIG_MISMATCH; layers,
widths, entries or pointers beyond the configuration -> MODEL_TOO_LARGE;
image_bytes > image_size -> ADDR_RANGE.
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config, clog2
from ese.model import image as mimage

from .interfaces import (ItemStream, LayerRow, LoadBus, LoaderCtl, ParamWrite, ReadReq,
                         clock_reset, uint, upto, widths)

MAGIC = int.from_bytes(mimage.MAGIC, "little")
ERR_BAD_MAGIC, ERR_MISMATCH, ERR_TOO_LARGE, ERR_ADDR_RANGE = 1, 2, 3, 7


def fingerprint(cfg: Config) -> tuple:
    """(check mask, expected value) per header word (32 words)."""
    exp = [0] * 32
    chk = [0] * 32
    hf = mimage.HEADER_FIELDS
    want = {
        "version": mimage.FORMAT_VERSION, "header_bytes": mimage.HEADER_BYTES,
        "entry_word_bytes": mimage.entry_word_bytes(cfg),
        "ptr_word_bytes": mimage.ptr_word_bytes(cfg),
        "value_word_bytes": mimage.value_word_bytes(cfg),
    }
    for f in mimage.CONFIG_HEADER_FIELDS:
        want[f] = getattr(cfg, f)
    for f, v in want.items():
        exp[hf.index(f)] = int(v)
        chk[hf.index(f)] = 2 if f in ("version", "header_bytes") else 1
    return tuple(chk), tuple(exp)


@block
def loader(clk, rst, ldr, cancel, image_addr, image_size, req, i, ld, pw,
           n_layers, m_n_in, m_n_out, layer_sel, layer, cfg: Config):
    A = cfg.axi_addr_bits
    L, H = cfg.max_layers, cfg.max_cells
    NPE = cfg.n_pe
    ewb, pwb, vwb = (mimage.entry_word_bytes(cfg), mimage.ptr_word_bytes(cfg),
                     mimage.value_word_bytes(cfg))
    assert vwb == 2, "loader: bias/peephole values must be 16-bit (pre/weight/act bits <= 16)"
    assert len(image_addr) == A, "loader: image_addr must be axi_addr_bits wide"
    for cls, obj, name in ((LoaderCtl, ldr, "ldr"), (ReadReq, req, "req"), (ItemStream, i, "i"),
                           (LoadBus, ld, "ld"), (ParamWrite, pw, "pw"), (LayerRow, layer, "layer")):
        cls.check(obj, cfg, f"loader {name}")
    CHK, EXP = fingerprint(cfg)
    NB = len(req.n)
    PB = widths(cfg).ptr_value
    MAXC = cfg.max_cols

    st = enum("IDLE", "HREQ", "HDR", "HCHK", "LREQ", "LT", "MREQ", "MT",
              "BREQ", "BIAS", "PREQ", "PEEP", "DREQ", "DIR", "EREQ", "ENT", "QREQ", "PTR",
              "DONE", "LCHK", "MCHK")
    state = Signal(st.IDLE)
    idx = Signal(intbv(0)[NB + 1:])          # item index inside the region
    fld = Signal(intbv(0)[5:])               # field inside a table row
    row = Signal(intbv(0)[8:])               # table row
    e_bad_magic = Signal(bool(0))
    e_mism = Signal(bool(0))
    e_large = Signal(bool(0))
    e_range = Signal(bool(0))
    exp_v = Signal(intbv(0)[32:])
    chk_v = Signal(intbv(0)[2:])
    base = Signal(intbv(0)[A:])
    nl = Signal(intbv(0, min=0, max=L + 1))
    nmat = Signal(intbv(0)[8:])
    lt_off = Signal(intbv(0)[32:])
    mt_off = Signal(intbv(0)[32:])
    pd_off = Signal(intbv(0)[32:])
    mn_in = Signal(intbv(0, min=0, max=cfg.max_input + 1))
    mn_out = Signal(intbv(0, min=0, max=cfg.max_proj + 1))
    # layer table (one register per layer and field)
    t_n_in = [Signal(intbv(0, min=0, max=MAXC + 1)) for _ in range(L)]
    t_n_cells = [Signal(intbv(0, min=0, max=H + 1)) for _ in range(L)]
    t_n_out = [Signal(intbv(0, min=0, max=cfg.max_proj + 1)) for _ in range(L)]
    t_peep = [Signal(bool(0)) for _ in range(L)]
    t_proj = [Signal(bool(0)) for _ in range(L)]
    t_shx = [Signal(intbv(0)[len(layer.shift_x):]) for _ in range(L)]
    t_shr = [Signal(intbv(0)[len(layer.shift_r):]) for _ in range(L)]
    t_sacc = [Signal(intbv(0)[6:]) for _ in range(L)]
    t_sp = [Signal(intbv(0)[6:]) for _ in range(L)]
    t_wfp = [Signal(intbv(0)[6:]) for _ in range(L)]
    t_boff = [Signal(intbv(0)[32:]) for _ in range(L)]
    t_poff = [Signal(intbv(0)[32:]) for _ in range(L)]
    t_px = [Signal(intbv(0)[len(layer.ptr_x):]) for _ in range(L)]
    t_pr = [Signal(intbv(0)[len(layer.ptr_r):]) for _ in range(L)]
    t_pp = [Signal(intbv(0)[len(layer.ptr_p):]) for _ in range(L)]
    m_layer = Signal(intbv(0)[8:])
    m_kind = Signal(intbv(0)[2:])
    cur_l = Signal(intbv(0, min=0, max=L + 1))
    cur_h = Signal(intbv(0, min=0, max=H + 1))
    pbase = Signal(intbv(0, min=0, max=L * H + 1))
    g4 = Signal(intbv(0)[2:])
    kk = Signal(intbv(0, min=0, max=H + 1))
    vv = Signal(intbv(0)[2:])
    pe = Signal(intbv(0, min=0, max=NPE + 1))
    d_eoff = Signal(intbv(0)[32:])
    d_ne = Signal(intbv(0)[32:])
    d_poff = Signal(intbv(0)[32:])
    d_np = Signal(intbv(0)[32:])
    take = Signal(bool(0))
    LDB = len(ld.data)
    LAB = len(ld.addr)

    @always_comb
    def rom():
        exp_v.next = EXP[int(idx[5:])]

    @always_comb
    def rom2():
        chk_v.next = CHK[int(idx[5:])]

    @always_comb
    def comb():
        take.next = i.valid and (state == st.HDR or state == st.LT or state == st.MT or
                                 state == st.BIAS or state == st.PEEP or state == st.DIR or
                                 state == st.ENT or state == st.PTR)
        i.ready.next = (state == st.HDR or state == st.LT or state == st.MT or
                        state == st.BIAS or state == st.PEEP or state == st.DIR or
                        state == st.ENT or state == st.PTR)
        ldr.busy.next = state != st.IDLE
        n_layers.next = nl
        m_n_in.next = mn_in
        m_n_out.next = mn_out

    @always_comb
    def table_out():
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

    @always_seq(clk.posedge, reset=rst)
    def seq():
        ldr.fin.next = False
        req.valid.next = False
        ld.we.next = False
        pw.we.next = False
        if cancel:
            # an error during a load loses the model; one during a run keeps it
            if state != st.IDLE:
                ldr.loaded.next = False
            state.next = st.IDLE
        elif state == st.IDLE:
            if ldr.start:
                ldr.loaded.next = False
                e_bad_magic.next = False
                e_mism.next = False
                e_large.next = False
                e_range.next = False
                base.next = image_addr
                req.addr.next = image_addr
                req.n.next = 32
                req.wide.next = True
                req.valid.next = True
                idx.next = 0
                state.next = st.HREQ
        elif state == st.HREQ or state == st.LREQ or state == st.MREQ or \
                state == st.BREQ or state == st.PREQ or state == st.DREQ or \
                state == st.EREQ or state == st.QREQ:
            # the request is held until the read port takes it
            if req.ready and req.valid:
                req.valid.next = False
                idx.next = 0
                fld.next = 0
                row.next = 0
                g4.next = 0
                kk.next = 0
                vv.next = 0
                if state == st.HREQ:
                    state.next = st.HDR
                elif state == st.LREQ:
                    state.next = st.LT
                elif state == st.MREQ:
                    state.next = st.MT
                elif state == st.BREQ:
                    state.next = st.BIAS
                elif state == st.PREQ:
                    state.next = st.PEEP
                elif state == st.DREQ:
                    state.next = st.DIR
                elif state == st.EREQ:
                    state.next = st.ENT
                else:
                    state.next = st.PTR
            else:
                req.valid.next = True
        elif state == st.HDR:
            if take:
                idx.next = idx + 1
                if idx == 0:
                    if i.data != MAGIC:
                        e_bad_magic.next = True
                elif chk_v == 2:
                    if i.data != exp_v:
                        e_bad_magic.next = True
                elif chk_v == 1:
                    if i.data != exp_v:
                        e_mism.next = True
                if idx == 3:                                 # image_bytes
                    if i.data > image_size:
                        e_range.next = True
                elif idx == 5:                               # n_layers
                    if i.data == 0 or i.data > L:
                        e_large.next = True
                    else:
                        nl.next = i.data
                elif idx == 6:
                    if i.data > 3 * L:
                        e_large.next = True
                    else:
                        nmat.next = i.data
                elif idx == 24:
                    if i.data == 0 or i.data > cfg.max_input:
                        e_large.next = True
                    else:
                        mn_in.next = i.data
                elif idx == 25:
                    if i.data == 0 or i.data > cfg.max_proj:
                        e_large.next = True
                    else:
                        mn_out.next = i.data
                elif idx == 26:
                    lt_off.next = i.data
                elif idx == 27:
                    mt_off.next = i.data
                elif idx == 28:
                    pd_off.next = i.data
                elif idx == 30:
                    if i.data > cfg.pe_entry_depth:
                        e_large.next = True
                elif idx == 31:
                    if i.data > cfg.ptr_depth:
                        e_large.next = True
                    state.next = st.HCHK
        elif state == st.HCHK:
            if e_bad_magic:
                ldr.err.next = ERR_BAD_MAGIC
                ldr.fin.next = True
                state.next = st.IDLE
            elif e_mism:
                ldr.err.next = ERR_MISMATCH
                ldr.fin.next = True
                state.next = st.IDLE
            elif e_large:
                ldr.err.next = ERR_TOO_LARGE
                ldr.fin.next = True
                state.next = st.IDLE
            elif e_range:
                ldr.err.next = ERR_ADDR_RANGE
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                req.addr.next = base + lt_off
                req.n.next = nl * 16
                req.wide.next = True
                req.valid.next = True
                state.next = st.LREQ
        elif state == st.LT:
            if take:
                idx.next = idx + 1
                if fld == 15:
                    fld.next = 0
                    row.next = row + 1
                else:
                    fld.next = fld + 1
                if fld == 0:
                    if (row == 0 and i.data > cfg.max_input) or \
                            (row != 0 and i.data > cfg.max_proj) or i.data == 0:
                        e_large.next = True
                    else:
                        t_n_in[row].next = i.data
                elif fld == 1:
                    if i.data == 0 or i.data > H:
                        e_large.next = True
                    else:
                        t_n_cells[row].next = i.data
                elif fld == 2:
                    if i.data == 0 or i.data > cfg.max_proj:
                        e_large.next = True
                    else:
                        t_n_out[row].next = i.data
                elif fld == 3:
                    t_peep[row].next = i.data[0]
                    t_proj[row].next = i.data[1]
                elif fld == 6:
                    if i.data > 63:
                        e_mism.next = True
                    else:
                        t_wfp[row].next = i.data
                elif fld == 9:
                    if i.data > cfg.max_align_shift:
                        e_mism.next = True
                    else:
                        t_shx[row].next = i.data
                elif fld == 10:
                    if i.data > cfg.max_align_shift:
                        e_mism.next = True
                    else:
                        t_shr[row].next = i.data
                elif fld == 11:
                    if i.data > 63:
                        e_mism.next = True
                    else:
                        t_sacc[row].next = i.data
                elif fld == 12:
                    if i.data > 63:
                        e_mism.next = True
                    else:
                        t_sp[row].next = i.data
                elif fld == 13:
                    t_boff[row].next = i.data
                elif fld == 14:
                    t_poff[row].next = i.data
                if idx + 1 == nl * 16:
                    state.next = st.LCHK
        elif state == st.LCHK:
            if e_large:
                ldr.err.next = ERR_TOO_LARGE
                ldr.fin.next = True
                state.next = st.IDLE
            elif e_mism:
                ldr.err.next = ERR_MISMATCH
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                req.addr.next = base + mt_off
                req.n.next = nmat * 8
                req.wide.next = True
                req.valid.next = True
                state.next = st.MREQ
        elif state == st.MCHK:
            if e_large:
                ldr.err.next = ERR_TOO_LARGE
                ldr.fin.next = True
                state.next = st.IDLE
            else:
                cur_l.next = 0
                pbase.next = 0
                state.next = st.BREQ
                req.addr.next = base + t_boff[0]
                req.n.next = t_n_cells[0] * 4
                req.wide.next = False
                req.valid.next = True
        elif state == st.MT:
            if take:
                idx.next = idx + 1
                if fld == 7:
                    fld.next = 0
                else:
                    fld.next = fld + 1
                if fld == 0:
                    m_layer.next = i.data[8:]
                elif fld == 1:
                    m_kind.next = i.data[2:]
                elif fld == 3:
                    if i.data > MAXC:
                        e_large.next = True
                elif fld == 6:
                    if m_layer < L:
                        if m_kind == 0:
                            t_px[m_layer].next = i.data[PB + 4:]
                        elif m_kind == 1:
                            t_pr[m_layer].next = i.data[PB + 4:]
                        else:
                            t_pp[m_layer].next = i.data[PB + 4:]
                if idx + 1 == nmat * 8:
                    state.next = st.MCHK
        elif state == st.BIAS:
            if take:
                idx.next = idx + 1
                pw.we.next = True
                pw.sel.next = g4
                pw.addr.next = pbase + kk
                pw.data.next = i.data[16:]
                g4.next = (g4 + 1) % 4
                if g4 == 3:
                    kk.next = kk + 1
                if idx + 1 == t_n_cells[cur_l] * 4:
                    if t_peep[cur_l]:
                        req.addr.next = base + t_poff[cur_l]
                        req.n.next = t_n_cells[cur_l] * 3
                        req.wide.next = False
                        req.valid.next = True
                        state.next = st.PREQ
                    elif cur_l + 1 < nl:
                        cur_l.next = cur_l + 1
                        pbase.next = pbase + H
                        req.addr.next = base + t_boff[cur_l + 1]
                        req.n.next = t_n_cells[cur_l + 1] * 4
                        req.wide.next = False
                        req.valid.next = True
                        state.next = st.BREQ
                    else:
                        pe.next = 0
                        req.addr.next = base + pd_off
                        req.n.next = 4
                        req.wide.next = True
                        req.valid.next = True
                        state.next = st.DREQ
        elif state == st.PEEP:
            if take:
                idx.next = idx + 1
                pw.we.next = True
                pw.sel.next = 4 + vv
                pw.addr.next = pbase + kk
                pw.data.next = i.data[16:]
                if kk + 1 == t_n_cells[cur_l]:
                    kk.next = 0
                    vv.next = vv + 1
                else:
                    kk.next = kk + 1
                if idx + 1 == t_n_cells[cur_l] * 3:
                    if cur_l + 1 < nl:
                        cur_l.next = cur_l + 1
                        pbase.next = pbase + H
                        req.addr.next = base + t_boff[cur_l + 1]
                        req.n.next = t_n_cells[cur_l + 1] * 4
                        req.wide.next = False
                        req.valid.next = True
                        state.next = st.BREQ
                    else:
                        pe.next = 0
                        req.addr.next = base + pd_off
                        req.n.next = 4
                        req.wide.next = True
                        req.valid.next = True
                        state.next = st.DREQ
        elif state == st.DIR:
            if take:
                idx.next = idx + 1
                if idx == 0:
                    d_eoff.next = i.data
                elif idx == 1:
                    d_ne.next = i.data
                elif idx == 2:
                    d_poff.next = i.data
                else:
                    d_np.next = i.data
                    if d_ne > cfg.pe_entry_depth or i.data > cfg.ptr_depth:
                        ldr.err.next = ERR_TOO_LARGE
                        ldr.fin.next = True
                        state.next = st.IDLE
                    elif d_ne != 0:
                        req.addr.next = base + d_eoff
                        req.n.next = d_ne
                        req.wide.next = ewb == 4
                        req.valid.next = True
                        state.next = st.EREQ
                    elif i.data != 0:
                        req.addr.next = base + d_poff
                        req.n.next = i.data
                        req.wide.next = pwb == 4
                        req.valid.next = True
                        state.next = st.QREQ
                    else:
                        state.next = st.DONE
        elif state == st.ENT:
            if take:
                idx.next = idx + 1
                ld.we.next = True
                ld.pe.next = pe
                ld.sel.next = False
                ld.addr.next = idx[LAB:]
                ld.data.next = i.data[LDB:]
                if idx + 1 == d_ne:
                    if d_np != 0:
                        req.addr.next = base + d_poff
                        req.n.next = d_np
                        req.wide.next = pwb == 4
                        req.valid.next = True
                        state.next = st.QREQ
                    else:
                        state.next = st.DONE
        elif state == st.PTR:
            if take:
                idx.next = idx + 1
                ld.we.next = True
                ld.pe.next = pe
                ld.sel.next = True
                ld.addr.next = idx[LAB:]
                ld.data.next = i.data[LDB:]
                if idx + 1 == d_np:
                    state.next = st.DONE
        else:   # DONE: next PE or finished
            if pe + 1 < NPE:
                pe.next = pe + 1
                req.addr.next = base + pd_off + (pe + 1) * 16
                req.n.next = 4
                req.wide.next = True
                req.valid.next = True
                state.next = st.DREQ
            else:
                ldr.loaded.next = True
                ldr.err.next = 0
                ldr.fin.next = True
                state.next = st.IDLE

    return rom, rom2, comb, table_out, seq


def ports(cfg: Config) -> dict:
    """Fresh signals and interfaces for every port of ``loader``."""
    L = cfg.max_layers
    return dict(**clock_reset(), ldr=LoaderCtl(cfg), cancel=Signal(bool(0)),
                image_addr=uint(cfg.axi_addr_bits).signal(), image_size=uint(32).signal(),
                req=ReadReq(cfg), i=ItemStream(cfg), ld=LoadBus(cfg), pw=ParamWrite(cfg),
                n_layers=upto(L + 1).signal(), m_n_in=upto(cfg.max_input + 1).signal(),
                m_n_out=upto(cfg.max_proj + 1).signal(), layer_sel=upto(L + 1).signal(),
                layer=LayerRow(cfg))


def top(cfg: Config):
    """``loader`` on fresh port signals."""
    return loader(**ports(cfg), cfg=cfg)
