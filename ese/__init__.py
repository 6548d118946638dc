"""ESE: a sparse LSTM inference accelerator (Han et al., FPGA 2017) in MyHDL.

Subpackages: ``ese.model`` (reference model, compression, encoder; folder
``model/``), ``ese.hdl`` (MyHDL blocks; folder ``hdl/``).
"""

__version__ = "0.1.0"
