"""The WAV reader (every PCM width, float, stereo, extensible headers, streamed
headers, bad files) and the resampler.

Files are written here with the standard library's ``wave`` module (PCM) or
packed by hand with ``struct`` (float, extensible), never with the writer
under test, so that reader and writer cannot share a mistake.
"""

from __future__ import annotations

import struct
import wave

import numpy as np
import pytest

from ese.speech.wav import WavError, read_wav, resample, write_wav


def tone(rate, seconds=0.25, f=440.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * f * t)


def std_wave(path, x, rate, width, channels=1):
    """PCM through the standard library (8-bit unsigned, else signed little-endian)."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    top = 1 << (8 * width - 1)
    q = np.clip(np.round(x * top), -top, top - 1).astype(np.int64)
    if width == 1:
        raw = (q + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in q.ravel())
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)


def riff(fmt_chunk: bytes, data: bytes, extra_chunks: bytes = b"", data_size=None) -> bytes:
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + extra_chunks \
        + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths(tmp_path, width):
    x = tone(8000)
    std_wave(tmp_path / "a.wav", x, 8000, width)
    y, sr = read_wav(tmp_path / "a.wav")
    assert sr == 8000 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= 1.0 / (1 << (8 * width - 1)) + 1e-12


def test_stereo_is_averaged(tmp_path):
    left, right = tone(11025, f=300), tone(11025, f=500, amp=0.25)
    std_wave(tmp_path / "s.wav", np.stack([left, right], axis=1), 11025, 2, channels=2)
    y, sr = read_wav(tmp_path / "s.wav")
    assert sr == 11025
    assert np.max(np.abs(y - (left + right) / 2)) < 2e-4


@pytest.mark.parametrize("bits", [32, 64])
def test_float_and_extensible(tmp_path, bits):
    x = tone(22050)
    dt = "<f4" if bits == 32 else "<f8"
    data = x.astype(dt).tobytes()
    plain = struct.pack("<HHIIHH", 3, 1, 22050, 22050 * bits // 8, bits // 8, bits)
    (tmp_path / "f.wav").write_bytes(riff(plain, data))
    y, sr = read_wav(tmp_path / "f.wav")
    assert sr == 22050 and np.max(np.abs(y - x)) < 1e-6
    # WAVE_FORMAT_EXTENSIBLE: tag 0xFFFE, the real format in the SubFormat GUID
    guid = struct.pack("<H", 3) + bytes.fromhex("000000001000800000aa00389b71")
    ext = struct.pack("<HHIIHHHHI", 0xFFFE, 1, 22050, 22050 * bits // 8, bits // 8, bits,
                      22, bits, 4) + guid
    (tmp_path / "e.wav").write_bytes(riff(ext, data, extra_chunks=b"LIST" + struct.pack(
        "<I", 5) + b"abcde\0"))      # an odd-sized chunk before the data: padding honoured
    y, _ = read_wav(tmp_path / "e.wav")
    assert np.max(np.abs(y - x)) < 1e-6


def test_streamed_header_reads_to_the_end(tmp_path):
    x = tone(16000)
    data = np.round(x * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    (tmp_path / "p.wav").write_bytes(riff(fmt, data, data_size=0x7FFFF000))
    y, _ = read_wav(tmp_path / "p.wav")
    assert y.size == x.size


def test_writer_round_trip(tmp_path):
    x = tone(16000)
    for bits in (8, 16, 24, 32, -32):
        write_wav(tmp_path / "w.wav", x, 16000, bits=bits)
        with open(tmp_path / "w.wav", "rb") as f:
            assert f.read(4) == b"RIFF"
        y, sr = read_wav(tmp_path / "w.wav")
        assert sr == 16000 and np.max(np.abs(y - x)) < (1.0 / 64 if bits == 8 else 1e-4)


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"),
    (b"hello, this is not audio at all", "not a WAV"),
    (b"RIFF\x10\x00\x00\x00WAVEjunk", "no fmt chunk"),
    (b"RIFX\x10\x00\x00\x00WAVE", "RIFX"),
])
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(WavError) as e:
        read_wav(p)
    msg = str(e.value)
    assert match in msg and str(p) in msg and "\n" not in msg


def test_bad_headers(tmp_path):
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    cases = {
        "nodata.wav": (b"RIFF" + struct.pack("<I", 28) + b"WAVEfmt " + struct.pack("<I", 16)
                       + fmt, "no data chunk"),
        "zero.wav": (riff(fmt, b""), "no samples"),
        "adpcm.wav": (riff(struct.pack("<HHIIHH", 2, 1, 16000, 8000, 256, 4), b"\0" * 512),
                      "not supported"),
        "12bit.wav": (riff(struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 12), b"\0" * 64),
                      "not supported"),
        "rate.wav": (riff(struct.pack("<HHIIHH", 1, 1, 10, 20, 2, 16), b"\0" * 64),
                     "sample rate"),
        "short.wav": (riff(b"\x01\x00\x01\x00", b"\0" * 64), "fmt chunk too short"),
    }
    for name, (content, match) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(WavError, match=match):
            read_wav(tmp_path / name)
    with pytest.raises(WavError, match="not found"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(WavError, match="folder"):
        read_wav(tmp_path)


@pytest.mark.parametrize("rate_in", [8000, 11025, 22050, 44100, 48000, 16001])
def test_resample_keeps_a_tone(rate_in):
    x = tone(rate_in, seconds=0.5, f=1000.0)
    y = resample(x, rate_in, 16000)
    assert abs(y.size - 8000) <= 1
    ref = tone(16000, seconds=0.5, f=1000.0)[:y.size]
    assert np.max(np.abs(y - ref)[100:-100]) < 1e-3


@pytest.mark.parametrize("rate_in", [22050, 44100, 48000])
def test_resample_does_not_alias(rate_in):
    x = tone(rate_in, seconds=0.5, f=9500.0)      # above the new Nyquist (8 kHz)
    y = resample(x, rate_in, 16000)
    assert np.sqrt(np.mean(y[100:-100] ** 2)) < 1e-3 * np.sqrt(np.mean(x ** 2))
