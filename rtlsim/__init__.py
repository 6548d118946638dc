"""The RTL runner: simulations of the generated Verilog (package ``ese.rtlsim``).

* :mod:`ese.rtlsim.build`: build-once cocotb runs of a converted block on
  Icarus or Verilator (the testbenches in ``tb/`` and the engine use it);
* :mod:`ese.rtlsim.host`: the host side of ``ese_top`` inside the simulator
  (:class:`~ese.rtlsim.host.HostDriver`: DDR and register models, DDR layout);
* :mod:`ese.rtlsim.job`: the cocotb test the engine launches;
* :mod:`ese.rtlsim.engine`: ``ese infer --engine rtl``
  (:func:`~ese.rtlsim.engine.run`).

Nothing here is hardware: the synthesizable blocks live in ``ese.hdl``.
Importing these modules changes nothing in the process environment; the
simulator tools' variables are set only around each build and run.
"""
