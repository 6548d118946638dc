"""Performance arithmetic, written once (docs/performance.md "Definitions").

Every figure the project prints (``ese infer --stats``, ``ese report``,
``make bench``, the cycle model) comes from these functions, so the clock
and the definitions cannot drift apart:

* *cycles/frame*: cycles of a run (from the start of the sequence, model
  loaded, to the last output written) divided by its frames T;
* *ideal cycles/frame*: non-zeros of all the frame's matrices / n_pe (one
  multiply-accumulate per PE per cycle);
* *PE utilization*: ideal / measured;
* *latency at 200 MHz*: cycles/frame x 5 ns;
* *effective GOPS*: 2 x nnz x n_ch x 200e6 / cycles per frame (every channel
  runs its own sequence);
* *steady cycles/frame*: ``(cycles(2T) - cycles(T)) / T``, the cost of one
  more frame (frame 0 has no ``W_r y_{-1}`` product, so short runs flatter
  a design; targets are held on the steady figure).
"""

from __future__ import annotations

#: the target clock (XCKU060, constraints/ese_top.xdc)
CLOCK_HZ = 200e6
CLOCK_NS = 1e9 / CLOCK_HZ


def ideal_cycles_per_frame(nnz: int, n_pe: int) -> float:
    """Non-zeros / PEs: the cycles a frame takes if every PE does one MAC every cycle."""
    return float(nnz) / float(n_pe)


def latency_us(cycles_per_frame: float) -> float:
    """Microseconds per frame at :data:`CLOCK_HZ`."""
    return float(cycles_per_frame) / CLOCK_HZ * 1e6


def effective_gops(nnz: int, n_ch: int, cycles_per_frame: float) -> float:
    """2 x nnz x n_ch operations per frame time, in GOPS (0 for a zero time)."""
    if not cycles_per_frame:
        return 0.0
    return 2.0 * nnz * n_ch * CLOCK_HZ / float(cycles_per_frame) / 1e9


def steady(cycles_t: float, cycles_2t: float, frames: int) -> float:
    """Steady cycles/frame from runs of T and 2T frames: the cost of one more frame."""
    if frames <= 0:
        raise ValueError(f"frames must be >= 1, got {frames}")
    return (float(cycles_2t) - float(cycles_t)) / frames


def frame_figures(cycles_per_frame: float, nnz: int, n_pe: int, n_ch: int) -> dict:
    """The derived figures of one cycles/frame value (the stats JSON keys)."""
    ideal = ideal_cycles_per_frame(nnz, n_pe)
    cpf = float(cycles_per_frame)
    return {
        "cycles_per_frame": cpf,
        "ideal_cycles_per_frame": ideal,
        "utilization": ideal / cpf if cpf else 0.0,
        "latency_us_at_200mhz": latency_us(cpf),
        "effective_gops": effective_gops(nnz, n_ch, cpf),
        "nnz": int(nnz),
        "n_pe": int(n_pe),
        "n_ch": int(n_ch),
    }


def run_stats(cycles: int, frames: int, runs: int, nnz: int, n_pe: int, n_ch: int) -> dict:
    """Stats of ``runs`` runs of ``frames`` frames that took ``cycles`` in all.

    The keys docs/cli.md promises: ``frames``, ``cycles``, ``cycles_per_frame``,
    ``ideal_cycles_per_frame``, ``utilization``, ``latency_us_at_200mhz``,
    ``nnz``, ``n_pe``, ``n_ch`` (plus ``effective_gops`` and ``runs``).
    """
    runs = max(int(runs), 1)
    cpf = cycles / float(frames * runs) if frames else 0.0
    out = {"frames": int(frames), "cycles": int(cycles), "runs": runs}
    out.update(frame_figures(cpf, nnz, n_pe, n_ch))
    return out
