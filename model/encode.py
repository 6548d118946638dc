"""Sparse encoding of one quantized matrix into per-PE (weight, index) streams.

Rows are dealt to PEs round-robin: PE ``p`` owns rows ``p, p+n_pe, ...``; its
*local* row ``l`` is global row ``l*n_pe + p``.  For every PE and every column
``j`` (in order), the PE's non-zeros of that column follow in local-row order
as entries ``(weight, gap)``: ``gap`` is the number of the PE's zero rows
skipped since the previous entry of the column (since local row 0 for the
first).  A gap larger than ``max_gap = 2**index_bits - 1`` is bridged by
filler entries ``(0, max_gap)``, each of which *occupies* the row it lands on
(EIE convention), so a filler moves the row position by ``max_gap + 1``.

Decoding rule (what the PE hardware does)::

    pos = 0 at the start of each column
    for each entry (w, gap):  row = pos + gap;  acc[row] += w * x[j];  pos = row + 1

``col_ptr`` has ``cols + 1`` values: column ``j``'s entries are
``entries[col_ptr[j]:col_ptr[j+1]]``.

An entry word packs the two fields as ``(w & (2**weight_bits-1)) << index_bits | gap``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import from_unsigned, to_unsigned


@dataclass(frozen=True)
class PEStream:
    """One PE's share of one matrix."""

    weights: np.ndarray   #: int64, signed weights (0 for fillers)
    gaps: np.ndarray      #: int64, relative row index of each entry
    col_ptr: np.ndarray   #: int64, cols + 1 offsets into weights/gaps
    nnz: int              #: real non-zeros (entries minus fillers)
    fillers: int          #: filler entries

    @property
    def n_entries(self) -> int:
        return int(self.weights.size)

    def words(self, weight_bits: int, index_bits: int) -> np.ndarray:
        """Packed entry words (unsigned int64)."""
        return (to_unsigned(self.weights, weight_bits) << index_bits) | self.gaps


@dataclass(frozen=True)
class EncodedMatrix:
    rows: int
    cols: int
    n_pe: int
    index_bits: int
    pes: tuple            #: one PEStream per PE

    @property
    def nnz_per_pe(self) -> list:
        return [s.nnz for s in self.pes]

    @property
    def fillers_per_pe(self) -> list:
        return [s.fillers for s in self.pes]

    @property
    def entries_per_pe(self) -> list:
        return [s.n_entries for s in self.pes]


def local_rows(rows: int, n_pe: int, p: int) -> int:
    """Number of rows of a ``rows``-row matrix that PE ``p`` owns."""
    return len(range(p, rows, n_pe))


def encode_pe(sub: np.ndarray, index_bits: int) -> PEStream:
    """Encode a PE's share ``sub`` (local rows x cols, integer) column by column."""
    sub = np.asarray(sub)
    nrows, ncols = sub.shape
    g = (1 << index_bits) - 1
    # non-zeros in column-major order: (col, local row), sorted by col then row
    cols, lrows = np.nonzero(sub.T)
    w = sub[lrows, cols].astype(np.int64)
    # previous position inside the same column: 0 at a column start
    prev = np.zeros_like(lrows)
    if lrows.size:
        same = np.empty(lrows.size, dtype=bool)
        same[0] = False
        same[1:] = cols[1:] == cols[:-1]
        prev[1:] = np.where(same[1:], lrows[:-1] + 1, 0)
    gap = (lrows - prev).astype(np.int64)
    nfill = gap // (g + 1)
    per = nfill + 1
    total = int(per.sum())
    weights = np.zeros(total, dtype=np.int64)
    gaps = np.full(total, g, dtype=np.int64)
    ends = np.cumsum(per) - 1            # the real entry closes each block
    weights[ends] = w
    gaps[ends] = gap - nfill * (g + 1)
    counts = np.bincount(cols, weights=per, minlength=ncols).astype(np.int64)
    col_ptr = np.zeros(ncols + 1, dtype=np.int64)
    np.cumsum(counts, out=col_ptr[1:])
    return PEStream(weights=weights, gaps=gaps, col_ptr=col_ptr,
                    nnz=int(w.size), fillers=int(nfill.sum()))


def encode_matrix(wq: np.ndarray, n_pe: int, index_bits: int) -> EncodedMatrix:
    """Encode integer matrix ``wq`` (rows x cols) for ``n_pe`` PEs."""
    wq = np.asarray(wq)
    if wq.ndim != 2:
        raise ValueError(f"encode_matrix needs a 2-D matrix, got shape {wq.shape}")
    rows, cols = wq.shape
    pes = tuple(encode_pe(wq[p::n_pe, :], index_bits) for p in range(n_pe))
    return EncodedMatrix(rows=rows, cols=cols, n_pe=n_pe, index_bits=index_bits, pes=pes)


def decode_pe(stream: PEStream, nrows: int, ncols: int) -> np.ndarray:
    """Rebuild a PE's share (local rows x cols) by the decoding rule above."""
    sub = np.zeros((nrows, ncols), dtype=np.int64)
    for j in range(ncols):
        pos = 0
        for e in range(int(stream.col_ptr[j]), int(stream.col_ptr[j + 1])):
            row = pos + int(stream.gaps[e])
            if row >= nrows:
                raise ValueError(f"entry {e} of column {j} lands on local row {row} "
                                 f"past the PE's {nrows} rows")
            sub[row, j] += int(stream.weights[e])
            pos = row + 1
    return sub


def decode_matrix(enc: EncodedMatrix) -> np.ndarray:
    """Rebuild the integer matrix from its per-PE streams (round trip of encode)."""
    w = np.zeros((enc.rows, enc.cols), dtype=np.int64)
    for p, s in enumerate(enc.pes):
        w[p::enc.n_pe, :] = decode_pe(s, local_rows(enc.rows, enc.n_pe, p), enc.cols)
    return w


def unpack_words(words, weight_bits: int, index_bits: int):
    """Split packed entry words into (weights, gaps)."""
    words = np.asarray(words, dtype=np.int64)
    gaps = words & ((1 << index_bits) - 1)
    weights = from_unsigned(words >> index_bits, weight_bits)
    return weights, gaps
