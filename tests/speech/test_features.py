"""The log-mel front end: against a plain-loop computation, tones land in the
right band, clip fitting, stacking, normalization."""

from __future__ import annotations

import numpy as np

from ese.speech.features import (FeatureSpec, Normalizer, fit_clip, hz_to_mel, log_mel,
                                 mel_filterbank, stack, utterance_features)

SPEC = FeatureSpec()


def test_shapes_of_the_default_front_end():
    assert (SPEC.clip_samples, SPEC.n_frames, SPEC.n_steps, SPEC.n_inputs) == (16000, 98, 49, 80)
    f = log_mel(np.zeros(SPEC.clip_samples), SPEC)
    assert f.shape == (98, 40)
    assert np.allclose(f, np.log(1e-6))            # digital silence sits on the floor


def test_log_mel_against_a_plain_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000) * 0.1
    got = log_mel(x, SPEC)
    # frame 3 the slow way: explicit window, DFT sum, triangles from their definition
    start = 3 * SPEC.hop
    n = np.arange(SPEC.win)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * (n + 1) / (SPEC.win + 1))   # Hann, no zero ends
    seg = x[start:start + SPEC.win] * window
    k = np.arange(SPEC.n_fft // 2 + 1)
    dft = np.array([np.sum(seg * np.exp(-2j * np.pi * kk * n / SPEC.n_fft)) for kk in k])
    power = np.abs(dft) ** 2
    mel_pts = np.linspace(hz_to_mel(SPEC.fmin), hz_to_mel(SPEC.fmax), SPEC.n_mels + 2)
    hz = 700 * (10 ** (mel_pts / 2595) - 1)
    freqs = k * SPEC.sample_rate / SPEC.n_fft
    want = []
    for b in range(SPEC.n_mels):
        lo, mid, hi = hz[b], hz[b + 1], hz[b + 2]
        tri = [max(0.0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) for f in freqs]
        want.append(np.log(np.dot(tri, power) + 1e-6))
    assert np.allclose(got[3], want, atol=1e-9)


def test_a_tone_lands_in_its_band():
    fb = mel_filterbank(SPEC)
    centres = 700 * (10 ** (np.linspace(hz_to_mel(SPEC.fmin), hz_to_mel(SPEC.fmax),
                                        SPEC.n_mels + 2)[1:-1] / 2595) - 1)
    assert np.all(np.diff(centres) > 0) and fb.max() <= 1.0
    for band in (5, 20, 35):
        t = np.arange(SPEC.clip_samples) / SPEC.sample_rate
        f = log_mel(np.sin(2 * np.pi * centres[band] * t), SPEC)
        assert abs(int(np.argmax(f.mean(axis=0))) - band) <= 1


def test_fit_clip():
    n = SPEC.clip_samples
    short = np.ones(1000)
    y = fit_clip(short, SPEC)
    assert y.size == n and y.sum() == 1000 and y[(n - 1000) // 2] == 1 and y[0] == 0
    long = np.zeros(3 * n)
    long[40000:40500] = 1.0                       # the loud part must be kept
    y = fit_clip(long, SPEC)
    assert y.size == n and y.sum() == 500
    same = np.arange(n, dtype=float)
    assert np.array_equal(fit_clip(same, SPEC), same)


def test_stack_and_normalizer():
    f = np.arange(2 * 7 * 3, dtype=float).reshape(2, 7, 3)
    s = stack(f, 2)
    assert s.shape == (2, 3, 6)
    assert np.array_equal(s[1, 2], np.concatenate([f[1, 4], f[1, 5]]))   # frame 6 dropped
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(10, 50, 4))
    x[..., 3] = 7.0                                 # a constant coefficient: no division by 0
    z = Normalizer.fit(x)(x).reshape(-1, 4)
    assert np.allclose(z.mean(0), 0) and np.allclose(z[:, :3].std(0), 1)
    assert np.all(np.isfinite(z))


def test_utterance_features_single_and_batch():
    rng = np.random.default_rng(3)
    norm = Normalizer(mean=np.full(40, -5.0), std=np.full(40, 2.0))
    a = rng.normal(size=12000) * 0.1
    one = utterance_features(a, SPEC, norm)
    batch = utterance_features(np.stack([fit_clip(a, SPEC)] * 2), SPEC, norm)
    assert one.shape == (49, 80) and batch.shape == (2, 49, 80)
    assert np.allclose(batch[1], one)
