"""The cocotb test the RTL engine launches (:func:`ese.rtlsim.engine.run`).

:func:`rtl_job` reads the job file named in its parameters (memory image,
integer inputs, output width), runs the batch on ``ese_top`` through a
:class:`~ese.rtlsim.cocotb_host.HostDriver` (n_ch sequences a START, the model
loaded by the first) and writes the outputs, the per-run counters and the
first error code to the output file.  Progress lines carry
:data:`~ese.rtlsim.engine.PROGRESS_MARK`, which the engine follows in the
simulator's log.
"""

from __future__ import annotations

import sys

import numpy as np

import cocotb

from ese import regmap
from ese.rtlsim.build import tb_config, tb_params
from ese.rtlsim.engine import PROGRESS_MARK
from ese.rtlsim.cocotb_host import HostDriver
from ese.rtlsim.host import layout, mem_size_for


@cocotb.test()
async def rtl_job(dut):
    """The job of ``ese.rtlsim.engine.run``: inputs and outputs through .npz files."""
    p = tb_params()
    cfg = tb_config()
    job = np.load(p["job"])
    image = job["image"].tobytes()
    xq = job["x_q"].astype(np.int64)
    n_out = int(job["n_out"])
    b, t, n_in = xq.shape
    lay = layout(len(image), b, t, n_in, n_out, cfg)
    host = HostDriver(dut, cfg, mem_size=mem_size_for(lay["end"]), p_pause=0.0)
    await host.reset()

    def prog(msg):
        dut._log.info(f"{PROGRESS_MARK} {msg}")
        sys.stdout.flush()

    y, runs = await host.infer(image, xq, n_out, load=True, progress=prog)
    errs = [r["ERR_CODE"] for r in runs if r["ERROR"]]
    np.savez(p["out"], y=y, cycles=np.array([r["CYCLES"] for r in runs]),
             macs=np.array([r["MAC"] for r in runs]), stalls=np.array([r["STALL"] for r in runs]),
             load_cycles=np.array([r["LOAD_CYCLES"] for r in runs]),
             err=np.array(errs[:1] or [0]))
    assert not errs, f"the accelerator reported error code {errs[0]} " \
        f"({regmap.ERR_NAME.get(errs[0], '?')})"
