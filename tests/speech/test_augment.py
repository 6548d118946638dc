"""Conditions and degradations: the SNR and noise levels asked for are the ones made,
speed perturbation stretches, the channel can cut the band, dry clips are untouched."""

from __future__ import annotations

import numpy as np

from ese.speech import augment as A
from ese.speech.data import Split
from ese.speech.features import FeatureSpec
from ese.speech.rooms import room_bank

FS = FeatureSpec()


def split_with(audio) -> Split:
    rng = np.random.default_rng(0)
    babble = (rng.normal(size=40000) * 0.1).astype(np.float32)
    return Split(audio=list(audio), labels=np.zeros(len(audio), np.int64), texts=[""] * len(audio),
                 engines=["espeak-ng"] * len(audio), speakers=["x"] * len(audio),
                 voices=["x"] * len(audio), held_out=np.ones(len(audio), bool), babble=babble,
                 babble_cuts=np.array([0, 20000, 40000]), rooms=room_bank(2, 3, 16000)[1])


def word(n=6000, f=440.0):
    t = np.arange(n) / 16000
    return 0.5 * np.sin(2 * np.pi * f * t) * np.hanning(n)


def test_dry_clip_is_the_word_placed_and_scaled():
    u = word()
    c = A.Condition(offset=0.25, gain_db=-6.0)
    x = A.augment(u, c, split_with([u]), FS)
    start = int(0.25 * (FS.clip_samples - u.size))
    assert not c.degraded
    assert np.allclose(x[start:start + u.size], u * 10 ** (-6 / 20))
    assert np.count_nonzero(x) == np.count_nonzero(u)


def test_noise_is_added_at_the_snr_asked_for():
    u = word()
    s = split_with([u])
    for kind in A.NOISES:
        for snr in (5.0, 20.0):
            c = A.Condition(offset=0.0, noise=kind, snr_db=snr, seed=4)
            noisy = A.augment(u, c, s, FS)
            clean = A.augment(u, A.Condition(offset=0.0), s, FS)
            seg = slice(0, u.size)
            got = 20 * np.log10(A.rms(clean[seg]) / A.rms(noisy - clean))
            assert abs(got - snr) < 1.0, (kind, snr, got)       # noise RMS over the clip


def test_silence_clip_has_the_level_asked_for():
    s = split_with([word()])
    for level in (-60.0, -20.0):
        x = A.augment(np.zeros(0), A.Condition(offset=0.0, noise="pink", level_db=level,
                                               seed=1), s, FS)
        assert abs(20 * np.log10(A.rms(x)) - level) < 0.1


def test_speed_perturbation_stretches_the_word():
    u = word(8000)
    s = split_with([u])
    for speed in (0.9, 1.1):
        x = A.augment(u, A.Condition(offset=0.0, speed=speed), s, FS)
        loud = np.flatnonzero(np.abs(x) > 1e-3)
        assert abs((loud[-1] - loud[0]) * speed - (8000 * 0.99)) < 200, speed


def test_room_adds_a_tail_and_the_channel_can_cut_the_band():
    u = word()
    s = split_with([u])
    dry = A.augment(u, A.Condition(offset=0.0), s, FS)
    wet = A.augment(u, A.Condition(offset=0.0, room=0), s, FS)
    assert A.rms(wet[u.size + 400:]) > 1e-3 > A.rms(dry[u.size + 400:])
    noise = np.random.default_rng(0).normal(size=FS.clip_samples)
    f = np.fft.rfftfreq(noise.size, 1 / 16000)
    cut = 0
    for seed in range(40):
        y = A.channel(noise, 16000, np.random.default_rng(seed))
        top = np.abs(np.fft.rfft(y))[f > 5400]
        cut += bool(np.all(top < 1e-6))
    assert 4 <= cut <= 18                                   # one channel in four


def test_draws_are_what_the_tables_say():
    rng = np.random.default_rng(0)
    deg = [A.degraded_condition(rng, 5) for _ in range(300)]
    assert all(c.degraded for c in deg)
    assert {c.snr_db for c in deg} == set(A.TEST_SNRS) | {None}
    assert all(c.room is not None for c in deg if c.noise is None)
    assert not any(A.dry_condition(rng).degraded for _ in range(20))
    sil = [A.silence_test_condition(rng) for _ in range(100)]
    assert {c.level_db for c in sil} == set(A.TEST_SILENCE_LEVELS)
    tr = [A.train_condition(rng, 5) for _ in range(300)]
    assert all(A.SPEED_RANGE[0] <= c.speed <= A.SPEED_RANGE[1] for c in tr)
    assert 0.35 < np.mean([c.room is not None for c in tr]) < 0.65
    assert A.condition_name(A.Condition(offset=0, noise="babble", snr_db=5.0)) == "babble 5 dB"


def test_spec_augment_masks_a_few_bands_and_frames_reproducibly():
    f = np.random.default_rng(0).normal(size=(98, 40)) + 5.0
    widths_f, widths_t = [], []
    for seed in range(50):
        g = A.spec_augment(f, seed)
        assert np.array_equal(g, A.spec_augment(f, seed)) and not np.any(f == 0)
        bands = np.all(g == 0, axis=0)
        frames = np.all(g == 0, axis=1)
        assert np.array_equal(g[~frames][:, ~bands], f[~frames][:, ~bands])   # rest untouched
        widths_f.append(bands.sum())
        widths_t.append(frames.sum())
    assert max(widths_f) <= A.FREQ_MASKS[0] * A.FREQ_MASKS[1] and max(widths_f) > A.FREQ_MASKS[1]
    assert 0 < max(widths_t) <= A.TIME_MASKS[0] * A.TIME_MASKS[1]
