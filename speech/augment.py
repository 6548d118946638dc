"""How a clean utterance becomes a training or test clip: conditions and degradations.

A :class:`Condition` says everything about one clip; :func:`augment` makes the
clip from an utterance (or from nothing, for ``_silence_``) in this order:

1. *speed perturbation*: the utterance resampled by ``speed`` (0.9 = 10 %
   slower and lower: tempo, pitch and formants move together, a new talker
   from an old one);
2. placed at ``offset`` in the one-second clip;
3. *room*: convolved with a simulated room's impulse response (``rooms.py``;
   the training and the test side draw from different rooms);
4. *noise*: white, pink or babble (talkers of the same side of the split
   reading sentences) at ``snr_db`` below the speech, or for a silence clip at
   an absolute ``level_db`` (RMS, dB full scale);
5. *channel*: a random microphone/line (high-pass, low-pass, spectral tilt,
   sometimes the band of an 8 or 11 kHz recording);
6. *gain*, then clipped to [-1, 1].

The front end applies one more: *vocal-tract-length perturbation* (``warp``,
Jaitly and Hinton 2013), a warp of the frequency axis of the mel filters
(``features.log_mel``), which moves formants without moving pitch or tempo.
Training then masks bands and frames of the normalized features
(:func:`spec_augment`, Park et al. 2019), so that no single band or moment
carries a word.

Training draws a fresh condition for every example every epoch
(:func:`train_condition`, :func:`silence_condition`); the test set draws one
fixed *dry* (placement and gain only) and one fixed *degraded* condition per
utterance (:func:`dry_condition`, :func:`degraded_condition`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .features import FeatureSpec
from .rooms import reverberate
from .wav import resample

NOISES = ("white", "pink", "babble")
TEST_SNRS = (5.0, 10.0, 15.0, 20.0)
TEST_SILENCE_LEVELS = (-60.0, -50.0, -40.0, -30.0, -20.0)   #: dB full scale (RMS)
SPEED_RANGE = (0.9, 1.15)
WARP_RANGE = (0.8, 1.25)        #: a female vocal tract from a male one and back
BAND_LIMITS = (3800.0, 5300.0)   #: the band of an 8 kHz and of an 11.025 kHz recording
FREQ_MASKS = (2, 6)              #: SpecAugment: masks of up to 6 mel bands, 2 per clip
TIME_MASKS = (1, 4)              #: and one of up to 4 frames (40 ms)


@dataclass(frozen=True)
class Condition:
    """How one clip is made (module docstring); ``None`` = that step is skipped."""

    offset: float                       #: where the word starts, fraction of the free room
    gain_db: float = 0.0
    speed: float = 1.0
    warp: float = 1.0
    room: Optional[int] = None          #: index into the side's room bank
    noise: Optional[str] = None
    snr_db: Optional[float] = None      #: speech clips: noise this far below the speech
    level_db: Optional[float] = None    #: silence clips: noise RMS, dB full scale
    channel: bool = False
    seed: int = 0                       #: noise and channel draws

    @property
    def degraded(self) -> bool:
        return self.noise is not None or self.room is not None or self.channel


# --------------------------------------------------------------------------- draws
def _seed(rng) -> int:
    return int(rng.integers(1 << 31))


def _quantized(rng, lo_hi, step: float = 0.01) -> float:
    """Uniform in ``lo_hi`` on a grid of ``step`` (few distinct resampler and filter
    tables)."""
    return round(round(float(rng.uniform(*lo_hi)) / step) * step, 4)


def train_condition(rng: np.random.Generator, n_rooms: int) -> Condition:
    """A training word: speed and VTLP always, a room and a channel half of the time,
    noise at 0-30 dB in 85 % of the cases, gain -12..+6 dB."""
    clean = rng.random() < 0.15
    return Condition(offset=float(rng.random()), gain_db=float(rng.uniform(-12, 6)),
                     speed=_quantized(rng, SPEED_RANGE), warp=_quantized(rng, WARP_RANGE),
                     room=int(rng.integers(n_rooms)) if n_rooms and rng.random() < 0.5
                     else None,
                     noise=None if clean else str(rng.choice(NOISES)),
                     snr_db=None if clean else float(rng.uniform(0, 30)),
                     channel=bool(rng.random() < 0.5), seed=_seed(rng))


def silence_condition(rng: np.random.Generator) -> Condition:
    """A training ``_silence_`` clip: white, pink or babble noise at -70..-15 dB full
    scale (one in ten almost digital silence, -100..-80 dB), a channel half of the time."""
    quiet = rng.random() < 0.1
    return Condition(offset=0.0, noise=str(rng.choice(NOISES)),
                     level_db=float(rng.uniform(-100, -80) if quiet else rng.uniform(-70, -15)),
                     warp=_quantized(rng, WARP_RANGE), channel=bool(rng.random() < 0.5),
                     seed=_seed(rng))


def dry_condition(rng: np.random.Generator) -> Condition:
    """A test word as the engine spoke it: placed at random, gain -10..+4 dB."""
    return Condition(offset=float(rng.random()), gain_db=float(rng.uniform(-10, 4)),
                     seed=_seed(rng))


def degraded_condition(rng: np.random.Generator, n_rooms: int) -> Condition:
    """A test word in one of five noise cases (white, pink or babble at 5, 10, 15 or
    20 dB, or no noise), in a test room half of the time (always when there is no
    noise), through a channel half of the time, gain -10..+4 dB."""
    k = int(rng.integers(0, len(TEST_SNRS) + 1))
    quiet = k == len(TEST_SNRS)
    room = (quiet or rng.random() < 0.5) and n_rooms > 0
    return Condition(offset=float(rng.random()), gain_db=float(rng.uniform(-10, 4)),
                     room=int(rng.integers(n_rooms)) if room else None,
                     noise=None if quiet else str(rng.choice(NOISES)),
                     snr_db=None if quiet else TEST_SNRS[k],
                     channel=bool(rng.random() < 0.5), seed=_seed(rng))


def silence_test_condition(rng: np.random.Generator) -> Condition:
    """A test ``_silence_`` clip: white, pink or babble noise at -60, -50, -40, -30
    or -20 dB full scale, through a channel half of the time."""
    return Condition(offset=0.0, noise=str(rng.choice(NOISES)),
                     level_db=float(rng.choice(TEST_SILENCE_LEVELS)),
                     channel=bool(rng.random() < 0.5), seed=_seed(rng))


def condition_name(c: Condition) -> str:
    """Short label for tables: ``dry``, ``room``, ``babble 5 dB``, ``pink -40 dBFS``."""
    if c.level_db is not None:
        return f"{c.noise} {c.level_db:g} dBFS"
    if c.noise is not None:
        return f"{c.noise} {c.snr_db:g} dB"
    return "room" if c.room is not None else ("channel" if c.channel else "dry")


# --------------------------------------------------------------------------- noise
def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise: white noise shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def babble_noise(n: int, babble: np.ndarray, cuts: np.ndarray, rng: np.random.Generator,
                 talkers=(3, 7)) -> np.ndarray:
    """Several babble talkers at once, each from a random place of its recording
    (``babble``: the recordings end to end, ``cuts``: where each starts, + the end)."""
    out = np.zeros(n)
    k = int(rng.integers(talkers[0], talkers[1] + 1))
    for _ in range(k):
        r = int(rng.integers(len(cuts) - 1))
        seg = babble[int(cuts[r]):int(cuts[r + 1])].astype(np.float64)
        if seg.size < n:
            seg = np.tile(seg, -(-n // max(seg.size, 1)))
        s = int(rng.integers(0, seg.size - n + 1))
        seg = seg[s:s + n]
        out += seg / rms(seg)
    return out


def noise(kind: str, n: int, split, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of noise ``kind``; babble from ``split``'s talkers."""
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return pink_noise(n, rng)
    if kind == "babble":
        return babble_noise(n, split.babble, split.babble_cuts, rng)
    raise ValueError(f"unknown noise {kind!r}")


def channel(x: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random microphone/line: high-pass 50-400 Hz, low-pass 2.5-7.5 kHz (2nd-4th
    order magnitudes), tilt of -4..+4 dB per octave around 1 kHz, and in one case of
    four the band of an 8 or 11.025 kHz recording (nothing above 3.8 / 5.3 kHz);
    applied as a zero-phase gain in the frequency domain."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1.0 / rate)
    f[0] = 1e-3
    hp, lp = rng.uniform(50, 400), rng.uniform(2500, 7500)
    o_hp, o_lp = rng.integers(1, 3), rng.integers(1, 3)
    tilt = rng.uniform(-4, 4)
    g = 1.0 / np.sqrt(1.0 + (hp / f) ** (4 * o_hp)) / np.sqrt(1.0 + (f / lp) ** (4 * o_lp))
    g *= 10.0 ** (tilt * np.log2(f / 1000.0) / 20.0)
    g = np.minimum(g, 10.0)                     # the tilt must not blow up the band edges
    if rng.random() < 0.25:
        g[f > BAND_LIMITS[int(rng.integers(len(BAND_LIMITS)))]] = 0.0
    return np.fft.irfft(spec * g, x.size)


# --------------------------------------------------------------------------- clips
def augment(utt, cond: Condition, split, fspec: FeatureSpec) -> np.ndarray:
    """One clip of ``fspec.clip_samples`` (module docstring).  ``utt``: the clean
    utterance, or an empty array for a ``_silence_`` clip; ``split``: the side of
    the data split whose babble talkers and rooms to use (``.babble``,
    ``.babble_cuts``, ``.rooms``)."""
    n, rate = fspec.clip_samples, fspec.sample_rate
    u = np.asarray(utt, dtype=np.float64)
    if cond.speed != 1.0 and u.size:
        u = resample(u, int(round(rate * cond.speed)), rate)
    if u.size > n:                                  # a very slow word: keep the middle
        s = (u.size - n) // 2
        u = u[s:s + n]
    x = np.zeros(n)
    start = int(cond.offset * (n - u.size))
    x[start:start + u.size] = u
    rng = np.random.default_rng(cond.seed)
    if cond.room is not None:
        x = reverberate(x, split.rooms[cond.room])
    if cond.noise is not None:
        nz = noise(cond.noise, n, split, rng)
        if cond.level_db is not None:
            x = x + nz * (10.0 ** (cond.level_db / 20.0) / rms(nz))
        elif u.size:
            x = x + nz * (rms(x[start:start + u.size]) / rms(nz)) * 10.0 ** (-cond.snr_db / 20.0)
    if cond.channel:
        x = channel(x, rate, rng)
    x *= 10.0 ** (cond.gain_db / 20.0)
    return np.clip(x, -1.0, 1.0)


def augment_batch(split, utts, conds, fspec: FeatureSpec) -> np.ndarray:
    """(len(utts), clip_samples) clips: utterance ``utts[k]`` (an index into
    ``split.audio``, or -1 for silence) under ``conds[k]``."""
    empty = np.zeros(0)
    return np.stack([augment(split.audio[i] if i >= 0 else empty, c, split, fspec)
                     for i, c in zip(utts, conds)])


def spec_augment(feats: np.ndarray, seed: int) -> np.ndarray:
    """Normalized log-mel frames (frames, mels) with :data:`FREQ_MASKS` bands and
    :data:`TIME_MASKS` frames set to 0 (the training mean), widths and places drawn
    from ``seed``."""
    rng = np.random.default_rng(seed)
    f = np.array(feats, copy=True)
    n_t, n_f = f.shape
    for axis, (count, widest), size in ((1, FREQ_MASKS, n_f), (0, TIME_MASKS, n_t)):
        for _ in range(count):
            w = int(rng.integers(0, widest + 1))
            s = int(rng.integers(0, size - w + 1))
            if axis:
                f[:, s:s + w] = 0.0
            else:
                f[s:s + w] = 0.0
    return f
