"""Room impulse responses of simulated rooms, seeded, in numpy.

A :class:`Room` is a shoebox (length, width, height), one absorption
coefficient for all its walls, a talker and a microphone inside it.  Its
impulse response (:func:`impulse_response`) is the hybrid that room
simulators use (e.g. pyroomacoustics' ``hybrid`` mode), without their
dependency:

* **early part**: the image-source method (Allen and Berkley 1979) up to
  ``order`` reflections and :data:`MIXING_TIME` after the direct sound:
  every image of the talker in the mirrored rooms arrives after
  ``distance / c`` with amplitude ``beta^reflections / distance``,
  ``beta = sqrt(1 - absorption)``;
* **late part**: a diffuse tail of Gaussian noise decaying at the room's
  Sabine reverberation time ``RT60 = 0.161 V / (S a)``, faster at high
  frequencies (four bands, air and wall absorption grow with frequency),
  starting at the mixing time, where the image sources stop, with the energy
  that the diffuse
  field has left by then: the whole field holds ``(r / r_c)^2`` times the
  direct sound's energy (``r_c = 0.057 sqrt(Q V / RT60)`` the critical
  distance of a talker of directivity ``Q`` = :data:`TALKER_Q` facing the
  microphone) and decays by 60 dB per RT60 from the direct sound on.

The response starts at the direct sound (the propagation delay is dropped, so
a word keeps its place in the clip) with amplitude 1.  :func:`room_bank`
draws ``n`` rooms from a seed: the training and the test side use different
seeds, so no test room is heard in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SPEED_OF_SOUND = 343.0           #: m/s
SIZE_RANGE = ((2.5, 12.0), (2.5, 9.0), (2.3, 4.0))   #: length, width, height (m)
ABSORPTION_RANGE = (0.08, 0.6)   #: mean wall absorption coefficient
RT60_RANGE = (0.1, 1.2)          #: drawn rooms outside this range are drawn again
DISTANCE_RANGE = (0.5, 4.0)      #: talker to microphone (m): a person across a room
TALKER_Q = 2.0                   #: directivity factor of a talker's mouth, facing the mic
MIXING_TIME = 0.03               #: s after the direct sound: image sources before, tail after
TAIL_BANDS = ((0, 500, 1.25), (500, 2000, 1.0), (2000, 4000, 0.8), (4000, None, 0.6))
"""(low Hz, high Hz, RT60 factor) of the late tail's bands."""


@dataclass(frozen=True)
class Room:
    size: tuple          #: (length, width, height), metres
    absorption: float    #: of every wall, 0..1
    talker: tuple        #: (x, y, z), metres
    mic: tuple           #: (x, y, z), metres

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))

    @property
    def surface(self) -> float:
        a, b, c = self.size
        return 2.0 * (a * b + a * c + b * c)

    @property
    def rt60(self) -> float:
        """Sabine reverberation time, seconds."""
        return 0.161 * self.volume / (self.surface * self.absorption)

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(np.subtract(self.talker, self.mic)))

    @property
    def critical_distance(self) -> float:
        return 0.057 * np.sqrt(TALKER_Q * self.volume / self.rt60)

    def describe(self) -> str:
        return (f"{self.size[0]:.1f} x {self.size[1]:.1f} x {self.size[2]:.1f} m, absorption "
                f"{self.absorption:.2f}, RT60 {self.rt60:.2f} s, talker at {self.distance:.1f} m")


def draw_room(rng: np.random.Generator) -> Room:
    """A room, a talker and a microphone :data:`DISTANCE_RANGE` apart and at least
    0.3 m from the walls, with a reverberation time in :data:`RT60_RANGE`."""
    while True:
        size = tuple(float(rng.uniform(*r)) for r in SIZE_RANGE)
        absorption = float(rng.uniform(*ABSORPTION_RANGE))
        talker = tuple(float(rng.uniform(0.3, s - 0.3)) for s in size)
        mic = tuple(float(rng.uniform(0.3, s - 0.3)) for s in size)
        room = Room(size, absorption, talker, mic)
        if DISTANCE_RANGE[0] <= room.distance <= DISTANCE_RANGE[1] \
                and RT60_RANGE[0] <= room.rt60 <= RT60_RANGE[1]:
            return room


def _image_sources(room: Room, order: int) -> tuple:
    """(distances, amplitudes) of the direct sound and the images up to ``order``
    reflections, amplitudes relative to the direct sound's."""
    beta = np.sqrt(1.0 - room.absorption)
    n = np.arange(-order, order + 1)
    axes = []
    for L, s, m in zip(room.size, room.talker, room.mic):
        # per axis: image n, parity p at (1 - 2p) s + 2 n L; |n - p| + |n| reflections
        pos = np.concatenate([s + 2 * n * L, -s + 2 * n * L]) - m
        refl = np.concatenate([2 * np.abs(n), np.abs(n - 1) + np.abs(n)])
        axes.append((pos, refl))
    (px, rx), (py, ry), (pz, rz) = axes
    refl = rx[:, None, None] + ry[None, :, None] + rz[None, None, :]
    dist = np.sqrt(px[:, None, None] ** 2 + py[None, :, None] ** 2 + pz[None, None, :] ** 2)
    keep = refl <= order
    d, r = dist[keep], refl[keep]
    d0 = room.distance
    return d, beta ** r * d0 / d


def impulse_response(room: Room, rate: int, seed: int, order: int = 3) -> np.ndarray:
    """The room's impulse response at ``rate`` Hz (module docstring), starting at the
    direct sound with amplitude 1, as long as the tail takes to fall by 60 dB."""
    rng = np.random.default_rng(seed)
    d, amp = _image_sources(room, order)
    delay = (d - room.distance) / SPEED_OF_SOUND * rate
    start = int(round(MIXING_TIME * rate))          # the tail's first sample
    early = delay < start - 1
    delay, amp = delay[early], amp[early]
    n = start + int(np.ceil(room.rt60 * TAIL_BANDS[0][2] * rate))
    h = np.zeros(n)
    i0 = np.floor(delay).astype(np.int64)
    frac = delay - i0
    np.add.at(h, i0, amp * (1.0 - frac))                 # linear fractional delay
    np.add.at(h, i0 + 1, amp * frac)
    # the diffuse tail from the mixing time on
    t = np.arange(n - start) / rate
    white = rng.standard_normal(n - start)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(white.size, 1.0 / rate)
    tail = np.zeros(n - start)
    for lo, hi, factor in TAIL_BANDS:
        band = (f >= lo) & (f < (hi if hi is not None else np.inf))
        part = np.fft.irfft(np.where(band, spec, 0), white.size)
        tail += part * np.exp(-3.0 * np.log(10.0) * t / (room.rt60 * factor))
    # the diffuse field holds (r / r_c)^2 of the direct energy, decaying from the direct
    # sound on at the RT60: the part after the mixing time is the tail's
    reverberant = (room.distance / room.critical_distance) ** 2
    want = reverberant * np.exp(-6.0 * np.log(10.0) * start / rate / room.rt60)
    tail *= np.sqrt(want / max(float(np.sum(tail ** 2)), 1e-20))
    h[start:] += tail
    return h


def reverberate(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``h``, cut to the length of ``x`` (FFT convolution)."""
    n = x.size + h.size - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:x.size]


@lru_cache(maxsize=8)
def room_bank(n: int, seed: int, rate: int) -> tuple:
    """``n`` rooms drawn from ``seed`` and their impulse responses at ``rate``:
    ``(rooms, responses)``, both tuples (cached: the same arguments give the same
    objects)."""
    rng = np.random.default_rng(seed)
    rooms = tuple(draw_room(rng) for _ in range(n))
    irs = tuple(impulse_response(r, rate, seed=int(rng.integers(1 << 31))) for r in rooms)
    return rooms, irs
