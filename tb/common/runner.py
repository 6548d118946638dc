"""The testbenches' runner: :mod:`ese.rtlsim.build` (build once, run cocotb).

The one thing added at this edge: ``ESE_WAVES=1`` in the environment of the
test session dumps waveforms from every run (a traced build, kept apart).
"""

from __future__ import annotations

import os

from ese.rtlsim import build as _build
from ese.rtlsim.build import (BUILD, ROOT, SIMS, build, build_dir_for, tb_config, tb_params,
                              waveforms)

__all__ = ["BUILD", "ROOT", "SIMS", "build", "build_dir_for", "run_cocotb", "tb_config",
           "tb_params", "waveforms", "waves_wanted"]


def waves_wanted() -> bool:
    """True when ``ESE_WAVES`` is set to anything but "" or "0"."""
    return os.environ.get("ESE_WAVES", "") not in ("", "0")


def run_cocotb(top, make_inst, test_module, sim, key, params, testcase=None, test_name=None,
               extra_sources=None, seed=None, *, waves=None) -> None:
    """:func:`ese.rtlsim.build.run_cocotb`, with waveforms when ``ESE_WAVES=1`` (or ``waves``)."""
    _build.run_cocotb(top, make_inst, test_module, sim, key, params, testcase=testcase,
                      test_name=test_name, extra_sources=extra_sources, seed=seed,
                      waves=waves_wanted() if waves is None else waves)
