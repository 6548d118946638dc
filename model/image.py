"""The memory image the accelerator reads over AXI, and its JSON manifest.

:func:`build_image` encodes every matrix of a :class:`~ese.model.qmodel.QModel`
(``model/encode.py``) and lays out one little-endian byte image; the
manifest (:func:`build_image` returns both) describes it for software.
:func:`read_image` rebuilds the QModel from the image (and the manifest's
configuration) alone - that is all the RTL sees, so the integer engine run
from :func:`read_image` is the reference for the hardware.

The byte layout (every region starts on a 64-byte boundary, padding is zero)
is documented field by field in ``docs/memory-image.md``:

====================  =====================================================
region                contents
====================  =====================================================
``header``            128 bytes: magic ``ESEM``, version, sizes, formats,
                      offsets of the tables (32 x u32)
``layers``            one 64-byte row per layer (16 x i32): sizes, flags,
                      binary points, shifts, bias/peephole offsets
``matrices``          one 32-byte row per matrix (8 x i32): layer, kind,
                      rows, cols, weight frac, product shift, pointer base
``pe_dir``            one 16-byte row per PE (4 x u32): offset and count of
                      its entries and of its column pointers
``l{k}_b``            4H biases, stored (cell-interleaved) order
``l{k}_peep``         3 x H peepholes p_i, p_f, p_o (layers with peepholes)
``lut``               sigmoid table then tanh table (2 x 2**lut_bits)
``pe{p}_entries``     PE p's packed entries, all matrices back to back
``pe{p}_ptrs``        PE p's column pointers, cols+1 per matrix, absolute
                      indices into PE p's entry memory
====================  =====================================================

Matrix order (entries and pointers): ``l0_Wx, l0_Wr, l0_Wp, l1_Wx, ...``
(``Wp`` only where the layer has a projection).
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np

from ese.config import Config, ConfigError
from .encode import EncodedMatrix, PEStream, decode_matrix, encode_matrix, unpack_words
from .fixed import smax, smin
from . import lut as _lut
from .qmodel import QLayer, QModel

MAGIC = b"ESEM"
FORMAT_VERSION = 1
ALIGN = 64
HEADER_BYTES = 128
LAYER_ROW_BYTES = 64
MATRIX_ROW_BYTES = 32
PE_ROW_BYTES = 16

KINDS = ("Wx", "Wr", "Wp")

#: header fields, in order, each a little-endian u32 (word index = position)
HEADER_FIELDS = (
    "magic", "version", "header_bytes", "image_bytes", "crc32",
    "n_layers", "n_matrices", "n_pe", "n_ch",
    "weight_bits", "index_bits", "entry_word_bytes", "ptr_word_bytes", "value_word_bytes",
    "act_bits", "act_frac", "cell_bits", "cell_frac", "pre_bits", "pre_frac", "gate_frac",
    "lut_bits", "sigmoid_range_log2", "tanh_range_log2",
    "n_in", "n_out",
    "layer_table_offset", "matrix_table_offset", "pe_dir_offset", "lut_offset",
    "max_entries_per_pe", "max_ptrs_per_pe",
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
MATRIX_FIELDS = ("layer", "kind", "rows", "cols", "weight_frac", "shift", "ptr_base", "nnz")
assert len(MATRIX_FIELDS) * 4 == MATRIX_ROW_BYTES

#: PE directory row, 4 x u32
PE_FIELDS = ("entries_offset", "n_entries", "ptrs_offset", "n_ptrs")
assert len(PE_FIELDS) * 4 == PE_ROW_BYTES

#: the fingerprint: header fields that must equal the configuration's
CONFIG_HEADER_FIELDS = ("n_pe", "weight_bits", "index_bits", "act_bits", "act_frac",
                        "cell_bits", "cell_frac", "pre_bits", "pre_frac", "gate_frac",
                        "lut_bits", "sigmoid_range_log2", "tanh_range_log2")

#: values per cell in a layer's bias region (gates i, f, g, o, stored order)
BIAS_PER_CELL = 4
#: values per cell in a layer's peephole region (p_i, p_f, p_o)
PEEP_PER_CELL = 3

#: the tables of the image: (standard field order, struct code of a word)
_TABLES = {"header": (HEADER_FIELDS, "I"), "layer": (LAYER_FIELDS, "i"),
           "matrix": (MATRIX_FIELDS, "i"), "pe": (PE_FIELDS, "I")}


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
    pe: tuple = PE_FIELDS

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
def entry_word_bytes(cfg: Config) -> int:
    """Bytes of one packed entry word: 2 if entry_bits <= 16, else 4."""
    return 2 if cfg.entry_bits <= 16 else 4


def ptr_word_bytes(cfg: Config) -> int:
    """Bytes of one column pointer: 2 if pe_entry_depth fits 16 bits, else 4."""
    return 2 if cfg.pe_entry_depth <= 0xFFFF else 4


def value_word_bytes(cfg: Config) -> int:
    """Bytes of one bias / peephole / LUT value (sign-extended): 2 or 4."""
    return 2 if max(cfg.pre_bits, cfg.weight_bits, cfg.act_bits) <= 16 else 4


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


def _empty_cols(s: PEStream) -> int:
    return int(np.count_nonzero(np.diff(s.col_ptr) == 0))


def build_image(qm: QModel, cfg: Config | None = None,
                layout: Layout = STANDARD_LAYOUT) -> tuple:
    """Encode ``qm`` and lay out the memory image (field order: ``layout``).

    Returns ``(image: bytes, manifest: dict)``.  Raises :class:`ImageError` if a
    PE's entries exceed ``cfg.pe_entry_depth`` or its pointers ``cfg.ptr_depth``
    (naming the PE, the matrices and the limit), or if the model exceeds the
    configuration's sizes.
    """
    cfg = cfg or qm.cfg
    _check_sizes(qm, cfg)
    n_pe = cfg.n_pe
    ewb, pwb, vwb = entry_word_bytes(cfg), ptr_word_bytes(cfg), value_word_bytes(cfg)

    mats = matrix_list(qm)
    encs = []
    for name, k, kind, w, wf, sh in mats:
        w = np.asarray(w, dtype=np.int64)
        _check_range(name, w, cfg.weight_bits)
        encs.append(encode_matrix(w, n_pe, cfg.index_bits))

    # per PE: entry bases of each matrix, pointer bases (same for every PE)
    entries = np.array([e.entries_per_pe for e in encs], dtype=np.int64).reshape(len(encs), n_pe)
    bases = np.zeros_like(entries)
    if len(encs) > 1:
        bases[1:] = np.cumsum(entries, axis=0)[:-1]
    total = entries.sum(axis=0)
    ptr_bases = [0]
    for e in encs:
        ptr_bases.append(ptr_bases[-1] + e.cols + 1)
    n_ptrs = ptr_bases[-1]

    worst = int(np.argmax(total))
    if total[worst] > cfg.pe_entry_depth:
        parts = ", ".join(f"{m[0]} {int(entries[i, worst])}" for i, m in enumerate(mats))
        raise ImageError(f"model does not fit configuration {cfg.name!r}: PE {worst} needs "
                         f"{int(total[worst])} entries ({parts}) but pe_entry_depth is "
                         f"{cfg.pe_entry_depth} (lower the density or use more PEs)")
    if n_ptrs > cfg.ptr_depth:
        raise ImageError(f"model does not fit configuration {cfg.name!r}: every PE needs "
                         f"{n_ptrs} column pointers but ptr_depth is {cfg.ptr_depth}")

    wr = _Writer()
    wr.reserve("header", HEADER_BYTES)
    lt_off = wr.reserve("layers", LAYER_ROW_BYTES * len(qm.layers))
    mt_off = wr.reserve("matrices", MATRIX_ROW_BYTES * len(mats))
    pd_off = wr.reserve("pe_dir", PE_ROW_BYTES * n_pe)

    layers_meta, layer_rows = [], []
    first = 0
    for k, l in enumerate(qm.layers):
        _check_range(f"l{k}_b", l.bias, cfg.pre_bits)
        b_off = wr.add(f"l{k}_b", _values(l.bias, vwb))
        p_off = 0
        if l.has_peep:
            _check_range(f"l{k} peepholes", l.peep, cfg.weight_bits)
            p_off = wr.add(f"l{k}_peep", _values(np.asarray(l.peep).reshape(-1), vwb))
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

    pe_rows = []
    for p in range(n_pe):
        words = [e.pes[p].words(cfg.weight_bits, cfg.index_bits) for e in encs]
        words = np.concatenate(words) if words else np.zeros(0, dtype=np.int64)
        e_off = wr.add(f"pe{p}_entries", words.astype(_UINT[ewb]).tobytes())
        ptrs = np.concatenate([e.pes[p].col_ptr + bases[i, p] for i, e in enumerate(encs)])
        p_off = wr.add(f"pe{p}_ptrs", ptrs.astype(_UINT[pwb]).tobytes())
        pe_rows.append(dict(entries_offset=e_off, n_entries=int(total[p]), ptrs_offset=p_off,
                            n_ptrs=n_ptrs))

    buf = wr.image()
    hdr = dict(magic=int.from_bytes(MAGIC, "little"), version=FORMAT_VERSION,
               header_bytes=HEADER_BYTES, image_bytes=len(buf), crc32=0,
               n_layers=len(qm.layers), n_matrices=len(mats), n_pe=n_pe, n_ch=cfg.n_ch,
               weight_bits=cfg.weight_bits, index_bits=cfg.index_bits,
               entry_word_bytes=ewb, ptr_word_bytes=pwb, value_word_bytes=vwb,
               act_bits=cfg.act_bits, act_frac=cfg.act_frac, cell_bits=cfg.cell_bits,
               cell_frac=cfg.cell_frac, pre_bits=cfg.pre_bits, pre_frac=cfg.pre_frac,
               gate_frac=cfg.gate_frac, lut_bits=cfg.lut_bits,
               sigmoid_range_log2=cfg.sigmoid_range_log2, tanh_range_log2=cfg.tanh_range_log2,
               n_in=qm.n_in, n_out=qm.n_out, layer_table_offset=lt_off,
               matrix_table_offset=mt_off, pe_dir_offset=pd_off, lut_offset=lut_off,
               max_entries_per_pe=int(total.max()), max_ptrs_per_pe=n_ptrs)
    buf[0:HEADER_BYTES] = layout.pack("header", hdr)
    for k, row in enumerate(layer_rows):
        off = lt_off + k * LAYER_ROW_BYTES
        buf[off:off + LAYER_ROW_BYTES] = layout.pack("layer", row)
    for i, (name, k, kind, w, wf, sh) in enumerate(mats):
        off = mt_off + i * MATRIX_ROW_BYTES
        row = dict(layer=k, kind=KINDS.index(kind), rows=encs[i].rows, cols=encs[i].cols,
                   weight_frac=wf, shift=sh, ptr_base=ptr_bases[i],
                   nnz=sum(encs[i].nnz_per_pe))
        buf[off:off + MATRIX_ROW_BYTES] = layout.pack("matrix", row)
    for p, row in enumerate(pe_rows):
        off = pd_off + p * PE_ROW_BYTES
        buf[off:off + PE_ROW_BYTES] = layout.pack("pe", row)
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
            "empty_cols_per_pe": [_empty_cols(s) for s in e.pes],
            "entry_base_per_pe": [int(v) for v in bases[i]],
            "ptr_base": ptr_bases[i],
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
        "pes": {"entries": [int(v) for v in total], "ptrs": n_ptrs,
                "entry_depth": cfg.pe_entry_depth, "ptr_depth": cfg.ptr_depth},
        "image": {"file": "image.bin", "bytes": len(image), "crc32": crc, "align": ALIGN,
                  "magic": MAGIC.decode(), "entry_word_bytes": ewb, "ptr_word_bytes": pwb,
                  "value_word_bytes": vwb},
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
    if h["entry_word_bytes"] not in (2, 4) or h["ptr_word_bytes"] not in (2, 4) \
            or h["value_word_bytes"] not in (2, 4):
        raise ImageError("image header: word sizes must be 2 or 4 bytes")
    return h


def _slice(image: bytes, off: int, size: int, what: str) -> bytes:
    if off < 0 or off % ALIGN or off + size > len(image):
        raise ImageError(f"image: {what} at offset {off} (+{size} bytes) is misaligned or "
                         f"outside the {len(image)}-byte image")
    return image[off:off + size]


def read_tables(image: bytes, layout: Layout = STANDARD_LAYOUT) -> dict:
    """The header and the three tables, each row a ``{field: value}`` dict.

    ``{"header": ..., "layers": [...], "matrices": [...], "pes": [...]}``; the
    header is checked (:func:`parse_header`), the tables must lie inside the
    image.  Raises :class:`ImageError`.
    """
    image = bytes(image)
    h = parse_header(image, layout)
    nl, nm, n_pe = h["n_layers"], h["n_matrices"], h["n_pe"]
    lt = _slice(image, h["layer_table_offset"], nl * LAYER_ROW_BYTES, "layer table")
    mt = _slice(image, h["matrix_table_offset"], nm * MATRIX_ROW_BYTES, "matrix table")
    pd = _slice(image, h["pe_dir_offset"], n_pe * PE_ROW_BYTES, "PE directory")
    return {"header": h,
            "layers": [layout.unpack("layer", lt, k * LAYER_ROW_BYTES) for k in range(nl)],
            "matrices": [layout.unpack("matrix", mt, i * MATRIX_ROW_BYTES) for i in range(nm)],
            "pes": [layout.unpack("pe", pd, p * PE_ROW_BYTES) for p in range(n_pe)]}


def pe_words(image: bytes, header: dict, pe_row: dict) -> tuple:
    """One PE's entry words and column pointers (int64 arrays) as its directory row says."""
    ewb, pwb = header["entry_word_bytes"], header["ptr_word_bytes"]
    if ewb not in _UINT or pwb not in _UINT:
        raise ImageError("image header: word sizes must be 2 or 4 bytes")
    raw = _slice(image, pe_row["entries_offset"], pe_row["n_entries"] * ewb, "PE entries")
    ent = np.frombuffer(raw, dtype=_UINT[ewb]).astype(np.int64)
    raw = _slice(image, pe_row["ptrs_offset"], pe_row["n_ptrs"] * pwb, "PE pointers")
    return ent, np.frombuffer(raw, dtype=_UINT[pwb]).astype(np.int64)


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
    for f in CONFIG_HEADER_FIELDS:
        if h[f] != getattr(cfg, f):
            raise ImageError(f"image was built for {f} = {h[f]} but the manifest's "
                             f"configuration has {f} = {getattr(cfg, f)}")
    if (h["entry_word_bytes"], h["ptr_word_bytes"], h["value_word_bytes"]) != \
            (entry_word_bytes(cfg), ptr_word_bytes(cfg), value_word_bytes(cfg)):
        raise ImageError("image word sizes do not match the manifest's configuration")
    im = manifest.get("image", {})
    if isinstance(im, dict) and "bytes" in im and im["bytes"] != len(image):
        raise ImageError(f"image is {len(image)} bytes but the manifest says {im['bytes']}")

    n_pe, nl, nm = h["n_pe"], h["n_layers"], h["n_matrices"]
    if nl < 1 or nl > cfg.max_layers or nm < 2 * nl or nm > 3 * nl:
        raise ImageError(f"image header: {nl} layers / {nm} matrices is inconsistent")
    ewb, pwb, vwb = h["entry_word_bytes"], h["ptr_word_bytes"], h["value_word_bytes"]

    t = read_tables(image, layout)
    lrows, mrows, prows = t["layers"], t["matrices"], t["pes"]

    # LUTs must be the configuration's
    nlut = cfg.lut_size
    lut_raw = _slice(image, h["lut_offset"], 2 * nlut * vwb, "LUT region")
    lut_vals = np.frombuffer(lut_raw, dtype=_SINT[vwb]).astype(np.int64)
    for i, f in enumerate(("sigmoid", "tanh")):
        if not np.array_equal(lut_vals[i * nlut:(i + 1) * nlut], _lut.table(cfg, f)):
            raise ImageError(f"image {f} table differs from the configuration's")

    # per PE entry and pointer memories
    pe_ent, pe_ptrs = [], []
    for p, r in enumerate(prows):
        if r["n_entries"] > cfg.pe_entry_depth or r["n_ptrs"] > cfg.ptr_depth:
            raise ImageError(f"image PE {p}: {r['n_entries']} entries / {r['n_ptrs']} "
                             f"pointers exceed the configuration's memories")
        ent, ptr = pe_words(image, h, r)
        pe_ent.append(ent)
        pe_ptrs.append(ptr)

    def matrix(i: int, layer: int, kind: str, rows: int, cols: int) -> np.ndarray:
        m = mrows[i]
        if (m["layer"], m["kind"], m["rows"], m["cols"]) != (layer, KINDS.index(kind), rows, cols):
            raise ImageError(f"image matrix table row {i} ({m}) does not match layer {layer} "
                             f"{kind} of shape ({rows}, {cols})")
        pb = m["ptr_base"]
        streams = []
        for p in range(n_pe):
            ptr = pe_ptrs[p]
            if pb < 0 or pb + cols + 1 > ptr.size:
                raise ImageError(f"image l{layer}_{kind}: pointers of PE {p} out of range")
            cp = ptr[pb:pb + cols + 1]
            if np.any(np.diff(cp) < 0) or cp[-1] > pe_ent[p].size:
                raise ImageError(f"image l{layer}_{kind}: column pointers of PE {p} are "
                                 f"not increasing or point past its {pe_ent[p].size} entries")
            w, g = unpack_words(pe_ent[p][cp[0]:cp[-1]], cfg.weight_bits, cfg.index_bits)
            streams.append(PEStream(weights=w, gaps=g, col_ptr=cp - cp[0],
                                    nnz=int(np.count_nonzero(w)),
                                    fillers=int(w.size - np.count_nonzero(w))))
        enc = EncodedMatrix(rows=rows, cols=cols, n_pe=n_pe, index_bits=cfg.index_bits,
                            pes=tuple(streams))
        try:
            return decode_matrix(enc)
        except ValueError as e:
            raise ImageError(f"image l{layer}_{kind}: {e}") from None

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
        if i0 + (3 if has_proj else 2) > nm:
            raise ImageError(f"image layer {k}: matrix index {i0} out of range")
        wx = matrix(i0, k, "Wx", 4 * hc, ni)
        wr_ = matrix(i0 + 1, k, "Wr", 4 * hc, po)
        wp = matrix(i0 + 2, k, "Wp", po, hc) if has_proj else None
        b = np.frombuffer(_slice(image, r["bias_offset"], BIAS_PER_CELL * hc * vwb,
                                 f"layer {k} bias"), dtype=_SINT[vwb]).astype(np.int64)
        peep = None
        if has_peep:
            peep = np.frombuffer(_slice(image, r["peep_offset"], PEEP_PER_CELL * hc * vwb,
                                        f"layer {k} peepholes"),
                                 dtype=_SINT[vwb]).astype(np.int64).reshape(PEEP_PER_CELL, hc)
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
