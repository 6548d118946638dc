"""PyTorch ``nn.LSTM`` weights -> the float model (``ese import-torch``).

``nn.LSTM`` stores, for layer ``k``::

    weight_ih_l{k}  (4H, I)   rows in gate order i, f, g, o  -> l{k}_Wx
    weight_hh_l{k}  (4H, P)                                   -> l{k}_Wr
    bias_ih_l{k}, bias_hh_l{k}  (4H,)   (absent with bias=False) -> l{k}_b (their sum)
    weight_hr_l{k}  (P, H)    only with proj_size > 0         -> l{k}_Wp

which is exactly the model file's layout (``model/modelfile.py``): the gate
order and the projection map over as they are, without peepholes.

:func:`load_torch` reads a file written by ``torch.save``:

* a ``state_dict`` (or a checkpoint dict holding one: nested dicts are
  flattened with dotted names) is read with ``weights_only=True``, which
  runs no code from the file;
* a pickled module (``torch.save(lstm)``) needs ``trust_pickle=True``,
  because unpickling runs code the file names.

``prefix`` picks the LSTM out of a bigger model (``"enc.rnn."`` for
``enc.rnn.weight_ih_l0``, ...); without it the LSTM is found if there is
exactly one.  Everything that is not one unidirectional LSTM - a GRU or plain
RNN, ``bidirectional=True``, missing layers, shapes that do not make an LSTM -
raises :class:`ModelError` with one line.  torch is imported only here.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from .modelfile import FloatLayer, FloatModel, ModelError, validate_model

_PARAM = re.compile(r"^(.*?)(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")


def _torch():
    from ese import deps
    try:
        import torch
    except ImportError:
        raise ModelError(f"ese import-torch needs PyTorch (torch is not installed): "
                         f"{deps.extra('torch').install}") from None
    return torch


def _flatten(obj, prefix: str, out: dict) -> None:
    """Tensors of nested dicts -> out['a.b.weight_ih_l0'] = tensor."""
    torch = _torch()
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}{k}.", out)
    elif isinstance(obj, torch.Tensor):
        out[prefix[:-1]] = obj


def _module_kind(source: str, mod) -> None:
    """Reject a pickled recurrent module that is not a unidirectional LSTM."""
    torch = _torch()
    if isinstance(mod, torch.nn.RNNBase):
        if mod.mode != "LSTM":
            raise ModelError(f"{source}: the module is a {mod.mode.replace('_', ' ')}, "
                             f"not an LSTM (only nn.LSTM is supported)")
        if mod.bidirectional:
            raise ModelError(f"{source}: bidirectional LSTMs are not supported "
                             f"(the accelerator runs one direction)")


def _read(path: Path, trust_pickle: bool):
    """The object ``torch.save`` wrote into ``path`` (see the module docstring)."""
    torch = _torch()
    if not path.exists():
        raise ModelError(f"PyTorch file {path} not found")
    if path.is_dir():
        raise ModelError(f"{path} is a folder, expected a PyTorch file (torch.save)")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ModelError(f"{path}: empty file")
    if head.startswith(b"\x93NUMPY"):
        raise ModelError(f"{path}: a NumPy array, not a PyTorch file (torch.save)")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        if not trust_pickle and "Weights only load failed" in str(e) and \
                zipfile.is_zipfile(path):
            raise ModelError(f"{path}: holds pickled Python objects (a whole module saved "
                             f"with torch.save(model)?); loading them runs code from the "
                             f"file: pass --trust-pickle if you trust it, or save "
                             f"model.state_dict() instead") from None
        raise ModelError(f"{path}: not a PyTorch file ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:120]})") from None
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ModelError(f"{path}: not a PyTorch file ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:120]})") from None


def _prefixes(params: dict) -> list:
    """Key prefixes under which some layer's ``weight_ih`` sits (one per recurrent module)."""
    out = set()
    for k in params:
        m = _PARAM.match(k)
        if m is not None and m.group(2) == "weight_ih":
            out.add(m.group(1))
    return sorted(out)


def state_dict_to_model(sd: dict, prefix: str | None = None,
                        source: str = "state_dict") -> FloatModel:
    """The LSTM under ``prefix`` of a flat ``{name: tensor}`` mapping, as a FloatModel."""
    tensors = {k: v for k, v in sd.items() if hasattr(v, "detach")}
    found = _prefixes(tensors)
    if prefix is None:
        if not found:
            raise ModelError(f"{source}: no LSTM weights (no key like weight_ih_l0)")
        if len(found) > 1:
            raise ModelError(f"{source}: several recurrent layers (prefixes "
                             f"{', '.join(repr(p) for p in found)}): pick one with --prefix")
        prefix = found[0]
    params: dict = {}
    for key, t in tensors.items():
        m = _PARAM.match(key)
        if m is None or m.group(1) != prefix:
            continue
        if m.group(4):
            raise ModelError(f"{source}: {key}: bidirectional LSTMs are not supported "
                             f"(the accelerator runs one direction)")
        params.setdefault(int(m.group(3)), {})[m.group(2)] = t
    if not params:
        hint = f" (found one under {', '.join(repr(p) for p in found)})" if found else ""
        raise ModelError(f"{source}: no LSTM under prefix {prefix!r}{hint}")
    n = max(params) + 1
    layers = []
    for k in range(n):
        d = params.get(k, {})
        name = lambda s: f"{prefix}{s}_l{k}"          # noqa: E731
        for need in ("weight_ih", "weight_hh"):
            if need not in d:
                raise ModelError(f"{source}: {name(need)} is missing (layers must run "
                                 f"0..{n - 1})")
        arr = {}
        for s, t in d.items():
            if not t.is_floating_point():
                raise ModelError(f"{source}: {name(s)} has dtype {t.dtype}, expected a "
                                 f"float type")
            arr[s] = t.detach().to("cpu").double().numpy()
            if arr[s].ndim != (1 if s.startswith("bias") else 2):
                raise ModelError(f"{source}: {name(s)} has shape {tuple(arr[s].shape)}, "
                                 f"expected a {'vector' if s.startswith('bias') else 'matrix'}")
        wx, wr, wp = arr["weight_ih"], arr["weight_hh"], arr.get("weight_hr")
        rows = wx.shape[0]
        h = wp.shape[1] if wp is not None else wr.shape[1]
        if wp is None and rows in (wr.shape[1], 3 * wr.shape[1]) and wr.shape[0] == rows:
            kind = "a GRU" if rows == 3 * wr.shape[1] else "a plain RNN"
            raise ModelError(f"{source}: {name('weight_ih')} has {rows} rows for hidden "
                             f"size {h}: {kind}, not an LSTM (needs 4 x hidden rows)")
        if rows != 4 * h or wr.shape[0] != rows:
            raise ModelError(f"{source}: shapes do not make an LSTM: {name('weight_ih')} "
                             f"{tuple(wx.shape)}, {name('weight_hh')} {tuple(wr.shape)}"
                             + (f", {name('weight_hr')} {tuple(wp.shape)}" if wp is not None
                                else "") + f" (need (4H, I), (4H, P) with H = {h})")
        if wp is not None and wr.shape[1] != wp.shape[0]:
            raise ModelError(f"{source}: shapes do not make an LSTM: {name('weight_hh')} "
                             f"{tuple(wr.shape)} has {wr.shape[1]} columns but "
                             f"{name('weight_hr')} {tuple(wp.shape)} projects to "
                             f"{wp.shape[0]}")
        has = [s for s in ("bias_ih", "bias_hh") if s in d]
        if len(has) == 1:
            other = "bias_hh" if has[0] == "bias_ih" else "bias_ih"
            raise ModelError(f"{source}: {name(has[0])} without {name(other)}")
        b = np.zeros(rows)
        for s in has:
            if arr[s].shape != (rows,):
                raise ModelError(f"{source}: {name(s)} has shape {tuple(arr[s].shape)}, "
                                 f"expected ({rows},)")
            b = b + arr[s]
        layers.append(FloatLayer(wx=wx, wr=wr, b=b, peep=None, wp=wp))
    try:
        return validate_model(FloatModel(layers))
    except ModelError as e:
        raise ModelError(f"{source}: {e}") from None


def load_torch(path, prefix: str | None = None, trust_pickle: bool = False) -> FloatModel:
    """A FloatModel from a ``torch.save`` file (see the module docstring)."""
    torch = _torch()
    path = Path(path)
    obj = _read(path, trust_pickle)
    if isinstance(obj, torch.nn.Module):
        rnns = [(f"{n}." if n else "", m) for n, m in obj.named_modules()
                if isinstance(m, torch.nn.RNNBase)]
        picked = [(p, m) for p, m in rnns if p == prefix] if prefix is not None else \
            (rnns if len(rnns) == 1 else [])
        for p, m in picked:          # a clearer message than the shapes would give
            _module_kind(f"{path}: {p[:-1]}" if p else str(path), m)
        obj = obj.state_dict()
    flat: dict = {}
    if isinstance(obj, dict):
        _flatten(obj, "", flat)
    if not flat:
        raise ModelError(f"{path}: holds no tensors (expected an LSTM state_dict, "
                         f"got {type(obj).__name__})")
    return state_dict_to_model(flat, prefix, source=str(path))
