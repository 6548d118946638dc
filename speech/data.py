"""The spoken-word data: espeak-ng voices, clean utterances, noise and augmentation.

Nothing here is stored in the repository: :func:`build_dataset` speaks every
word with every voice at run time (``espeak-ng``, Debian package
``espeak-ng``) and caches the result under ``build/``.

Voices
------
A *voice* is an English accent of espeak-ng (``en-us``, ``en-gb-scotland``,
...) with one of its voice *variants* (timbre: formants, pitch range,
breathiness - ``klatt3``, ``f2``, ``grandpa``, ...), a speaking rate and a
pitch.  The variants are split once, by a seeded shuffle, into a training
and a test set: a test voice's variant is never heard in training (in any
accent, at any rate or pitch), which is what "held-out voices" means in
docs/speech.md.  The babble noise is spoken by voices of the same side.

Augmentation (:func:`augment`)
------------------------------
Each training example is re-drawn every epoch: the word is placed at a
random offset inside the one-second clip, scaled by a random gain, passed
through a random channel (low-pass, high-pass, spectral tilt) and mixed with
white, pink or babble noise at a random signal-to-noise ratio (or left
clean).  The test set draws one fixed condition per utterance from the same
families (seeded), at SNRs of 5, 10, 15 and 20 dB or clean.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .features import FeatureSpec
from .wav import WavError, parse_wav, resample

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

#: English accents of espeak-ng 1.51 (the mbrola voices need another package).
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")

#: espeak-ng 1.51's voice variants (``espeak-ng --voices=variant``) except the two
#: whispering ones (no voicing at all) and "Mr serious" (a space in its name).
VARIANTS = (
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo",
    "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike",
    "Nguyen", "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot",
    "adam", "anika", "anikaRobot", "announcer", "antonio", "aunty", "belinda", "benjamin",
    "boris", "caleb", "croak", "david", "ed", "edward", "edward2", "f1", "f2", "f3", "f4", "f5",
    "fast", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john",
    "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "linda", "m1",
    "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "max", "michel", "miguel", "norbert",
    "pablo", "paul", "pedro", "quincy", "rob", "robert", "robosoft", "robosoft2", "robosoft3",
    "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby",
    "steph", "steph2", "steph3", "travis", "victor", "zac")

#: Babble talkers read these (none holds a word of the vocabulary).
BABBLE_TEXT = (
    "the weather was cold and the streets were quiet that morning",
    "she opened the window and looked at the garden behind the house",
    "a small boat drifted slowly across the lake toward the village",
    "they said the meeting would be moved to the afternoon",
    "please remember to bring the documents with you tomorrow",
    "the children were playing in the park near the river",
    "he bought bread, cheese and apples at the market",
    "the train was late because of the heavy snow",
    "we talked about music, books and the places we had visited",
    "the museum will be closed for a week during the holidays",
    "my brother works at a hospital in the city centre",
    "the old bridge was built more than a century ago",
    "can you tell me where the library is",
    "the coffee was too hot to drink at first",
    "birds were singing in the trees above the path",
    "the teacher asked the class to read the chapter again",
    "there is a small shop at the corner of the street",
    "the concert started with a quiet piece for piano",
    "our neighbours painted their house a bright yellow",
    "the report will be finished by the end of the month",
)

SPEED_RANGE = (110, 230)        #: words per minute
PITCH_RANGE = (20, 80)          #: espeak-ng -p (0..99, 50 = the variant's own)
TEST_SNRS = (5.0, 10.0, 15.0, 20.0)
NOISES = ("white", "pink", "babble")
SPEECH_PEAK = 0.5               #: every clean utterance is scaled to this peak (-6 dBFS)


class SpeechError(RuntimeError):
    """espeak-ng is missing or failed (one line)."""


@dataclass(frozen=True)
class Voice:
    """One synthetic talker: accent + variant + rate + pitch."""

    accent: str
    variant: str
    speed: int
    pitch: int

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant} s{self.speed} p{self.pitch}"

    def args(self) -> list:
        return ["-v", f"{self.accent}+{self.variant}", "-s", str(self.speed),
                "-p", str(self.pitch)]


def espeak_path() -> str:
    from ese import deps
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechError(deps.missing_tool_message("espeak-ng", "speaking the words"))
    return exe


def split_variants(seed: int, test_fraction: float = 0.2) -> tuple:
    """(training variants, test variants): a seeded shuffle, the test share held out."""
    order = np.random.default_rng(seed).permutation(len(VARIANTS))
    n_test = max(1, int(round(test_fraction * len(VARIANTS))))
    test = tuple(sorted(VARIANTS[i] for i in order[:n_test]))
    train = tuple(sorted(VARIANTS[i] for i in order[n_test:]))
    return train, test


def draw_voices(n: int, variants, rng: np.random.Generator) -> list:
    """``n`` voices over ``variants``: every variant used about equally, accents,
    rates and pitches drawn at random."""
    reps = -(-n // len(variants))
    pool = np.concatenate([rng.permutation(len(variants)) for _ in range(reps)])[:n]
    return [Voice(accent=str(rng.choice(ACCENTS)), variant=variants[int(i)],
                  speed=int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1)),
                  pitch=int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)))
            for i in pool]


def trim(x: np.ndarray, rate: int, rel: float = 0.01, margin_s: float = 0.02) -> np.ndarray:
    """Cut the silence before and after the sound (|x| below ``rel`` x peak),
    keeping ``margin_s`` on either side."""
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return x[:0]
    loud = np.flatnonzero(np.abs(x) > rel * peak)
    m = int(margin_s * rate)
    return x[max(0, loud[0] - m): loud[-1] + 1 + m]


def speak(text: str, voice: Voice, rate: int = 16000, exe: Optional[str] = None) -> np.ndarray:
    """``text`` spoken by ``voice``: mono float64 at ``rate`` Hz, silence trimmed,
    peak scaled to :data:`SPEECH_PEAK` (espeak-ng speaks at full scale)."""
    exe = exe or espeak_path()
    try:
        r = subprocess.run([exe, *voice.args(), "--stdout", text], capture_output=True,
                           timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SpeechError(f"espeak-ng failed for voice {voice.name}: {e}") from None
    if r.returncode != 0:
        msg = " ".join(r.stderr.decode(errors="replace").split())[:200]
        raise SpeechError(f"espeak-ng failed for voice {voice.name} (status {r.returncode}): "
                          f"{msg}")
    try:
        x, sr = parse_wav(r.stdout, f"espeak-ng output ({voice.name})")
    except WavError as e:
        raise SpeechError(str(e)) from None
    y = trim(resample(x, sr, rate), rate)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return y * (SPEECH_PEAK / peak) if peak > 0 else y


def speak_many(jobs, rate: int, workers: int = 2,
               progress: Optional[Callable[[str], None]] = None) -> list:
    """Speak ``jobs`` = [(text, voice), ...] in parallel; list of arrays in job order."""
    exe = espeak_path()
    out = [None] * len(jobs)
    step = max(1, len(jobs) // 10)

    def one(k):
        text, voice = jobs[k]
        out[k] = speak(text, voice, rate, exe).astype(np.float32)
        return k

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, _ in enumerate(pool.map(one, range(len(jobs))), 1):
            if progress is not None and (n % step == 0 or n == len(jobs)):
                progress(f"spoken {n}/{len(jobs)}")
    return out


# --------------------------------------------------------------------------- dataset
@dataclass
class Split:
    """Utterances of one side of the split (clean, trimmed, at the model's rate)."""

    audio: list          #: float32 arrays
    labels: np.ndarray   #: int64 word index
    voices: list         #: voice name of each utterance
    babble: np.ndarray   #: babble talker recordings, concatenated (float32)
    babble_cuts: np.ndarray  #: start offsets of each recording in ``babble`` (+ end)


def _babble_bank(audio: list) -> tuple:
    cuts = np.concatenate([[0], np.cumsum([len(a) for a in audio])]).astype(np.int64)
    return np.concatenate(audio).astype(np.float32), cuts


def _save_split(path: Path, s: Split) -> None:
    lens = np.array([len(a) for a in s.audio], dtype=np.int64)
    np.savez(path, audio=np.concatenate(s.audio).astype(np.float32), lens=lens,
             labels=s.labels, voices=np.array(s.voices), babble=s.babble,
             babble_cuts=s.babble_cuts)


def _load_split(path: Path) -> Split:
    with np.load(path, allow_pickle=False) as z:
        cuts = np.concatenate([[0], np.cumsum(z["lens"])])
        flat = z["audio"]
        return Split(audio=[flat[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1)],
                     labels=z["labels"], voices=[str(v) for v in z["voices"]],
                     babble=z["babble"], babble_cuts=z["babble_cuts"])


@dataclass(frozen=True)
class DataSpec:
    """What :func:`build_dataset` makes (its hash names the cache)."""

    train_voices: int = 240
    test_voices: int = 60
    babble_talkers: int = 20        #: per side
    words: tuple = WORDS
    seed: int = 0
    sample_rate: int = 16000

    def key(self) -> str:
        d = asdict(self)
        d["espeak"] = _espeak_version()
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _espeak_version() -> str:
    try:
        r = subprocess.run([espeak_path(), "--version"], capture_output=True, timeout=30)
        return r.stdout.decode(errors="replace").split("Data at")[0].strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def build_dataset(spec: DataSpec, cache_dir, workers: int = 2,
                  progress: Optional[Callable[[str], None]] = None) -> tuple:
    """(train Split, test Split): spoken now, or loaded from ``cache_dir`` if the
    same :class:`DataSpec` (and espeak-ng version) was spoken before."""
    cache = Path(cache_dir) / f"clips-{spec.key()}"
    if (cache / "train.npz").exists() and (cache / "test.npz").exists():
        if progress:
            progress(f"clips from the cache {cache}")
        return _load_split(cache / "train.npz"), _load_split(cache / "test.npz")
    rng = np.random.default_rng(spec.seed)
    tr_var, te_var = split_variants(spec.seed)
    splits = []
    for side, n, variants in (("train", spec.train_voices, tr_var),
                              ("test", spec.test_voices, te_var)):
        voices = draw_voices(n, variants, rng)
        talkers = draw_voices(spec.babble_talkers, variants, rng)
        jobs = [(w, v) for v in voices for w in spec.words]
        jobs += [(BABBLE_TEXT[i % len(BABBLE_TEXT)], v) for i, v in enumerate(talkers)]
        if progress:
            progress(f"{side}: {len(voices)} voices x {len(spec.words)} words + "
                     f"{len(talkers)} babble talkers ({len(variants)} variants)")
        audio = speak_many(jobs, spec.sample_rate, workers,
                           (lambda m, s=side: progress(f"{side}: {m}")) if progress else None)
        n_utt = len(voices) * len(spec.words)
        utt = audio[:n_utt]
        labels = np.tile(np.arange(len(spec.words)), len(voices)).astype(np.int64)
        names = [v.name for v in voices for _ in spec.words]
        babble, cuts = _babble_bank(audio[n_utt:])
        splits.append(Split(audio=utt, labels=labels, voices=names, babble=babble,
                            babble_cuts=cuts))
    cache.mkdir(parents=True, exist_ok=True)
    _save_split(cache / "train.npz", splits[0])
    _save_split(cache / "test.npz", splits[1])
    (cache / "spec.json").write_text(json.dumps(asdict(spec), indent=1) + "\n")
    return splits[0], splits[1]


# --------------------------------------------------------------------------- noise
def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise: white noise shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def babble_noise(n: int, split: Split, rng: np.random.Generator, talkers=(3, 7)) -> np.ndarray:
    """Several babble talkers at once, each at a random place of its recording."""
    out = np.zeros(n)
    k = int(rng.integers(talkers[0], talkers[1] + 1))
    for _ in range(k):
        r = int(rng.integers(len(split.babble_cuts) - 1))
        a, b = int(split.babble_cuts[r]), int(split.babble_cuts[r + 1])
        seg = split.babble[a:b].astype(np.float64)
        if seg.size < n:
            seg = np.tile(seg, -(-n // max(seg.size, 1)))
        s = int(rng.integers(0, seg.size - n + 1))
        seg = seg[s:s + n]
        out += seg / _rms(seg)
    return out


def noise(kind: str, n: int, split: Split, rng: np.random.Generator) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return pink_noise(n, rng)
    if kind == "babble":
        return babble_noise(n, split, rng)
    raise ValueError(f"unknown noise {kind!r}")


def channel(x: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random microphone/line: high-pass 50-400 Hz, low-pass 2.5-7.5 kHz
    (2nd-4th order magnitudes), tilt of -4..+4 dB per octave around 1 kHz;
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
    return np.fft.irfft(spec * g, x.size)


@dataclass(frozen=True)
class Condition:
    """How one example is degraded (``noise`` None = clean)."""

    offset: float            #: where the word starts, as a fraction of the free room
    gain_db: float
    channel: bool
    noise: Optional[str]
    snr_db: Optional[float]
    seed: int                #: noise and channel draws


def train_condition(rng: np.random.Generator) -> Condition:
    clean = rng.random() < 0.15
    return Condition(offset=float(rng.random()), gain_db=float(rng.uniform(-12, 6)),
                     channel=bool(rng.random() < 0.5),
                     noise=None if clean else str(rng.choice(NOISES)),
                     snr_db=None if clean else float(rng.uniform(0, 30)),
                     seed=int(rng.integers(1 << 31)))


def test_condition(rng: np.random.Generator) -> Condition:
    """Clean in one case out of five, else one noise family at 5, 10, 15 or 20 dB."""
    k = int(rng.integers(0, 1 + len(TEST_SNRS)))
    clean = k == len(TEST_SNRS)
    return Condition(offset=float(rng.random()), gain_db=float(rng.uniform(-10, 4)),
                     channel=bool(rng.random() < 0.5),
                     noise=None if clean else str(rng.choice(NOISES)),
                     snr_db=None if clean else TEST_SNRS[k], seed=int(rng.integers(1 << 31)))


def augment(utt, cond: Condition, split: Split, fspec: FeatureSpec) -> np.ndarray:
    """One clip of ``fspec.clip_samples``: ``utt`` placed, filtered, scaled, noised."""
    n = fspec.clip_samples
    u = np.asarray(utt, dtype=np.float64)
    if u.size > n:                                  # a very slow word: keep the middle
        s = (u.size - n) // 2
        u = u[s:s + n]
    x = np.zeros(n)
    start = int(cond.offset * (n - u.size))
    x[start:start + u.size] = u
    rng = np.random.default_rng(cond.seed)
    if cond.channel:
        x = channel(x, fspec.sample_rate, rng)
    speech_rms = _rms(x[start:start + u.size]) if u.size else 0.0
    if cond.noise is not None and speech_rms > 0:
        nz = noise(cond.noise, n, split, rng)
        x = x + nz * (speech_rms / _rms(nz)) * 10.0 ** (-cond.snr_db / 20.0)
    x *= 10.0 ** (cond.gain_db / 20.0)
    return np.clip(x, -1.0, 1.0)


def augment_batch(split: Split, idx, conds, fspec: FeatureSpec) -> np.ndarray:
    """(len(idx), clip_samples) clips of utterances ``idx`` under ``conds``."""
    return np.stack([augment(split.audio[i], c, split, fspec) for i, c in zip(idx, conds)])
