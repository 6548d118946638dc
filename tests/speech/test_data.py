"""Who says what: the other words hold no vocabulary word, the split holds speakers and
words out, both engines speak, a missing engine is one clear line, the cache is reused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ese.speech import data as D
from ese.speech import engines as E
from ese.speech.features import FeatureSpec
from ese.speech.vocabulary import (ALWAYS_HELD_OUT, CLASSES, OTHER_WORDS, SILENCE, UNKNOWN,
                                   WORDS, is_word_class, split_other_words)

#: homophones and words that hold a vocabulary word as a spoken part: never "unknown"
NEVER_OTHER = ("won", "to", "too", "for", "fore", "ate", "know", "write", "rite", "of", "an",
               "someone", "anyone", "upon", "into", "onto", "often", "today", "nobody",
               "going", "gone", "ago", "forty", "fourteen", "eighteen", "seventy", "once",
               "none", "stopped", "downtown", "alright", "yesterday")


def test_vocabulary():
    assert CLASSES == WORDS + (SILENCE, UNKNOWN) and len(CLASSES) == 22
    assert [c for c in CLASSES if not is_word_class(c)] == [SILENCE, UNKNOWN]
    assert len(set(OTHER_WORDS)) == len(OTHER_WORDS) >= 300
    assert not set(OTHER_WORDS) & (set(WORDS) | set(NEVER_OTHER))
    train, test = split_other_words(0)
    assert not set(train) & set(test) and set(train) | set(test) == set(OTHER_WORDS)
    assert set(ALWAYS_HELD_OUT) <= set(test) and 0.2 < len(test) / len(OTHER_WORDS) < 0.3
    assert split_other_words(0) == (train, test) != split_other_words(1)


def test_speaker_split():
    tr, te = E.split_variants(0)
    assert len(te) == 20 and not set(tr) & set(te)
    ftr, fte = E.split_flite()
    assert "slt" in fte and len(fte) >= 2 and not set(ftr) & set(fte)
    assert set(ftr) | set(fte) == set(E.FLITE_VOICES)


def pitch(x, rate=16000) -> float:
    """Median autocorrelation pitch (Hz) of the loud 40 ms frames."""
    w, out = int(0.04 * rate), []
    for s in range(0, x.size - w, w // 4):
        f = x[s:s + w] - x[s:s + w].mean()
        if np.sqrt(np.mean(f ** 2)) < 0.5 * np.sqrt(np.mean(x ** 2)):
            continue
        ac = np.correlate(f, f, "full")[w - 1:]
        lo, hi = rate // 400, rate // 60
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            out.append(rate / k)
    return float(np.median(out))


def test_flite_speaks_with_its_stretch_and_pitch():
    slow = E.speak("seven", E.FliteVoice("slt", 1.3, 0), 16000)
    fast = E.speak("seven", E.FliteVoice("slt", 0.8, 0), 16000)
    assert 1.3 < slow.size / fast.size < 1.9
    assert np.isclose(np.abs(slow).max(), E.SPEECH_PEAK)
    low = E.speak("nine", E.FliteVoice("awb", 1.0, 90), 16000)
    high = E.speak("nine", E.FliteVoice("awb", 1.0, 180), 16000)

    assert 1.6 < pitch(high) / pitch(low) < 2.4
    kal = E.speak("no", E.FliteVoice("kal", 1.0, 120), 16000)   # 8 kHz voice, resampled
    assert kal.size > 3000


def test_missing_engine_is_one_line_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(E.SpeechError, match="apt-get install flite"):
        E.speak("yes", E.FliteVoice("rms", 1.0, 0), 16000)
    with pytest.raises(E.SpeechError, match="apt-get install espeak-ng"):
        E.speak_many([("yes", E.EspeakVoice("en-us", "m3", 160, 50))], 16000)


def test_toy_dataset_holds_speakers_and_words_out(tmp_path, monkeypatch):
    spec = dataclasses.replace(D.TOY, unknown_words=(4, 3))
    tr, te = D.build_dataset(spec, tmp_path)
    n = len(spec.words)
    assert set(tr.engines) == set(te.engines) == {"espeak-ng", "flite"}
    held = {s for s, h in zip(te.speakers, te.held_out) if h}
    assert not held & set(tr.speakers)                      # no held-out speaker is trained
    assert {s for s, h in zip(te.speakers, te.held_out) if not h} <= set(tr.speakers)
    train_words, test_words = split_other_words(spec.seed)
    other = {t for t, l in zip(te.texts, te.labels) if l == n + 1}
    assert len(other & set(test_words)) == 3 and len(other & set(train_words)) == 2
    assert not other & set(test_words) & set(tr.texts)      # never-heard words: never heard
    assert sorted(set(tr.labels)) == list(range(n)) + [n + 1]   # silence has no utterance
    assert len(tr.rooms) == spec.rooms[0] and not np.array_equal(tr.rooms[0], te.rooms[0])
    # a second build reads the cache (speaking again would fail here)
    monkeypatch.setattr(E, "speak_many", lambda *a, **k: pytest.fail("spoke again"))
    tr2, _ = D.build_dataset(spec, tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(tr.audio, tr2.audio))
    ts = D.test_set(te, spec, FeatureSpec())
    assert len(ts) == 2 * len(te) + spec.test_silence
    assert np.sum(ts.labels == n) == spec.test_silence
    assert sum(c.degraded for c in ts.conditions) == len(te) + spec.test_silence
    k = len(ts) - 1
    assert np.array_equal(ts.clips([k]), ts.clips([k]))      # made again to the bit


def test_default_split_holds_every_test_speaker_out_of_training():
    """The full-scale data of ``make speech`` (no speaking needed: who says what is
    decided before): no held-out test voice, word or babble talker, is a speaker that
    training hears; at least awb and slt of flite and 20 espeak-ng variants are held out."""
    spec = D.DataSpec()
    jobs, babble = [], []
    for side in (0, 1):
        j, b = D._side_jobs(spec, side, np.random.default_rng([spec.seed, side]))
        jobs.append(j)
        babble.append(b)
    trained = {(v.engine, v.speaker) for _, v, _, _ in jobs[0]} \
        | {(v.engine, v.speaker) for _, v in babble[0]}
    held = {(v.engine, v.speaker) for _, v, _, h in jobs[1] if h} \
        | {(v.engine, v.speaker) for _, v in babble[1]}
    assert not held & trained
    assert {s for e, s in held if e == "flite"} == {"awb", "slt"}
    assert len({s for e, s in held if e == "espeak-ng"}) == 20
    assert {s for e, s in trained if e == "flite"} == {"kal", "kal16", "rms"}
    seen = {(v.engine, v.speaker) for _, v, _, h in jobs[1] if not h}
    assert seen and seen <= trained and {e for e, _ in seen} == {"flite"}
    # 22 classes; every test word of the vocabulary by both engines' held-out voices
    n = len(spec.words)
    assert len(spec.classes) == 22 and spec.classes[n:] == (SILENCE, UNKNOWN)
    for eng in ("espeak-ng", "flite"):
        said = {w for w, v, lab, h in jobs[1] if h and v.engine == eng and lab < n}
        assert said == set(spec.words)
    # the never-heard other words are never said in training
    _, new_words = split_other_words(spec.seed)
    assert not set(new_words) & {w for w, _, _, _ in jobs[0]}
