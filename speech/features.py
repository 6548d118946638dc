"""Log-mel features of a one-second utterance, in numpy.

The front end every engine shares (training, ``ese transcribe``, ``make sim``):

1. :func:`fit_clip`: the utterance is brought to exactly ``clip_seconds`` at
   ``sample_rate`` - a longer recording keeps its loudest window (the word),
   a shorter one is padded with silence on both sides (centred);
2. :func:`log_mel`: 25 ms Hann windows every 10 ms, 512-point FFT power
   spectrum, ``n_mels`` triangular mel filters (HTK mel scale) between
   ``fmin`` and ``fmax``, natural log with a small floor; in training only,
   the filters may see a frequency axis warped by a vocal-tract-length
   perturbation factor (:func:`vtlp_warp`);
   with ``lifter`` L > 0 the log-mel spectrum of every frame is smoothed
   across bands: its DCT-II beyond the first L coefficients is dropped (what
   truncating MFCCs does, kept as n_mels bands): the harmonics of a high voice
   (200 Hz apart, resolved by the narrow low filters) leave no ripple, only
   the formant envelope stays, whoever speaks;
3. :func:`stack`: ``stack`` consecutive frames side by side, so the LSTM takes
   one step per ``stack`` x 10 ms (half the steps for the same audio);
4. normalization: per-coefficient mean and standard deviation measured on the
   training set and stored with the model (:class:`Normalizer`).

With the defaults a second of audio gives 98 frames of 40 coefficients,
49 LSTM steps of 80 inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

LOG_FLOOR = 1e-6     #: added to the mel energies before the log (digital silence -> -13.8)


@dataclass(frozen=True)
class FeatureSpec:
    """Parameters of the front end (stored in the model's ``speech.json``)."""

    sample_rate: int = 16000
    clip_seconds: float = 1.0
    win: int = 400           #: samples per analysis window (25 ms)
    hop: int = 160           #: samples between windows (10 ms)
    n_fft: int = 512
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 7600.0
    stack: int = 2           #: frames per LSTM step
    lifter: int = 10         #: log-mel smoothing: DCT coefficients kept (0 = none)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        return 1 + (self.clip_samples - self.win) // self.hop

    @property
    def n_steps(self) -> int:
        return self.n_frames // self.stack

    @property
    def n_inputs(self) -> int:
        return self.n_mels * self.stack

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        """A spec written before ``lifter`` existed had none (0)."""
        return cls(**{"lifter": 0, **d})


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def vtlp_warp(freqs, alpha: float, rate: int, f_hi: float = 4800.0) -> np.ndarray:
    """Vocal-tract-length perturbation (Jaitly and Hinton 2013): frequencies scaled by
    ``alpha`` up to a boundary, then linearly back to the Nyquist frequency (which
    stays put), so that no band leaves the spectrum."""
    f = np.asarray(freqs, dtype=np.float64)
    nyq = rate / 2.0
    f0 = f_hi * min(alpha, 1.0) / alpha
    return np.where(f <= f0, f * alpha,
                    nyq - (nyq - f0 * alpha) / (nyq - f0) * (nyq - f))


def mel_filterbank(spec: FeatureSpec, warp: float = 1.0) -> np.ndarray:
    """(n_mels, n_fft//2 + 1) triangular filters, peak 1, on the HTK mel scale; with
    ``warp`` != 1 the FFT bins are placed at their VTLP-warped frequencies
    (:func:`vtlp_warp`), which shifts the formants a filter sees by ``warp``."""
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.n_mels + 2))
    freqs = np.arange(spec.n_fft // 2 + 1) * spec.sample_rate / spec.n_fft
    if warp != 1.0:
        freqs = vtlp_warp(freqs, warp, spec.sample_rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None, :] - lo) / (mid - lo)
    fall = (hi - freqs[None, :]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall))


_FB_CACHE: dict = {}
_LIFTER_CACHE: dict = {}


def lifter_matrix(n: int, keep: int) -> np.ndarray:
    """(n, n) smoothing of a log-mel frame (row vector ``v @ S``): orthonormal DCT-II,
    coefficients ``keep`` and above set to zero, inverse DCT."""
    if (n, keep) not in _LIFTER_CACHE:
        k = np.arange(n)[:, None]
        d = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
        d[0] /= np.sqrt(2.0)                                # orthonormal: d @ d.T = I
        _LIFTER_CACHE[(n, keep)] = d[:keep].T @ d[:keep]
    return _LIFTER_CACHE[(n, keep)]


def _filterbank(spec: FeatureSpec, warp: float = 1.0) -> np.ndarray:
    key = (spec, float(warp))
    if key not in _FB_CACHE:
        _FB_CACHE[key] = mel_filterbank(spec, float(warp))
    return _FB_CACHE[key]


def fit_clip(x, spec: FeatureSpec) -> np.ndarray:
    """Exactly ``spec.clip_samples`` samples: the loudest window of a longer
    recording (searched in hop steps), a shorter one centred in silence."""
    x = np.asarray(x, dtype=np.float64)
    n = spec.clip_samples
    if x.size == n:
        return x.copy()
    if x.size < n:
        left = (n - x.size) // 2
        return np.concatenate([np.zeros(left), x, np.zeros(n - x.size - left)])
    energy = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, x.size - n + 1, spec.hop)
    if starts[-1] != x.size - n:
        starts = np.append(starts, x.size - n)
    best = starts[int(np.argmax(energy[starts + n] - energy[starts]))]
    return x[best:best + n].copy()


def _mel(power: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """(.., bins) power spectra -> (.., mels) filterbank energies."""
    return (power.reshape(-1, power.shape[-1]) @ fb.T).reshape(power.shape[:-1] + (fb.shape[0],))


def log_mel(x, spec: FeatureSpec, warp=None) -> np.ndarray:
    """Log-mel energies: (n,) -> (frames, n_mels) or (B, n) -> (B, frames, n_mels).
    ``warp``: one VTLP factor per clip (training only; None = no warp)."""
    x = np.asarray(x, dtype=np.float64)
    single = x.ndim == 1
    if single:
        x = x[None]
    n_frames = 1 + (x.shape[1] - spec.win) // spec.hop
    if n_frames < 1:
        raise ValueError(f"{x.shape[1]} samples are fewer than one window ({spec.win})")
    idx = np.arange(spec.win)[None, :] + spec.hop * np.arange(n_frames)[:, None]
    frames = x[:, idx] * np.hanning(spec.win + 2)[1:-1]      # (B, frames, win), no zero ends
    power = np.abs(np.fft.rfft(frames, n=spec.n_fft, axis=-1)) ** 2
    # one 2-D product per filterbank: a (B, frames, bins) @ (bins, mels) product is a
    # loop of small ones, 10-25x slower with a multithreaded BLAS on a busy machine
    if warp is None:
        mel = _mel(power, _filterbank(spec))
    else:
        warp = np.broadcast_to(np.asarray(warp, dtype=np.float64), (x.shape[0],))
        mel = np.empty(power.shape[:-1] + (spec.n_mels,))
        for w in np.unique(warp):                             # one filterbank per factor
            sel = warp == w
            mel[sel] = _mel(power[sel], _filterbank(spec, float(w)))
    out = np.log(mel + LOG_FLOOR)
    if 0 < spec.lifter < spec.n_mels:
        out = _mel(out, lifter_matrix(spec.n_mels, spec.lifter))   # symmetric: S.T = S
    return out[0] if single else out


def stack(feats: np.ndarray, k: int) -> np.ndarray:
    """(.., frames, n) -> (.., frames // k, k * n): k consecutive frames per step."""
    f = np.asarray(feats)
    t = f.shape[-2] // k
    f = f[..., :t * k, :]
    return f.reshape(*f.shape[:-2], t, k * f.shape[-1])


@dataclass
class Normalizer:
    """Per-coefficient mean and standard deviation of the training features."""

    mean: np.ndarray     #: (n_mels,)
    std: np.ndarray      #: (n_mels,)

    @classmethod
    def fit(cls, feats: np.ndarray) -> "Normalizer":
        f = np.asarray(feats).reshape(-1, np.shape(feats)[-1])
        return cls(mean=f.mean(axis=0), std=np.maximum(f.std(axis=0), 1e-3))

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        return (feats - self.mean) / self.std


def utterance_features(audio, spec: FeatureSpec, norm: Normalizer) -> np.ndarray:
    """Audio at ``spec.sample_rate`` (n,) or a batch of clips (B, clip_samples)
    -> normalized, stacked inputs (.., n_steps, n_inputs) for the LSTM."""
    a = np.asarray(audio, dtype=np.float64)
    if a.ndim == 1:
        a = fit_clip(a, spec)
    return stack(norm(log_mel(a, spec)), spec.stack)
