"""Load-balance-aware pruning: balance, density, stored order, baseline spread."""

import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ese.config import ESE32, TINY
from ese.model.modelfile import ModelError, random_model
from ese.model.prune import (balanced_mask, global_mask, model_nnz_per_pe, nnz_per_pe,
                             prune_matrix, prune_model)


def assert_balanced(mask, n_pe):
    """Every PE within one of the busiest, unless its whole share is kept (or empty)."""
    counts = per_pe_counts(mask, n_pe)
    shares = [len(range(p, mask.shape[0], n_pe)) * mask.shape[1] for p in range(n_pe)]
    top = max(counts)
    assert all(c >= top - 1 or c == s for c, s in zip(counts, shares)), (counts, shares)
    return counts


def per_pe_counts(mask, n_pe):
    """Independent count: loop over rows, row r belongs to PE r % n_pe."""
    c = [0] * n_pe
    for r in range(mask.shape[0]):
        c[r % n_pe] += int(np.count_nonzero(mask[r]))
    return c


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 70), cols=st.integers(1, 30), n_pe=st.integers(1, 12),
       density=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_balance_and_density(rows, cols, n_pe, density, seed):
    w = np.random.default_rng(seed).normal(size=(rows, cols))
    mask = balanced_mask(w, n_pe, density)
    want = int(round(density * rows * cols))
    assert mask.sum() == want
    assert_balanced(mask, n_pe)
    # inside each PE share, every kept magnitude >= every dropped one
    a = np.abs(w)
    for p in range(n_pe):
        kept, dropped = a[p::n_pe][mask[p::n_pe]], a[p::n_pe][~mask[p::n_pe]]
        if kept.size and dropped.size:
            assert kept.min() >= dropped.max()


def test_balance_when_n_pe_does_not_divide_rows():
    w = np.random.default_rng(1).normal(size=(4 * 37, 29))
    for n_pe in (3, 5, 7, 32):
        c = per_pe_counts(balanced_mask(w, n_pe, 0.112), n_pe)
        assert max(c) - min(c) <= 1, (n_pe, c)
        np.testing.assert_array_equal(nnz_per_pe(prune_matrix(w, n_pe, 0.112), n_pe), c)


def test_global_baseline_keeps_largest_and_is_unbalanced():
    rng = np.random.default_rng(2)
    n_pe = 8
    # rows of PE 0 and 1 are 4x larger: global pruning piles the work on them
    scale = np.where(np.arange(128) % n_pe < 2, 4.0, 1.0)[:, None]
    w = rng.normal(size=(128, 64)) * scale
    g = global_mask(w, 0.1)
    assert g.sum() == round(0.1 * w.size)
    assert np.abs(w)[g].min() >= np.abs(w)[~g].max()
    cg = per_pe_counts(g, n_pe)
    cb = per_pe_counts(balanced_mask(w, n_pe, 0.1), n_pe)
    assert max(cb) - min(cb) <= 1
    assert max(cg) - min(cg) > 10 * (max(cb) - min(cb) + 1)
    assert max(cg) > 2 * np.mean(cg)


def stored_rows(w, h):
    """Stored row 4k+g is original row g*H+k (written out, not via gate_perm)."""
    return np.array([w[g * h + k] for k in range(h) for g in range(4)])


@pytest.mark.parametrize("n_pe", [4, 12, 32])
def test_prune_model_balances_stored_order(n_pe):
    cfg = ESE32.replace(n_pe=n_pe, ew_lanes=1, drain_lanes=1)
    m = random_model(23, 41, 13, layers=2, seed=3)
    # make gate i much larger than the others: in PyTorch order PE shares would
    # be unbalanced unless the stored (interleaved) order is what is balanced
    for l in m.layers:
        l.wx[: l.n_cells] *= 5
        l.wr[: l.n_cells] *= 5
    p = prune_model(m, cfg, density=0.2)
    for k, (lo, lp) in enumerate(zip(m.layers, p.layers)):
        for name, wo, wpr in (("Wx", lo.wx, lp.wx), ("Wr", lo.wr, lp.wr)):
            assert np.count_nonzero(wpr) == round(0.2 * wpr.size)
            kept = wpr != 0
            np.testing.assert_array_equal(wpr[kept], wo[kept])     # PyTorch order kept
            c = per_pe_counts(stored_rows(kept, lo.n_cells), n_pe)
            assert max(c) - min(c) <= 1, (name, c)
            assert model_nnz_per_pe(p, n_pe)[f"l{k}_{name}"] == c
        assert_balanced(lp.wp != 0, n_pe)      # 13 rows: PEs 13.. of 32 own none
        np.testing.assert_array_equal(lp.b, lo.b)
        np.testing.assert_array_equal(lp.peep, lo.peep)


def test_densities_per_matrix_and_baseline_flag():
    m = random_model(16, 16, 8, layers=2, seed=4)
    p = prune_model(m, TINY, density=0.5, densities={"Wp": 0.25, "l1_Wr": 0.1})
    assert np.count_nonzero(p.layers[0].wx) == 0.5 * 64 * 16
    assert np.count_nonzero(p.layers[0].wp) == 0.25 * 8 * 16
    assert np.count_nonzero(p.layers[1].wr) == round(0.1 * 64 * 8)
    assert np.count_nonzero(p.layers[0].wr) == 0.5 * 64 * 8
    g = prune_model(m, TINY, density=0.3, balance=False)
    assert np.count_nonzero(g.layers[0].wx) == round(0.3 * 64 * 16)
    with pytest.raises(ModelError):
        prune_model(m, TINY, density=1.5)
    with pytest.raises(ModelError):
        prune_model(m, TINY, densities={"Wq": 0.1})


def test_paper_model_prunes_fast():
    m = random_model(153, 1024, 512, seed=0)
    t = time.perf_counter()
    p = prune_model(m, ESE32)
    dt = time.perf_counter() - t
    print(f"paper model balanced pruning: {dt:.3f} s")
    assert dt < 2.0
    nnz = model_nnz_per_pe(p, 32)
    for name, c in nnz.items():
        assert max(c) - min(c) <= 1, name
    total = sum(sum(c) for c in nnz.values())
    assert abs(total / (4096 * 153 + 4096 * 512 + 512 * 1024) - 0.112) < 1e-4
