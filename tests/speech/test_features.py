"""The log-mel front end: against a plain-loop computation, tones land in the
right band, clip fitting, stacking, normalization."""

from __future__ import annotations

import numpy as np

from ese.speech.features import (FeatureSpec, Normalizer, fit_clip, hz_to_mel, log_mel,
                                 mel_filterbank, stack, utterance_features)

SPEC = FeatureSpec()
PLAIN = FeatureSpec(lifter=0)


def test_shapes_of_the_default_front_end():
    assert (SPEC.clip_samples, SPEC.n_frames, SPEC.n_steps, SPEC.n_inputs) == (16000, 98, 49, 80)
    f = log_mel(np.zeros(SPEC.clip_samples), SPEC)
    assert f.shape == (98, 40)
    assert np.allclose(f, np.log(1e-6))            # digital silence sits on the floor


def test_log_mel_against_a_plain_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000) * 0.1
    got = log_mel(x, PLAIN)
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


def test_vtlp_moves_a_tone_by_the_warp_factor():
    """A warp alpha puts a tone of f Hz where the unwarped front end puts alpha * f; the
    Nyquist frequency stays put; warp 1 is the plain front end; one factor per clip."""
    from ese.speech.features import vtlp_warp
    assert np.isclose(vtlp_warp(8000.0, 1.1, 16000), 8000.0)
    assert np.isclose(vtlp_warp(1000.0, 0.9, 16000), 900.0)
    t = np.arange(SPEC.clip_samples) / SPEC.sample_rate
    centres = 700 * (10 ** (np.linspace(hz_to_mel(SPEC.fmin), hz_to_mel(SPEC.fmax),
                                        SPEC.n_mels + 2)[1:-1] / 2595) - 1)
    f = centres[20] / 1.1                   # warped by 1.1 it sits on band 20's centre
    tone = np.sin(2 * np.pi * f * t)
    plain, warped = log_mel(np.stack([tone, tone]), SPEC, warp=[1.0, 1.1])
    assert int(np.argmax(warped.mean(0))) == 20
    assert int(np.argmax(plain.mean(0))) < 20
    assert np.array_equal(plain, log_mel(tone, SPEC))


def test_lifter_drops_the_fine_structure_across_bands():
    """Liftering = DCT-II of the log-mel frame, coefficients >= lifter zeroed, inverse DCT
    (written here from the definition); a constant spectrum is untouched; a speech model
    written before the lifter existed reads as lifter 0."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=4000) * 0.1
    plain, smooth = log_mel(x, PLAIN), log_mel(x, SPEC)
    n, k = SPEC.n_mels, SPEC.lifter
    dct = np.array([[np.cos(np.pi * q * (2 * m + 1) / (2 * n)) for m in range(n)]
                    for q in range(n)])
    coef = plain @ dct.T                                   # unnormalized DCT-II
    coef[:, k:] = 0
    scale = np.full(n, 2.0 / n)
    scale[0] = 1.0 / n
    assert np.allclose(smooth, (coef * scale) @ dct, atol=1e-9)
    assert np.allclose(log_mel(np.zeros(1000), SPEC), np.log(1e-6))
    assert FeatureSpec.from_dict({k_: v for k_, v in PLAIN.to_dict().items()
                                  if k_ != "lifter"}) == PLAIN
