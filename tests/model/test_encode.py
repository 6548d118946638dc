"""Sparse encoder: round trip and an independent reference encoder/decoder."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ese.model.encode import decode_matrix, encode_matrix, local_rows, unpack_words


def ref_encode_pe(sub, index_bits, row_stride):
    """Plain-Python encoder written from docs/compression.md.

    The PE's share is walked column by column, row by row, over linear
    positions ``col * row_stride + row``; every non-zero becomes (weight,
    positions skipped since the previous entry); a skip above max_gap first
    emits fillers (0, max_gap), each occupying the position it lands on.
    """
    g = (1 << index_bits) - 1
    weights, gaps = [], []
    last = -1
    for j in range(sub.shape[1]):
        for r in range(sub.shape[0]):
            w = int(sub[r, j])
            if w == 0:
                continue
            here = j * row_stride + r
            while here - last - 1 > g:
                weights.append(0)
                gaps.append(g)
                last += g + 1
            weights.append(w)
            gaps.append(here - last - 1)
            last = here
    return weights, gaps


def ref_decode_pe(weights, gaps, nrows, ncols, row_stride):
    """The PE's decoding rule, in plain Python."""
    sub = [[0] * ncols for _ in range(nrows)]
    pos = -1
    for w, gap in zip(weights, gaps):
        pos += gap + 1
        if w:
            col, row = divmod(pos, row_stride)
            assert row < nrows and col < ncols
            sub[row][col] += w
    return sub


def check(w, n_pe, index_bits, weight_bits=12):
    w = np.asarray(w, dtype=np.int64)
    enc = encode_matrix(w, n_pe, index_bits)
    np.testing.assert_array_equal(decode_matrix(enc), w)
    assert (enc.rows, enc.cols, enc.n_pe) == (w.shape[0], w.shape[1], n_pe)
    stride = 1 << enc.row_shift
    most = -(-w.shape[0] // n_pe)
    assert stride >= max(most, 1) and (stride == 1 or stride // 2 < most), \
        "the row stride is the smallest power of two holding the local rows"
    g = (1 << index_bits) - 1
    for p, s in enumerate(enc.pes):
        sub = w[p::n_pe]
        assert sub.shape[0] == local_rows(w.shape[0], n_pe, p)
        rw, rg = ref_encode_pe(sub, index_bits, stride)
        assert s.weights.tolist() == rw and s.gaps.tolist() == rg
        assert ref_decode_pe(rw, rg, sub.shape[0], sub.shape[1], stride) == sub.tolist()
        assert s.nnz == np.count_nonzero(sub)
        assert s.fillers == s.n_entries - s.nnz == sum(1 for x in rw if x == 0)
        assert np.all((s.gaps >= 0) & (s.gaps <= g))
        cols = enc.columns(p)
        assert np.all(np.diff(cols) >= 0) and (cols.size == 0 or cols[-1] < w.shape[1])
        words = s.words(weight_bits, index_bits)
        assert np.all((words >= 0) & (words < (1 << (weight_bits + index_bits))))
        ww, gg = unpack_words(words, weight_bits, index_bits)
        np.testing.assert_array_equal(ww, s.weights)
        np.testing.assert_array_equal(gg, s.gaps)
    assert enc.nnz_per_pe == [np.count_nonzero(w[p::n_pe]) for p in range(n_pe)]
    return enc


@st.composite
def sparse_matrices(draw):
    rows = draw(st.integers(1, 90))
    cols = draw(st.integers(1, 12))
    n_pe = draw(st.integers(1, 9))
    index_bits = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.02, 0.1, 0.5, 1.0]))
    w = rng.integers(-2048, 2048, (rows, cols)) * (rng.random((rows, cols)) < density)
    kind = draw(st.sampled_from(["plain", "empty_col", "full_col", "empty_pe", "far"]))
    if kind == "empty_col":
        w[:, rng.integers(cols)] = 0
    elif kind == "full_col":
        c = rng.integers(cols)
        w[:, c] = rng.integers(1, 2048, rows) * rng.choice([-1, 1], rows)
    elif kind == "empty_pe":
        w[rng.integers(n_pe)::n_pe] = 0
    elif kind == "far":                     # only the last row set: longest possible gap
        w[:] = 0
        w[-1, :] = -2048
    return w, n_pe, index_bits


@settings(max_examples=150, deadline=None)
@given(sparse_matrices())
def test_round_trip_random(case):
    check(*case)


@pytest.mark.parametrize("shape", [(1, 17), (17, 1), (1, 1)])
@pytest.mark.parametrize("n_pe", [1, 4, 32])
def test_thin_matrices(shape, n_pe):
    rng = np.random.default_rng(shape[0] * 31 + n_pe)
    w = rng.integers(-5, 6, shape)
    check(w, n_pe, 4)


def test_gap_fillers_exact_counts():
    # one PE, 4-bit index (max gap 15): non-zero at local row r of column 0 (stride 64)
    for r, fillers in ((15, 0), (16, 1), (31, 1), (32, 2), (47, 2), (48, 3)):
        w = np.zeros((60, 1), dtype=np.int64)
        w[r, 0] = 7
        s = check(w, 1, 4).pes[0]
        assert s.fillers == fillers, r
        assert s.gaps.tolist() == [15] * fillers + [r - 16 * fillers]


def test_empty_columns_cost_nothing():
    # one row per PE: the gap counts the skipped columns; no entry for an empty column
    w = np.zeros((2, 40), dtype=np.int64)
    w[0, 3] = w[0, 39] = 5
    w[1, 0] = -1
    enc = check(w, 2, 6)
    assert enc.row_shift == 0
    assert enc.pes[0].gaps.tolist() == [3, 35] and enc.pes[1].gaps.tolist() == [0]


def test_gap_crosses_columns():
    # 3 local rows -> stride 4: row 2 of column 0, then row 1 of column 2
    w = np.zeros((3, 3), dtype=np.int64)
    w[2, 0], w[1, 2] = 4, 9
    s = check(w, 1, 4).pes[0]
    assert s.gaps.tolist() == [2, 6]            # positions 2 and 9


def test_rows_fewer_than_pes_and_full_matrix():
    check(np.arange(1, 7).reshape(2, 3), 5, 4)               # PEs 2..4 own no rows
    full = check(np.ones((40, 3), dtype=np.int64), 4, 4)     # dense: only padding skips
    assert full.fillers_per_pe == [0] * 4
    assert full.entries_per_pe == [30] * 4
    # 10 local rows in a stride of 16: skipping the 6 padding positions needs no filler
    # with index_bits >= 3, one filler per column change with index_bits = 2
    assert check(np.ones((40, 3), dtype=np.int64), 4, 3).fillers_per_pe == [0] * 4
    assert check(np.ones((40, 3), dtype=np.int64), 4, 2).fillers_per_pe == [2] * 4


def test_rejects_non_matrix():
    with pytest.raises(ValueError):
        encode_matrix(np.zeros(4), 2, 4)
