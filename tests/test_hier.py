"""Separately converted modules (ese.hdl.hier + ModuleTable in ese.hdl.convert):
what is converted, how it is named and connected, reproducibility, errors.
The toy hierarchy (tb/hier/toy.py) is simulated in tb/hier/test_hier.py."""

import os
import re
import subprocess
import sys
import warnings

import pytest
from myhdl import ResetSignal, Signal, ToVerilogError, always_comb, block, intbv

from ese.hdl.convert import ModuleTable, convert_tree, elaborate, port_directions
from ese.hdl.hier import HierError, port_map, submodule
from tb.hier import toy


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _modules(path):
    return re.findall(r"^module (\w+)", path.read_text(), re.M)


def test_toy_modules(tmp_path):
    files = convert_tree(elaborate(toy.top), "toy", tmp_path)
    assert [f.name for f in files] == ["counter.v", "scale_g2_r0.v", "scale_g3_r5.v", "toy.v"]
    text = {f.stem: f.read_text() for f in files}
    # each file holds one module; the parent instantiates, the logic stays in the module
    for f in files:
        assert _modules(f) == [f.stem]
    insts = re.findall(r"^(?!module )(\w+) (\w+) \($", text["toy"], re.M)
    assert insts == [("scale_g2_r0", "scale0"), ("scale_g2_r0", "scale1"),
                     ("scale_g3_r5", "scale2")]
    assert "o_data <=" not in text["toy"] and "always @(posedge" not in text["toy"]
    assert "counter counter0 (" in text["scale_g2_r0"] and "count <=" not in text["scale_g2_r0"]
    # interface ports flattened as MyHDL names them, inputs and outputs, signed
    ports = port_directions(text["scale_g2_r0"])
    assert ports == {"clk": "input", "rst": "input", "k": "input", "spare": "input",
                     "beats": "output", "i_valid": "input", "i_data": "input",
                     "o_valid": "output", "o_data": "output"}
    assert "input signed [11:0] i_data;" in text["scale_g2_r0"]
    # y2's data resets to 5 (its own module), the others to 0
    assert "o_data <= 5;" in text["scale_g3_r5"] and "o_data <= 0;" in text["scale_g2_r0"]
    # connections: a slice, a concatenation only the instance reads (declared and
    # assigned all the same), a constant,
    # a top-level interface port, an output read by nobody
    assert ".k(b[4-1:0])" in text["toy"] and ".k(k1)" in text["toy"] and ".k(k2)" in text["toy"]
    assert "assign k1[4-1:2] = b[2-1:0];" in text["toy"] and "assign k2 = 4'd3;" in text["toy"]
    assert ".i_data(a_data)" in text["toy"] and ".o_data(y2_data)" in text["toy"]
    assert "wire [7:0] scale1_beats;" in text["toy"]


def test_toy_table(tmp_path):
    table = ModuleTable()
    root = table.add_top(elaborate(toy.top), "toy")
    table.write(tmp_path)
    counts = {m.name: n for m, n in table.instances(root).items()}
    assert counts == {"counter": 3, "scale_g2_r0": 2, "scale_g3_r5": 1, "toy": 1}
    assert [f.name for f in table.files_of(root)][-1] == "toy.v"


def test_toy_reproducible(tmp_path):
    a = convert_tree(elaborate(toy.top), "toy", tmp_path / "a")
    b = convert_tree(elaborate(toy.top), "toy", tmp_path / "b")
    code = ("import sys, warnings; warnings.simplefilter('ignore'); "
            f"sys.path.insert(0, {os.getcwd()!r}); "
            "from ese.hdl.convert import convert_tree, elaborate; from tb.hier import toy; "
            f"convert_tree(elaborate(toy.top), 'toy', {str(tmp_path / 'c')!r})")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env=dict(os.environ, PYTHONHASHSEED="12345"))
    for fa, fb in zip(a, b):
        assert fa.read_bytes() == fb.read_bytes(), f"{fa.name} differs between conversions"
        assert fa.read_bytes() == (tmp_path / "c" / fa.name).read_bytes(), \
            f"{fa.name} differs in another process"


def test_submodule_at_top_level_elaborates_whole(tmp_path):
    """Called outside a block, a @submodule block is an ordinary top (with its own
    submodules separate)."""
    t = toy.Stream(12)
    inst = toy.scale(Signal(bool(0)), ResetSignal(0, active=1, isasync=False), t,
                     toy.Stream(12), Signal(intbv(0)[4:]), Signal(bool(0)),
                     Signal(intbv(0)[8:]), gain=7)
    files = convert_tree(inst, "scale", tmp_path)
    assert [f.name for f in files] == ["counter.v", "scale.v"]
    assert "o_data <= ((i_data * 7) + k);" in files[-1].read_text()


def test_ese_top_tiny(tmp_path):
    """ese_top: one dsp_mac (in pe), one pe and one channel module, instantiated
    n_pe * n_ch, n_pe and n_ch times; ese_top's ports are those of ese_top.ports()."""
    from ese.config import TINY
    from ese.hdl.ese_top import ports, top
    table = ModuleTable(TINY)
    root = table.add_top(elaborate(top, TINY), "ese_top")
    files = table.write(tmp_path)
    assert [f.name for f in files] == ["dsp_mac.v", "pe.v", "channel.v", "ese_top.v"]
    counts = {m.name: n for m, n in table.instances(root).items()}
    assert counts == {"dsp_mac": TINY.n_pe * TINY.n_ch, "pe": TINY.n_pe, "channel": TINY.n_ch,
                      "ese_top": 1}
    text = files[-1].read_text()
    assert re.findall(r"^pe (pe\d+) \($", text, re.M) == [f"pe{p}" for p in range(TINY.n_pe)]
    assert len(re.findall(r"^channel channel\d+ \($", text, re.M)) == TINY.n_ch
    assert list(port_directions(text)) == list(ports(TINY))
    assert "// separately converted block pe(n_lanes=None)" in files[1].read_text()
    assert len(re.findall(r"^dsp_mac \S+ \($", files[1].read_text(), re.M)) == TINY.n_ch


def test_variants_get_keys(tmp_path):
    """Two parameter sets of a block without a key function: hashed names, stable."""
    @submodule
    @block
    def inv(a, y, mask):
        @always_comb
        def f():
            y.next = a ^ mask
        return f

    @block
    def two(a, y0, y1):
        return inv(a, y0, mask=1), inv(a, y1, mask=2)

    files = convert_tree(two(Signal(intbv(0)[4:]), Signal(intbv(0)[4:]),
                             Signal(intbv(0)[4:])), "two", tmp_path)
    names = [f.stem for f in files]
    assert len(names) == 3 and names[-1] == "two"
    assert all(re.fullmatch(r"inv_[0-9a-f]{8}", n) for n in names[:2]) and names[0] != names[1]


def test_key_collision_is_an_error(tmp_path):
    @submodule(key=lambda p: "same")
    @block
    def inv(a, y, mask):
        @always_comb
        def f():
            y.next = a ^ mask
        return f

    @block
    def two(a, y0, y1):
        return inv(a, y0, mask=1), inv(a, y1, mask=2)

    with pytest.raises(HierError, match="inv_same stand for different modules"):
        convert_tree(two(Signal(intbv(0)[4:]), Signal(intbv(0)[4:]),
                         Signal(intbv(0)[4:])), "two", tmp_path)


def test_output_into_a_slice_is_an_error(tmp_path):
    @block
    def bad(clk, rst, a, bus):
        c = toy.counter(clk, rst, a, bus(8, 0))
        return c

    inst = bad(Signal(bool(0)), ResetSignal(0, active=1, isasync=False), Signal(bool(0)),
               Signal(intbv(0)[16:]))
    with pytest.raises(HierError, match="output port count is connected to a shadow signal"):
        convert_tree(inst, "bad", tmp_path)


def test_myhdl_convert_alone_says_how(tmp_path):
    inst = elaborate(toy.top)
    with pytest.raises(ToVerilogError, match="was not converted"):
        inst.convert(hdl="Verilog", path=str(tmp_path), name="toy", testbench=False)


def test_list_port_is_an_error():
    with pytest.raises(HierError, match="list of signals"):
        port_map(toy.counter.func, (Signal(bool(0)), Signal(bool(0)), [Signal(bool(0))] * 2,
                                    Signal(intbv(0)[8:])), {})



def test_nested_interface_ports(tmp_path):
    """An interface inside an interface: ports <arg>_<attr>_<attr2>, as MyHDL names
    the ports of the module (the converter checks the lists agree)."""
    class Pair:
        def __init__(self):
            self.req = toy.Stream(6)
            self.ack = Signal(bool(0))
            self.width = 6                      # a constant: no port

    @submodule
    @block
    def echo(clk, rst, p):
        @always_comb
        def f():
            p.ack.next = p.req.valid
        return f

    @block
    def outer(clk, rst, v, a):
        p = Pair()

        @always_comb
        def drive():
            p.req.valid.next = v
            a.next = p.ack
        return echo(clk, rst, p), drive

    files = convert_tree(outer(Signal(bool(0)), ResetSignal(0, active=1, isasync=False),
                               Signal(bool(0)), Signal(bool(0))), "outer", tmp_path)
    assert list(port_directions(files[0].read_text())) == \
        ["clk", "rst", "p_req_valid", "p_req_data", "p_ack"]
    assert ".p_ack(p_ack)" in files[-1].read_text()
