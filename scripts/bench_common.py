"""What scripts/bench.py and scripts/bench_sweeps.py share.

* :func:`table`: the plain-text tables they print;
* :func:`compress`: a random model of a given shape (``random_model(..., seed=0)``)
  compressed for a configuration, cached per (shape, configuration, density);
* :func:`model_steady`: the cycle model's steady cycles/frame of runs of T and
  2T frames, the way the RTL is measured; :func:`measure_rtl`: the RTL's
  (``ese.app.Model.verify``, bit for bit against the integer engine) with the
  cycle model's next to it;
* the Yosys estimate cache: :func:`estimate` reads
  ``build/synth/<name>/ese_top.json`` (scripts/synth.py) if it was made
  for the same configuration, or runs scripts/synth.py for it.

All performance arithmetic is :mod:`ese.perf`'s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_refs import PART, RESOURCES  # noqa: E402

#: the paper-shaped model: one LSTMP layer, 153 inputs, 1024 cells, projection 512
PAPER = dict(n_in=153, cells=1024, proj=512, layers=1)
#: where scripts/synth.py writes its results (build/synth/<config name>/)
SYNTH_DIR = ROOT / "build" / "synth"

Say = Callable[[str], None]


# ---------------------------------------------------------------------------- tables
def fmt(v) -> str:
    """A table cell: ints with thousands separators, floats to 3 decimals below 10."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def table(rows: list, cols: list) -> str:
    """Right-aligned columns ``cols`` = [(heading, key)] of dict ``rows``; missing: "-"."""
    heads = [h for h, _ in cols]
    cells = [[fmt(r.get(k)) for _, k in cols] for r in rows]
    w = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    out = ["  " + " | ".join(h.rjust(w[i]) for i, h in enumerate(heads))]
    out += ["  " + " | ".join(c[i].rjust(w[i]) for i in range(len(heads))) for c in cells]
    return "\n".join(out)


# ---------------------------------------------------------------------------- models
_COMPRESSED: dict = {}


def compress(shape: dict, cfg, density: Optional[float] = None, cache: bool = True):
    """``random_model(**shape, peephole=True, seed=0)`` compressed for ``cfg`` (load-balanced).

    Returns ``(ese.app.Model, seconds)``; with ``cache``, kept per (shape, cfg,
    density) for the next call (the seconds of the first compression).
    """
    from ese.app import Model
    from ese.model.bundle import DEFAULT_DENSITY
    from ese.model.modelfile import random_model

    density = DEFAULT_DENSITY if density is None else float(density)
    key = (tuple(sorted(shape.items())), cfg, density)
    if key in _COMPRESSED:
        return _COMPRESSED[key]
    t0 = time.time()
    fm = random_model(shape["n_in"], shape["cells"], proj=shape.get("proj"),
                      layers=shape.get("layers", 1), peephole=True, seed=0)
    out = (Model.compress(fm, cfg, density=density), time.time() - t0)
    if cache:
        _COMPRESSED[key] = out
    return out


def matrices(model) -> tuple:
    """``(matrices, layers)`` of a compressed model, as model/cycles.py takes them."""
    from ese.model import cycles
    return cycles._quantized(model.bundle.qmodel)


def model_steady(mats: list, layers: list, cfg, frames: int, batch: int,
                 streams: Optional[dict] = None) -> float:
    """The cycle model's steady cycles/frame: runs of T and 2T frames, like the RTL's."""
    from ese import perf
    from ese.model import cycles
    streams = streams if streams is not None else cycles.streams_of(mats, cfg)
    c_t = cycles.run_cycles(mats, layers, cfg, frames, batch, streams)
    c_2t = cycles.run_cycles(mats, layers, cfg, 2 * frames, batch, streams)
    return perf.steady(c_t, c_2t, frames)


def measure_rtl(model, batch: int, frames: int, sim: str, say: Say = print) -> dict:
    """The model on the RTL with T = ``frames`` and 2T, plus the cycle model's figures.

    Keys: the RTL engine's stats of the T run (``cycles``, ``load_cycles``, ...),
    ``exact`` (both runs bit-exact), ``cycles_2t``, ``steady`` and its
    ``steady_util``, ``steady_us``, ``gops``; ``model_steady`` and ``model_err``
    (model / RTL - 1); the load's ``image_bytes``, ``load_bytes_per_cycle``,
    ``load_vs_bus``; ``wall_s`` (the T run, including the simulator build) and
    ``sim_cycles_per_s`` (of the 2T run).
    """
    from ese import perf
    cfg = model.cfg
    x = np.random.default_rng(0).uniform(-1, 1, size=(batch, 2 * frames, model.n_in))
    runs = {}
    for t in (frames, 2 * frames):
        t0 = time.time()
        v = model.verify(x[:, :t], sim=sim, progress=say)
        runs[t] = dict(v.stats, wall_s=time.time() - t0, exact=v.exact)
    st = dict(runs[frames])
    st["exact"] = runs[frames]["exact"] and runs[2 * frames]["exact"]
    st["cycles_2t"] = runs[2 * frames]["cycles"]
    st["steady"] = perf.steady(st["cycles"], st["cycles_2t"], frames)
    steady = perf.frame_figures(st["steady"], st["nnz"], st["n_pe"], st["n_ch"])
    st["steady_util"] = steady["utilization"]
    st["steady_us"] = steady["latency_us_at_200mhz"]
    st["gops"] = steady["effective_gops"]
    mats, layers = matrices(model)
    st["model_steady"] = model_steady(mats, layers, cfg, frames, batch)
    st["model_err"] = (st["model_steady"] - st["steady"]) / st["steady"]
    image_bytes = len(model.bundle.image)
    bus = cfg.axi_data_bits // 8
    st["image_bytes"] = image_bytes
    st["load_cycles"] = st.get("load_cycles")
    if st["load_cycles"]:
        st["load_bytes_per_cycle"] = image_bytes / st["load_cycles"]
        st["load_vs_bus"] = st["load_cycles"] / (image_bytes / bus)
    st["bus_bytes_per_cycle"] = bus
    st["config"] = cfg.name
    st["sim_cycles_per_s"] = (st["cycles_2t"] + (st["load_cycles"] or 0)) / \
        max(runs[2 * frames]["wall_s"], 1e-9)
    return st


# ---------------------------------------------------------------------------- Yosys
def estimate_file(cfg, synth_dir: Path = SYNTH_DIR) -> Path:
    """scripts/synth.py's whole-design estimate of configuration ``cfg``."""
    return Path(synth_dir) / cfg.name / "ese_top.json"


def cached_estimate(cfg, synth_dir: Path = SYNTH_DIR) -> tuple:
    """``(summary, status)``: the estimate's {LUT, FF, BRAM36, DSP} if one exists for
    exactly this configuration and these hardware sources; else ``(None, "missing" |
    "stale")`` (stale: made for another configuration of the same name, or before
    hdl/ last changed: ``ese.hdl.tops.hdl_digest``).

    The estimate is ``ese_top.json``, whose summary is the whole design's
    (scripts/synth.py: the sum over its separately converted modules).
    """
    f = estimate_file(cfg, synth_dir)
    try:
        est = json.loads(f.read_text())
    except (OSError, json.JSONDecodeError):
        return None, "missing"
    from ese.hdl.tops import hdl_digest
    if est.get("config") != cfg.to_dict() or est.get("hdl") != hdl_digest():
        return None, "stale"
    return {k: est["summary"][k] for k in RESOURCES}, "cached"


def run_synth(cfg, say: Say = print) -> bool:
    """scripts/synth.py on ``ese_top`` of ``cfg`` (a preset by name, else a JSON file in
    build/bench/configs/); its progress goes to stdout.  True if it succeeded."""
    from ese.config import PRESETS
    if PRESETS.get(cfg.name) == cfg:
        spec = cfg.name
    else:
        f = ROOT / "build" / "bench" / "configs" / f"{cfg.name}.json"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
        spec = str(f)
    say(f"scripts/synth.py --config {spec} (Yosys on the whole ese_top: minutes for a "
        f"small configuration, 15-30 min for a big one) ...")
    t0 = time.time()
    sys.stdout.flush()
    rc = subprocess.call([sys.executable, str(ROOT / "scripts" / "synth.py"),
                          "--config", spec, "--top", "ese_top"])
    say(f"scripts/synth.py {'done' if rc == 0 else f'failed (rc {rc})'} after "
        f"{time.time() - t0:.0f} s")
    return rc == 0


def estimate(cfg, synth: bool, say: Say = print, synth_dir: Path = SYNTH_DIR) -> tuple:
    """``(summary | None, status)`` of ``cfg``: the cached estimate, or with ``synth``
    a new one (status ``"synthesized"``; ``"failed"`` if Yosys failed)."""
    s, status = cached_estimate(cfg, synth_dir)
    if s is not None or not synth:
        return s, status
    say(f"{cfg.name}: estimate {status}")
    if not run_synth(cfg, say):
        return None, "failed"
    s, status = cached_estimate(cfg, synth_dir)
    return s, ("synthesized" if s is not None else "failed")


def resource_cells(summary: Optional[dict]) -> dict:
    """``{LUT, LUT_pct, FF, FF_pct, ...}`` of a summary (percent of the XCKU060); {} if None."""
    if not summary:
        return {}
    out = {}
    for k in RESOURCES:
        v = summary[k]
        out[k] = int(v) if float(v).is_integer() else float(v)
        out[f"{k}_pct"] = 100.0 * summary[k] / PART[k]
    return out


def resource_cols() -> list:
    """Table columns of :func:`resource_cells`."""
    return [c for k in RESOURCES for c in ((k, k), ("%", f"{k}_pct"))]


# ---------------------------------------------------------------------------- clock
#: where scripts/pnr.py and scripts/pnr_blocks.py write (build/pnr/<config name>/)
PNR_DIR = ROOT / "build" / "pnr"


def cached_timing(cfg, pnr_dir: Path = PNR_DIR) -> dict:
    """The open place-and-route results of ``cfg`` (docs/timing.md; never runs a tool).

    ``fmax``: the whole design's achieved MHz (build/pnr/<name>/summary.json, ``make
    pnr``) with ``fmax_status`` cached, stale (another configuration, or made before
    hdl/ changed: ``ese.hdl.tops.hdl_digest``) or missing, and its ``target``;
    from the blocks' table (blocks/blocks.json, ``make pnr-blocks``), counting only
    rows made from these hardware sources: ``blocks`` timed, ``blocks_met`` at
    their target, ``blocks_target``, ``slowest`` (block, MHz; a block that does
    not fit the part is listed in ``no_fit``) and ``blocks_stale`` left out."""
    from ese.hdl.tops import hdl_digest
    hdl = hdl_digest()
    out = {"fmax": None, "fmax_status": "missing", "target": None, "blocks": 0,
           "blocks_met": 0, "blocks_target": None, "slowest": None, "no_fit": [],
           "blocks_stale": 0}
    try:
        s = json.loads((Path(pnr_dir) / cfg.name / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        s = None
    if s is not None:
        fresh = s.get("config_values") == cfg.to_dict() and s.get("hdl") == hdl
        clk = s.get("fmax", {}).get("clk", {})
        out.update(fmax=clk.get("achieved_mhz") if fresh else None,
                   fmax_status="cached" if fresh else "stale", target=s.get("target_mhz"))
    try:
        t = json.loads((Path(pnr_dir) / cfg.name / "blocks" / "blocks.json").read_text())
    except (OSError, json.JSONDecodeError):
        return out
    if t.get("config_values") != cfg.to_dict():
        out["blocks_stale"] = len(t.get("blocks", {}))
        return out
    rows = list(t.get("blocks", {}).values())
    good = [r for r in rows if r.get("hdl") == hdl]
    timed = [r for r in good if r.get("fmax") is not None]
    out.update(blocks=len(good), blocks_stale=len(rows) - len(good),
               blocks_met=sum(1 for r in good if r.get("verdict") == "meets"),
               blocks_target=t.get("target_mhz"),
               no_fit=[r["block"] for r in good if r.get("verdict") == "no fit"])
    if timed:
        low = min(timed, key=lambda r: r["fmax"])
        out["slowest"] = (low["block"], low["fmax"])
    return out


def timing_cells(t: dict) -> dict:
    """Table cells of :func:`cached_timing`: ``fmax`` (whole design, or the status),
    ``blocks`` ("met/timed"), ``slowest`` ("channel 34.2")."""
    whole = t["fmax"] if t["fmax"] is not None else \
        (t["fmax_status"] if t["fmax_status"] != "missing" else None)
    return {"fmax": whole,
            "blocks": f"{t['blocks_met']}/{t['blocks']}" if t["blocks"] else None,
            "slowest": f"{t['slowest'][0]} {t['slowest'][1]:.1f}" if t["slowest"] else None}


def save_json(out: Path, **parts) -> None:
    """Merge ``parts`` into the JSON file ``out`` (dict values merged one level deep)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prev = json.loads(out.read_text()) if out.exists() else {}
    for k, v in parts.items():
        prev[k] = {**prev.get(k, {}), **v} if isinstance(v, dict) and \
            isinstance(prev.get(k), dict) else v
    out.write_text(json.dumps(prev, indent=1, default=float) + "\n")
