"""The quantized model: what the hardware computes with.

Everything here is in the hardware's *stored order*: gate matrices, biases
and accumulators use cell-interleaved rows (stored row ``4k + g`` is gate
``g`` in i, f, g, o of cell ``k``; docs/numerics.md).  Use
:func:`gate_perm` / :func:`gate_unperm` to move between PyTorch's order and
the stored order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ese.config import Config


def gate_perm(h: int) -> np.ndarray:
    """Index array: ``stored = original[gate_perm(h)]`` (cell-interleaved rows)."""
    k = np.arange(h)
    return (np.arange(4)[None, :] * h + k[:, None]).reshape(-1)


def gate_unperm(h: int) -> np.ndarray:
    """Inverse of :func:`gate_perm`: ``original = stored[gate_unperm(h)]``."""
    return np.argsort(gate_perm(h))


@dataclass
class QLayer:
    """One quantized LSTM(P) layer (integer arrays, int64)."""

    n_in: int                      #: I
    n_cells: int                   #: H
    n_out: int                     #: P (== H without projection)
    wx: np.ndarray                 #: (4H, I) stored order, weight format frac wf_x
    wr: np.ndarray                 #: (4H, P) stored order, frac wf_r
    bias: np.ndarray               #: (4H,) stored order, pre format
    wf_x: int
    wf_r: int
    wp: Optional[np.ndarray] = None    #: (P, H) projection, frac wf_p; None = no projection
    wf_p: int = 0
    peep: Optional[np.ndarray] = None  #: (3, H): p_i, p_f, p_o; None = no peepholes
    wf_peep: int = 0
    #: F_l when the quantizer raised it above max(wf_x, wf_r) (so that
    #: F_l + act_frac - pre_frac >= 0); None = max(wf_x, wf_r)
    acc_frac: Optional[int] = None

    @property
    def has_proj(self) -> bool:
        return self.wp is not None

    @property
    def has_peep(self) -> bool:
        return self.peep is not None

    @property
    def acc_frac_w(self) -> int:
        """F: the common weight binary point of W_x and W_r in the accumulator."""
        f = max(self.wf_x, self.wf_r)
        return f if self.acc_frac is None else max(f, self.acc_frac)

    @property
    def shift_x(self) -> int:
        return self.acc_frac_w - self.wf_x

    @property
    def shift_r(self) -> int:
        return self.acc_frac_w - self.wf_r


@dataclass
class QModel:
    """A quantized, pruned model for one configuration."""

    cfg: Config
    layers: list = field(default_factory=list)

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out
