"""The pipeline latencies of the hardware, written once.

The blocks of ``hdl/`` are built to these numbers (each block imports its own
and asserts at elaboration that its structure has that many stages), and the
cycle model of ``model/schedule.py`` adds them up into the latencies of the
schedule (:func:`ese.model.schedule.latency_for`).  Plain Python, no MyHDL: the
model runs without the hardware extra.

Every latency is in clock cycles (register stages).  docs/timing.md explains
where each stage comes from; docs/architecture.md how the schedule uses them.
"""

#: lut_unit: index register, ROM read, output register (a block RAM with its output
#: register)
LUT_LATENCY = 3
#: ew_unit: input handshake to out_valid (its stage list: 12 + the two lookups)
EW_LATENCY = 12 + 2 * LUT_LATENCY
#: requant: barrel shift, then the rounding add with its saturation
REQUANT_LATENCY = 2

#: channel: ``ew.issue`` to the m (or y) write-back: the step register, the parameter
#: RAMs' output register, ew_unit
CH_EW_WRITEBACK = 2 + EW_LATENCY
#: channel: ``pj.issue`` to the y write-back: step register, row pick, requant
CH_PJ_WRITEBACK = 2 + REQUANT_LATENCY
