"""The testbenches' runner: :mod:`ese.hdl.simulate` (build once, run cocotb)."""

from ese.hdl.simulate import (BUILD, ROOT, SIMS, build, run_cocotb, tb_config,  # noqa: F401
                              tb_params, waves_wanted)
