"""WAV files in and out, and resampling (numpy only).

:func:`read_wav` reads RIFF/WAVE files as they come from recorders, sound
editors and text-to-speech tools: any sample rate, any number of channels
(mixed down to mono by averaging), PCM of 8 (unsigned), 16, 24 or 32 bits,
IEEE float of 32 or 64 bits, the plain and the ``WAVE_FORMAT_EXTENSIBLE``
headers.  A ``data`` chunk whose size runs past the end of the file (the
header of a stream written to a pipe, e.g. ``espeak-ng --stdout``) is read to
the end of the file.  Every other problem - not a WAV, a compressed format,
no samples, a truncated header - raises :class:`WavError` with one line that
names the file, so that the command line prints it as it is.

:func:`resample` converts between sample rates with a windowed-sinc
interpolator (Kaiser window, cut-off just below the lower Nyquist frequency,
so downsampling does not alias).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from ese.model.modelfile import ModelError

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE


class WavError(ModelError):
    """A file that is not a readable WAV (one line naming the file)."""


def _chunks(data: bytes):
    """Yield (id, offset, size) of the RIFF chunks after the 12-byte header."""
    pos = 12
    while pos + 8 <= len(data):
        cid, size = struct.unpack_from("<4sI", data, pos)
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)          # chunks are padded to even sizes


def _decode(raw: bytes, tag: int, bits: int, name: str) -> np.ndarray:
    """Raw interleaved samples -> float64 in [-1, 1)."""
    if tag == PCM:
        if bits == 8:
            return (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
        if bits == 16:
            return np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
        if bits == 24:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            return v.astype(np.float64) / float(1 << 23)
        if bits == 32:
            return np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)
        raise WavError(f"{name}: {bits}-bit PCM is not supported (8, 16, 24 or 32 bits)")
    if tag == IEEE_FLOAT:
        if bits == 32:
            v = np.frombuffer(raw, "<f4").astype(np.float64)
        elif bits == 64:
            v = np.frombuffer(raw, "<f8").astype(np.float64)
        else:
            raise WavError(f"{name}: {bits}-bit float is not supported (32 or 64 bits)")
        if not np.all(np.isfinite(v)):
            raise WavError(f"{name}: float samples hold NaN or Inf")
        return v
    raise WavError(f"{name}: WAV format tag 0x{tag:04x} is not supported "
                   f"(PCM or IEEE float only; compressed WAVs are not read)")


def read_wav(path) -> tuple[np.ndarray, int]:
    """Read a WAV file; returns ``(samples float64 mono in [-1, 1], sample_rate)``.

    Raises :class:`WavError` (one line naming ``path``) for a missing, empty,
    broken or unsupported file.
    """
    path = Path(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WavError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise WavError(f"{name}: is a folder, expected a WAV file") from None
    except OSError as e:
        raise WavError(f"{name}: cannot read ({e.strerror})") from None
    return parse_wav(data, name)


def parse_wav(data: bytes, name: str = "WAV data") -> tuple[np.ndarray, int]:
    """:func:`read_wav` of bytes already in memory (``name`` goes into the errors)."""
    if not data:
        raise WavError(f"{name}: empty file")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX", b"RF64") or data[8:12] != b"WAVE":
        raise WavError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    if data[:4] != b"RIFF":
        raise WavError(f"{name}: {data[:4].decode()} WAV files are not supported (RIFF only)")
    fmt = None
    body = None
    for cid, off, size in _chunks(data):
        if cid == b"fmt ":
            if size < 16 or off + 16 > len(data):
                raise WavError(f"{name}: broken WAV (fmt chunk too short)")
            tag, ch, rate, _, align, bits = struct.unpack_from("<HHIIHH", data, off)
            if tag == EXTENSIBLE:
                if size < 40 or off + 40 > len(data):
                    raise WavError(f"{name}: broken WAV (extensible fmt chunk too short)")
                tag = struct.unpack_from("<H", data, off + 24)[0]   # first bytes of SubFormat
            fmt = (tag, ch, rate, align, bits)
        elif cid == b"data":
            if fmt is None:
                raise WavError(f"{name}: broken WAV (data chunk before fmt chunk)")
            body = data[off:off + size]          # a streamed header overstates the size
            break
    if fmt is None:
        raise WavError(f"{name}: broken WAV (no fmt chunk)")
    if body is None:
        raise WavError(f"{name}: broken WAV (no data chunk)")
    tag, ch, rate, align, bits = fmt
    if ch < 1:
        raise WavError(f"{name}: broken WAV (0 channels)")
    if rate < 1000 or rate > 1_000_000:
        raise WavError(f"{name}: sample rate {rate} Hz is out of range (1 kHz .. 1 MHz)")
    if bits % 8 or bits == 0:
        raise WavError(f"{name}: {bits} bits per sample is not supported")
    frame = ch * bits // 8
    n = len(body) // frame
    if n == 0:
        raise WavError(f"{name}: no samples (empty WAV)")
    x = _decode(body[:n * frame], tag, bits, name).reshape(n, ch)
    return x.mean(axis=1), int(rate)


def write_wav(path, x, rate: int, bits: int = 16) -> None:
    """Write mono or (n, channels) samples in [-1, 1] as PCM (8/16/24/32 bits) or,
    with ``bits=-32``, as 32-bit IEEE float."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n, ch = x.shape
    if bits == -32:
        raw = x.astype("<f4").tobytes()
        tag, width = IEEE_FLOAT, 32
    else:
        width, tag = bits, PCM
        top = float(1 << (bits - 1))
        q = np.clip(np.round(x * top), -top, top - 1).astype(np.int64)
        if bits == 8:
            raw = (q + 128).astype(np.uint8).tobytes()
        elif bits == 16:
            raw = q.astype("<i2").tobytes()
        elif bits == 24:
            u = (q & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
            raw = u.tobytes()
        elif bits == 32:
            raw = q.astype("<i4").tobytes()
        else:
            raise ValueError(f"bits must be 8, 16, 24, 32 or -32 (float), got {bits}")
    align = ch * width // 8
    fmt = struct.pack("<HHIIHH", tag, ch, int(rate), int(rate) * align, align, width)
    out = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt \
        + b"data" + struct.pack("<I", len(raw)) + raw + (b"\0" if len(raw) & 1 else b"")
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(out)) + out)


# --------------------------------------------------------------------------- resampling
KAISER_BETA = 8.6        #: stop band below -80 dB
_TABLES: dict = {}


def _kernel(u: np.ndarray, fc: float, half: int) -> np.ndarray:
    """The interpolation kernel at distances ``u`` (input samples)."""
    arg = np.clip(u / (half + 1), -1.0, 1.0)
    return fc * np.sinc(fc * u) * np.i0(KAISER_BETA * np.sqrt(1.0 - arg ** 2)) \
        / np.i0(KAISER_BETA)


def resample(x, rate_in: int, rate_out: int, zero_crossings: int = 16) -> np.ndarray:
    """Resample mono ``x`` from ``rate_in`` to ``rate_out`` Hz (windowed sinc).

    Output sample ``n`` sits at input time ``n * rate_in / rate_out``; it is
    the sum of the input samples within ``zero_crossings`` lobes of a sinc
    whose cut-off is 0.95 x the lower of the two Nyquist frequencies, weighted
    by a Kaiser window.  The fractional positions repeat every
    ``rate_out / gcd(rate_in, rate_out)`` outputs: their filter taps are
    computed once per pair of rates (polyphase table) when that period is short.
    """
    x = np.asarray(x, dtype=np.float64)
    rate_in, rate_out = int(rate_in), int(rate_out)
    if rate_in == rate_out or x.size == 0:
        return x.copy()
    ratio = rate_out / rate_in
    n_out = int(np.floor(x.size * ratio))
    if n_out == 0:
        return np.zeros(0)
    fc = 0.95 * min(1.0, ratio)                   # cut-off, in input Nyquist units
    half = int(np.ceil(zero_crossings / fc))      # taps either side, in input samples
    offs = np.arange(-half + 1, half + 1)
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g        # output n: input time n * down / up
    pad = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    n = np.arange(n_out)
    base = (n * down) // up
    if up <= 4096:
        key = (rate_in, rate_out, zero_crossings)
        if key not in _TABLES:
            ph = np.arange(up)
            frac = (ph * down % up) / up                     # fractional position per phase
            _TABLES[key] = _kernel(frac[:, None] - offs[None, :], fc, half)
        table = _TABLES[key]
        out = np.zeros(n_out)
        phase = n % up
        for j, o in enumerate(offs):                         # one tap at a time: no big temporaries
            out += table[phase, j] * pad[base + o + half]
        return out
    out = np.empty(n_out)
    block = max(1, (1 << 20) // (2 * half))
    for s in range(0, n_out, block):
        nb = n[s:s + block]
        t = nb * (rate_in / rate_out)
        k = base[s:s + block, None] + offs[None, :]
        out[nb] = np.sum(_kernel(t[:, None] - k, fc, half) * pad[k + half], axis=1)
    return out
