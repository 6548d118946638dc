"""Memory image + manifest (model/image.py) and the cycle model (model/cycles.py).

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
from ese.model import cycles
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
       "weight_bits index_bits entry_word_bytes ptr_word_bytes value_word_bytes act_bits "
       "act_frac cell_bits cell_frac pre_bits pre_frac gate_frac lut_bits sigmoid_range_log2 "
       "tanh_range_log2 n_in n_out layer_table_offset matrix_table_offset pe_dir_offset "
       "lut_offset max_entries_per_pe max_ptrs_per_pe").split()


def doc_header(img):
    return dict(zip(HDR, struct.unpack_from("<32I", img, 0)))


def doc_decode_matrix(img, man, mat):
    """Rebuild one matrix from the PE regions following the documented decoding rule."""
    h = doc_header(img)
    n_pe = h["n_pe"]
    ib, wb = h["index_bits"], h["weight_bits"]
    ew, pw = h["entry_word_bytes"], h["ptr_word_bytes"]
    regions = {r["name"]: r for r in man["regions"]}
    out = np.zeros((mat["rows"], mat["cols"]), dtype=np.int64)
    for p in range(n_pe):
        e_off, n_e, p_off, n_p = struct.unpack_from("<4I", img, h["pe_dir_offset"] + 16 * p)
        assert e_off == regions[f"pe{p}_entries"]["offset"]
        assert p_off == regions[f"pe{p}_ptrs"]["offset"]
        words = np.frombuffer(img, dtype={2: "<u2", 4: "<u4"}[ew], count=n_e, offset=e_off)
        ptrs = np.frombuffer(img, dtype={2: "<u2", 4: "<u4"}[pw], count=n_p, offset=p_off)
        base = mat["ptr_base"]
        for j in range(mat["cols"]):
            pos = 0
            for e in range(int(ptrs[base + j]), int(ptrs[base + j + 1])):
                word = int(words[e])
                gap = word & ((1 << ib) - 1)
                w = word >> ib
                if w >= 1 << (wb - 1):
                    w -= 1 << wb
                row = pos + gap
                out[row * n_pe + p, j] += w
                pos = row + 1
    return out


def fillers_by_rule(w, n_pe, index_bits):
    """Filler entries needed (gap > max_gap), counted from docs/compression.md, per PE."""
    g = (1 << index_bits) - 1
    out = []
    for p in range(n_pe):
        sub = w[p::n_pe]
        n = 0
        for j in range(sub.shape[1]):
            pos = 0
            for r in np.flatnonzero(sub[:, j]):
                gap = r - pos
                n += gap // (g + 1)
                pos = r + 1
        out.append(n)
    return out


# ----------------------------------------------------------------------------- round trip
CONFIGS = [
    TINY,
    # 18-bit entries (32-bit words), 4-byte values, 32-bit pointers, odd PE count
    Config(name="wide", n_pe=5, weight_bits=14, index_bits=4, pre_bits=20, pre_frac=11,
           pe_entry_depth=70000, acc_bits=48),
    # 2-bit index: many fillers
    Config(name="narrow", n_pe=3, index_bits=2),
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
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_layout_by_documentation(cfg):
    qm = rand_qmodel(cfg, SHAPES, density=0.3, seed=6)
    img, man = build_image(qm, cfg)
    h = doc_header(img)
    assert img[:4] == b"ESEM"
    assert h["image_bytes"] == len(img) == man["image"]["bytes"]
    assert h["n_pe"] == cfg.n_pe and h["n_layers"] == len(SHAPES)
    assert h["entry_word_bytes"] == (2 if cfg.weight_bits + cfg.index_bits <= 16 else 4)
    # checksum as documented: crc32 of the image with the crc field zeroed
    z = bytearray(img)
    z[16:20] = b"\0\0\0\0"
    assert zlib.crc32(bytes(z)) == h["crc32"]
    # every matrix decodes from the per-PE regions by the documented rule
    mats = {}
    for k, l in enumerate(qm.layers):
        mats[f"l{k}_Wx"], mats[f"l{k}_Wr"] = l.wx, l.wr
        if l.has_proj:
            mats[f"l{k}_Wp"] = l.wp
    assert [m["name"] for m in man["matrices"]] == list(mats)
    for m in man["matrices"]:
        np.testing.assert_array_equal(doc_decode_matrix(img, man, m), mats[m["name"]])
    # biases and peepholes at the layer table's offsets
    vw = h["value_word_bytes"]
    for k, l in enumerate(qm.layers):
        row = struct.unpack_from("<16i", img, h["layer_table_offset"] + 64 * k)
        n_in, n_cells, n_out, flags = row[:4]
        assert (n_in, n_cells, n_out) == (l.n_in, l.n_cells, l.n_out)
        assert flags == (1 if l.has_peep else 0) | (2 if l.has_proj else 0)
        b = np.frombuffer(img, dtype={2: "<i2", 4: "<i4"}[vw], count=4 * n_cells, offset=row[13])
        np.testing.assert_array_equal(b, l.bias)
        if l.has_peep:
            pp = np.frombuffer(img, dtype={2: "<i2", 4: "<i4"}[vw], count=3 * n_cells,
                               offset=row[14])
            np.testing.assert_array_equal(pp.reshape(3, -1), l.peep)


def test_regions_aligned_disjoint_inside():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=7)
    img, man = build_image(qm)
    regs = sorted(man["regions"], key=lambda r: r["offset"])
    assert regs[0]["name"] == "header" and regs[0]["offset"] == 0
    names = {r["name"] for r in regs}
    for p in range(TINY.n_pe):
        assert {f"pe{p}_entries", f"pe{p}_ptrs"} <= names
    end = 0
    for r in regs:
        assert r["offset"] % ALIGN == 0, r
        assert r["offset"] >= end, f"{r['name']} overlaps the previous region"
        end = r["offset"] + r["size"]
    assert end <= len(img) and len(img) % ALIGN == 0


def test_pe_entries_contiguous_and_pointers_absolute():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=8)
    img, man = build_image(qm)
    h = doc_header(img)
    for p in range(TINY.n_pe):
        e_off, n_e, p_off, n_p = struct.unpack_from("<4I", img, h["pe_dir_offset"] + 16 * p)
        ptrs = np.frombuffer(img, dtype="<u2", count=n_p, offset=p_off).astype(int)
        # matrices back to back: each matrix's first pointer is the previous one's last
        last = 0
        for m in man["matrices"]:
            cp = ptrs[m["ptr_base"]:m["ptr_base"] + m["cols"] + 1]
            assert cp[0] == last == m["entry_base_per_pe"][p]
            assert cp[-1] - cp[0] == m["entries_per_pe"][p]
            assert np.all(np.diff(cp) >= 0)
            last = cp[-1]
        assert last == n_e
        assert n_e * 2 == next(r["size"] for r in man["regions"] if r["name"] == f"pe{p}_entries")


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
                    "entries_per_pe", "weight_frac"):
            assert key in m
        w = mats[m["name"]]
        assert (m["rows"], m["cols"]) == w.shape
        assert m["nnz_per_pe"] == [int(np.count_nonzero(w[p::TINY.n_pe]))
                                   for p in range(TINY.n_pe)]
        assert m["fillers_per_pe"] == fillers_by_rule(w, TINY.n_pe, TINY.index_bits)
        assert m["entries_per_pe"] == [a + b for a, b in zip(m["nnz_per_pe"],
                                                             m["fillers_per_pe"])]
    for r in man["regions"]:
        assert set(r) >= {"name", "offset", "size"}


# ----------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def built():
    qm = rand_qmodel(TINY, SHAPES, density=0.3, seed=10)
    return build_image(qm)


def _patch(img, word, value, fix_crc=True):
    b = bytearray(img)
    struct.pack_into("<I", b, 4 * word, value)
    if fix_crc:
        struct.pack_into("<I", b, 16, 0)
        struct.pack_into("<I", b, 16, zlib.crc32(bytes(b)))
    return bytes(b)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda i: b"XXXX" + i[4:], "magic"),
    (lambda i: _patch(i, 1, 99), "version"),
    (lambda i: i[:len(i) - 64], "truncated"),
    (lambda i: i[:100], "truncated"),
    (lambda i: i + bytes(64), "bytes"),
    (lambda i: i[:300] + bytes([i[300] ^ 1]) + i[301:], "checksum"),
    (lambda i: _patch(i, 7, 8), "n_pe"),              # fingerprint vs manifest config
    (lambda i: _patch(i, 10, 3), "index_bits"),
    (lambda i: _patch(i, 5, 0), "layers"),
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
    bad = dict(man, layers=[dict(man["layers"][0], n_cells=99)] + man["layers"][1:])
    with pytest.raises(ImageError, match="n_cells"):
        read_image(img, bad)


def test_entry_depth_overflow_names_pe_and_limit():
    cfg = Config(name="small", n_pe=2, pe_entry_depth=16)
    qm = rand_qmodel(cfg, [(8, 4, None, False)], density=0.5, seed=11)
    with pytest.raises(ImageError, match=r"PE \d+ needs \d+ entries.*pe_entry_depth is 16"):
        build_image(qm, cfg)


def test_size_limits_checked():
    cfg = Config(name="lim", n_pe=2, max_cells=4)
    qm = rand_qmodel(cfg, [(3, 6, None, False)], seed=12)
    with pytest.raises(ImageError, match="max_cells"):
        build_image(qm, cfg)


# ----------------------------------------------------------------------------- cycle model
def _man(cfg, shapes, density, seed=0):
    return build_image(rand_qmodel(cfg, shapes, density=density, seed=seed), cfg)[1]


@pytest.mark.parametrize("schedule", ["overlap", "base"])
@pytest.mark.parametrize("density", [0.05, 0.3, 1.0])
def test_cycle_model_sanity(density, schedule):
    cfg = Config(name="c", n_pe=4)
    shapes = [(16, 16, 8, True), (8, 16, None, False)]
    qm = rand_qmodel(cfg, shapes, density=density, seed=13)
    man = build_image(qm, cfg)[1]
    est = cycles.estimate(man, schedule=schedule)
    nnz = sum(int(np.count_nonzero(a)) for l in qm.layers
              for a in (l.wx, l.wr, l.wp) if a is not None)
    assert est["nnz"] == nnz
    assert est["ideal_cycles_per_frame"] == pytest.approx(nnz / cfg.n_pe)
    assert est["ideal_cycles_per_frame"] <= est["cycles_per_frame"]
    assert 0 < est["utilization"] <= 1
    assert est["latency_us_at_200mhz"] == pytest.approx(est["cycles_per_frame"] * 0.005)
    assert est["effective_gops"] == pytest.approx(
        2 * nnz * cfg.n_ch * 200e6 / est["cycles_per_frame"] / 1e9)
    assert est["n_pe"] == cfg.n_pe and est["n_ch"] == cfg.n_ch
    assert "frames" not in est
    # every PE walks all its entries of a frame, one per cycle
    per_pe = np.sum([m["entries_per_pe"] for m in man["matrices"]], axis=0)
    assert est["cycles_per_frame"] >= per_pe.max()
    if schedule == "overlap":     # PEs synchronise after every matrix
        slowest = sum(max(m["entries_per_pe"]) for m in man["matrices"])
        assert est["cycles_per_frame"] >= slowest
    t = cycles.estimate(man, frames=10, schedule=schedule)
    assert t["frames"] == 10 and t["cycles"] >= 10 * est["cycles_per_frame"]
    assert t["cycles_per_frame"] == pytest.approx(t["cycles"] / 10)


def test_cycle_model_dense_one_pe_counts_every_entry():
    cfg = Config(name="d", n_pe=1)
    man = _man(cfg, [(6, 4, 3, False)], density=1.01)
    bd = {m["name"]: m["cycles"] for m in cycles.estimate(man)["breakdown"]["matrices"]}
    assert bd == {"l0_Wx": 16 * 6, "l0_Wr": 16 * 3, "l0_Wp": 3 * 4}


def test_cycle_model_monotonic_in_n_pe():
    shapes = [(32, 32, 16, True)]
    prev = None
    for n_pe in (1, 2, 4, 8, 16):
        cfg = Config(name=f"p{n_pe}", n_pe=n_pe)
        est = cycles.estimate(_man(cfg, shapes, density=0.5, seed=14))
        if prev is not None:
            assert est["cycles_per_frame"] < prev
        prev = est["cycles_per_frame"]


def test_cycle_model_monotonic_in_density():
    cfg = Config(name="m", n_pe=4)
    shapes = [(32, 32, 16, True)]
    c = [cycles.estimate(_man(cfg, shapes, d, seed=15))["cycles_per_frame"]
         for d in (0.1, 0.3, 0.6)]
    assert c[0] < c[1] < c[2]


def test_cycle_model_batch_passes():
    cfg = Config(name="b", n_pe=4, n_ch=2)
    man = _man(cfg, [(8, 8, None, False)], 0.3)
    one = cycles.estimate(man, frames=5, batch=2)
    three = cycles.estimate(man, frames=5, batch=5)
    assert three["cycles"] == 3 * one["cycles"]


# ----------------------------------------------------------------------------- layouts
def test_layout_moves_fields_in_writer_and_reader():
    """A layout with swapped fields: the writer puts them there, the reader finds them."""
    from ese.model.image import STANDARD_LAYOUT, parse_header, read_tables
    qm = rand_qmodel(TINY, SHAPES, seed=21)
    lay = (STANDARD_LAYOUT.swapped("header", "n_layers", "n_in")
           .swapped("layer", "n_cells", "bias_offset").swapped("matrix", "layer", "ptr_base")
           .swapped("pe", "entries_offset", "n_ptrs"))
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
    for key in ("layers", "matrices", "pes"):
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
        Layout(pe=("entries_offset", "n_entries", "ptrs_offset"))
