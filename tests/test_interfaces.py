"""hdl/interfaces.py: elaboration checks, views, flat ports, and the converter fix for
slices of interface ports (hdl/convert.py)."""

import inspect
import warnings

import pytest
from myhdl import Signal, intbv

from ese.config import ESE32, TINY


def test_check_names_the_signal_and_the_width():
    from ese.hdl.interfaces import PeCmd
    from ese.hdl.pe_fetch import ports, pe_fetch
    p = ports(ESE32)
    p["cmd"] = PeCmd(TINY)                    # another configuration's command: narrower
    with pytest.raises(AssertionError, match=r"pe_fetch cmd: PeCmd.ptr_base must be \d+ bits"):
        pe_fetch(**p, cfg=ESE32)


def test_check_rejects_another_interface():
    from ese.hdl.interfaces import Clear
    from ese.hdl.pe_fetch import ports, pe_fetch
    p = ports(TINY)
    p["ld"] = Clear(TINY)
    with pytest.raises(AssertionError, match="expected a PeLoad interface, got Clear"):
        pe_fetch(**p, cfg=TINY)


def test_view_shares_all_but_the_replaced_signals():
    from ese.hdl.interfaces import PeCmd
    cmd = PeCmd(TINY)
    mine = Signal(bool(0))
    v = cmd.view(ready=mine)
    assert v.ready is mine and cmd.ready is not mine
    assert all(getattr(v, k) is s for k, s in cmd.signals().items() if k != "ready")
    with pytest.raises(AttributeError):
        cmd.view(rdy=mine)


def test_bind_checks_the_flat_ports():
    from ese.hdl.interfaces import AxiRead
    flat = AxiRead(TINY).flat("m_axi")
    a = AxiRead.bind("m_axi", flat, TINY)
    assert a.araddr is flat["m_axi_araddr"]
    flat["m_axi_rdata"] = Signal(intbv(0)[32:])
    with pytest.raises(AssertionError, match="AxiRead.rdata must be 64 bits"):
        AxiRead.bind("m_axi", flat, TINY)


def test_ese_top_signature_is_its_interfaces():
    """ese_top lists its ports by name: they are exactly the interfaces' flat ports, in order."""
    from ese.hdl import ese_top
    sig = [n for n in inspect.signature(ese_top.ese_top.func).parameters if n != "cfg"]
    assert sig == list(ese_top.ports(TINY))


def test_interface_port_slices_are_named(tmp_path):
    """A slice of an interface port converts to that port's bits, not to a constant."""
    from ese.hdl.convert import convert_block, elaborate
    from ese.hdl.pe_fetch import top
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = convert_block(elaborate(top, TINY), "pe_fetch", tmp_path).read_text()
    assert "ld_addr[12-1:0]" in text and "ld_data[16-1:0]" in text, \
        "the entry memory's write port lost the load bus"
