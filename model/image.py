"""The memory image the accelerator reads over AXI, and its JSON manifest.

:func:`build_image` encodes every matrix of a :class:`~ese.model.qmodel.QModel`
(``model/encode.py``) and lays out one little-endian byte image; the
manifest (:func:`build_image` returns both) describes it for software.
:func:`read_image` rebuilds the QModel from the image (and the manifest's
configuration) alone - that is all the RTL sees, so the integer engine run
from :func:`read_image` is the reference for the hardware.

The byte layout (every region starts on a 64-byte boundary, padding is zero)
is documented field by field in ``docs/memory-image.md``, whose tables are
generated from the tables of this module (:func:`doc_tables`):

====================  =====================================================
region                contents
====================  =====================================================
``header``            128 bytes: magic ``ESEM``, version, sizes, formats,
                      offsets (32 x u32, :data:`HEADER_FIELDS`)
``layers``            one 64-byte row per layer (16 x i32): sizes, flags,
                      binary points, shifts, bias/peephole offsets
``matrices``          one 32-byte row per matrix (8 x i32): layer, kind,
                      rows, cols, weight frac, product shift, row shift, nnz
``l{k}_b``            H cell words (b_i, b_f, b_g, b_o) of layer k
``l{k}_peep``         H cell words (p_i, p_f, p_o, 0) (layers with peepholes)
``lut``               sigmoid table then tanh table (2 x 2**lut_bits values)
``pe``                the PE memories, interleaved for the AXI bus: PEs in
                      groups of ``pe_group`` = beat bytes / ``pe_word_bytes``;
                      per group ``pe_rows`` beats: ``n_matrices + 1`` pointer
                      rows, then ``max_entries_per_pe`` entry rows; word j of
                      a row belongs to PE ``group * pe_group + j``
====================  =====================================================

Matrix order (matrix table, pointer rows, every PE's entries):
``l0_Wx, l0_Wr, l0_Wp, l1_Wx, ...`` (``Wp`` only where the layer has a
projection).  One beat of the PE region is what the hardware loader writes
into ``pe_group`` PE memories in one cycle (``hdl/loader.py``).
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np

from ese.config import Config, ConfigError, clog2
from .encode import EncodedMatrix, PEStream, decode_matrix, encode_matrix, row_shift_for, \
    unpack_words
from .fixed import smax, smin
from . import lut as _lut
from .qmodel import QLayer, QModel

MAGIC = b"ESEM"
FORMAT_VERSION = 2
ALIGN = 64
HEADER_BYTES = 128
LAYER_ROW_BYTES = 64
MATRIX_ROW_BYTES = 32

KINDS = ("Wx", "Wr", "Wp")

#: header fields, in order, each a little-endian u32 (word index = position)
HEADER_FIELDS = (
    "magic", "version", "header_bytes", "image_bytes", "crc32",
    "n_layers", "n_matrices", "n_pe", "n_ch",
    "weight_bits", "index_bits", "pe_word_bytes", "value_word_bytes",
    "act_bits", "act_frac", "cell_bits", "cell_frac", "pre_bits", "pre_frac", "gate_frac",
    "lut_bits", "sigmoid_range_log2", "tanh_range_log2",
    "n_in", "n_out",
    "layer_table_offset", "matrix_table_offset", "lut_offset", "pe_offset",
    "pe_group", "pe_rows", "max_entries_per_pe",
)
assert len(HEADER_FIELDS) * 4 == HEADER_BYTES

#: layer table row, 16 x i32
LAYER_FIELDS = (
    "n_in", "n_cells", "n_out", "flags", "wf_x", "wf_r", "wf_p", "wf_peep",
    "acc_frac_w", "shift_x", "shift_r", "s_acc", "s_p", "bias_offset", "peep_offset",
    "first_matrix",
)
assert len(LAYER_FIELDS) * 4 == LAYER_ROW_BYTES
FLAG_PEEPHOLE = 1
FLAG_PROJECTION = 2

#: matrix table row, 8 x i32
MATRIX_FIELDS = ("layer", "kind", "rows", "cols", "weight_frac", "shift", "row_shift", "nnz")
assert len(MATRIX_FIELDS) * 4 == MATRIX_ROW_BYTES

#: the header fields fixed by the configuration (the fingerprint): an image is
#: only loadable by hardware whose configuration gives exactly these values
CONFIG_HEADER_FIELDS = ("n_pe", "weight_bits", "index_bits", "pe_word_bytes",
                        "value_word_bytes", "act_bits", "act_frac", "cell_bits", "cell_frac",
                        "pre_bits", "pre_frac", "gate_frac", "lut_bits", "sigmoid_range_log2",
                        "tanh_range_log2", "pe_group")

#: values of one cell word (bias and peephole regions): bias (b_i, b_f, b_g, b_o),
#: peepholes (p_i, p_f, p_o, 0)
CELL_VALUES = 4
#: peephole values of a cell (p_i, p_f, p_o)
PEEP_PER_CELL = 3

#: the tables of the image: (standard field order, struct code of a word)
_TABLES = {"header": (HEADER_FIELDS, "I"), "layer": (LAYER_FIELDS, "i"),
           "matrix": (MATRIX_FIELDS, "i")}

#: what every field means, for docs/memory-image.md (:func:`doc_tables`)
FIELD_DOC = {
    "header": {
        "magic": 'bytes `"ESEM"` (u32 0x4D455345)',
        "version": f"format version, {FORMAT_VERSION}",
        "header_bytes": f"{HEADER_BYTES}",
        "image_bytes": f"total image length (a multiple of {ALIGN})",
        "crc32": "zlib CRC-32 of the whole image with this field set to 0 (software check; "
                 "the hardware ignores it)",
        "n_layers": "L",
        "n_matrices": "rows of the matrix table (2 or 3 per layer)",
        "n_pe": "PEs the image was encoded for",
        "n_ch": "channels of the configuration (informational: the image does not depend "
                "on it)",
        "weight_bits": "weight field width of an entry",
        "index_bits": "relative index field width of an entry",
        "pe_word_bytes": "bytes of a word of the PE region (an entry or a pointer): 2 or 4",
        "value_word_bytes": "bytes of a bias, peephole or LUT value: 2 or 4",
        "act_bits": "activation format bits", "act_frac": "activation fraction bits",
        "cell_bits": "cell state format bits", "cell_frac": "cell state fraction bits",
        "pre_bits": "pre-activation / bias format bits", "pre_frac": "its fraction bits",
        "gate_frac": "LUT output fraction bits (act_bits wide)",
        "lut_bits": "log2 of the LUT entries",
        "sigmoid_range_log2": "the sigmoid table covers [-2**r, 2**r)",
        "tanh_range_log2": "the tanh table covers [-2**r, 2**r)",
        "n_in": "I of layer 0", "n_out": "P of the last layer",
        "layer_table_offset": "byte offset of the layer table",
        "matrix_table_offset": "byte offset of the matrix table",
        "lut_offset": "byte offset of the LUT region",
        "pe_offset": "byte offset of the PE region",
        "pe_group": "G: PEs per group = AXI beat bytes / pe_word_bytes",
        "pe_rows": "beats (rows) per group: n_matrices + 1 + max_entries_per_pe",
        "max_entries_per_pe": "entry rows per group: the largest entry count of any PE "
                              "(<= pe_entry_depth)",
    },
    "layer": {
        "n_in": "I (layer 0: the model input; layer k > 0: P of layer k-1)",
        "n_cells": "H", "n_out": "P (= H without projection)",
        "flags": f"bit 0 ({FLAG_PEEPHOLE}): peepholes; bit 1 ({FLAG_PROJECTION}): projection",
        "wf_x": "binary point of W_x", "wf_r": "binary point of W_r",
        "wf_p": "binary point of W_p (0 without projection): the projection's requant shift",
        "wf_peep": "binary point of the peepholes (0 without)",
        "acc_frac_w": "F: common weight binary point of the gate accumulator "
                      "(>= max(wf_x, wf_r))",
        "shift_x": "F - wf_x: left shift of every W_x product",
        "shift_r": "F - wf_r: left shift of every W_r product",
        "s_acc": "F + act_frac - pre_frac: right shift (rounding) accumulator -> "
                 "pre-activation",
        "s_p": "wf_peep + cell_frac - pre_frac: right shift of peephole products (0 without)",
        "bias_offset": "byte offset of region `l{k}_b`",
        "peep_offset": "byte offset of region `l{k}_peep` (0 without peepholes)",
        "first_matrix": "index of this layer's W_x in the matrix table (W_r follows, then W_p)",
    },
    "matrix": {
        "layer": "k", "kind": "0 = W_x, 1 = W_r, 2 = W_p",
        "rows": "4H (W_x, W_r) or P (W_p)", "cols": "I, P or H",
        "weight_frac": "binary point of the weights",
        "shift": "product left shift (`shift_x`, `shift_r`, 0 for W_p)",
        "row_shift": "log2 of the row stride R' (model/encode.py): the smallest power of "
                     "two >= ceil(rows / n_pe)",
        "nnz": "non-zeros of the matrix (all PEs; fillers excluded)",
    },
}
assert all(set(FIELD_DOC[t]) == set(f) for t, (f, _) in _TABLES.items())


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where every field sits: the word order of the header and of each table's rows.

    The format of docs/memory-image.md is :data:`STANDARD_LAYOUT`.  The writer
    (:func:`build_image`), the readers (:func:`parse_header`,
    :func:`read_tables`, :func:`read_image`) and the hardware loader
    (``hdl/loader.py``, at elaboration) all take a layout, so a field moved
    here moves everywhere at once; each table of another layout must hold the
    standard fields in some order (row sizes never change).
    """

    header: tuple = HEADER_FIELDS
    layer: tuple = LAYER_FIELDS
    matrix: tuple = MATRIX_FIELDS

    def __post_init__(self):
        for name, (std, _) in _TABLES.items():
            got = tuple(getattr(self, name))
            if sorted(got) != sorted(std):
                raise ValueError(f"layout: the {name} fields must be a permutation of "
                                 f"{', '.join(std)}")
            object.__setattr__(self, name, got)

    def swapped(self, table: str, a: str, b: str) -> "Layout":
        """This layout with fields ``a`` and ``b`` of ``table`` exchanged."""
        order = list(getattr(self, table))
        i, j = order.index(a), order.index(b)
        order[i], order[j] = order[j], order[i]
        return dataclasses.replace(self, **{table: tuple(order)})

    def pack(self, table: str, values: dict) -> bytes:
        """One row (or the header) of ``table`` from ``{field: value}``."""
        fields, code = getattr(self, table), _TABLES[table][1]
        return struct.pack(f"<{len(fields)}{code}", *(values[f] for f in fields))

    def unpack(self, table: str, buf: bytes, offset: int = 0) -> dict:
        """``{field: value}`` of one row (or the header) of ``table`` at ``offset``."""
        fields, code = getattr(self, table), _TABLES[table][1]
        return dict(zip(fields, struct.unpack_from(f"<{len(fields)}{code}", buf, offset)))

    def offset(self, table: str, field: str) -> int:
        """Byte offset of ``field`` inside its row (or the header)."""
        return 4 * getattr(self, table).index(field)


STANDARD_LAYOUT = Layout()


class ImageError(ValueError):
    """A model that does not fit the memories, or a corrupt/inconsistent image (one line)."""


# ---------------------------------------------------------------------------- sizes
def pe_word_bytes(cfg: Config) -> int:
    """Bytes of a word of the PE region: an entry (entry_bits) or a pointer (an entry
    address including the end, clog2(pe_entry_depth + 1) bits): 2 if both fit 16 bits,
    else 4."""
    return 2 if max(cfg.entry_bits, clog2(cfg.pe_entry_depth + 1)) <= 16 else 4


def beat_bytes(cfg: Config) -> int:
    """Bytes of one AXI beat (data word) of the configuration's bus."""
    return cfg.axi_data_bits // 8


def pe_group(cfg: Config) -> int:
    """G: PEs whose words share one beat of the PE region (beat bytes / PE word bytes)."""
    return beat_bytes(cfg) // pe_word_bytes(cfg)


def pe_groups(cfg: Config) -> int:
    """Groups of the PE region: ceil(n_pe / G)."""
    return -(-cfg.n_pe // pe_group(cfg))


def value_word_bytes(cfg: Config) -> int:
    """Bytes of one bias / peephole / LUT value (sign-extended): 2 or 4."""
    return 2 if max(cfg.pre_bits, cfg.weight_bits, cfg.act_bits) <= 16 else 4


def cell_word_bytes(cfg: Config) -> int:
    """Bytes of one cell word of the bias and peephole regions (4 values)."""
    return CELL_VALUES * value_word_bytes(cfg)


def config_fingerprint(cfg: Config) -> dict:
    """``{header field: value}`` of every field the configuration fixes
    (:data:`CONFIG_HEADER_FIELDS`)."""
    derived = {"pe_word_bytes": pe_word_bytes(cfg), "value_word_bytes": value_word_bytes(cfg),
               "pe_group": pe_group(cfg)}
    return {f: int(derived[f]) if f in derived else int(getattr(cfg, f))
            for f in CONFIG_HEADER_FIELDS}


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


_UINT = {2: "<u2", 4: "<u4"}
_SINT = {2: "<i2", 4: "<i4"}


def matrix_list(qm: QModel) -> list:
    """``[(name, layer, kind, int matrix, weight_frac, shift), ...]`` in image order."""
    out = []
    for k, l in enumerate(qm.layers):
        out.append((f"l{k}_Wx", k, "Wx", l.wx, l.wf_x, l.shift_x))
        out.append((f"l{k}_Wr", k, "Wr", l.wr, l.wf_r, l.shift_r))
        if l.has_proj:
            out.append((f"l{k}_Wp", k, "Wp", l.wp, l.wf_p, 0))
    return out


def layer_shifts(l: QLayer, cfg: Config) -> dict:
    """Binary points and shifts of one layer (docs/numerics.md)."""
    f = l.acc_frac_w
    return {
        "wf_x": int(l.wf_x), "wf_r": int(l.wf_r),
        "wf_p": int(l.wf_p) if l.has_proj else 0,
        "wf_peep": int(l.wf_peep) if l.has_peep else 0,
        "acc_frac_w": int(f), "shift_x": int(l.shift_x), "shift_r": int(l.shift_r),
        "s_acc": int(f + cfg.act_frac - cfg.pre_frac),
        "s_p": int(l.wf_peep + cfg.cell_frac - cfg.pre_frac) if l.has_peep else 0,
    }


def formats(cfg: Config) -> dict:
    """The number formats of the datapath as ``[bits, frac]`` pairs (docs/numerics.md)."""
    return {
        "act": [cfg.act_bits, cfg.act_frac],
        "cell": [cfg.cell_bits, cfg.cell_frac],
        "pre": [cfg.pre_bits, cfg.pre_frac],
        "gate": [cfg.act_bits, cfg.gate_frac],
        "weight_bits": cfg.weight_bits,
        "index_bits": cfg.index_bits,
        "entry_bits": cfg.entry_bits,
        "acc_bits": cfg.acc_bits,
        "lut_bits": cfg.lut_bits,
        "sigmoid_range_log2": cfg.sigmoid_range_log2,
        "tanh_range_log2": cfg.tanh_range_log2,
    }


# ---------------------------------------------------------------------------- checks
def _check_sizes(qm: QModel, cfg: Config) -> None:
    if not qm.layers:
        raise ImageError("model has no layers")
    if len(qm.layers) > cfg.max_layers:
        raise ImageError(f"model has {len(qm.layers)} layers but configuration {cfg.name!r} "
                         f"accepts at most {cfg.max_layers} (max_layers)")
    for k, l in enumerate(qm.layers):
        if k == 0 and l.n_in > cfg.max_input:
            raise ImageError(f"input width {l.n_in} exceeds max_input {cfg.max_input} "
                             f"of configuration {cfg.name!r}")
        if l.n_cells > cfg.max_cells:
            raise ImageError(f"layer {k} has {l.n_cells} cells, configuration {cfg.name!r} "
                             f"accepts at most {cfg.max_cells} (max_cells)")
        if l.n_out > cfg.max_proj:
            raise ImageError(f"layer {k} output width {l.n_out} exceeds max_proj "
                             f"{cfg.max_proj} of configuration {cfg.name!r}")


def _check_range(name: str, a: np.ndarray, bits: int) -> None:
    a = np.asarray(a)
    if a.size and (a.min() < smin(bits) or a.max() > smax(bits)):
        raise ImageError(f"{name}: values in [{int(a.min())}, {int(a.max())}] do not fit "
                         f"{bits} signed bits")


# ---------------------------------------------------------------------------- build
class _Writer:
    """Collects regions at 64-byte aligned offsets."""

    def __init__(self):
        self.chunks = []      # (offset, bytes)
        self.regions = []     # manifest entries
        self.pos = 0

    def reserve(self, name: str, size: int) -> int:
        off = self.pos
        self.regions.append({"name": name, "offset": off, "size": int(size)})
        self.pos = _align(off + size) if size else off
        return off

    def put(self, off: int, data: bytes) -> None:
        self.chunks.append((off, bytes(data)))

    def add(self, name: str, data: bytes) -> int:
        off = self.reserve(name, len(data))
        self.put(off, data)
        return off

    def image(self) -> bytearray:
        buf = bytearray(_align(max(self.pos, HEADER_BYTES)))
        for off, data in self.chunks:
            buf[off:off + len(data)] = data
        return buf


def _values(a, nbytes: int) -> bytes:
    return np.asarray(a, dtype=np.int64).astype(_SINT[nbytes]).tobytes()


def cell_words(l: QLayer) -> tuple:
    """A layer's bias and peephole regions as (H, 4) value arrays (peepholes: None).

    Cell word k: (b_i, b_f, b_g, b_o) of cell k - the stored order of the biases,
    ``bias[4k + g]`` - and (p_i, p_f, p_o, 0).
    """
    bias = np.asarray(l.bias, dtype=np.int64).reshape(l.n_cells, CELL_VALUES)
    if not l.has_peep:
        return bias, None
    peep = np.zeros((l.n_cells, CELL_VALUES), dtype=np.int64)
    peep[:, :PEEP_PER_CELL] = np.asarray(l.peep, dtype=np.int64).T
    return bias, peep


def pe_region(entries: list, ptrs: list, cfg: Config, max_entries: int) -> np.ndarray:
    """The PE region as an array of words, shape (groups, pe_rows, G).

    ``entries[p]``: PE p's entry words; ``ptrs[p]``: its pointer table (n_matrices + 1
    entry addresses).  Row r < n_matrices + 1 of group g holds pointer r of PEs
    g*G .. g*G+G-1, row n_matrices + 1 + k their entry k (0 past a PE's count, and
    for PEs beyond n_pe).
    """
    g, ngrp = pe_group(cfg), pe_groups(cfg)
    npt = len(ptrs[0])
    words = np.zeros((ngrp * g, npt + max_entries), dtype=np.int64)
    for p in range(cfg.n_pe):
        words[p, :npt] = ptrs[p]
        words[p, npt:npt + len(entries[p])] = entries[p]
    return words.reshape(ngrp, g, npt + max_entries).transpose(0, 2, 1)


def build_image(qm: QModel, cfg: Config | None = None,
                layout: Layout = STANDARD_LAYOUT) -> tuple:
    """Encode ``qm`` and lay out the memory image (field order: ``layout``).

    Returns ``(image: bytes, manifest: dict)``.  Raises :class:`ImageError` if a
    PE's entries exceed ``cfg.pe_entry_depth`` (naming the PE, the matrices and
    the limit), or if the model exceeds the configuration's sizes.
    """
    cfg = cfg or qm.cfg
    _check_sizes(qm, cfg)
    n_pe = cfg.n_pe
    pwb, vwb, wb = pe_word_bytes(cfg), value_word_bytes(cfg), beat_bytes(cfg)
    G, ngrp = pe_group(cfg), pe_groups(cfg)

    mats = matrix_list(qm)
    encs = []
    for name, k, kind, w, wf, sh in mats:
        w = np.asarray(w, dtype=np.int64)
        _check_range(name, w, cfg.weight_bits)
        encs.append(encode_matrix(w, n_pe, cfg.index_bits))

    # per PE: where each matrix starts in its entry memory, and the end
    entries = np.array([e.entries_per_pe for e in encs], dtype=np.int64).reshape(len(encs), n_pe)
    ptr_table = np.zeros((len(encs) + 1, n_pe), dtype=np.int64)
    ptr_table[1:] = np.cumsum(entries, axis=0)
    total = ptr_table[-1]
    worst = int(np.argmax(total))
    if total[worst] > cfg.pe_entry_depth:
        parts = ", ".join(f"{m[0]} {int(entries[i, worst])}" for i, m in enumerate(mats))
        raise ImageError(f"model does not fit configuration {cfg.name!r}: PE {worst} needs "
                         f"{int(total[worst])} entries ({parts}) but pe_entry_depth is "
                         f"{cfg.pe_entry_depth} (lower the density or use more PEs)")
    max_entries = int(total.max())
    pe_rows = len(encs) + 1 + max_entries

    wr = _Writer()
    wr.reserve("header", HEADER_BYTES)
    lt_off = wr.reserve("layers", LAYER_ROW_BYTES * len(qm.layers))
    mt_off = wr.reserve("matrices", MATRIX_ROW_BYTES * len(mats))

    layers_meta, layer_rows = [], []
    first = 0
    for k, l in enumerate(qm.layers):
        _check_range(f"l{k}_b", l.bias, cfg.pre_bits)
        bias, peep = cell_words(l)
        b_off = wr.add(f"l{k}_b", _values(bias, vwb))
        p_off = 0
        if l.has_peep:
            _check_range(f"l{k} peepholes", l.peep, cfg.weight_bits)
            p_off = wr.add(f"l{k}_peep", _values(peep, vwb))
        sh = layer_shifts(l, cfg)
        flags = (FLAG_PEEPHOLE if l.has_peep else 0) | (FLAG_PROJECTION if l.has_proj else 0)
        row = dict(n_in=l.n_in, n_cells=l.n_cells, n_out=l.n_out, flags=flags, **sh,
                   bias_offset=b_off, peep_offset=p_off, first_matrix=first)
        layer_rows.append(row)
        first += 3 if l.has_proj else 2
        meta = {"layer": k, "n_in": int(l.n_in), "n_cells": int(l.n_cells),
                "n_out": int(l.n_out), "peephole": bool(l.has_peep),
                "projection": bool(l.has_proj), **sh,
                "bias_region": f"l{k}_b",
                "peep_region": f"l{k}_peep" if l.has_peep else None}
        layers_meta.append(meta)

    lut_data = b"".join(_values(_lut.table(cfg, f), vwb) for f in ("sigmoid", "tanh"))
    lut_off = wr.add("lut", lut_data)

    pe_entries = [np.concatenate([e.pes[p].words(cfg.weight_bits, cfg.index_bits)
                                  for e in encs]) for p in range(n_pe)]
    region = pe_region(pe_entries, [ptr_table[:, p] for p in range(n_pe)], cfg, max_entries)
    pe_off = wr.add("pe", region.astype(_UINT[pwb]).tobytes())
    assert pe_off % wb == 0 and region.shape[2] * pwb == wb

    buf = wr.image()
    hdr = dict(magic=int.from_bytes(MAGIC, "little"), version=FORMAT_VERSION,
               header_bytes=HEADER_BYTES, image_bytes=len(buf), crc32=0,
               n_layers=len(qm.layers), n_matrices=len(mats), n_ch=cfg.n_ch,
               **config_fingerprint(cfg), n_in=qm.n_in, n_out=qm.n_out,
               layer_table_offset=lt_off, matrix_table_offset=mt_off, lut_offset=lut_off,
               pe_offset=pe_off, pe_rows=pe_rows, max_entries_per_pe=max_entries)
    buf[0:HEADER_BYTES] = layout.pack("header", hdr)
    for k, row in enumerate(layer_rows):
        off = lt_off + k * LAYER_ROW_BYTES
        buf[off:off + LAYER_ROW_BYTES] = layout.pack("layer", row)
    for i, (name, k, kind, w, wf, sh) in enumerate(mats):
        off = mt_off + i * MATRIX_ROW_BYTES
        row = dict(layer=k, kind=KINDS.index(kind), rows=encs[i].rows, cols=encs[i].cols,
                   weight_frac=wf, shift=sh, row_shift=encs[i].row_shift,
                   nnz=sum(encs[i].nnz_per_pe))
        buf[off:off + MATRIX_ROW_BYTES] = layout.pack("matrix", row)
    crc = zlib.crc32(bytes(buf))
    struct.pack_into("<I", buf, layout.offset("header", "crc32"), crc)
    image = bytes(buf)

    matrices_meta = []
    for i, (name, k, kind, w, wf, sh) in enumerate(mats):
        e = encs[i]
        nnz = sum(e.nnz_per_pe)
        matrices_meta.append({
            "name": name, "layer": k, "kind": kind, "rows": e.rows, "cols": e.cols,
            "nnz": int(nnz), "density": nnz / float(e.rows * e.cols),
            "nnz_per_pe": [int(v) for v in e.nnz_per_pe],
            "fillers_per_pe": [int(v) for v in e.fillers_per_pe],
            "entries_per_pe": [int(v) for v in e.entries_per_pe],
            "entry_base_per_pe": [int(v) for v in ptr_table[i]],
            "row_shift": int(e.row_shift),
            "weight_frac": int(wf), "shift": int(sh),
        })
    manifest = {
        "format": "ese-bundle",
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "formats": formats(cfg),
        "model": {"n_in": int(qm.n_in), "n_out": int(qm.n_out), "n_layers": len(qm.layers)},
        "layers": layers_meta,
        "matrices": matrices_meta,
        "pes": {"entries": [int(v) for v in total], "ptrs": len(encs) + 1,
                "entry_depth": cfg.pe_entry_depth, "ptr_depth": cfg.ptr_depth,
                "group": G, "groups": ngrp, "rows": pe_rows},
        "image": {"file": "image.bin", "bytes": len(image), "crc32": crc, "align": ALIGN,
                  "magic": MAGIC.decode(), "pe_word_bytes": pwb, "value_word_bytes": vwb,
                  "beat_bytes": wb},
        "regions": wr.regions,
    }
    return image, manifest


# ---------------------------------------------------------------------------- read
def parse_header(image: bytes, layout: Layout = STANDARD_LAYOUT) -> dict:
    """Check and decode the header: magic, version, sizes, checksum (raises ImageError)."""
    image = bytes(image)
    if len(image) < HEADER_BYTES:
        raise ImageError(f"image is {len(image)} bytes, shorter than its {HEADER_BYTES}-byte "
                         f"header (truncated)")
    mo = layout.offset("header", "magic")
    if image[mo:mo + 4] != MAGIC:
        raise ImageError(f"not an ESE memory image (magic {image[mo:mo + 4]!r}, "
                         f"expected {MAGIC!r})")
    h = layout.unpack("header", image)
    if h["version"] != FORMAT_VERSION:
        raise ImageError(f"image format version {h['version']} is not supported "
                         f"(this software reads version {FORMAT_VERSION})")
    if h["header_bytes"] != HEADER_BYTES:
        raise ImageError(f"image header size {h['header_bytes']} is not {HEADER_BYTES}")
    if h["image_bytes"] != len(image):
        raise ImageError(f"image is {len(image)} bytes but its header says "
                         f"{h['image_bytes']} (truncated or padded)")
    zeroed = bytearray(image)
    struct.pack_into("<I", zeroed, layout.offset("header", "crc32"), 0)
    crc = zlib.crc32(bytes(zeroed))
    if crc != h["crc32"]:
        raise ImageError(f"image checksum mismatch (crc32 {crc:#010x}, header says "
                         f"{h['crc32']:#010x}): the image is corrupt")
    if h["pe_word_bytes"] not in _UINT or h["value_word_bytes"] not in _UINT:
        raise ImageError("image header: word sizes must be 2 or 4 bytes")
    return h


def _slice(image: bytes, off: int, size: int, what: str) -> bytes:
    if off < 0 or off % ALIGN or off + size > len(image):
        raise ImageError(f"image: {what} at offset {off} (+{size} bytes) is misaligned or "
                         f"outside the {len(image)}-byte image")
    return image[off:off + size]


def read_tables(image: bytes, layout: Layout = STANDARD_LAYOUT) -> dict:
    """The header and the two tables, each row a ``{field: value}`` dict.

    ``{"header": ..., "layers": [...], "matrices": [...]}``; the header is
    checked (:func:`parse_header`), the tables must lie inside the image.
    Raises :class:`ImageError`.
    """
    image = bytes(image)
    h = parse_header(image, layout)
    nl, nm = h["n_layers"], h["n_matrices"]
    lt = _slice(image, h["layer_table_offset"], nl * LAYER_ROW_BYTES, "layer table")
    mt = _slice(image, h["matrix_table_offset"], nm * MATRIX_ROW_BYTES, "matrix table")
    return {"header": h,
            "layers": [layout.unpack("layer", lt, k * LAYER_ROW_BYTES) for k in range(nl)],
            "matrices": [layout.unpack("matrix", mt, i * MATRIX_ROW_BYTES) for i in range(nm)]}


def pe_memories(image: bytes, header: dict) -> list:
    """Every PE's memories as the PE region holds them: ``[(entries, pointers), ...]``.

    ``pointers``: the PE's pointer table (n_matrices + 1 entry addresses);
    ``entries``: its entry words 0 .. pointers[-1] - 1 (int64 arrays).  Raises
    :class:`ImageError` if the region lies outside the image or a pointer table
    is not increasing or points past the PE's rows.
    """
    pwb, n_pe, G = header["pe_word_bytes"], header["n_pe"], header["pe_group"]
    nm, rows, me = header["n_matrices"], header["pe_rows"], header["max_entries_per_pe"]
    if pwb not in _UINT or G < 1 or n_pe < 1:
        raise ImageError("image header: PE word size, group or PE count is invalid")
    if rows != nm + 1 + me:
        raise ImageError(f"image header: pe_rows {rows} is not n_matrices + 1 + "
                         f"max_entries_per_pe = {nm + 1 + me}")
    ngrp = -(-n_pe // G)
    raw = _slice(image, header["pe_offset"], ngrp * rows * G * pwb, "PE region")
    words = np.frombuffer(raw, dtype=_UINT[pwb]).astype(np.int64).reshape(ngrp, rows, G)
    out = []
    for p in range(n_pe):
        col = words[p // G, :, p % G]
        ptr = col[:nm + 1]
        if np.any(np.diff(ptr) < 0) or ptr[-1] > me:
            raise ImageError(f"image PE {p}: pointer table {ptr.tolist()} is not increasing "
                             f"or points past its {me} entry rows")
        out.append((col[nm + 1:nm + 1 + int(ptr[-1])], ptr))
    return out


def read_image(image: bytes, manifest: dict, layout: Layout = STANDARD_LAYOUT) -> QModel:
    """Rebuild the QModel from the memory image (decoding every PE stream).

    The manifest supplies only the configuration (checked against the image's
    header fingerprint) and is cross-checked for consistency with the image.
    ``layout``: the field order the image was written with.  Raises
    :class:`ImageError` on any corrupt or inconsistent content.
    """
    image = bytes(image)
    h = parse_header(image, layout)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ImageError("manifest has no 'config' object")
    try:
        cfg = Config.from_dict(manifest["config"])
    except (ConfigError, TypeError) as e:
        raise ImageError(f"manifest configuration is invalid: {e}") from None
    for f, v in config_fingerprint(cfg).items():
        if h[f] != v:
            raise ImageError(f"image was built for {f} = {h[f]} but the manifest's "
                             f"configuration has {f} = {v}")
    im = manifest.get("image", {})
    if isinstance(im, dict) and "bytes" in im and im["bytes"] != len(image):
        raise ImageError(f"image is {len(image)} bytes but the manifest says {im['bytes']}")

    n_pe, nl, nm = h["n_pe"], h["n_layers"], h["n_matrices"]
    if nl < 1 or nl > cfg.max_layers or nm < 2 * nl or nm > 3 * nl:
        raise ImageError(f"image header: {nl} layers / {nm} matrices is inconsistent")
    if h["max_entries_per_pe"] > cfg.pe_entry_depth:
        raise ImageError(f"image PEs hold up to {h['max_entries_per_pe']} entries, more than "
                         f"the configuration's pe_entry_depth {cfg.pe_entry_depth}")
    vwb = h["value_word_bytes"]

    t = read_tables(image, layout)
    lrows, mrows = t["layers"], t["matrices"]

    # LUTs must be the configuration's
    nlut = cfg.lut_size
    lut_raw = _slice(image, h["lut_offset"], 2 * nlut * vwb, "LUT region")
    lut_vals = np.frombuffer(lut_raw, dtype=_SINT[vwb]).astype(np.int64)
    for i, f in enumerate(("sigmoid", "tanh")):
        if not np.array_equal(lut_vals[i * nlut:(i + 1) * nlut], _lut.table(cfg, f)):
            raise ImageError(f"image {f} table differs from the configuration's")

    pes = pe_memories(image, h)

    def matrix(i: int, layer: int, kind: str, rows: int, cols: int) -> np.ndarray:
        m = mrows[i]
        if (m["layer"], m["kind"], m["rows"], m["cols"]) != (layer, KINDS.index(kind), rows, cols):
            raise ImageError(f"image matrix table row {i} ({m}) does not match layer {layer} "
                             f"{kind} of shape ({rows}, {cols})")
        if m["row_shift"] != row_shift_for(rows, n_pe):
            raise ImageError(f"image l{layer}_{kind}: row_shift {m['row_shift']} is not "
                             f"{row_shift_for(rows, n_pe)} ({rows} rows over {n_pe} PEs)")
        streams = []
        for p, (ent, ptr) in enumerate(pes):
            w, g = unpack_words(ent[ptr[i]:ptr[i + 1]], cfg.weight_bits, cfg.index_bits)
            streams.append(PEStream(weights=w, gaps=g, nnz=int(np.count_nonzero(w)),
                                    fillers=int(w.size - np.count_nonzero(w))))
        enc = EncodedMatrix(rows=rows, cols=cols, n_pe=n_pe, index_bits=cfg.index_bits,
                            row_shift=m["row_shift"], pes=tuple(streams))
        try:
            return decode_matrix(enc)
        except ValueError as e:
            raise ImageError(f"image l{layer}_{kind}: {e}") from None

    def cells(off: int, hc: int, what: str) -> np.ndarray:
        raw = _slice(image, off, hc * CELL_VALUES * vwb, what)
        return np.frombuffer(raw, dtype=_SINT[vwb]).astype(np.int64).reshape(hc, CELL_VALUES)

    layers = []
    prev_out = h["n_in"]
    for k, r in enumerate(lrows):
        ni, hc, po = r["n_in"], r["n_cells"], r["n_out"]
        has_peep, has_proj = bool(r["flags"] & FLAG_PEEPHOLE), bool(r["flags"] & FLAG_PROJECTION)
        if min(ni, hc, po) < 1 or ni != prev_out or (not has_proj and po != hc) \
                or r["flags"] & ~3:
            raise ImageError(f"image layer table row {k} is inconsistent ({r})")
        if (r["acc_frac_w"] < max(r["wf_x"], r["wf_r"])
                or r["shift_x"] != r["acc_frac_w"] - r["wf_x"]
                or r["shift_r"] != r["acc_frac_w"] - r["wf_r"]
                or r["s_acc"] != r["acc_frac_w"] + cfg.act_frac - cfg.pre_frac):
            raise ImageError(f"image layer {k}: binary points and shifts are inconsistent")
        prev_out = po
        i0 = r["first_matrix"]
        if i0 < 0 or i0 + (3 if has_proj else 2) > nm:
            raise ImageError(f"image layer {k}: matrix index {i0} out of range")
        wx = matrix(i0, k, "Wx", 4 * hc, ni)
        wr_ = matrix(i0 + 1, k, "Wr", 4 * hc, po)
        wp = matrix(i0 + 2, k, "Wp", po, hc) if has_proj else None
        b = cells(r["bias_offset"], hc, f"layer {k} bias").reshape(-1)
        peep = None
        if has_peep:
            pw = cells(r["peep_offset"], hc, f"layer {k} peepholes")
            if np.any(pw[:, PEEP_PER_CELL:]):
                raise ImageError(f"image layer {k}: peephole cell words are not zero-padded")
            peep = pw[:, :PEEP_PER_CELL].T.copy()
        layers.append(QLayer(n_in=ni, n_cells=hc, n_out=po, wx=wx, wr=wr_, bias=b,
                             wf_x=r["wf_x"], wf_r=r["wf_r"], wp=wp,
                             wf_p=r["wf_p"] if has_proj else 0, peep=peep,
                             wf_peep=r["wf_peep"] if has_peep else 0,
                             acc_frac=(r["acc_frac_w"]
                                       if r["acc_frac_w"] > max(r["wf_x"], r["wf_r"])
                                       else None)))
    if prev_out != h["n_out"]:
        raise ImageError(f"image header says {h['n_out']} outputs, last layer gives {prev_out}")
    qm = QModel(cfg=cfg, layers=layers)
    _cross_check_manifest(qm, manifest)
    if isinstance(im, dict) and "crc32" in im and im["crc32"] != h["crc32"]:
        raise ImageError("image checksum differs from the manifest's: they belong to "
                         "different bundles")
    return qm


def _cross_check_manifest(qm: QModel, manifest: dict) -> None:
    ml = manifest.get("layers")
    if ml is None:
        return
    if not isinstance(ml, list) or len(ml) != len(qm.layers):
        raise ImageError(f"manifest lists {len(ml) if isinstance(ml, list) else '?'} layers, "
                         f"the image holds {len(qm.layers)}")
    for k, (m, l) in enumerate(zip(ml, qm.layers)):
        got = {"n_in": l.n_in, "n_cells": l.n_cells, "n_out": l.n_out,
               "peephole": l.has_peep, "projection": l.has_proj, **layer_shifts(l, qm.cfg)}
        for key, v in got.items():
            if key in m and m[key] != v:
                raise ImageError(f"manifest layer {k} {key} = {m[key]} but the image has {v}")


# ---------------------------------------------------------------------------- documentation
def doc_tables(layout: Layout = STANDARD_LAYOUT) -> dict:
    """The field tables of docs/memory-image.md as markdown, from the tables above.

    ``{"header": ..., "layer": ..., "matrix": ...}``: one row per field (byte
    offset, name, meaning) in ``layout``'s order.  ``scripts/gen_image_doc.py``
    writes them into the document; a test fails when the document drifts.
    """
    out = {}
    for table in _TABLES:
        code = _TABLES[table][1]
        kind = "u32" if code == "I" else "i32"
        lines = ["| offset | field | type | meaning |", "|---|---|---|---|"]
        for i, f in enumerate(getattr(layout, table)):
            lines.append(f"| {4 * i} | `{f}` | {kind} | {FIELD_DOC[table][f]} |")
        out[table] = "\n".join(lines)
    return out
