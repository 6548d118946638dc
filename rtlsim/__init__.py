"""The RTL runner: simulations of the generated Verilog (package ``ese.rtlsim``).

* :mod:`ese.rtlsim.build`: build-once cocotb runs of a converted block on
  Icarus or Verilator (the testbenches in ``tb/`` and the engine use it);
* :mod:`ese.rtlsim.host`: the host protocol of ``ese_top`` over a small bus
  interface, written once for simulation and boards (:class:`~ese.rtlsim.host.Host`,
  the DDR layout of frames);
* :mod:`ese.rtlsim.cocotb_host`: its bus inside the simulator
  (:class:`~ese.rtlsim.cocotb_host.HostDriver`: clock, reset, DDR and register models);
* :mod:`ese.rtlsim.job`: the cocotb test the engine launches;
* :mod:`ese.rtlsim.engine`: ``ese infer --engine rtl``
  (:func:`~ese.rtlsim.engine.run`).

Nothing here is hardware: the synthesizable blocks live in ``ese.hdl``.
Importing these modules changes nothing in the process environment; the
simulator tools' variables are set only around each build and run.
"""
