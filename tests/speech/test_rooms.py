"""Simulated rooms: the image sources where geometry puts them, the tail decaying at
the Sabine reverberation time, the reverberant share growing with distance, seeded."""

from __future__ import annotations

import numpy as np

from ese.speech.rooms import (SPEED_OF_SOUND, Room, _image_sources, draw_room,
                              impulse_response, reverberate, room_bank)

RATE = 16000


def schroeder_rt60(h: np.ndarray, rate: int, band=(500.0, 2000.0)) -> float:
    """T20 x 3 from the backward-integrated energy decay (ISO 3382) in ``band``, where
    the room's nominal RT60 holds (lower bands ring longer, higher ones shorter)."""
    spec = np.fft.rfft(h, 2 * h.size)
    f = np.fft.rfftfreq(2 * h.size, 1.0 / rate)
    h = np.fft.irfft(np.where((f >= band[0]) & (f < band[1]), spec, 0), 2 * h.size)[:h.size]
    e = np.cumsum((h ** 2)[::-1])[::-1]
    db = 10 * np.log10(e / e[0])
    i5, i25 = int(np.argmax(db < -5)), int(np.argmax(db < -25))
    return 3.0 * (i25 - i5) / rate


def test_first_reflections_follow_the_geometry():
    room = Room(size=(5.0, 4.0, 3.0), absorption=0.36, talker=(1.0, 1.0, 1.5),
                mic=(3.0, 2.0, 1.2))
    d, amp = _image_sources(room, order=1)
    assert len(d) == 7                                  # direct sound + one per wall
    assert np.isclose(d.min(), room.distance) and np.isclose(amp.max(), 1.0)
    floor = np.sqrt(2.0 ** 2 + 1.0 ** 2 + (1.5 + 1.2) ** 2)   # the talker mirrored in z = 0
    k = int(np.argmin(np.abs(d - floor)))
    assert np.isclose(d[k], floor)
    assert np.isclose(amp[k], np.sqrt(1 - 0.36) * room.distance / floor)
    h = impulse_response(room, RATE, seed=0, order=1)
    assert np.isclose(h[0], 1.0, atol=0.05)             # the direct sound starts the response
    lag = (floor - room.distance) / SPEED_OF_SOUND * RATE
    assert abs(h[int(np.floor(lag))]) + abs(h[int(np.floor(lag)) + 1]) > 0.1


def test_tail_decays_at_the_sabine_time():
    """T20 within -20 % .. +30 % of Sabine's RT60: the first 30 ms are image sources, which
    do not follow the exponential law (most in the most absorbing rooms)."""
    rng = np.random.default_rng(5)
    for _ in range(10):
        room = draw_room(rng)
        h = impulse_response(room, RATE, seed=1)
        measured = schroeder_rt60(h, RATE)
        assert 0.8 * room.rt60 < measured < 1.3 * room.rt60, (room.describe(), measured)


def test_farther_talkers_hear_more_room():
    def drr(distance):
        room = Room(size=(8.0, 6.0, 3.0), absorption=0.25, talker=(1.0, 3.0, 1.5),
                    mic=(1.0 + distance, 3.0, 1.5))
        h = impulse_response(room, RATE, seed=2)
        return 10 * np.log10(1.0 / (np.sum(h ** 2) - 1.0))
    assert drr(0.7) > drr(2.0) + 3 > drr(5.0) + 6


def test_bank_is_seeded_and_reverberate_keeps_the_length():
    a, b, c = room_bank(3, 7, RATE), room_bank(3, 7, RATE), room_bank(3, 8, RATE)
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
    assert not np.array_equal(a[1][0], c[1][0])
    x = np.zeros(1000)
    x[10] = 1.0
    y = reverberate(x, a[1][0])
    assert y.size == 1000 and np.allclose(y[10:1000], a[1][0][:990])
