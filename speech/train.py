"""Training the spoken-word LSTMP in PyTorch, with gradual load-balance-aware pruning.

The network (:class:`KwsNet`) is ``nn.LSTM(I, H, L, proj_size=P)`` - exactly
what the accelerator runs, imported with ``ese.model.torch_import`` - followed
by the maximum of every output over time and ``nn.Linear(P, classes)`` (host
work).  *How* the LSTM runs over a sequence is a name in :data:`RECURRENT`
(``TrainSpec.forward``): ``"lstm"`` is torch's ``nn.LSTM`` forward; another
forward over the same parameters (a delta LSTM that skips small changes, say)
is one more entry there, and pruning, import and the engines stay as they are.

Every epoch is a fresh draw (:func:`epoch_plan`): every utterance of the 20
words, a random subset of the ``_unknown_`` utterances
(``TrainSpec.unknown_share`` times as many as one word has), and
``silence_share`` times as many ``_silence_`` clips, each under a fresh
condition (``augment.py``), its features masked (SpecAugment).

Training (:func:`train`) has two phases:

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

from . import augment as A
from .data import Split
from .features import FeatureSpec, Normalizer, log_mel, stack


@dataclass(frozen=True)
class TrainSpec:
    cells: int = 256
    proj: int = 128
    layers: int = 2
    batch: int = 64
    lr: float = 3e-3
    dense_epochs: int = 20
    prune_epochs: int = 6       #: the density ramp
    finetune_epochs: int = 14   #: at the final density, masks fixed
    prune_lr: float = 1.5e-3    #: peak rate of the pruning phase (cosine over ramp + finetune)
    density: float = 0.112
    mask_every: int = 10        #: steps between mask updates during the ramp
    unknown_share: float = 8.0  #: _unknown_ examples per epoch, in units of one word's
    silence_share: float = 1.5  #: _silence_ examples per epoch, likewise
    spec_augment: bool = True   #: mask bands and frames of the training features
    forward: str = "lstm"       #: how the LSTM runs (a key of RECURRENT)
    seed: int = 0
    threads: int = 2


def _torch(threads: int):
    import warnings

    import torch
    torch.set_num_threads(max(1, threads))
    # nn.LSTM with proj_size runs torch's own kernels, not oneDNN: said once per call
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
    return torch


def lstm_forward(lstm, x):
    """torch's ``nn.LSTM`` over whole sequences: (B, T, I) -> (B, T, P)."""
    return lstm(x)[0]


#: How the network runs its LSTM: name -> ``forward(lstm, x) -> y``, (B, T, I) ->
#: (B, T, P), over the parameters of an ``nn.LSTM`` (so pruning, ``ese
#: import-torch`` and the accelerator see the same weights whatever runs them).
RECURRENT = {"lstm": lstm_forward}


def make_net(n_in: int, n_classes: int, spec: TrainSpec):
    import torch.nn as nn

    if spec.forward not in RECURRENT:
        raise ValueError(f"unknown recurrent forward {spec.forward!r} "
                         f"(choose from {', '.join(RECURRENT)})")
    recurrent = RECURRENT[spec.forward]

    class KwsNet(nn.Module):
        """LSTMP (the accelerator's part) + max over time + linear classifier (host)."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(n_in, spec.cells, num_layers=spec.layers,
                                proj_size=spec.proj if spec.proj < spec.cells else 0,
                                batch_first=True)
            self.head = nn.Linear(spec.proj if spec.proj < spec.cells else spec.cells,
                                  n_classes)

        def encode(self, x):
            """The accelerator's part: LSTM outputs (B, T, P)."""
            return recurrent(self.lstm, x)

        def classify(self, y):
            """The host's part: class scores (B, classes) from LSTM outputs."""
            return self.head(y.amax(dim=1))

        def forward(self, x):
            return self.classify(self.encode(x))

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


# --------------------------------------------------------------------------- examples
def epoch_plan(split: Split, n_words: int, spec: TrainSpec, rng: np.random.Generator) -> tuple:
    """One epoch's examples: ``(utterances, conditions, labels)``; utterance -1 is a
    ``_silence_`` clip (module docstring)."""
    labels = np.asarray(split.labels)
    words = np.flatnonzero(labels < n_words)
    unknown = np.flatnonzero(labels == n_words + 1)
    per_word = len(words) / max(1, n_words)
    n_unk = min(len(unknown), int(round(spec.unknown_share * per_word)))
    n_sil = int(round(spec.silence_share * per_word))
    utts = np.concatenate([words, np.sort(rng.choice(unknown, n_unk, replace=False)),
                           np.full(n_sil, -1)]).astype(np.int64)
    n_rooms = len(split.rooms)
    conds = [A.train_condition(rng, n_rooms) if u >= 0 else A.silence_condition(rng)
             for u in utts]
    return utts, conds, np.where(utts >= 0, labels[utts], n_words).astype(np.int64)


def epoch_logmel(split: Split, utts, conds, fspec: FeatureSpec, chunk: int = 256) -> np.ndarray:
    """Raw log-mel (N, frames, n_mels) float32 of the examples (``epoch_plan``)."""
    return np.concatenate([
        log_mel(A.augment_batch(split, utts[s:s + chunk], conds[s:s + chunk], fspec), fspec,
                warp=[c.warp for c in conds[s:s + chunk]]).astype(np.float32)
        for s in range(0, len(utts), chunk)])


def lstm_inputs(logmel: np.ndarray, conds, fspec: FeatureSpec, norm: Normalizer,
                masks: bool) -> np.ndarray:
    """LSTM inputs (N, T, I) float32: normalized, masked (``masks``:
    ``augment.spec_augment``, seeded by each condition) and stacked."""
    f = norm(logmel)
    if masks:
        f = np.stack([A.spec_augment(x, c.seed + 1) for x, c in zip(f, conds)])
    return stack(f, fspec.stack).astype(np.float32)


# --------------------------------------------------------------------------- training
def _lr(step: int, total: int, base: float, warm: int = 50) -> float:
    if step < warm:
        return base * (step + 1) / warm
    return 0.5 * base * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def train(train_split: Split, fspec: FeatureSpec, n_words: int, spec: TrainSpec, n_pe: int,
          progress: Optional[Callable[[str], None]] = None,
          dense_state: Optional[dict] = None,
          on_dense: Optional[Callable[[dict], None]] = None) -> dict:
    """Train dense, then prune gradually; ``n_words`` words + ``_silence_`` +
    ``_unknown_`` classes.  Returns ``{"norm", "net", "dense" and "pruned"
    (state_dicts of the whole network), "log": [...], "spec"}``; ``on_dense`` gets
    the dense state_dict as soon as the dense phase ends (to save it early).

    ``dense_state``: the ``dense`` result of an earlier run with the same data and
    spec (``lstm_dense.pt``).  The dense phase is then skipped, not recomputed: its
    random draws (the epochs' examples and conditions, batch order) are replayed so
    that the pruning phase sees exactly what it would have seen after training."""
    torch = _torch(spec.threads)
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed + 1)
    say = progress or (lambda m: None)

    def plan():
        return epoch_plan(train_split, n_words, spec, rng)

    # normalization from the first epoch's (augmented) examples
    utts0, conds0, labels0 = plan()
    n = len(utts0)                      # the same every epoch
    raw0 = epoch_logmel(train_split, utts0, conds0, fspec)
    norm = Normalizer.fit(raw0)
    first = (torch.from_numpy(lstm_inputs(raw0, conds0, fspec, norm, spec.spec_augment)),
             torch.from_numpy(labels0))
    del raw0

    net = make_net(fspec.n_inputs, n_words + 2, spec)
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
                (x_all, labels), first = first, None
            else:
                utts, conds, lab = plan()
                x_all = torch.from_numpy(lstm_inputs(
                    epoch_logmel(train_split, utts, conds, fspec), conds, fspec, norm,
                    spec.spec_augment))
                labels = torch.from_numpy(lab)
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
                plan()
            rng.permutation(n)
        first = None
        say("dense phase taken from the checkpoint (its random draws replayed)")
    dense = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if on_dense is not None:
        on_dense(dense)

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
