"""The speech engines that speak the training and test words: espeak-ng and flite.

Both are Debian packages (``espeak-ng``, ``flite``; ``scripts/setup_env.sh``
installs them).  Nothing they say is stored in the repository: ``data.py``
speaks at run time and caches under ``build/``.

Voices
------
A *voice* is one way an engine speaks, and its *speaker* is the unit the
train/test split holds out:

* :class:`EspeakVoice`: one of espeak-ng's 8 English accents with one of its
  98 voice *variants* (timbre: formants, pitch range, breathiness), a rate
  (words per minute) and a pitch.  The speaker is the variant: 20 variants
  (a seeded shuffle, :func:`split_variants`) are never heard in training, in
  any accent, rate or pitch.
* :class:`FliteVoice`: one of flite's five built-in voices (``kal`` 8 kHz
  diphone, ``kal16`` the same talker at 16 kHz, ``awb`` Scottish male, ``rms``
  US male, ``slt`` US female; the last three are statistical parametric
  "clustergen" voices) with a duration stretch and a mean pitch.  The speaker
  is the voice: :data:`FLITE_HELD_OUT` (``awb``, ``slt``) are never heard in
  training.  ``rms`` ignores the pitch setting (flite 2.2), so it speaks at
  its own pitch; speed perturbation in training moves it.

:func:`speak` returns a mono float array at the requested rate, the silence
before and after the sound trimmed, peak at :data:`SPEECH_PEAK`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, ClassVar, Optional

import numpy as np

from .wav import WavError, parse_wav, resample

SPEECH_PEAK = 0.5               #: every clean utterance is scaled to this peak (-6 dBFS)

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

ESPEAK_SPEED = (110, 230)       #: words per minute
ESPEAK_PITCH = (20, 80)         #: espeak-ng -p (0..99, 50 = the variant's own)

#: flite's built-in voices and the range of mean pitch (Hz) drawn for each, around
#: the voice's own (kal 102 Hz, awb 113, slt 160; rms 87 cannot be moved); kal goes up
#: to a high voice's pitch, so that training hears natural speech at such pitches.
FLITE_VOICES = {"kal": (80, 260), "kal16": (80, 260), "awb": (85, 180), "rms": None,
                "slt": (120, 260)}
FLITE_HELD_OUT = ("awb", "slt")
FLITE_STRETCH = (0.75, 1.35)    #: duration_stretch (1 = the voice's own rate)


class SpeechError(RuntimeError):
    """A speech engine is missing or failed (one line)."""


@dataclass(frozen=True)
class EspeakVoice:
    """espeak-ng: accent + variant + rate (words/minute) + pitch (0..99)."""

    accent: str
    variant: str
    speed: int
    pitch: int
    engine: ClassVar[str] = "espeak-ng"

    @property
    def speaker(self) -> str:
        return self.variant

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant} s{self.speed} p{self.pitch}"

    def command(self, exe: str, text: str) -> list:
        return [exe, "-v", f"{self.accent}+{self.variant}", "-s", str(self.speed),
                "-p", str(self.pitch), "--stdout", text]


@dataclass(frozen=True)
class FliteVoice:
    """flite: built-in voice + duration stretch + mean pitch in Hz (0: the voice's own)."""

    voice: str
    stretch: float
    f0: int
    engine: ClassVar[str] = "flite"

    @property
    def speaker(self) -> str:
        return self.voice

    @property
    def name(self) -> str:
        return f"flite {self.voice} x{self.stretch:.2f} f0 {self.f0 or 'own'}"

    def command(self, exe: str, text: str) -> list:
        cmd = [exe, "-voice", self.voice, "--setf", f"duration_stretch={self.stretch:.3f}"]
        if self.f0:
            cmd += ["--setf", f"int_f0_target_mean={self.f0}"]
        return cmd + ["-t", text, "-o", "/dev/stdout"]


#: engine name -> (program, Debian package, arguments that print its version)
PROGRAMS = {"espeak-ng": ("espeak-ng", "espeak-ng", ["--version"]),
            "flite": ("flite", "flite", ["--version"])}


def program(engine: str) -> str:
    """Path of the engine's program, or a :class:`SpeechError` naming the install command."""
    from ese import deps
    exe_name, package, _ = PROGRAMS[engine]
    exe = shutil.which(exe_name)
    if exe is None:
        raise SpeechError(deps.missing_tool_message(exe_name, "speaking the words"))
    return exe


def engine_version(engine: str) -> str:
    """The engine's version line (part of the data cache key); '?' if it cannot say."""
    _, _, args = PROGRAMS[engine]
    try:
        r = subprocess.run([program(engine), *args], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = r.stdout.decode(errors="replace").split("Data at")[0]
    return hashlib.sha256(text.encode()).hexdigest()[:8] + " " + " ".join(text.split())[:80]


def split_variants(seed: int, test_fraction: float = 0.2) -> tuple:
    """(training variants, held-out variants) of espeak-ng: a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(VARIANTS))
    n_test = max(1, int(round(test_fraction * len(VARIANTS))))
    test = tuple(sorted(VARIANTS[i] for i in order[:n_test]))
    train = tuple(sorted(VARIANTS[i] for i in order[n_test:]))
    return train, test


def split_flite(held_out=FLITE_HELD_OUT) -> tuple:
    """(training voices, held-out voices) of flite."""
    return tuple(v for v in FLITE_VOICES if v not in held_out), tuple(held_out)


def draw_espeak(n: int, variants, rng: np.random.Generator) -> list:
    """``n`` espeak-ng voices over ``variants``: every variant used about equally,
    accents, rates and pitches drawn at random."""
    reps = -(-n // len(variants))
    pool = np.concatenate([rng.permutation(len(variants)) for _ in range(reps)])[:n]
    return [EspeakVoice(accent=str(rng.choice(ACCENTS)), variant=variants[int(i)],
                        speed=int(rng.integers(ESPEAK_SPEED[0], ESPEAK_SPEED[1] + 1)),
                        pitch=int(rng.integers(ESPEAK_PITCH[0], ESPEAK_PITCH[1] + 1)))
            for i in pool]


def draw_flite(n: int, voices, rng: np.random.Generator) -> list:
    """``n`` flite voices over ``voices`` (each about equally), stretch and pitch drawn."""
    reps = -(-n // len(voices))
    pool = np.concatenate([rng.permutation(len(voices)) for _ in range(reps)])[:n]
    out = []
    for i in pool:
        v = voices[int(i)]
        f0 = FLITE_VOICES[v]
        out.append(FliteVoice(voice=v, stretch=round(float(rng.uniform(*FLITE_STRETCH)), 3),
                              f0=int(rng.integers(f0[0], f0[1] + 1)) if f0 else 0))
    return out


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


def speak(text: str, voice, rate: int = 16000, exe: Optional[str] = None) -> np.ndarray:
    """``text`` spoken by ``voice`` (an :class:`EspeakVoice` or :class:`FliteVoice`):
    mono float64 at ``rate`` Hz, silence trimmed, peak scaled to :data:`SPEECH_PEAK`."""
    exe = exe or program(voice.engine)
    try:
        r = subprocess.run(voice.command(exe, text), capture_output=True, timeout=60,
                           check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SpeechError(f"{voice.engine} failed for voice {voice.name}: {e}") from None
    if r.returncode != 0:
        msg = " ".join(r.stderr.decode(errors="replace").split())[:200]
        raise SpeechError(f"{voice.engine} failed for voice {voice.name} (status "
                          f"{r.returncode}): {msg}")
    try:
        x, sr = parse_wav(r.stdout, f"{voice.engine} output ({voice.name})")
    except WavError as e:
        raise SpeechError(str(e)) from None
    y = trim(resample(x, sr, rate), rate)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak == 0.0:
        raise SpeechError(f"{voice.engine} said nothing for {text!r} (voice {voice.name})")
    return y * (SPEECH_PEAK / peak)


def speak_many(jobs, rate: int, workers: int = 2,
               progress: Optional[Callable[[str], None]] = None) -> list:
    """Speak ``jobs`` = [(text, voice), ...] in parallel; float32 arrays in job order."""
    exes = {e: program(e) for e in sorted({v.engine for _, v in jobs})}
    out = [None] * len(jobs)
    step = max(1, len(jobs) // 10)

    def one(k):
        text, voice = jobs[k]
        out[k] = speak(text, voice, rate, exes[voice.engine]).astype(np.float32)
        return k

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, _ in enumerate(pool.map(one, range(len(jobs))), 1):
            if progress is not None and (n % step == 0 or n == len(jobs)):
                progress(f"spoken {n}/{len(jobs)}")
    return out
