"""ese.hdl.vendor without a simulator: which files are replaced, and the refusals.

tb/dsp_mac proves the vendor dsp_mac equal to the converted one; here the
plumbing: the port check against the converted text, the configurations one
DSP48E1 cannot hold, and the files left alone.
"""

import pytest

from ese.config import PRESETS
from ese.hdl.vendor import (VendorError, block_of, dsp_mac_xilinx, port_declarations,
                            synthesis_sources, vendor_text)

TINY = PRESETS["tiny"]
WA = TINY.weight_bits + TINY.max_align_shift           # dsp_mac's a: the shifted weight


def converted(a_bits=WA, header=True, name="dsp_mac"):
    """A stand-in for the converted dsp_mac of ``tiny`` (ports only)."""
    return ((f"// separately converted block dsp_mac()\n" if header else "")
            + f"module {name} (\n    clk,\n    a,\n    b,\n    c,\n    zsel,\n    p\n);\n"
            f"input clk;\ninput signed [{a_bits - 1}:0] a;\ninput signed [15:0] b;\n"
            "input signed [47:0] c;\ninput [1:0] zsel;\noutput signed [47:0] p;\n"
            "reg signed [47:0] p;\nendmodule\n")


def test_port_declarations():
    assert port_declarations(converted()) == {
        "clk": ("input", False, ""), "a": ("input", True, f"{WA - 1}:0"),
        "b": ("input", True, "15:0"),
        "c": ("input", True, "47:0"), "zsel": ("input", False, "1:0"),
        "p": ("output", True, "47:0")}


def test_vendor_text_has_the_converted_ports_and_name():
    text = vendor_text(converted(), TINY)
    assert port_declarations(text) == port_declarations(converted())
    assert "DSP48E1 #(" in text and block_of(text)[0] == "dsp_mac"
    # a variant named by the converter keeps its name; the block comes from the header
    assert block_of(vendor_text(converted(name="dsp_mac_1a2b"), TINY))[0] == "dsp_mac_1a2b"
    assert vendor_text(converted(name="fifo", header=False), TINY) is None


def test_vendor_text_refuses_other_ports():
    with pytest.raises(VendorError, match=r"ports a differ"):
        vendor_text(converted(a_bits=WA + 1), TINY)


def test_widths_beyond_one_dsp_are_refused():
    wide = TINY.replace(name="wide", weight_bits=18, max_align_shift=8,
                        acc_bits=56)                                     # a: 18 + 8 = 26 bits
    with pytest.raises(ValueError, match="26-bit x 16-bit product into 56 bits"):
        dsp_mac_xilinx.verilog(wide)


def test_synthesis_sources_replaces_only_dsp_mac(tmp_path):
    (tmp_path / "fifo.v").write_text("module fifo;\nendmodule\n")
    (tmp_path / "dsp_mac.v").write_text(converted())
    srcs = synthesis_sources([tmp_path / "fifo.v", tmp_path / "dsp_mac.v"], TINY, tmp_path / "v")
    assert srcs == [tmp_path / "fifo.v", tmp_path / "v" / "dsp_mac.v"]
    assert "DSP48E1" in srcs[1].read_text()
    with pytest.raises(VendorError, match="overwrite"):
        synthesis_sources([tmp_path / "dsp_mac.v"], TINY, tmp_path)
