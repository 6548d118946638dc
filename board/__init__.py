"""The accelerator on a board (package ``ese.board``): SoCs, builds, the board engine.

* :mod:`ese.board.boards`: the boards, their clocks (the one RTL-timing-dependent
  constant) and the SoC address map;
* :mod:`ese.board.soc`: the LiteX SoCs around ``ese_top`` (ULX3S, simulation, KV260);
* :mod:`ese.board.build`: ``make board`` / ``make board-load`` (bitstream, Vivado project);
* :mod:`ese.board.sim`: the simulated SoC (LiteX + Verilator) behind a ``litex_server``;
* :mod:`ese.board.tools`: the core's Verilog for a SoC, long tool runs with progress;
* :mod:`ese.board.remote`, :mod:`ese.board.zynq`: the host protocol's buses to a board
  (``litex_server``; the Zynq PS's ``/dev/mem`` + u-dma-buf);
* :mod:`ese.board.engine`: ``ese infer/transcribe --engine board``;
* :mod:`ese.board.demo`: ``make board-sim`` (spoken words through the simulated SoC).

LiteX (the ``board`` extra) is imported only by the modules that build or talk to a
SoC; ``boards`` and ``engine`` import without it.
"""
