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
  a design; targets are held on the steady figure);
* *PE balance bound*: mean / max entries per PE (all matrices, fillers
  included): a PE handles one entry per cycle, so a frame takes at least as
  many cycles as the busiest PE has entries, and the steady PE utilization
  cannot exceed this bound (``ese report --plot``);
* *load*: cycles of a model load (the LOAD_CYCLES register), microseconds at
  200 MHz, image bytes per load cycle against the AXI bus's bytes per cycle
  (``axi_data_bits / 8``); the load bound of issue 11 is cycles <= 1.25 x
  image bytes / bus bytes, i.e. ``load_bus_ratio`` <= 1.25.
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


def pe_balance_bound(entries_per_pe) -> float:
    """Mean / max of the entries per PE: the steady PE utilization they allow at best.

    A PE handles one entry (non-zero or filler) per cycle, so a frame takes at
    least the busiest PE's entries in cycles, while the ideal counts at most
    the mean; 1.0 for a perfectly even split, 0.0 if there are no entries.
    """
    counts = [int(v) for v in entries_per_pe]
    if not counts:
        raise ValueError("pe_balance_bound needs the entries of at least one PE")
    top = max(counts)
    return sum(counts) / len(counts) / top if top else 0.0


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


def load_figures(load_cycles: int, image_bytes: int, axi_data_bits: int) -> dict:
    """The figures of one model load (the stats JSON keys ``load_*``).

    ``load_bus_ratio``: load cycles / (image bytes / bus bytes per cycle), 1.0 at the
    bus's full bandwidth.
    """
    bus = axi_data_bits // 8
    cyc = int(load_cycles)
    return {
        "load_cycles": cyc,
        "load_us_at_200mhz": cyc / CLOCK_HZ * 1e6,
        "image_bytes": int(image_bytes),
        "load_bytes_per_cycle": image_bytes / cyc if cyc else 0.0,
        "bus_bytes_per_cycle": bus,
        "load_bus_ratio": cyc * bus / float(image_bytes) if image_bytes else 0.0,
    }
