"""Reference figures of `make bench`: written once, used by its tables and its plots.

* :data:`ESE`: what the ESE paper (Han et al., FPGA 2017) reports for its LSTM
  (one LSTMP layer 153/1024/512, ~11 % density) on the XCKU060 at 200 MHz with
  32 channels of 32 PEs (docs/performance.md "Published reference"); its
  utilization, latency and GOPS follow the definitions of :mod:`ese.perf`.
* :data:`H100`: the same LSTM on an NVIDIA H100 at batch 1 (best figure).
* :data:`TARGET_GOPS`: the full-chip target, twice ESE's throughput.
* :data:`PART`: the XCKU060's resources (scripts/synth.py's, the one copy).
"""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import PART  # noqa: E402,F401  (re-exported: the part totals live in synth.py)

#: ESE: resources (LUT, FF, RAMB36, DSP48), latency per frame, PE utilization, throughput
ESE = {"name": "ESE (FPGA 2017)", "LUT": 293_920, "FF": 453_068, "BRAM36": 947.5,
       "DSP": 1_504, "us_per_frame": 82.7, "util": 0.69, "gops": 282.0,
       "n_pe": 32, "n_ch": 32, "batch": 32}

#: NVIDIA H100 on the same LSTM: microseconds per frame at batch 1
H100 = {"name": "H100 (GPU)", "us_per_frame": 12.2, "batch": 1}

#: the full-chip throughput target (issue 9): twice ESE's GOPS
TARGET_GOPS = 2 * ESE["gops"]

#: the resource kinds every table and plot shows, in order
RESOURCES = ("LUT", "FF", "BRAM36", "DSP")
