"""scripts/logic_depth.py: register-to-register depth of mapped Xilinx netlists.

Hand-made netlists (Yosys JSON shape) whose depth is known exactly, then the same
circuits written in Verilog and mapped by Yosys ``synth_xilinx`` (one run).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import logic_depth  # noqa: E402


class Net:
    """A tiny netlist builder: cells connected by named nets."""

    def __init__(self):
        self.bits = {}
        self.cells = {}
        self.ports = {}
        self.netnames = {}

    def bit(self, name):
        if name not in self.bits:
            self.bits[name] = len(self.bits) + 2
            self.netnames[name] = {"hide_name": 0, "bits": [self.bits[name]]}
        return self.bits[name]

    def port(self, name, direction):
        self.ports[name] = {"direction": direction, "bits": [self.bit(name)]}

    def cell(self, name, type_, ins, outs, **params):
        conns, dirs = {}, {}
        for p, n in ins.items():
            conns[p], dirs[p] = [self.bit(n) if n not in ("0", "1") else n], "input"
        for p, n in outs.items():
            conns[p], dirs[p] = [self.bit(n)], "output"
        self.cells[name] = {"type": type_, "parameters": {k: str(v) for k, v in params.items()},
                            "port_directions": dirs, "connections": conns}

    def ff(self, name, d, q):
        self.cell(name, "FDRE", {"D": d, "C": "clk", "CE": "1", "R": "0"}, {"Q": q})

    def module(self):
        return {"ports": self.ports, "cells": self.cells, "netnames": self.netnames}


def lut_chain(n):
    net = Net()
    net.ff("r0", "x", "q0")
    prev = "q0"
    for i in range(n):
        net.cell(f"l{i}", "LUT6", {"I0": prev, "I1": "q0"}, {"O": f"s{i}"})
        prev = f"s{i}"
    net.ff("r1", prev, "y")
    return net


def test_a_chain_of_luts_between_registers():
    d = logic_depth.depth(lut_chain(4).module(), "chain")
    assert (d.worst.lut, d.worst.carry, d.worst.chains, d.worst.dsp) == (4, 0, 0, 0)
    assert d.start == "q0" and d.end == "y" and [t for t, _ in d.cells] == ["LUT6"] * 4
    assert d.worst.meets_goal() and d.over_goal == 0
    deep = logic_depth.depth(lut_chain(7).module(), "chain")
    assert deep.worst.lut == 7 and not deep.worst.meets_goal() and deep.over_goal == 1


def test_carry_chains_count_once_per_run_and_muxf_inv_as_vivado_does():
    net = Net()
    net.ff("ra", "a", "qa")
    net.cell("s", "LUT2", {"I0": "qa", "I1": "qa"}, {"O": "sum_in"})
    net.cell("c0", "CARRY4", {"S": "sum_in", "CI": "0"}, {"CO": "co0", "O": "o0"})
    net.cell("c1", "CARRY4", {"S": "qa", "CI": "co0"}, {"CO": "co1", "O": "o1"})
    net.cell("i", "INV", {"I": "o1"}, {"O": "o1n"})
    net.cell("c2", "CARRY4", {"S": "o1n", "CI": "0"}, {"CO": "co2", "O": "o2"})
    net.cell("m7", "MUXF7", {"I0": "o2", "I1": "qa", "S": "qa"}, {"O": "m"})
    net.ff("rz", "m", "z")
    d = logic_depth.depth(net.module(), "adder")
    # LUT2, a chain of two CARRY4 (c0 -> c1 through CI), INV (folded), a new chain, MUXF7
    # (a wide-function mux: counted apart from the LUT levels)
    assert (d.worst.lut, d.worst.muxf, d.worst.carry, d.worst.chains) == (1, 1, 3, 2)
    assert [t for t, _ in d.cells] == ["LUT2", "CARRY4", "CARRY4", "INV", "CARRY4", "MUXF7"]
    assert not d.worst.meets_goal()           # two carry chains


def dsp_net(**regs):
    net = Net()
    net.ff("ra", "a", "qa")
    net.ff("rb", "b", "qb")
    net.cell("mul", "DSP48E2", {"A": "qa", "B": "qb", "C": "0", "CLK": "clk"}, {"P": "p"},
             **regs)
    net.cell("l", "LUT2", {"I0": "p", "I1": "qa"}, {"O": "pl"})
    net.ff("rp", "pl", "y")
    return net


def test_dsp_registers_decide_where_paths_stop():
    on = dict(AREG=1, BREG=1, MREG=1, PREG=1, USE_MULT="MULTIPLY")
    d = logic_depth.depth(dsp_net(**on).module(), "m")
    assert d.worst.dsp == 0 and d.worst.lut == 1          # P (registered) -> LUT -> FF
    assert logic_depth.dsp_registers(dsp_net(**on).module())[0]["missing"] == []
    # no slice registers: the A/B flip-flops next to it count (Vivado moves them in),
    # but P feeds a LUT: no product or output register anywhere
    off = dict(AREG=0, BREG=0, MREG=0, PREG=0, USE_MULT="MULTIPLY")
    d = logic_depth.depth(dsp_net(**off).module(), "m")
    assert (d.worst.dsp, d.worst.lut) == (1, 1)
    (r,) = logic_depth.dsp_registers(dsp_net(**off).module())
    assert r["registers"] == {"A": "fabric", "B": "fabric", "M": "none", "P": "none"}
    assert r["missing"] == ["M", "P"]
    # Yosys' parameter text (32-bit strings) and UNISIM defaults (absent = on)
    assert logic_depth.param({"parameters": {"PREG": "00000000000000000000000000000001"}},
                             "PREG") == 1
    assert logic_depth.param({"parameters": {}}, "MREG", 1) == 1


def test_lutram_read_is_one_level_and_its_write_ends_a_path():
    net = Net()
    net.ff("ra", "ra_d", "raddr")
    net.ff("rw", "wa_d", "waddr")
    net.cell("l", "LUT3", {"I0": "waddr", "I1": "waddr"}, {"O": "wa2"})
    net.cell("mem", "RAM32M", {"ADDRA": "raddr", "ADDRD": "wa2", "DIA": "waddr", "WE": "waddr",
                               "WCLK": "clk"}, {"DOA": "rd"})
    net.cell("x", "LUT2", {"I0": "rd", "I1": "raddr"}, {"O": "rdx"})
    net.ff("rq", "rdx", "q")
    d = logic_depth.depth(net.module(), "lutram")
    assert d.worst.lut == 2 and [t for t, _ in d.cells] == ["RAM32M", "LUT2"]
    assert d.end == "q"
    # timed endpoints: rq's D and the RAM's ADDRA, ADDRD, DIA, WE (ra's and rw's D
    # inputs are driven by nothing here); the clock is no endpoint
    assert d.endpoints == 1 + 4


def test_ports_and_black_boxes_are_boundaries():
    net = Net()
    net.port("i", "input")
    net.port("o", "output")
    net.cell("l", "LUT1", {"I0": "i"}, {"O": "li"})
    net.cell("sub", "pe", {"x": "li"}, {"y": "sy"})         # a separately synthesized module
    net.cell("l2", "LUT1", {"I0": "sy"}, {"O": "o"})
    d = logic_depth.depth(net.module(), "top")
    assert d.worst.lut == 1 and d.unknown == []
    assert {d.start_kind.split()[0], d.end_kind.split()[0]} <= {"input", "pe", "output"}


VERILOG = """
module lut4chain(input clk, input [23:0] x, output reg y);
  reg [23:0] r; wire s1, s2, s3, s4;
  LUT6 #(.INIT(64'h6996966996696996)) l1
    (.O(s1), .I0(r[0]), .I1(r[1]), .I2(r[2]), .I3(r[3]), .I4(r[4]), .I5(r[5]));
  LUT6 #(.INIT(64'h6996966996696996)) l2
    (.O(s2), .I0(s1), .I1(r[6]), .I2(r[7]), .I3(r[8]), .I4(r[9]), .I5(r[10]));
  LUT6 #(.INIT(64'h6996966996696996)) l3
    (.O(s3), .I0(s2), .I1(r[11]), .I2(r[12]), .I3(r[13]), .I4(r[14]), .I5(r[15]));
  LUT6 #(.INIT(64'h6996966996696996)) l4
    (.O(s4), .I0(s3), .I1(r[16]), .I2(r[17]), .I3(r[18]), .I4(r[19]), .I5(r[20]));
  always @(posedge clk) begin r <= x; y <= s4; end
endmodule
module add32(input clk, input [31:0] a, b, output reg [31:0] s);
  reg [31:0] ar, br;
  always @(posedge clk) begin ar <= a; br <= b; s <= ar + br; end
endmodule
module mulreg(input clk, input signed [15:0] a, b, output reg signed [31:0] p);
  reg signed [15:0] ar, br; reg signed [31:0] m;
  always @(posedge clk) begin ar <= a; br <= b; m <= ar * br; p <= m; end
endmodule
module mulcomb(input clk, input signed [15:0] a, b, output reg signed [31:0] p);
  reg signed [15:0] ar, br;
  always @(posedge clk) begin ar <= a; br <= b; p <= (ar * br) ^ {ar, br}; end
endmodule
module lutram(input clk, input we, input [4:0] wa, ra, input [7:0] d, x, output reg [7:0] q);
  reg [7:0] mem [0:31]; reg [4:0] rar; reg [7:0] xr;
  always @(posedge clk) begin if (we) mem[wa] <= d; rar <= ra; xr <= x; q <= mem[rar] ^ xr; end
endmodule
module all(input clk, input [31:0] a, b, input [7:0] d, input [4:0] wa, input we,
           output y, output [31:0] s, p1, p2, output [7:0] q);
  lut4chain u1 (clk, a[23:0], y);
  add32 u2 (clk, a, b, s);
  mulreg u3 (clk, a[15:0], b[15:0], p1);
  mulcomb u4 (clk, a[31:16], b[31:16], p2);
  lutram u5 (clk, we, wa, a[4:0], d, b[7:0], q);
endmodule
"""


@pytest.mark.rtl        # a real Yosys synth_xilinx run (a few seconds)
def test_known_circuits_mapped_by_yosys():
    out = ROOT / "build" / "test_logic_depth"
    out.mkdir(parents=True, exist_ok=True)
    (out / "known.v").write_text(VERILOG)
    subprocess.run(["yosys", "-q", "-p", "read_verilog known.v; synth_xilinx -family xcu "
                    "-noiopad -top all; write_json known.json"], cwd=out, check=True)
    mods = {k.lstrip("\\"): v for k, v in
            json.loads((out / "known.json").read_text())["modules"].items()}

    def d(m):
        return logic_depth.depth(mods[m], m)
    assert d("lut4chain").worst.lut == 4                     # four instantiated LUT6
    add = d("add32").worst
    assert (add.lut, add.chains) == (1, 1) and add.carry >= 4      # LUT2 + one 32-bit chain
    assert d("mulreg").worst.dsp == 0 and d("mulreg").worst.lut == 0
    (m,) = logic_depth.dsp_registers(mods["mulreg"])
    assert m["missing"] == [] and m["registers"]["M"] in ("slice", "fabric")
    assert d("mulcomb").worst.dsp == 1
    (m,) = logic_depth.dsp_registers(mods["mulcomb"])
    assert set(m["missing"]) == {"M", "P"}
    lr = d("lutram")
    assert lr.worst.lut == 2 and any(t.startswith("RAM") for t, _ in lr.cells)


def test_make_synth_prints_depth_and_dsp_lines(load_script):
    synth = load_script("synth")
    res = {"pe": {"depth": {"lut": 7, "carry": 13, "chains": 1, "dsp": 0, "meets_goal": False,
                            "start": "a_r[0]", "end": "acc[5]", "endpoints": 100,
                            "over_goal": 3}, "dsp": []},
           "channel": {"depth": {"lut": 2, "carry": 0, "chains": 0, "dsp": 0, "meets_goal": True,
                                 "start": "x", "end": "y", "endpoints": 10, "over_goal": 0},
                       "dsp": [{"type": "DSP48E2", "output": "-", "src": "channel.v:9",
                                "registers": {"A": "none", "B": "fabric", "M": "none",
                                              "P": "slice"}, "missing": ["A", "M"]}]}}
    res["pe"]["depth"]["muxf"] = 2
    lines = synth.depth_lines(res, lambda m, n, src=None: f"<{n}>")
    assert any("pe" in ln and "7L+2m 1c/13 0d DEEP <a_r[0]> -> <acc[5]>" in ln and
               "3 of 100" in ln for ln in lines)
    assert any("channel" in ln and "2L 0c/0 0d ok" in ln for ln in lines)
    assert lines[-1] == "  channel: DSP48E2 <->: A none, B fabric, M none, P slice; missing A, M"
