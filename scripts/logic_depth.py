"""Logic depth of a mapped Xilinx netlist (Yosys ``synth_xilinx`` JSON), per module.

Yosys' ``ltp`` walks through mapped ``FDRE``/``FDSE`` flip-flops, so it cannot
give register-to-register depth; :func:`depth` walks the netlist itself
(docs/timing.md "Logic depth").  Nodes are net bits; a path starts and stops
at a **boundary**:

* flip-flops and latches (``FD*``, ``LD*``): Q starts, every other input but
  the clock ends;
* block RAM (``RAMB*``): every output starts, every input ends (synchronous);
* LUT-RAM (``RAM32M``, ``RAM64X1D``, ...) and shift registers (``SRL*``): the
  write side is synchronous (every input ends a path); the read is
  asynchronous: the stored bits start a path and the read address reaches the
  output through one LUT level, as the LUT it is;
* DSP slices (``DSP48E1``/``DSP48E2``): by their register parameters.  An
  input group ends at the slice if any register on its way to P is on (A, B,
  D: ``AREG``/``BREG``/``DREG``, ``ADREG``, ``MREG``, ``PREG``; C and the
  carry input: ``CREG``/``CARRYINREG``, ``PREG``; OPMODE, ALUMODE, INMODE,
  CARRYINSEL: their own ``*REG``, ``PREG``); otherwise it crosses the slice to
  P combinationally (one DSP on the path).  P starts a path if ``PREG`` is on,
  or if ``MREG`` is (the ALU after the product register counts as one DSP);
* the module's ports and the ports of black-box instances (separately
  synthesized submodules).

Counted on a path: ``lut`` = LUT1-LUT6 and LUT-RAM / SRL reads; ``muxf`` =
MUXF7/8/9 (a LUT6 with the wide-function multiplexers after it is one LUT7-LUT9
of the slice, so they are no LUT level of their own; Vivado's "logic levels"
count them, and ``lut + muxf + carry + dsp`` is that figure); ``carry`` =
CARRY4/CARRY8 cells crossed and ``chains`` = runs of them (a carry cell entered
through CI from another carry cell's CO continues a chain; entered any other
way it starts one); ``dsp`` = DSP slices crossed combinationally.  The deepest
path maximizes ``lut + chains + dsp`` (then ``muxf``, then ``carry``).  The
goal (issue 18): ``lut <= 6``, ``chains <= 1``, ``dsp == 0``.

:func:`dsp_registers` lists every DSP slice with its register parameters and
what it lacks of input (A/B), product (M) and output (P) registers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

#: the logic-depth goal of issue 18 (200 MHz on a -2 UltraScale with room for routing)
GOAL = {"lut": 6, "chains": 1, "dsp": 0}

_FF = re.compile(r"^(FD[CPRS]E(_1)?|FD[CPRS]?|LD[CP]E?(_1)?)$")
_BRAM = re.compile(r"^RAMB(18|36)")
_LUTRAM = re.compile(r"^(RAM\d+X\d+[SD]|RAM\d+M\d*|RAM64X8SW|RAM32X16DR8|RAM\d+X1S)$")
_SRL = re.compile(r"^SRL(16E?|C16E?|C32E)$")
_LUT = re.compile(r"^LUT[1-6]$")
_MUXF = re.compile(r"^MUXF[789]$")
_CARRY = re.compile(r"^CARRY(4|8)$")
_DSP = re.compile(r"^DSP48E[12]$")
_CLOCKS = frozenset({"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB", "G"})
_PASSIVE = frozenset({"VCC", "GND", "BUFG", "BUFGCE", "IBUF", "OBUF"})


def _read_address(out_port: str):
    """The address inputs a LUT-RAM / SRL output is read through: ``DOB`` <- ``ADDRB``
    (RAM32M, RAM64M8, ...), ``DPO`` <- ``DPRA`` (RAM64X1D), ``SPO``/``O``/``Q`` <- ``A``."""
    m = re.match(r"^DO([A-H])$", out_port)
    if m:
        return re.compile(rf"^ADDR{m.group(1)}$")
    if out_port == "DPO":
        return re.compile(r"^DPRA\d*$")
    return re.compile(r"^(A\d*|A_\d+)$")

# DSP input groups -> the registers on their way to P
_DSP_GROUPS = (
    (re.compile(r"^(A|ACIN)$"), ("AREG", "ADREG", "MREG")),
    (re.compile(r"^(B|BCIN)$"), ("BREG", "MREG")),
    (re.compile(r"^D$"), ("DREG", "ADREG", "MREG")),
    (re.compile(r"^C$"), ("CREG",)),
    (re.compile(r"^(CARRYIN|CARRYCASCIN|PCIN)$"), ("CARRYINREG",)),
    (re.compile(r"^OPMODE$"), ("OPMODEREG",)),
    (re.compile(r"^ALUMODE$"), ("ALUMODEREG",)),
    (re.compile(r"^INMODE$"), ("INMODEREG",)),
    (re.compile(r"^CARRYINSEL$"), ("CARRYINSELREG",)),
)
_DSP_OUT = re.compile(r"^(P|PCOUT|CARRYOUT|CARRYCASCOUT|MULTSIGNOUT|PATTERN\w*|OVERFLOW|UNDERFLOW|"
                      r"XOROUT|ACOUT|BCOUT)$")


def param(cell: dict, name: str, default=0):
    """A cell parameter as Yosys writes it (a bit string, a number or a string)."""
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if s and set(s) <= {"0", "1"} and len(s) >= 8:
        return int(s, 2)
    try:
        return int(s)
    except ValueError:
        return s.strip('"')


@dataclass(order=True)
class Depth:
    """What one path crosses (compared by :meth:`key`)."""
    lut: int = 0
    carry: int = 0
    chains: int = 0
    dsp: int = 0
    muxf: int = 0

    def key(self) -> tuple:
        return (self.lut + self.chains + self.dsp, self.muxf, self.carry)

    def plus(self, lut=0, carry=0, chains=0, dsp=0, muxf=0) -> "Depth":
        return Depth(self.lut + lut, self.carry + carry, self.chains + chains, self.dsp + dsp,
                     self.muxf + muxf)

    def short(self) -> str:
        """``6L+2m 1c/13 0d``: LUT levels (+ wide-function muxes), carry chains / carry
        cells, DSPs crossed."""
        m = f"+{self.muxf}m" if self.muxf else ""
        return f"{self.lut}L{m} {self.chains}c/{self.carry} {self.dsp}d"

    def meets_goal(self) -> bool:
        return self.lut <= GOAL["lut"] and self.chains <= GOAL["chains"] and \
            self.dsp <= GOAL["dsp"]


@dataclass
class ModuleDepth:
    """The deepest path of a module and how many endpoints miss the goal."""
    module: str
    worst: Depth
    start: str                                      #: net (bit) the path starts at
    end: str                                        #: register (or net) it ends at
    start_kind: str = ""                            #: what drives the start: cell, port
    end_kind: str = ""
    cells: list = field(default_factory=list)       #: [(cell type, name)] along the path
    endpoints: int = 0
    over_goal: int = 0
    unknown: list = field(default_factory=list)     #: cell types treated as black boxes
    untimed: int = 0                                #: bits left on combinational loops

    def as_dict(self) -> dict:
        w = self.worst
        return {"lut": w.lut, "muxf": w.muxf, "carry": w.carry, "chains": w.chains, "dsp": w.dsp,
                "meets_goal": w.meets_goal(), "start": self.start, "end": self.end,
                "start_kind": self.start_kind, "end_kind": self.end_kind,
                "path": [f"{t} {n}" for t, n in self.cells], "endpoints": self.endpoints,
                "over_goal": self.over_goal, "unknown_cells": self.unknown,
                "untimed_bits": self.untimed}


class _Netlist:
    """Drivers and sinks of a module's bits (for the DSP register checks)."""

    def __init__(self, module: dict):
        self.cells = module.get("cells", {})
        self.driver: dict = {}
        self.sinks: dict = defaultdict(list)
        self.ports = {b for p in module.get("ports", {}).values() if p["direction"] == "input"
                      for b in p.get("bits", ()) if isinstance(b, int)}
        for cname, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for port, bits in c.get("connections", {}).items():
                for b in bits:
                    if not isinstance(b, int):
                        continue
                    if dirs.get(port) == "output":
                        self.driver[b] = (cname, port)
                    else:
                        self.sinks[b].append((cname, port))
        outs = {b for p in module.get("ports", {}).values() if p["direction"] == "output"
                for b in p.get("bits", ()) if isinstance(b, int)}
        for b in outs:
            self.sinks[b].append(("", "port"))

    def is_ff(self, cname: str) -> bool:
        return bool(cname) and bool(_FF.match(self.cells[cname]["type"]))

    def input_reg(self, bits) -> str:
        """How a DSP input is registered outside the slice: ``fabric`` (every live bit
        straight from a flip-flop, which Vivado moves into the slice), ``port`` (from
        the module's ports: registered or not in the parent), else ``none``."""
        live = [b for b in bits if isinstance(b, int)]
        if not live:
            return "constant"
        if all(b in self.driver and self.is_ff(self.driver[b][0]) and
               self.driver[b][1] == "Q" for b in live):
            return "fabric"
        if all(b in self.ports for b in live):
            return "port"
        return "none"

    def output_stages(self, bits, most: int = 2) -> int:
        """Flip-flop stages straight after a DSP output (each used bit feeding only
        flip-flop D inputs, stage after stage): the product and output registers
        Vivado moves into the slice."""
        cur = [b for b in bits if isinstance(b, int) and self.sinks.get(b)]
        n = 0
        while cur and n < most:
            nxt = []
            for b in cur:
                for cname, port in self.sinks[b]:
                    if not (self.is_ff(cname) and port == "D"):
                        return n
                    nxt += [q for q in self.cells[cname]["connections"].get("Q", ())
                            if isinstance(q, int) and self.sinks.get(q)]
            n += 1
            cur = nxt
        return n


def dsp_view(cname: str, net: _Netlist) -> dict:
    """How one DSP slice is registered: each of A, B (input), M (product), P (output)
    is ``slice`` (its own register on), ``fabric`` (flip-flops straight next to it,
    which Vivado moves into the slice), ``port`` (an input from the module's port),
    ``constant`` or ``none``; and what that means for the depth walk."""
    cell = net.cells[cname]
    conns = cell.get("connections", {})
    mult = str(param(cell, "USE_MULT", "MULTIPLY")).upper() != "NONE"
    view = {}
    for r, port in (("AREG", "A"), ("BREG", "B")):
        view[port] = "slice" if param(cell, r, 1) else net.input_reg(conns.get(port, ()))
    after = 0 if param(cell, "PREG", 1) else net.output_stages(conns.get("P", ()))
    mreg = mult and param(cell, "MREG", 1)
    preg = param(cell, "PREG", 1)
    view["M"] = ("slice" if mreg else "fabric" if (not preg and after >= 2) else "none") \
        if mult else "unused"
    view["P"] = "slice" if preg else ("fabric" if after >= 1 else "none")
    return view


def _dsp_paths(cname: str, net: _Netlist) -> tuple:
    """``(through, ends, starts_p, p_dsp)`` of a DSP cell, counting the registers
    Vivado moves into the slice (:func:`dsp_view`): input ports that cross to P
    combinationally, input ports that end at a register, whether P starts a path,
    and the DSPs counted from that start (1 if only the product is registered)."""
    cell = net.cells[cname]
    view = dsp_view(cname, net)
    mult = view["M"] != "unused"
    pre = str(param(cell, "USE_DPORT", "FALSE")).upper() == "TRUE" or \
        str(param(cell, "AMULTSEL", "A")).upper() == "AD"
    skip = set() if pre else {"ADREG", "DREG"}          # registers not on the data's way
    if not mult:
        skip.add("MREG")
    on = {"AREG": view["A"] in ("slice", "fabric"), "BREG": view["B"] in ("slice", "fabric"),
          "MREG": view["M"] in ("slice", "fabric")}
    p_reg = view["P"] in ("slice", "fabric")
    through, ends = set(), set()
    for port in cell.get("connections", {}):
        if cell.get("port_directions", {}).get(port) != "input":
            continue
        for pat, regs in _DSP_GROUPS:
            if pat.match(port):
                regged = any(on.get(r, param(cell, r, 1)) for r in regs if r not in skip) \
                    or p_reg
                (ends if regged else through).add(port)
                break
    # P starts a path if anything before it is registered (a multiply after its
    # input registers is one DSP on the path); else it is reached through ``through``
    return through, ends, bool(p_reg or ends), (0 if p_reg else 1)


def depth(module: dict, name: str = "", names=None) -> ModuleDepth:
    """The deepest boundary-to-boundary path of one module of a Yosys JSON netlist.

    ``names``: optional ``bit -> readable name`` function for the start and end
    (default: the module's own net names)."""
    cells = module.get("cells", {})
    net = _Netlist(module)
    driver = net.driver
    bitname = names or _bit_namer(module)

    fanin: dict = defaultdict(list)     # out bit -> [(in bit, cell, increment fn)]
    start: dict = {}                    # bit -> (Depth at the bit, what starts it)
    ends: list = []                     # (bit, what ends there)
    unknown: set = set()

    def is_carry_out(b):
        d = driver.get(b)
        return d is not None and _CARRY.match(cells[d[0]]["type"]) and d[1] in ("CO", "COUT")

    for pname, p in module.get("ports", {}).items():
        for b in p.get("bits", ()):
            if not isinstance(b, int):
                continue
            if p["direction"] == "input":
                start[b] = (Depth(), f"input {pname}")
            else:
                ends.append((b, f"output {pname}", None))

    for cname, c in cells.items():
        t = c["type"]
        dirs = c.get("port_directions", {})
        conns = c.get("connections", {})
        ins = [(p, b) for p, bs in conns.items() if dirs.get(p) == "input" and p not in _CLOCKS
               for b in bs if isinstance(b, int)]
        outs = [b for p, bs in conns.items() if dirs.get(p) == "output" for b in bs
                if isinstance(b, int)]
        label = f"{t} {cname}"
        if _LUT.match(t) or _MUXF.match(t):
            kind = "lut" if _LUT.match(t) else "muxf"
            for o in outs:
                fanin[o] += [(b, cname, kind) for _, b in ins]
        elif t == "INV":            # Vivado folds it into the LUT or flip-flop it feeds
            for o in outs:
                fanin[o] += [(b, cname, "none") for _, b in ins]
        elif _CARRY.match(t):
            for o in outs:
                fanin[o] += [(b, cname, "carry_ci" if p in ("CI", "CIN") and is_carry_out(b)
                              else "carry") for p, b in ins]
        elif _FF.match(t) or _BRAM.match(t):
            for o in outs:
                start[o] = (Depth(), label)
            q = next((b for b in conns.get("Q", ()) if isinstance(b, int)), None)
            ends += [(b, label, q) for _, b in ins]
        elif _LUTRAM.match(t) or _SRL.match(t):
            ends += [(b, label, None) for _, b in ins]
            for p, bs in conns.items():
                if dirs.get(p) != "output":
                    continue
                addr = _read_address(p)
                for o in (b for b in bs if isinstance(b, int)):
                    start[o] = (Depth(lut=1), label)      # stored bits through the read LUT
                    fanin[o] += [(b, cname, "lut") for q, b in ins if addr.match(q)]
        elif _DSP.match(t):
            through, regged, starts_p, p_dsp = _dsp_paths(cname, net)
            ends += [(b, label, None) for p, b in ins if p in regged]
            for p, bs in conns.items():
                if dirs.get(p) != "output":
                    continue
                for o in (b for b in bs if isinstance(b, int)):
                    if starts_p and _DSP_OUT.match(p):
                        start[o] = (Depth(dsp=p_dsp), label)
                    fanin[o] += [(b, cname, "dsp") for q, b in ins if q in through]
        elif t in _PASSIVE:
            continue
        else:                       # a black box: a submodule or an unknown primitive
            if t.startswith("$") or t[:1].isupper():
                unknown.add(t)
            for o in outs:
                start[o] = (Depth(), f"{label} (black box)")
            ends += [(b, f"{label} (black box)", None) for _, b in ins]

    # longest paths over the combinational arcs (Kahn order on bits)
    users: dict = defaultdict(list)
    indeg: dict = defaultdict(int)
    for o, ins in fanin.items():
        for b, _, _ in ins:
            users[b].append(o)
            indeg[o] += 1
    best: dict = {b: d for b, (d, _) in start.items()}
    pred: dict = {}
    all_bits = set(fanin) | set(users) | set(start)
    queue = [b for b in all_bits if indeg[b] == 0]
    done = 0
    inc = {"lut": dict(lut=1), "muxf": dict(muxf=1), "carry": dict(carry=1, chains=1),
           "carry_ci": dict(carry=1), "dsp": dict(dsp=1), "none": {}}
    # arrival at an out bit is settled when its last input is; compute it then
    while queue:
        b = queue.pop()
        done += 1
        if b in fanin:
            cand = [(best[i].plus(**inc[k]), i, cell) for i, cell, k in fanin[b] if i in best]
            if b in start:
                cand.append((start[b][0], None, None))
            if cand:
                d, i, cell = max(cand, key=lambda x: x[0].key())
                best[b] = d
                if i is not None:
                    pred[b] = (i, cell)
        for u in users.get(b, ()):
            indeg[u] -= 1
            if indeg[u] == 0:
                queue.append(u)
    untimed = len(all_bits) - done

    worst, wend = None, None
    over = 0
    timed_ends = 0
    for b, what, own in ends:
        d = best.get(b)
        if d is None:
            continue
        timed_ends += 1
        if not d.meets_goal():
            over += 1
        if worst is None or d.key() > worst.key():
            worst, wend = d, (b, what, own)
    if worst is None:
        return ModuleDepth(name, Depth(), "-", "-", unknown=sorted(unknown), untimed=untimed)
    path, b = [], wend[0]
    while b in pred:
        i, cell = pred[b]
        path.append((cells[cell]["type"], cell))
        b = i
    path.reverse()
    what_start = start.get(b, (None, "?"))[1]
    end_name = bitname(wend[2] if wend[2] is not None else wend[0])    # a register: its Q
    return ModuleDepth(name, worst, bitname(b), end_name, what_start, wend[1], path,
                       timed_ends, over, sorted(unknown), untimed)


def _bit_namer(module: dict):
    """``bit -> "name[i]"``: the shortest public net name holding the bit; for a bit
    without one, the cell driving it and its source location (``FDRE at pe.v:812``)."""
    best: dict = {}
    for n, v in module.get("netnames", {}).items():
        if v.get("hide_name"):
            continue
        for i, b in enumerate(v.get("bits", ())):
            if isinstance(b, int):
                full = f"{n}[{i}]" if len(v["bits"]) > 1 else n
                if b not in best or len(full) < len(best[b]):
                    best[b] = full
    drivers: dict = {}
    for c in module.get("cells", {}).values():
        for port, bits in c.get("connections", {}).items():
            if c.get("port_directions", {}).get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        drivers[b] = c

    def name(b):
        if b in best:
            return best[b]
        c = drivers.get(b)
        if c is None:
            return f"bit {b}"
        m = re.search(r"([^/|]+\.s?v):(\d+)", str(c.get("attributes", {}).get("src", "")))
        return f"{c['type']} at {m.group(1)}:{m.group(2)}" if m else f"{c['type']} output"
    return name


def dsp_registers(module: dict) -> list:
    """Every DSP slice of a module: ``{"cell", "type", "output", "src", "registers",
    "missing"}``: ``output`` names a net on P, ``src`` the Verilog line the slice
    comes from (``channel.v:12345``); ``registers`` is :func:`dsp_view` (A, B, M, P: slice, fabric,
    port, constant, none) and ``missing`` the ones that are ``none`` (a
    multiplier without its input, product or output register)."""
    out = []
    net = _Netlist(module)
    namer = _bit_namer(module)
    for cname, c in net.cells.items():
        if not _DSP.match(c["type"]):
            continue
        view = dsp_view(cname, net)
        p = next((b for b in c.get("connections", {}).get("P", ())
                  if isinstance(b, int) and net.sinks.get(b)), None)
        src = re.search(r"([^/|]+\.s?v):(\d+)", str(c.get("attributes", {}).get("src", "")))
        out.append({"cell": cname, "type": c["type"], "output": namer(p) if p else "-",
                    "src": f"{src.group(1)}:{src.group(2)}" if src else "",
                    "registers": view, "missing": [k for k, v in view.items() if v == "none"]})
    return out


__all__ = ["Depth", "GOAL", "ModuleDepth", "depth", "dsp_registers", "dsp_view", "param"]
