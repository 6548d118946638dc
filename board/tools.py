"""Helpers of the board flows: the core's Verilog, long tool runs with progress."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def convert_core(cfg, out_dir: Path) -> list[Path]:
    """``ese_top`` of ``cfg`` (and its separately converted modules) as Verilog in ``out_dir``."""
    from ese.hdl.convert import convert_tree, elaborate
    from ese.hdl.ese_top import top
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(f) for f in convert_tree(elaborate(top, cfg), "ese_top", out_dir, cfg)]


def run_logged(cmd, cwd: Path, log: Path, env=None, say=print) -> int:
    """Run ``cmd`` in ``cwd``, its output into ``log`` (progress: a line every minute)."""
    t0 = time.time()
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        while True:
            try:
                return p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                tail = ""
                try:
                    lines = log.read_text(errors="replace").splitlines()
                    tail = next((l for l in reversed(lines) if l.strip()), "")[:100]
                except OSError:
                    pass
                say(f"  [{(time.time() - t0) / 60:4.1f} min] {tail}")
