"""Sparse encoding of one quantized matrix into per-PE (weight, index) streams.

Rows are dealt to PEs round-robin: PE ``p`` owns rows ``p, p+n_pe, ...``; its
*local* row ``l`` is global row ``l*n_pe + p``.  Every PE of a matrix uses the
same *row stride* ``R' = 2**row_shift``, the smallest power of two that holds
``ceil(rows / n_pe)`` local rows.  A PE walks its share in column-major order
over *linear positions*

    pos = col * R' + local_row

and stores each non-zero as an entry ``(weight, gap)``: ``gap`` is the number of
positions skipped since the previous entry of the same matrix (since position
-1 for the first), across column boundaries (EIE's relative index).  A column
in which the PE has no non-zero costs nothing.  A gap larger than
``max_gap = 2**index_bits - 1`` is bridged by filler entries ``(0, max_gap)``,
each of which *occupies* the position it lands on, so a filler moves the
position by ``max_gap + 1``.  Positions of padding rows (``local_row`` beyond
the PE's rows) are never non-zero; a filler may land on one.

Decoding rule (what the PE hardware does, docs/compression.md)::

    pos = -1
    for each entry (w, gap):
        pos = pos + gap + 1
        col, row = pos >> row_shift, pos & (R' - 1)
        if w != 0:  acc[row] += w * x[col]          # fillers change nothing

An entry word packs the two fields as ``(w & (2**weight_bits-1)) << index_bits | gap``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import from_unsigned, to_unsigned


def row_shift_for(rows: int, n_pe: int) -> int:
    """log2 of the row stride: the smallest power of two >= ceil(rows / n_pe) (>= 1 row)."""
    local = max(1, -(-int(rows) // int(n_pe)))
    return (local - 1).bit_length()


def local_rows(rows: int, n_pe: int, p: int) -> int:
    """Number of rows of a ``rows``-row matrix that PE ``p`` owns."""
    return len(range(p, rows, n_pe))


@dataclass(frozen=True)
class PEStream:
    """One PE's share of one matrix."""

    weights: np.ndarray   #: int64, signed weights (0 for fillers)
    gaps: np.ndarray      #: int64, relative index of each entry
    nnz: int              #: real non-zeros (entries minus fillers)
    fillers: int          #: filler entries

    @property
    def n_entries(self) -> int:
        return int(self.weights.size)

    def positions(self) -> np.ndarray:
        """Linear position of every entry (fillers included)."""
        return np.cumsum(self.gaps + 1) - 1

    def words(self, weight_bits: int, index_bits: int) -> np.ndarray:
        """Packed entry words (unsigned int64)."""
        return (to_unsigned(self.weights, weight_bits) << index_bits) | self.gaps


@dataclass(frozen=True)
class EncodedMatrix:
    rows: int
    cols: int
    n_pe: int
    index_bits: int
    row_shift: int        #: log2 of the row stride R'
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

    def columns(self, p: int) -> np.ndarray:
        """Column of every entry of PE ``p`` (fillers included), in stream order."""
        return self.pes[p].positions() >> self.row_shift


def encode_pe(sub: np.ndarray, index_bits: int, row_shift: int) -> PEStream:
    """Encode a PE's share ``sub`` (local rows x cols, integer) in column-major order."""
    sub = np.asarray(sub)
    nrows, ncols = sub.shape
    if nrows > (1 << row_shift):
        raise ValueError(f"{nrows} local rows do not fit a row stride of {1 << row_shift}")
    g = (1 << index_bits) - 1
    cols, lrows = np.nonzero(sub.T)              # sorted by column, then row
    w = sub[lrows, cols].astype(np.int64)
    pos = (cols.astype(np.int64) << row_shift) + lrows
    prev = np.concatenate(([-1], pos[:-1])) if pos.size else pos
    skip = pos - prev - 1                          # positions skipped before this one
    nfill = skip // (g + 1)
    per = nfill + 1
    total = int(per.sum())
    weights = np.zeros(total, dtype=np.int64)
    gaps = np.full(total, g, dtype=np.int64)
    ends = np.cumsum(per) - 1                      # the real entry closes each block
    weights[ends] = w
    gaps[ends] = skip - nfill * (g + 1)
    return PEStream(weights=weights, gaps=gaps, nnz=int(w.size), fillers=int(nfill.sum()))


def encode_matrix(wq: np.ndarray, n_pe: int, index_bits: int) -> EncodedMatrix:
    """Encode integer matrix ``wq`` (rows x cols) for ``n_pe`` PEs."""
    wq = np.asarray(wq)
    if wq.ndim != 2:
        raise ValueError(f"encode_matrix needs a 2-D matrix, got shape {wq.shape}")
    rows, cols = wq.shape
    rs = row_shift_for(rows, n_pe)
    pes = tuple(encode_pe(wq[p::n_pe, :], index_bits, rs) for p in range(n_pe))
    return EncodedMatrix(rows=rows, cols=cols, n_pe=n_pe, index_bits=index_bits,
                         row_shift=rs, pes=pes)


def decode_pe(stream: PEStream, nrows: int, ncols: int, row_shift: int) -> np.ndarray:
    """Rebuild a PE's share (local rows x cols) by the decoding rule above.

    Raises ValueError if a non-zero lands outside the PE's rows or the columns.
    """
    sub = np.zeros((nrows, ncols), dtype=np.int64)
    pos = stream.positions()
    real = stream.weights != 0
    col = pos[real] >> row_shift
    row = pos[real] & ((1 << row_shift) - 1)
    if col.size and (col.max() >= ncols or row.max() >= nrows):
        bad = int(np.argmax((col >= ncols) | (row >= nrows)))
        raise ValueError(f"a non-zero lands on local row {int(row[bad])}, column "
                         f"{int(col[bad])}: outside the PE's {nrows} rows x {ncols} columns")
    np.add.at(sub, (row, col), stream.weights[real])
    return sub


def decode_matrix(enc: EncodedMatrix) -> np.ndarray:
    """Rebuild the integer matrix from its per-PE streams (round trip of encode)."""
    w = np.zeros((enc.rows, enc.cols), dtype=np.int64)
    for p, s in enumerate(enc.pes):
        w[p::enc.n_pe, :] = decode_pe(s, local_rows(enc.rows, enc.n_pe, p), enc.cols,
                                      enc.row_shift)
    return w


def unpack_words(words, weight_bits: int, index_bits: int):
    """Split packed entry words into (weights, gaps)."""
    words = np.asarray(words, dtype=np.int64)
    gaps = words & ((1 << index_bits) - 1)
    weights = from_unsigned(words >> index_bits, weight_bits)
    return weights, gaps
