"""Training the spoken-word LSTMP in PyTorch, with gradual load-balance-aware pruning.

The network (:class:`KwsNet`) is ``nn.LSTM(I, H, L, proj_size=P)`` - exactly
what the accelerator runs, imported with ``ese.model.torch_import`` - followed
by the maximum of every output over time and ``nn.Linear(P, words)`` (host
work).

Training (:func:`train`) has two phases, both on freshly augmented examples
every epoch (``data.augment``):

1. *dense*: Adam, cosine learning-rate decay, gradient clipping;
2. *pruning*: the weight matrices (W_x, W_r, W_p of every layer) are pruned
   gradually while training goes on - the kept fraction follows
   ``d + (1 - d)(1 - s/S)^3`` over the first ``prune_epochs`` epochs (Zhu and
   Gupta's schedule), the masks are recomputed every ``mask_every`` steps -
   then ``finetune_epochs`` more epochs at the final density with the masks
   fixed.  Every mask is load-balance-aware for the hardware's PE count: it is
   the mask ``ese.model.prune`` computes (each PE's share of the rows, in the
   hardware's stored row order, keeps the same number of largest weights), so
   that ``ese compress`` at the same density keeps exactly these weights.

Everything is seeded (``torch.manual_seed``, numpy generators, a fixed thread
count); the same data and specification give the same model.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

from ese.model.prune import balanced_mask
from ese.model.qmodel import gate_perm, gate_unperm

from . import data as D
from .features import FeatureSpec, Normalizer, fit_clip, log_mel, stack


@dataclass(frozen=True)
class TrainSpec:
    cells: int = 256
    proj: int = 128
    layers: int = 2
    batch: int = 64
    lr: float = 3e-3
    dense_epochs: int = 8
    prune_epochs: int = 6       #: the density ramp
    finetune_epochs: int = 8    #: at the final density, masks fixed
    prune_lr: float = 1.5e-3    #: peak rate of the pruning phase (cosine over ramp + finetune)
    density: float = 0.112
    mask_every: int = 10        #: steps between mask updates during the ramp
    seed: int = 0
    threads: int = 2


def _torch(threads: int):
    import warnings

    import torch
    torch.set_num_threads(max(1, threads))
    # nn.LSTM with proj_size runs torch's own kernels, not oneDNN: said once per call
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
    return torch


def make_net(n_in: int, n_words: int, spec: TrainSpec):
    import torch.nn as nn

    class KwsNet(nn.Module):
        """LSTMP (the accelerator's part) + max over time + linear classifier (host)."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(n_in, spec.cells, num_layers=spec.layers,
                                proj_size=spec.proj if spec.proj < spec.cells else 0,
                                batch_first=True)
            self.head = nn.Linear(spec.proj if spec.proj < spec.cells else spec.cells,
                                  n_words)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.head(y.amax(dim=1))

    return KwsNet()


# --------------------------------------------------------------------------- pruning
def weight_names(spec: TrainSpec, lstm) -> list:
    """(torch parameter name, model-file matrix kind) of every pruned matrix."""
    out = []
    for k in range(spec.layers):
        out += [(f"weight_ih_l{k}", "Wx"), (f"weight_hh_l{k}", "Wr")]
        if hasattr(lstm, f"weight_hr_l{k}"):
            out.append((f"weight_hr_l{k}", "Wp"))
    return out


def balanced_masks(lstm, spec: TrainSpec, n_pe: int, density: float) -> dict:
    """{parameter name: bool tensor} - ``ese.model.prune``'s load-balanced masks."""
    import torch
    masks = {}
    for name, kind in weight_names(spec, lstm):
        w = getattr(lstm, name).detach().cpu().double().numpy()
        if kind == "Wp":
            m = balanced_mask(w, n_pe, density)
        else:
            h = w.shape[0] // 4
            m = balanced_mask(w[gate_perm(h)], n_pe, density)[gate_unperm(h)]
        masks[name] = torch.from_numpy(np.ascontiguousarray(m))
    return masks


def apply_masks(lstm, masks: dict) -> None:
    import torch
    with torch.no_grad():
        for name, m in masks.items():
            getattr(lstm, name).mul_(m.to(getattr(lstm, name).dtype))


def ramp_density(step: int, ramp_steps: int, final: float) -> float:
    """Kept fraction after ``step`` of ``ramp_steps`` (cubic, from 1 to ``final``)."""
    if step >= ramp_steps:
        return final
    return final + (1.0 - final) * (1.0 - step / ramp_steps) ** 3


# --------------------------------------------------------------------------- features
def raw_features(clips: np.ndarray, fspec: FeatureSpec) -> np.ndarray:
    """Log-mel (B, frames, n_mels) of (B, clip_samples) clips, float32."""
    return log_mel(clips, fspec).astype(np.float32)


def epoch_inputs(split: D.Split, conds, fspec: FeatureSpec, norm: Optional[Normalizer],
                 chunk: int = 256) -> np.ndarray:
    """Normalized, stacked LSTM inputs (N, T, I) of every utterance of ``split``
    under ``conds`` (``norm`` None: raw log-mel, unstacked)."""
    parts = []
    n = len(split.audio)
    for s in range(0, n, chunk):
        idx = range(s, min(n, s + chunk))
        clips = D.augment_batch(split, idx, [conds[i] for i in idx], fspec)
        f = raw_features(clips, fspec)
        parts.append(f if norm is None else stack(norm(f), fspec.stack).astype(np.float32))
    return np.concatenate(parts)


def clean_clips(split: D.Split, fspec: FeatureSpec) -> np.ndarray:
    return np.stack([fit_clip(a, fspec) for a in split.audio])


# --------------------------------------------------------------------------- training
def _lr(step: int, total: int, base: float, warm: int = 50) -> float:
    if step < warm:
        return base * (step + 1) / warm
    return 0.5 * base * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def train(train_split: D.Split, fspec: FeatureSpec, n_words: int, spec: TrainSpec, n_pe: int,
          progress: Optional[Callable[[str], None]] = None,
          dense_state: Optional[dict] = None) -> dict:
    """Train dense, then prune gradually.  Returns ``{"norm", "net", "dense" and
    "pruned" (state_dicts of the whole network), "log": [...], "spec"}``.

    ``dense_state``: the ``dense`` result of an earlier run with the same data and
    spec (``lstm_dense.pt``).  The dense phase is then skipped, not recomputed: its
    random draws (augmentation conditions, batch order) are replayed so that the
    pruning phase sees exactly what it would have seen after training."""
    torch = _torch(spec.threads)
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed + 1)
    say = progress or (lambda m: None)
    n = len(train_split.audio)
    labels = torch.from_numpy(np.asarray(train_split.labels, dtype=np.int64))

    def conds_for_epoch():
        return [D.train_condition(rng) for _ in range(n)]

    # normalization from the first epoch's (augmented) examples
    conds0 = conds_for_epoch()
    raw0 = epoch_inputs(train_split, conds0, fspec, None)
    norm = Normalizer.fit(raw0)
    first = torch.from_numpy(stack(norm(raw0), fspec.stack).astype(np.float32))
    del raw0

    net = make_net(fspec.n_inputs, n_words, spec)
    log = []
    total_epochs = spec.dense_epochs + spec.prune_epochs + spec.finetune_epochs
    steps_per_epoch = -(-n // spec.batch)

    def run_epochs(phase, epochs, lr, masks_fn=None):
        nonlocal first
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        total = epochs * steps_per_epoch
        step = 0
        masks = None
        for e in range(epochs):
            t0 = time.perf_counter()
            if first is not None:
                x_all, first = first, None
            else:
                x_all = torch.from_numpy(epoch_inputs(train_split, conds_for_epoch(), fspec,
                                                      norm))
            order = torch.from_numpy(rng.permutation(n))
            net.train()
            loss_sum, correct = 0.0, 0
            for s in range(0, n, spec.batch):
                idx = order[s:s + spec.batch]
                xb, yb = x_all[idx], labels[idx]
                for g in opt.param_groups:
                    g["lr"] = _lr(step, total, lr)
                if masks_fn is not None:
                    new = masks_fn(step)
                    if new is not None:
                        masks = new
                        apply_masks(net.lstm, masks)
                logits = net(xb)
                loss = torch.nn.functional.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                if masks is not None:
                    apply_masks(net.lstm, masks)
                loss_sum += loss.item() * len(idx)
                correct += int((logits.argmax(1) == yb).sum())
                step += 1
            rec = {"phase": phase, "epoch": e + 1, "loss": loss_sum / n, "train_acc": correct / n,
                   "seconds": time.perf_counter() - t0}
            log.append(rec)
            say(f"{phase} epoch {e + 1}/{epochs}: loss {rec['loss']:.3f}, train accuracy "
                f"{100 * rec['train_acc']:.1f} % ({rec['seconds']:.0f} s)")
        return masks

    say(f"dense training: {spec.dense_epochs} epoch(s) of {n} examples, "
        f"{spec.layers} x LSTM {spec.cells} cells, projection {spec.proj}")
    if dense_state is None:
        run_epochs("dense", spec.dense_epochs, spec.lr)
    else:
        mine = net.state_dict()
        if set(dense_state) != set(mine) or any(dense_state[k].shape != mine[k].shape
                                                 for k in mine):
            raise ValueError("the dense checkpoint does not match the network of this spec")
        net.load_state_dict(dense_state)
        for e in range(spec.dense_epochs):      # replay the dense phase's draws
            if e > 0:
                conds_for_epoch()
            rng.permutation(n)
        first = None
        say("dense phase taken from the checkpoint (its random draws replayed)")
    dense = {k: v.detach().clone() for k, v in net.state_dict().items()}

    ramp = spec.prune_epochs * steps_per_epoch

    def masks_fn(step):
        if step <= ramp and step % spec.mask_every == 0 or step == ramp:
            return balanced_masks(net.lstm, spec, n_pe, ramp_density(step, ramp, spec.density))
        return None

    say(f"gradual pruning to density {spec.density:g} (load-balanced over {n_pe} PEs): "
        f"{spec.prune_epochs} epoch(s) of ramp + {spec.finetune_epochs} at the final density")
    run_epochs("prune", spec.prune_epochs + spec.finetune_epochs, spec.prune_lr,
               masks_fn=masks_fn)
    # the final density's masks (already applied unless there was no pruning epoch)
    final = balanced_masks(net.lstm, spec, n_pe, spec.density)
    apply_masks(net.lstm, final)
    pruned = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return {"norm": norm, "dense": dense, "pruned": pruned, "log": log, "net": net,
            "total_epochs": total_epochs, "spec": asdict(spec)}
