"""scripts/pnr_names.py: netlist names back to MyHDL blocks and signals."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import pnr_names  # noqa: E402


@pytest.mark.parametrize("cell, signal", [
    ("p_off_TRELLIS_FF_Q", "p_off"),
    ("dut.y_TRELLIS_FF_Q_4_DI_LUT4_Z_B_LUT4_Z_D_CCU2C_S1_B", "dut.y"),
    ("requant0_r_L6MUX21_Z_3_D0_L6MUX21_Z_D0_PFUMX_Z_C0", "requant0_r"),
    ("u.mem.0.2$DPRAM_COMB3", "u.mem"),
    ("channel0.rq_y_DP16KD_DOA0", "channel0.rq_y"),
    ("plain", "plain"),
])
def test_cell_signal_strips_yosys_and_nextpnr_suffixes(cell, signal):
    assert pnr_names.cell_signal(cell) == signal


def test_flip_flops_named_after_an_input_net_are_not_trusted():
    assert pnr_names.named_by_output("x_TRELLIS_FF_Q_12")
    assert not pnr_names.named_by_output("dut.rst_TRELLIS_FF_LSR")
    assert not pnr_names.named_by_output("en_TRELLIS_FF_CE_3")
    assert pnr_names.named_by_output("u.mem.0.0$DPRAM_COMB0")
    assert pnr_names.split_bit("a_b[12]") == ("a_b", "[12]")
    assert pnr_names.split_bit("rq_y[0][14]") == ("rq_y", "[0][14]")


NAMES = {
    "ese_top": {"block": "ese_top", "signals": {"core0_ctrl_exec0_hist": ["core0/ctrl_exec0", "hist"]},
                "instances": {"channel0": {"module": "channel", "path": "core0/channel0"},
                              "pe3": {"module": "pe", "path": "core0/pe_array0/pe3"}}},
    "channel": {"block": "channel", "signals": {"requant0_r": ["requant0", "r"],
                                                "p_off": ["", "p_off"]}, "instances": {}},
    "pe": {"block": "pe", "signals": {}, "instances": {}},
    "pe_array": {"block": "pe_array", "signals": {"lag_max": ["", "lag_max"]},
                 "instances": {"pe3": {"module": "pe", "path": "pe3"}}},
}


def test_resolve_follows_instances_into_modules():
    n = pnr_names.Names(NAMES, "ese_top")
    r = n.resolve("channel0.requant0_r[5]")
    assert (r["block"], r["signal"], r["module"]) == ("core0/channel0/requant0", "r[5]", "channel")
    assert pnr_names.label(r) == "core0/channel0/requant0.r[5]"
    r = n.resolve("core0_ctrl_exec0_hist[3]")
    assert (r["block"], r["signal"]) == ("core0/ctrl_exec0", "hist[3]")
    r = n.resolve("$abc$123$auto")
    assert r["note"] == "netlist name" and r["module"] == "ese_top"


def test_resolve_knows_the_wrapper_and_the_stubs(tmp_path):
    n = pnr_names.Names(NAMES, "pe_array_ooc", stubs=("pe",))
    assert pnr_names.label(n.resolve("ooc_in_bc_data[3]")) == \
        "bc_data[3] (input port register (wrapper))"
    assert n.resolve("dut_lag[1]")["note"] == "output port register (wrapper)"
    r = n.resolve("dut.pe3.stub_in_bc_valid")
    assert (r["block"], r["signal"], r["note"]) == ("pe3", "bc_valid", "stub input register")
    # a path starting at a stub register is named by the stub output it drives
    n = pnr_names.Names(NAMES, "pe_array_ooc", stubs={"pe": {
        "stub_in_bc_valid": {0: ["lag[1]", "rd_data[40]"]}, "stub_in_x": {0: ["mac"], 1: ["afull"]}}})
    r = n.resolve("dut.pe3.stub_in_bc_valid", start=True)
    assert (r["block"], r["signal"], r["note"]) == ("pe3", "lag[1]/rd_data[40]",
                                                    "stub output register")
    assert n.resolve("dut.pe3.stub_in_x[1]", start=True)["signal"] == "afull"
    assert n.resolve("dut.pe3.stub_in_x", start=True)["signal"] == "afull/mac"
    assert n.resolve("dut.pe3.stub_in_x[1]")["signal"] == "x[1]"      # as an end: the input
    r = n.resolve("dut.lag_max[2]")
    assert (r["block"], r["signal"], r["module"]) == ("", "lag_max[2]", "pe_array")
    # a name Yosys made up: nextpnr's source location names the declaration
    (tmp_path / "pe_array.v").write_text("module pe_array;\nreg [4:0] lag_r;\nendmodule\n")
    n = pnr_names.Names(NAMES, "pe_array_ooc", stubs=("pe",), src_dirs=[tmp_path])
    r = n.resolve("dut.$auto$alumacc.cc:485$77", ["/x/y/pe_array.v:2.11-2.16"])
    assert r["note"] == "declared at pe_array.v:2 lag_r"
    # the signal assigned on a line (a DSP slice's source location)
    (tmp_path / "ch.v").write_text("x\n        a_pm <= (a_o * a_th);\nassign w[3] = q;\n")
    n = pnr_names.Names({}, "ch", src_dirs=[tmp_path])
    assert n.assigned("ch.v:2") == "a_pm" and n.assigned("ch.v:3") == "w"
    assert n.assigned("ch.v:1") == "" and n.assigned("nope.v:1") == ""


@pytest.mark.rtl        # elaborates and converts a small MyHDL design
def test_design_names_follow_myhdl_naming(tmp_path):
    from myhdl import Signal, block, always_seq, ResetSignal, intbv
    from ese.hdl.convert import ModuleTable, elaborate

    @block
    def inner(clk, rst, a, y):
        acc = Signal(intbv(0)[8:])

        @always_seq(clk.posedge, reset=rst)
        def seq():
            acc.next = (acc + a) % 256
            y.next = acc
        return seq

    @block
    def outer(clk, rst, a, y0, y1):
        mid = Signal(intbv(0)[8:])
        u0 = inner(clk, rst, a, mid)
        u1 = inner(clk, rst, mid, y1)

        @always_seq(clk.posedge, reset=rst)
        def out():
            y0.next = mid
        return u0, u1, out

    def top():
        clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
        return outer(clk, rst, Signal(intbv(0)[8:]), Signal(intbv(0)[8:]), Signal(intbv(0)[8:]))

    table = ModuleTable()
    table.add_top(elaborate(top), "outer")
    table.write(tmp_path)
    names = pnr_names.design_names(table)["outer"]["signals"]
    text = (tmp_path / "outer.v").read_text()
    declared = set(re.findall(r"^(?:reg|wire|input|output)\s+(?:\[[^\]]*\]\s*)?(\w+);", text, re.M))
    # every name MyHDL declared is in the map, with the block that holds it
    assert declared <= set(names)
    assert names["mid"] == ["", "mid"]
    assert names["inner0_acc"] == ["inner0", "acc"] and names["inner1_acc"] == ["inner1", "acc"]
