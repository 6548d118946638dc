"""The spoken-word data: who says what on which side of the split, the cache, the test set.

Nothing here is stored in the repository: :func:`build_dataset` speaks every
utterance at run time with espeak-ng and flite (``engines.py``) and caches the
result under ``build/`` (keyed by the :class:`DataSpec` and the engines'
versions).

The split is by *speaker* (``engines.py``): the test side is spoken only by
espeak-ng variants and flite voices that training never hears.  Each side has

* the 20 words, every one spoken by every voice of the side;
* ``_unknown_`` utterances: other English words (``vocabulary.py``), each
  spoken by a few voices of the side.  The test side has two kinds: words
  that training also has (spoken by voices it never heard: the usual keyword
  spotting measure) and words training never has (the harder one);
* babble talkers (voices of the side reading sentences) for babble noise;
* a bank of simulated rooms (``rooms.py``, derived from the seed, not cached).

The test side also holds the flite voices training *does* hear, at new rates
and pitches ("seen" voices), reported apart from the held-out ones.
``_silence_`` clips have no utterance: they are made from noise alone
(``augment.py``).

:func:`test_set` turns the test side into fixed clips: every utterance once
*dry* and once *degraded*, plus :attr:`DataSpec.test_silence` noise clips.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import augment as A
from . import engines as E
from .features import FeatureSpec
from .rooms import room_bank
from .vocabulary import (ALWAYS_HELD_OUT, BABBLE_TEXT, OTHER_WORDS, WORDS, classes_of,
                         split_other_words)

SpeechError = E.SpeechError
speak = E.speak                 #: ``speak(text, voice, rate)`` (board/demo.py and older callers)


def espeak_path() -> str:
    """Path of espeak-ng, or a :class:`SpeechError` naming the apt command."""
    return E.program("espeak-ng")
SIDES = ("train", "test")


@dataclass(frozen=True)
class DataSpec:
    """What :func:`build_dataset` speaks (each side's part of it names its cache)."""

    espeak_voices: tuple = (200, 60)        #: (train, test) espeak-ng voices
    flite_voices: tuple = (200, 60)         #: (train, test) flite voices (stretch, pitch)
    flite_seen: int = 12                    #: test: voices of the training flite speakers
    flite_held_out: tuple = E.FLITE_HELD_OUT
    unknown_words: tuple = (None, None)     #: (train, test) how many other words; None: all
    unknown_voices: tuple = (6, 4)          #: (train, test) voices per other word
    unknown_heard: int = 175                #: test: training's other words, new voices
    babble_talkers: int = 20                #: per side, half of each engine
    rooms: tuple = (200, 50)                #: (train, test) simulated rooms
    test_silence: int = 400                 #: test ``_silence_`` clips
    words: tuple = WORDS
    seed: int = 0
    sample_rate: int = 16000

    @property
    def classes(self) -> tuple:
        return classes_of(self.words)

    def side_key(self, side: int) -> str:
        """The cache key of one side: what decides its utterances (the side's counts,
        the engines' versions, voice ranges and word lists), so that a change of
        the test set does not speak the training set again."""
        d = asdict(self)
        for k in ("espeak_voices", "flite_voices", "unknown_words", "unknown_voices"):
            d[k] = d[k][side]
        for k in ("rooms", "test_silence") + (("flite_seen", "unknown_heard") if side == 0
                                              else ()):
            del d[k]
        d["side"] = SIDES[side]
        d["engines"] = {e: E.engine_version(e) for e in E.PROGRAMS}
        d["draws"] = [E.ACCENTS, E.VARIANTS, E.ESPEAK_SPEED, E.ESPEAK_PITCH, E.FLITE_VOICES,
                      E.FLITE_STRETCH, OTHER_WORDS, ALWAYS_HELD_OUT, BABBLE_TEXT]
        d["format"] = 3
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass
class Split:
    """The utterances of one side of the split (clean, trimmed, at the model's rate)."""

    audio: list                 #: float32 arrays
    labels: np.ndarray          #: class index (``DataSpec.classes``)
    texts: list                 #: what was said
    engines: list               #: ``espeak-ng`` or ``flite``
    speakers: list              #: espeak-ng variant or flite voice (the held-out unit)
    voices: list                #: the whole voice (``Voice.name``)
    held_out: np.ndarray        #: False for the test side's "seen" flite voices
    babble: np.ndarray          #: babble talker recordings, end to end (float32)
    babble_cuts: np.ndarray     #: start of each recording in ``babble`` (+ the end)
    rooms: tuple = field(default=())   #: room impulse responses (not cached: from the seed)

    def __len__(self) -> int:
        return len(self.audio)


_META = ("texts", "engines", "speakers", "voices")


def _save_split(path: Path, s: Split) -> None:
    lens = np.array([len(a) for a in s.audio], dtype=np.int64)
    np.savez(path, audio=np.concatenate(s.audio).astype(np.float32), lens=lens,
             labels=s.labels, held_out=s.held_out, babble=s.babble,
             babble_cuts=s.babble_cuts, **{k: np.array(getattr(s, k)) for k in _META})


def _load_split(path: Path) -> Split:
    with np.load(path, allow_pickle=False) as z:
        cuts = np.concatenate([[0], np.cumsum(z["lens"])])
        flat = z["audio"]
        return Split(audio=[flat[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1)],
                     labels=z["labels"], held_out=z["held_out"], babble=z["babble"],
                     babble_cuts=z["babble_cuts"],
                     **{k: [str(v) for v in z[k]] for k in _META})


def _side_jobs(spec: DataSpec, side: int, rng: np.random.Generator) -> tuple:
    """(jobs [(text, voice, label, held_out)], babble jobs [(text, voice)]) of one side."""
    esp = E.split_variants(spec.seed)[side]
    fl_train, fl_test = E.split_flite(spec.flite_held_out)
    fl = (fl_train, fl_test)[side]
    voices = E.draw_espeak(spec.espeak_voices[side], esp, rng) \
        + E.draw_flite(spec.flite_voices[side], fl, rng)
    jobs = [(w, v, k, True) for v in voices for k, w in enumerate(spec.words)]
    if side == 1 and spec.flite_seen:
        seen = E.draw_flite(spec.flite_seen, fl_train, rng)
        jobs += [(w, v, k, False) for v in seen for k, w in enumerate(spec.words)]
    train_words, test_words = split_other_words(spec.seed)
    others = (train_words, test_words)[side]
    n_other = spec.unknown_words[side]
    if n_other is not None:
        others = tuple(others[i] for i in sorted(rng.permutation(len(others))[:n_other]))
    if side == 1 and spec.unknown_heard:
        others += tuple(train_words[i] for i in sorted(rng.permutation(len(train_words))
                                                       [:spec.unknown_heard]))
    unknown = len(spec.words) + 1
    for w in others:
        for i in rng.choice(len(voices), size=min(spec.unknown_voices[side], len(voices)),
                            replace=False):
            jobs.append((w, voices[int(i)], unknown, True))
    n_b = spec.babble_talkers
    talkers = E.draw_espeak(n_b - n_b // 2, esp, rng) + E.draw_flite(n_b // 2, fl, rng)
    babble = [(BABBLE_TEXT[i % len(BABBLE_TEXT)], v) for i, v in enumerate(talkers)]
    return jobs, babble


def _rooms(spec: DataSpec, side: int) -> tuple:
    n = spec.rooms[side]
    return room_bank(n, spec.seed * 1000 + 17 + side, spec.sample_rate)[1] if n else ()


def build_dataset(spec: DataSpec, cache_dir, workers: int = 2,
                  progress: Optional[Callable[[str], None]] = None) -> tuple:
    """(train :class:`Split`, test :class:`Split`): each side spoken now, or loaded
    from ``cache_dir`` if it was spoken before (:meth:`DataSpec.side_key`)."""
    say = progress or (lambda m: None)
    splits = []
    for side, name in enumerate(SIDES):
        cache = Path(cache_dir) / f"{name}-{spec.side_key(side)}.npz"
        if cache.exists():
            say(f"{name}: clips from the cache {cache}")
            splits.append(_load_split(cache))
            continue
        rng = np.random.default_rng([spec.seed, side])
        jobs, babble = _side_jobs(spec, side, rng)
        count = {e: sum(v.engine == e for _, v, _, _ in jobs) for e in E.PROGRAMS}
        say(f"{name}: {len(jobs)} utterances ("
            + ", ".join(f"{n} by {e}" for e, n in count.items())
            + f") + {len(babble)} babble talkers")
        audio = E.speak_many([(t, v) for t, v, _, _ in jobs] + babble, spec.sample_rate,
                             workers, lambda m, s=name: say(f"{s}: {m}"))
        cuts = np.concatenate([[0], np.cumsum([len(a) for a in audio[len(jobs):]])])
        split = Split(audio=audio[:len(jobs)],
                      labels=np.array([j[2] for j in jobs], dtype=np.int64),
                      texts=[j[0] for j in jobs], engines=[j[1].engine for j in jobs],
                      speakers=[j[1].speaker for j in jobs], voices=[j[1].name for j in jobs],
                      held_out=np.array([j[3] for j in jobs], dtype=bool),
                      babble=np.concatenate(audio[len(jobs):]).astype(np.float32),
                      babble_cuts=cuts.astype(np.int64))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".part.npz")
        _save_split(tmp, split)
        tmp.replace(cache)                  # a killed run leaves no half-written cache
        splits.append(split)
    for side, s in enumerate(splits):
        s.rooms = _rooms(spec, side)
    return splits[0], splits[1]


# --------------------------------------------------------------------------- test set
@dataclass
class TestSet:
    """Fixed clips of the test side, and what each one is (for the tables).  The
    clips themselves are not kept (7,000 seconds of audio): :meth:`clips` makes
    any of them again, the same to the bit."""

    split: Split
    fspec: FeatureSpec
    logmel: np.ndarray          #: (N, frames, n_mels) float32: raw log-mel of every clip
    labels: np.ndarray          #: class index
    utterance: np.ndarray       #: index into the test split, -1 for silence
    conditions: list            #: :class:`augment.Condition` of each clip
    engines: list               #: ``espeak-ng``, ``flite`` or ``noise``
    speakers: list
    texts: list
    held_out: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def clips(self, idx) -> np.ndarray:
        """(len(idx), clip_samples) float32: the test clips ``idx``."""
        return A.augment_batch(self.split, [int(self.utterance[i]) for i in idx],
                               [self.conditions[i] for i in idx], self.fspec).astype(np.float32)


def test_set(split: Split, spec: DataSpec, fspec: FeatureSpec, chunk: int = 256) -> TestSet:
    """Every utterance of the test ``split`` once dry and once degraded (seeded),
    then ``spec.test_silence`` noise clips labelled ``_silence_``."""
    from .features import log_mel
    rng = np.random.default_rng(spec.seed + 1000)
    n_rooms = len(split.rooms)
    utt, conds = [], []
    for i in range(len(split)):
        utt += [i, i]
        conds += [A.dry_condition(rng), A.degraded_condition(rng, n_rooms)]
    utt += [-1] * spec.test_silence
    conds += [A.silence_test_condition(rng) for _ in range(spec.test_silence)]
    silence = len(spec.words)

    def meta(values, fill):
        return [values[i] if i >= 0 else fill for i in utt]

    ts = TestSet(split=split, fspec=fspec, logmel=np.zeros(0, np.float32),
                 labels=np.array([split.labels[i] if i >= 0 else silence for i in utt],
                                 dtype=np.int64),
                 utterance=np.array(utt, dtype=np.int64), conditions=conds,
                 engines=meta(split.engines, "noise"), speakers=meta(split.speakers, "noise"),
                 texts=meta(split.texts, ""),
                 held_out=np.array(meta(list(split.held_out), True), dtype=bool))
    ts.logmel = np.concatenate([log_mel(ts.clips(range(s, min(len(ts), s + chunk))), fspec)
                                .astype(np.float32) for s in range(0, len(ts), chunk)])
    return ts


#: The toy scale of ``scripts/speech.py --toy`` (the test suite's pipeline run).
TOY = DataSpec(espeak_voices=(3, 2), flite_voices=(3, 2), flite_seen=1,
               unknown_words=(6, 3), unknown_voices=(2, 1), unknown_heard=2, babble_talkers=2,
               rooms=(4, 2), test_silence=4, words=WORDS[:4])


def scaled(spec: DataSpec, f: float) -> DataSpec:
    """``spec`` with ``f`` times the voices, other words, rooms and silence clips."""
    def n(v):
        return None if v is None else max(1, int(round(v * f)))
    n_other = [len(w) for w in split_other_words(spec.seed)]
    return DataSpec(**{**spec.to_dict(),
                       "espeak_voices": tuple(n(v) for v in spec.espeak_voices),
                       "flite_voices": tuple(n(v) for v in spec.flite_voices),
                       "flite_seen": n(spec.flite_seen),
                       "unknown_heard": n(spec.unknown_heard),
                       "unknown_words": tuple(n(v if v is not None else a) for v, a in
                                              zip(spec.unknown_words, n_other)),
                       "rooms": tuple(n(v) for v in spec.rooms),
                       "test_silence": n(spec.test_silence)})
