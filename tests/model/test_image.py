"""Memory image + manifest (model/image.py).

The QModels here are built by hand (random sparse integers), independent of
the pruner and quantizer; the layout checks decode the image with a small
reader written from docs/memory-image.md, not with model/image.py.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from ese.config import TINY, Config
from ese.model.image import ImageError, build_image, read_image
from ese.model.lstm_fixed import run_fixed
from ese.model.qmodel import QLayer, QModel

ALIGN = 64


# ----------------------------------------------------------------------------- helpers
def sparse_int(rng, rows, cols, density, bits):
    lim = (1 << (bits - 1)) - 1
    w = rng.integers(-lim, lim + 1, size=(rows, cols))
    w[rng.random((rows, cols)) >= density] = 0
    return w.astype(np.int64)


def rand_qmodel(cfg, shapes, density=0.2, seed=0):
    """shapes: list of (I, H, P or None, peephole); layer k>0 input = previous P."""
    rng = np.random.default_rng(seed)
    layers = []
    for (i, h, p, peep) in shapes:
        po = p if p is not None else h
        wf_x, wf_r = int(rng.integers(6, 14)), int(rng.integers(6, 14))
        layers.append(QLayer(
            n_in=i, n_cells=h, n_out=po,
            wx=sparse_int(rng, 4 * h, i, density, cfg.weight_bits),
            wr=sparse_int(rng, 4 * h, po, density, cfg.weight_bits),
            bias=rng.integers(-(1 << (cfg.pre_bits - 1)), 1 << (cfg.pre_bits - 1), 4 * h),
            wf_x=wf_x, wf_r=wf_r,
            wp=sparse_int(rng, po, h, density, cfg.weight_bits) if p is not None else None,
            wf_p=int(rng.integers(6, 14)) if p is not None else 0,
            peep=rng.integers(-200, 200, (3, h)) if peep else None,
            wf_peep=int(rng.integers(11, 16)) if peep else 0))
    return QModel(cfg=cfg, layers=layers)


SHAPES = [(10, 8, 5, True), (5, 6, None, False), (6, 12, 7, False)]


def assert_same_qmodel(a: QModel, b: QModel):
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        for f in ("n_in", "n_cells", "n_out", "wf_x", "wf_r", "acc_frac_w", "shift_x",
                  "shift_r", "has_proj", "has_peep"):
            assert getattr(la, f) == getattr(lb, f), f
        for f in ("wx", "wr", "bias"):
            np.testing.assert_array_equal(getattr(la, f), getattr(lb, f))
        if la.has_proj:
            np.testing.assert_array_equal(la.wp, lb.wp)
            assert la.wf_p == lb.wf_p
        if la.has_peep:
            np.testing.assert_array_equal(la.peep, lb.peep)
            assert la.wf_peep == lb.wf_peep


# independent reader, from docs/memory-image.md
HDR = ("magic version header_bytes image_bytes crc32 n_layers n_matrices n_pe n_ch "
       "weight_bits index_bits pe_word_bytes value_word_bytes act_bits act_frac cell_bits "
       "cell_frac pre_bits pre_frac gate_frac lut_bits sigmoid_range_log2 tanh_range_log2 "
       "n_in n_out layer_table_offset matrix_table_offset lut_offset pe_offset pe_group "
       "pe_rows max_entries_per_pe").split()
MAT = "layer kind rows cols weight_frac shift row_shift nnz".split()
UINT = {2: "<u2", 4: "<u4"}
SINT = {2: "<i2", 4: "<i4"}


def doc_header(img):
    return dict(zip(HDR, struct.unpack_from("<32I", img, 0)))


def doc_matrix_rows(img):
    h = doc_header(img)
    return [dict(zip(MAT, struct.unpack_from("<8i", img, h["matrix_table_offset"] + 32 * i)))
            for i in range(h["n_matrices"])]


def doc_pe(img, p):
    """PE p's (pointer table, entry rows): group p // G, word p % G of every row."""
    h = doc_header(img)
    g, j, pwb = p // h["pe_group"], p % h["pe_group"], h["pe_word_bytes"]
    beat = h["pe_group"] * pwb
    col = []
    for r in range(h["pe_rows"]):
        off = h["pe_offset"] + (g * h["pe_rows"] + r) * beat + j * pwb
        col.append(int.from_bytes(img[off:off + pwb], "little"))
    nm = h["n_matrices"]
    return col[:nm + 1], col[nm + 1:]


def doc_decode_matrix(img, i):
    """Rebuild matrix ``i`` from the PE region following the documented decoding rule."""
    h = doc_header(img)
    n_pe, ib, wb = h["n_pe"], h["index_bits"], h["weight_bits"]
    m = doc_matrix_rows(img)[i]
    rs = m["row_shift"]
    out = np.zeros((m["rows"], m["cols"]), dtype=np.int64)
    for p in range(n_pe):
        ptrs, ents = doc_pe(img, p)
        pos = -1
        for e in range(ptrs[i], ptrs[i + 1]):
            word = ents[e]
            gap, w = word & ((1 << ib) - 1), word >> ib
            if w >= 1 << (wb - 1):
                w -= 1 << wb
            pos += gap + 1
            if w:
                out[(pos & ((1 << rs) - 1)) * n_pe + p, pos >> rs] += w
    return out


def fillers_by_rule(w, n_pe, index_bits):
    """Filler entries needed per PE, counted from docs/compression.md: a PE walks its rows
    column by column over positions col * R' + local row (R' the smallest power of two
    holding its rows); a gap of more than 2**index_bits - 1 skipped positions takes
    gap // 2**index_bits fillers."""
    g = (1 << index_bits) - 1
    stride = 1
    while stride < -(-w.shape[0] // n_pe):
        stride *= 2
    out = []
    for p in range(n_pe):
        sub = w[p::n_pe]
        pos = [j * stride + r for j in range(sub.shape[1]) for r in np.flatnonzero(sub[:, j])]
        prev, n = -1, 0
        for q in pos:
            n += (q - prev - 1) // (g + 1)
            prev = q
        out.append(n)
    return out


# ----------------------------------------------------------------------------- round trip
CONFIGS = [
    TINY,
    # 18-bit entries and 17-bit pointers (4-byte PE words), 4-byte values, a 128-bit bus:
    # 4 PEs per beat, 2 groups
    Config(name="wide", n_pe=8, weight_bits=14, index_bits=4, pre_bits=20, pre_frac=11,
           pe_entry_depth=70000, acc_bits=48, axi_data_bits=128),
    # 2-bit index: many fillers; 12 PEs in groups of 8 (the second group half empty)
    Config(name="narrow", n_pe=12, index_bits=2, axi_data_bits=128),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_round_trip_exact(cfg):
    qm = rand_qmodel(cfg, SHAPES, density=0.25, seed=1)
    image, man = build_image(qm, cfg)
    back = read_image(image, man)
    assert_same_qmodel(qm, back)
    assert back.cfg == cfg


def test_integer_engine_from_image_equals_from_qmodel():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=2)
    image, man = build_image(qm)
    back = read_image(image, man)
    rng = np.random.default_rng(5)
    xq = rng.integers(-4000, 4000, size=(3, 6, SHAPES[0][0]))
    np.testing.assert_array_equal(run_fixed(qm, xq), run_fixed(back, xq))


def test_acc_frac_override_survives():
    qm = rand_qmodel(TINY, [(4, 4, None, False)], seed=3)
    l = qm.layers[0]
    l.acc_frac = max(l.wf_x, l.wf_r) + 3
    image, man = build_image(qm)
    back = read_image(image, man).layers[0]
    assert back.acc_frac_w == l.acc_frac_w and back.shift_x == l.shift_x
    assert man["layers"][0]["shift_x"] == l.acc_frac - l.wf_x


def test_empty_and_dense_matrices():
    cfg = Config(name="t", n_pe=4)
    qm = rand_qmodel(cfg, [(7, 5, 3, True)], density=0.0, seed=4)
    qm.layers[0].wr = sparse_int(np.random.default_rng(0), 20, 3, 1.01, cfg.weight_bits)
    image, man = build_image(qm, cfg)
    assert_same_qmodel(qm, read_image(image, man))
    wx = next(m for m in man["matrices"] if m["name"] == "l0_Wx")
    assert sum(wx["entries_per_pe"]) == 0


# ----------------------------------------------------------------------------- layout
def row_stride_log2(rows, n_pe):
    """log2 of the smallest power of two >= ceil(rows / n_pe) (docs/compression.md)."""
    s = 0
    while (1 << s) < -(-rows // n_pe):
        s += 1
    return s


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_layout_by_documentation(cfg):
    qm = rand_qmodel(cfg, SHAPES, density=0.3, seed=6)
    img, man = build_image(qm, cfg)
    h = doc_header(img)
    assert img[:4] == b"ESEM" and h["version"] == 2
    assert h["image_bytes"] == len(img) == man["image"]["bytes"]
    assert h["n_pe"] == cfg.n_pe and h["n_layers"] == len(SHAPES)
    # PE words: entries and pointers share one size; a beat holds G of them
    entry_bits = cfg.weight_bits + cfg.index_bits
    ptr_bits = (cfg.pe_entry_depth).bit_length()
    assert h["pe_word_bytes"] == (2 if max(entry_bits, ptr_bits) <= 16 else 4)
    assert h["pe_group"] * h["pe_word_bytes"] == cfg.axi_data_bits // 8
    assert h["pe_offset"] % 64 == 0
    # checksum as documented: crc32 of the image with the crc field zeroed
    z = bytearray(img)
    z[16:20] = b"\0\0\0\0"
    assert zlib.crc32(bytes(z)) == h["crc32"]
    # every matrix decodes from the PE region by the documented rule
    mats = {}
    for k, l in enumerate(qm.layers):
        mats[f"l{k}_Wx"], mats[f"l{k}_Wr"] = l.wx, l.wr
        if l.has_proj:
            mats[f"l{k}_Wp"] = l.wp
    assert [m["name"] for m in man["matrices"]] == list(mats)
    rows = doc_matrix_rows(img)
    for i, name in enumerate(mats):
        assert (rows[i]["rows"], rows[i]["cols"]) == mats[name].shape
        assert rows[i]["row_shift"] == row_stride_log2(mats[name].shape[0], cfg.n_pe)
        assert rows[i]["nnz"] == np.count_nonzero(mats[name])
        np.testing.assert_array_equal(doc_decode_matrix(img, i), mats[name])
    # biases and peepholes: one cell word (4 values) per cell at the layer table's offsets
    vw = h["value_word_bytes"]
    for k, l in enumerate(qm.layers):
        row = struct.unpack_from("<16i", img, h["layer_table_offset"] + 64 * k)
        n_in, n_cells, n_out, flags = row[:4]
        assert (n_in, n_cells, n_out) == (l.n_in, l.n_cells, l.n_out)
        assert flags == (1 if l.has_peep else 0) | (2 if l.has_proj else 0)
        b = np.frombuffer(img, dtype=SINT[vw], count=4 * n_cells, offset=row[13])
        for c in range(n_cells):           # (b_i, b_f, b_g, b_o) = gate rows 4c .. 4c+3
            np.testing.assert_array_equal(b[4 * c:4 * c + 4], l.bias[4 * c:4 * c + 4])
        if l.has_peep:
            pp = np.frombuffer(img, dtype=SINT[vw], count=4 * n_cells,
                               offset=row[14]).reshape(n_cells, 4)
            np.testing.assert_array_equal(pp[:, :3], np.asarray(l.peep).T)
            assert not pp[:, 3].any()


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_pe_region_rows(cfg):
    """Pointer rows: where each matrix starts in every PE (the end last); entry rows: the
    entries back to back, zero past a PE's count and for PEs beyond n_pe."""
    qm = rand_qmodel(cfg, SHAPES, density=0.3, seed=8)
    img, man = build_image(qm, cfg)
    h = doc_header(img)
    nm, G = h["n_matrices"], h["pe_group"]
    assert h["pe_rows"] == nm + 1 + h["max_entries_per_pe"]
    counts = []
    for p in range(-(-cfg.n_pe // G) * G):
        ptrs, ents = doc_pe(img, p)
        if p >= cfg.n_pe:
            assert not any(ptrs) and not any(ents), f"padding PE {p} is not zero"
            continue
        want = [0]
        for m in man["matrices"]:
            assert m["entry_base_per_pe"][p] == want[-1]
            want.append(want[-1] + m["entries_per_pe"][p])
        assert ptrs == want
        assert not any(ents[ptrs[-1]:]), f"PE {p}: entry rows past its count are not zero"
        counts.append(ptrs[-1])
    assert max(counts) == h["max_entries_per_pe"] == max(man["pes"]["entries"])
    pe = next(r for r in man["regions"] if r["name"] == "pe")
    assert pe["offset"] == h["pe_offset"]
    assert pe["size"] == -(-cfg.n_pe // G) * h["pe_rows"] * cfg.axi_data_bits // 8


def test_regions_aligned_disjoint_inside():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=7)
    img, man = build_image(qm)
    regs = sorted(man["regions"], key=lambda r: r["offset"])
    assert regs[0]["name"] == "header" and regs[0]["offset"] == 0
    assert [r["name"] for r in regs] == ["header", "layers", "matrices", "l0_b", "l0_peep",
                                         "l1_b", "l2_b", "lut", "pe"]
    end = 0
    for r in regs:
        assert r["offset"] % ALIGN == 0, r
        assert r["offset"] >= end, f"{r['name']} overlaps the previous region"
        end = r["offset"] + r["size"]
    assert end <= len(img) and len(img) % ALIGN == 0


def test_manifest_keys_and_counts():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=9)
    _, man = build_image(qm)
    assert man["config"] == TINY.to_dict()
    assert man["formats"]["act"] == [TINY.act_bits, TINY.act_frac]
    assert len(man["layers"]) == len(SHAPES)
    for lay, q in zip(man["layers"], qm.layers):
        for key in ("shift_x", "shift_r", "s_acc", "s_p", "wf_p", "acc_frac_w"):
            assert key in lay
        assert lay["s_acc"] == max(q.wf_x, q.wf_r) + TINY.act_frac - TINY.pre_frac
    mats = {}
    for k, l in enumerate(qm.layers):
        mats[f"l{k}_Wx"], mats[f"l{k}_Wr"] = l.wx, l.wr
        if l.has_proj:
            mats[f"l{k}_Wp"] = l.wp
    for m in man["matrices"]:
        for key in ("name", "layer", "rows", "cols", "nnz_per_pe", "fillers_per_pe",
                    "entries_per_pe", "weight_frac", "row_shift"):
            assert key in m
        w = mats[m["name"]]
        assert (m["rows"], m["cols"]) == w.shape
        assert m["nnz_per_pe"] == [int(np.count_nonzero(w[p::TINY.n_pe]))
                                   for p in range(TINY.n_pe)]
        assert m["fillers_per_pe"] == fillers_by_rule(w, TINY.n_pe, TINY.index_bits)
        assert m["entries_per_pe"] == [a + b for a, b in zip(m["nnz_per_pe"],
                                                             m["fillers_per_pe"])]
    assert man["pes"]["ptrs"] == len(man["matrices"]) + 1
    for r in man["regions"]:
        assert set(r) >= {"name", "offset", "size"}


def test_fillers_counted_across_columns():
    """A gap runs across column boundaries (linear positions): 1 PE, 2 rows (stride 2),
    index_bits 1 (max gap 1): entries at positions 0 and 5 need 2 fillers."""
    cfg = Config(name="f", n_pe=4, index_bits=1)
    w = np.zeros((8, 3), dtype=np.int64)
    w[0, 0] = 5                   # PE 0, local row 0, column 0: position 0
    w[4, 2] = -3                  # PE 0, local row 1, column 2: position 2*2 + 1 = 5
    assert fillers_by_rule(w, 4, 1) == [2, 0, 0, 0]


# ----------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def built():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=10)
    return build_image(qm)


def _patch(img, word, value, fix_crc=True, base=0):
    b = bytearray(img)
    struct.pack_into("<I", b, base + 4 * word, value)
    if fix_crc:
        struct.pack_into("<I", b, 16, 0)
        struct.pack_into("<I", b, 16, zlib.crc32(bytes(b)))
    return bytes(b)


def _hdr_word(name):
    return HDR.index(name)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda i: b"XXXX" + i[4:], "magic"),
    (lambda i: _patch(i, 1, 99), "version"),
    (lambda i: i[:len(i) - 64], "truncated"),
    (lambda i: i[:100], "truncated"),
    (lambda i: i + bytes(64), "bytes"),
    (lambda i: i[:300] + bytes([i[300] ^ 1]) + i[301:], "checksum"),
    (lambda i: _patch(i, _hdr_word("n_pe"), 8), "n_pe"),       # fingerprint vs manifest config
    (lambda i: _patch(i, _hdr_word("index_bits"), 3), "index_bits"),
    (lambda i: _patch(i, _hdr_word("pe_group"), 8), "pe_group"),
    (lambda i: _patch(i, _hdr_word("pe_word_bytes"), 4), "pe_word_bytes"),
    (lambda i: _patch(i, _hdr_word("n_layers"), 0), "layers"),
    (lambda i: _patch(i, _hdr_word("max_entries_per_pe"), 5000), "pe_entry_depth"),
    (lambda i: _patch(i, _hdr_word("pe_rows"), doc_header(i)["pe_rows"] - 1), "pe_rows"),
    (lambda i: _patch(i, 6, 0, base=doc_header(i)["matrix_table_offset"]), "row_shift"),
    (lambda i: _patch(i, 2, 0xFFFF, base=doc_header(i)["pe_offset"]), "pointer table"),  # row 1
])
def test_corruption_detected(built, mutate, pattern):
    img, man = built
    with pytest.raises(ImageError, match=pattern):
        read_image(mutate(img), man)


def test_manifest_mismatch_detected(built):
    img, man = built
    bad = dict(man, config=dict(man["config"], n_pe=8))
    with pytest.raises(ImageError, match="n_pe"):
        read_image(img, bad)
    bad = dict(man, config=dict(man["config"], axi_data_bits=128))   # another PE group
    with pytest.raises(ImageError, match="pe_group"):
        read_image(img, bad)
    bad = dict(man, layers=[dict(man["layers"][0], n_cells=99)] + man["layers"][1:])
    with pytest.raises(ImageError, match="n_cells"):
        read_image(img, bad)


def test_entry_depth_overflow_names_pe_and_limit():
    cfg = Config(name="small", n_pe=4, pe_entry_depth=16)
    qm = rand_qmodel(cfg, [(8, 4, None, False)], density=0.5, seed=11)
    with pytest.raises(ImageError, match=r"PE \d+ needs \d+ entries.*pe_entry_depth is 16"):
        build_image(qm, cfg)


def test_size_limits_checked():
    cfg = Config(name="lim", n_pe=4, max_cells=4)
    qm = rand_qmodel(cfg, [(3, 6, None, False)], seed=12)
    with pytest.raises(ImageError, match="max_cells"):
        build_image(qm, cfg)


def test_pe_word_size_and_groups():
    """One definition: model/image.py's sizes are what the hardware's widths use."""
    from ese.config import ESE32, FAST
    from ese.hdl.stream_if import stream_widths
    from ese.model import image as mi
    for cfg in (TINY, ESE32, FAST, *CONFIGS):
        w = stream_widths(cfg)
        assert (w.pe_word, w.group) == (mi.pe_word_bytes(cfg), mi.pe_group(cfg)), cfg.name
    assert (mi.pe_word_bytes(TINY), mi.pe_group(TINY)) == (2, 4)     # 16-bit entries, 64-bit bus
    assert (mi.pe_word_bytes(ESE32), mi.pe_group(ESE32)) == (4, 16)  # 18-bit entries, 512-bit bus


# ----------------------------------------------------------------------------- layouts
def test_layout_moves_fields_in_writer_and_reader():
    """A layout with swapped fields: the writer puts them there, the reader finds them."""
    from ese.model.image import STANDARD_LAYOUT, parse_header, read_tables
    qm = rand_qmodel(TINY, SHAPES, seed=21)
    lay = (STANDARD_LAYOUT.swapped("header", "n_layers", "n_in")
           .swapped("header", "pe_offset", "pe_rows")
           .swapped("layer", "n_cells", "bias_offset").swapped("matrix", "layer", "row_shift"))
    std, man = build_image(qm, TINY)
    img, man2 = build_image(qm, TINY, layout=lay)
    assert len(img) == len(std) and img != std
    # the words really moved (read with the independent reader of the standard format)
    h_std, h_img = doc_header(std), doc_header(img)
    assert h_img["n_layers"] == h_std["n_in"] and h_img["n_in"] == h_std["n_layers"]
    lt = h_std["layer_table_offset"]
    row_std = struct.unpack_from("<16i", std, lt)
    row_img = struct.unpack_from("<16i", img, lt)
    assert row_img[1] == row_std[13] and row_img[13] == row_std[1]      # n_cells <-> bias_offset
    # the reader with the same layout gets the same model and tables
    assert_same_qmodel(qm, read_image(img, man2, layout=lay))
    t_std, t_img = read_tables(std), read_tables(img, lay)
    for key in ("layers", "matrices"):
        assert t_std[key] == t_img[key], key
    assert {k: v for k, v in t_std["header"].items() if k != "crc32"} == \
        {k: v for k, v in t_img["header"].items() if k != "crc32"}
    # ... and the standard reader does not accept it
    with pytest.raises(ImageError):
        read_image(img, man2)
    assert parse_header(img, lay)["n_layers"] == len(SHAPES)


def test_layout_rejects_a_non_permutation():
    from ese.model.image import LAYER_FIELDS, Layout
    with pytest.raises(ValueError, match="permutation"):
        Layout(layer=LAYER_FIELDS[:-1] + ("n_in",))
    with pytest.raises(ValueError, match="permutation"):
        Layout(matrix=("layer", "kind", "rows", "cols"))


# ----------------------------------------------------------------------------- documentation
def test_memory_image_doc_tables_are_the_code_tables():
    """docs/memory-image.md's field tables are model/image.py's (scripts/gen_image_doc.py)."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(root / "scripts" / "gen_image_doc.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # ... and the tables list every field at its offset (read back from the document)
    doc = (root / "docs" / "memory-image.md").read_text()
    from ese.model.image import HEADER_FIELDS, LAYER_FIELDS, MATRIX_FIELDS
    for fields in (HEADER_FIELDS, LAYER_FIELDS, MATRIX_FIELDS):
        for i, f in enumerate(fields):
            assert f"| {4 * i} | `{f}` |" in doc, f"docs/memory-image.md lacks {f} at {4 * i}"


def test_gen_image_doc_detects_drift(tmp_path, monkeypatch):
    """The checker fails on a document whose table was edited by hand."""
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_image_doc",
                                                  root / "scripts" / "gen_image_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = tmp_path / "memory-image.md"
    doc.write_text((root / "docs" / "memory-image.md").read_text()
                   .replace("| 24 | `row_shift` |", "| 24 | `ptr_base` |"))
    monkeypatch.setattr(mod, "DOC", doc)
    assert mod.main(["--check"]) == 1
    assert mod.main([]) == 0 and mod.main(["--check"]) == 0
