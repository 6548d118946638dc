"""Sparse encoder: round trip and an independent reference encoder/decoder."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ese.model.encode import decode_matrix, encode_matrix, local_rows, unpack_words


def ref_encode_pe(sub, index_bits):
    """Plain-Python encoder from docs/compression.md / the encode.py docstring.

    Per column: the PE's non-zeros in local-row order as (weight, zero rows
    skipped since the previous entry); a gap > max_gap first emits fillers
    (0, max_gap), each occupying the row it lands on.
    """
    g = (1 << index_bits) - 1
    weights, gaps, ptr = [], [], [0]
    for j in range(sub.shape[1]):
        pos = 0
        for r in range(sub.shape[0]):
            w = int(sub[r, j])
            if w == 0:
                continue
            while r - pos > g:
                weights.append(0)
                gaps.append(g)
                pos += g + 1
            weights.append(w)
            gaps.append(r - pos)
            pos = r + 1
        ptr.append(len(weights))
    return weights, gaps, ptr


def ref_decode_pe(weights, gaps, ptr, nrows, ncols):
    """The PE's decoding rule, in plain Python."""
    sub = [[0] * ncols for _ in range(nrows)]
    for j in range(ncols):
        pos = 0
        for e in range(ptr[j], ptr[j + 1]):
            row = pos + gaps[e]
            assert row < nrows
            sub[row][j] += weights[e]
            pos = row + 1
    return sub


def check(w, n_pe, index_bits, weight_bits=12):
    w = np.asarray(w, dtype=np.int64)
    enc = encode_matrix(w, n_pe, index_bits)
    np.testing.assert_array_equal(decode_matrix(enc), w)
    assert (enc.rows, enc.cols, enc.n_pe) == (w.shape[0], w.shape[1], n_pe)
    g = (1 << index_bits) - 1
    for p, s in enumerate(enc.pes):
        sub = w[p::n_pe]
        assert sub.shape[0] == local_rows(w.shape[0], n_pe, p)
        rw, rg, rp = ref_encode_pe(sub, index_bits)
        assert s.weights.tolist() == rw and s.gaps.tolist() == rg and s.col_ptr.tolist() == rp
        assert ref_decode_pe(rw, rg, rp, *sub.shape) == sub.tolist()
        assert s.nnz == np.count_nonzero(sub)
        assert s.fillers == s.n_entries - s.nnz == sum(1 for x in rw if x == 0)
        assert np.all((s.gaps >= 0) & (s.gaps <= g))
        assert s.col_ptr[0] == 0 and s.col_ptr[-1] == s.n_entries
        assert np.all(np.diff(s.col_ptr) >= 0)
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
    # one PE, 4-bit index (max gap 15): non-zero at local row r of an empty column
    for r, fillers in ((15, 0), (16, 1), (31, 1), (32, 2), (47, 2), (48, 3)):
        w = np.zeros((60, 1), dtype=np.int64)
        w[r, 0] = 7
        s = check(w, 1, 4).pes[0]
        assert s.fillers == fillers, r
        assert s.gaps.tolist() == [15] * fillers + [r - 16 * fillers]


def test_rows_fewer_than_pes_and_full_matrix():
    check(np.arange(1, 7).reshape(2, 3), 5, 4)               # PEs 2..4 own no rows
    full = check(np.ones((40, 3), dtype=np.int64), 4, 1)     # no gaps: no fillers
    assert full.fillers_per_pe == [0] * 4
    assert full.entries_per_pe == [30] * 4


def test_rejects_non_matrix():
    with pytest.raises(ValueError):
        encode_matrix(np.zeros(4), 2, 4)
