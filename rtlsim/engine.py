"""The RTL engine: run a bundle on the generated Verilog (``ese infer --engine rtl``).

:func:`run` converts ``ese_top`` for the bundle's configuration, builds it
once per (simulator, configuration) under ``build/tb/``
(:mod:`ese.rtlsim.build`) and runs the cocotb job :mod:`ese.rtlsim.job`: the
DDR model holds the memory image and the input frames (docs/architecture.md
"Frames in DDR"), the host model programs the registers, START (with LOAD on
the first run), wait for the interrupt, read the outputs and the counters.  A
batch larger than ``n_ch`` runs as several STARTs on the loaded model.

Stats are measured (the definitions are :func:`ese.perf.run_stats`'):
``cycles`` = sum of the CYCLES counter over the runs (the run proper, the
load excluded), ``cycles_per_frame`` = cycles / (frames x runs), plus the
MAC and STALL counters.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

#: lines of the simulator log with this mark are progress messages (job.py writes them)
PROGRESS_MARK = "[progress]"


class RtlError(RuntimeError):
    """The simulation failed or the accelerator reported an error."""


def _stats(manifest: dict, cfg, frames: int, cycles: list, macs: list, stalls: list) -> dict:
    from ese.perf import run_stats
    nnz = int(sum(m["nnz"] for m in manifest["matrices"]))
    out = run_stats(int(sum(cycles)), frames, len(cycles), nnz, cfg.n_pe, cfg.n_ch)
    out["mac_cycles"] = int(sum(macs))
    out["stall_cycles"] = int(sum(stalls))
    return out


class _LogFollower:
    """Forward :data:`PROGRESS_MARK` lines of the simulator's log to ``progress`` while it runs.

    The simulator writes its output to a log file (:func:`ese.rtlsim.build.run_cocotb`),
    so a long run would otherwise be silent until it ends.
    """

    def __init__(self, path: Path, progress):
        self.path, self.progress = path, progress
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        if self.progress is not None:
            self.path.unlink(missing_ok=True)  # only this run's lines
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(timeout=2)

    def _loop(self):
        pos = 0
        while True:
            done = self.stop.wait(0.5)     # one last read after the run ended
            try:
                with open(self.path, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except OSError:
                data = b""
            cut = data.rfind(b"\n") + 1       # complete lines only
            pos += cut
            for line in data[:cut].decode(errors="replace").splitlines():
                if PROGRESS_MARK in line:
                    self.progress(line.split(PROGRESS_MARK, 1)[1].strip())
            if done:
                return


def run(bundle_dir, x_q, *, sim: str = "verilator", waves: bool = False, progress=None):
    """Run ``x_q`` ((B, T, I) or (T, I) ints, act format) through the RTL.

    Returns ``(y_q, stats)`` with ``y_q`` of shape (B, T, P) (or (T, P)).
    ``sim``: "verilator" or "icarus"; ``waves``: run a traced build (kept apart
    from the untraced one) and list the waveform files in ``stats["waveforms"]``;
    ``progress(msg)``: called with live messages from the simulation.
    Raises :class:`RtlError` if the simulation fails or reports an error.
    """
    from ese.hdl.convert import config_key
    from ese.model.bundle import load_bundle
    from ese.rtlsim.build import BUILD, build_dir_for, run_cocotb, waveforms

    bundle = load_bundle(bundle_dir)
    cfg = bundle.cfg
    x = np.asarray(x_q)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != bundle.n_in:
        raise RtlError(f"input has shape {np.shape(x_q)}, expected (B, T, {bundle.n_in})")
    b, t, _ = x.shape

    def say(msg):
        if progress is not None:
            progress(msg)

    def make():
        from ese.hdl.ese_top import top
        return top(cfg)

    work = BUILD.parent / "rtl_runs"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        job = Path(tmp) / "job.npz"
        out = Path(tmp) / "out.npz"
        np.savez(job, image=np.frombuffer(bundle.image, dtype=np.uint8),
                 x_q=x.astype(np.int64), n_out=np.int64(bundle.n_out))
        params = {"cfg": cfg.to_dict(), "job": str(job), "out": str(out)}
        say(f"building and running ese_top on {sim} ({b} sequence(s) x {t} frames, "
            f"{-(-b // cfg.n_ch)} run(s))")
        t0 = time.time()
        try:
            key = config_key(cfg)
            tdir = build_dir_for("ese_top", sim, key, waves) / "runs" / "rtl_job"
            with _LogFollower(tdir / "sim.log", progress):
                run_cocotb("ese_top", make, "ese.rtlsim.job", sim, key, params,
                           testcase="rtl_job", test_name="rtl_job", waves=waves)
            dumps = [str(f) for f in waveforms("ese_top", sim, key, "rtl_job")] if waves else []
        except AssertionError as e:
            detail = ""
            if out.exists():
                err = int(np.load(out)["err"][0])
                if err:
                    from ese import regmap
                    detail = f": error code {err} ({regmap.ERR_NAME.get(err, '?')})"
            raise RtlError(f"RTL simulation failed{detail} ({e})") from None
        if not out.exists():
            raise RtlError("RTL simulation produced no output")
        res = np.load(out)
        y = res["y"].astype(np.int64)
        stats = _stats(bundle.manifest, cfg, t, list(res["cycles"]), list(res["macs"]),
                       list(res["stalls"]))
        if waves:
            stats["waveforms"] = dumps
        say(f"done in {time.time() - t0:.1f} s: {stats['cycles_per_frame']:.1f} cycles/frame")
    return (y[0] if single else y), stats
