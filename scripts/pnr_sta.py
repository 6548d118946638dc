"""Worst register-to-register paths of a routed ECP5 design, from nextpnr's SDF.

nextpnr's ``--report`` holds one critical path per clock.  To name the worst
paths of many endpoints, ``scripts/pnr.py`` also asks nextpnr for its delay
back-annotation (``--sdf``): every cell arc (``IOPATH``), every routed net arc
(``INTERCONNECT``) and every setup check, in ps, as nextpnr's own timing
analysis uses them.  :func:`parse_sdf` reads it into a :class:`TimingGraph`,
:meth:`TimingGraph.analyze` propagates the latest arrival from every clocked
output (clock-to-out) through the combinational arcs to every checked input
(arrival + setup), and :meth:`TimingGraph.worst_paths` traces the worst path
into the worst endpoints.  The delays are the max corner of each
``(min:typ:max)`` triple, as nextpnr's report uses them; clock network delay is
not counted (nextpnr's out-of-context analysis does not either), so the worst
path equals nextpnr's critical path (``scripts/pnr.py`` checks that it does).

How a path is counted (:class:`Path`, docs/timing.md):

* ``logic_ns``: cell delays, clock-to-out and setup included; ``routing_ns``:
  net delays;
* ``levels``: LUT levels, one per ``TRELLIS_COMB`` arc entered at a LUT input
  (A-D) or a wide-mux select (M) and leaving at F or OFX (a LUT5-LUT7 built of
  LUT4s and PFUMX/L6MUX counts once: the FXA/FXB cascade adds no level); a
  LUT-RAM read (``DPRAM_COMB``) counts as a LUT level;
* ``carry_chains`` / ``carry_cells``: carry chains entered (LUT input -> FCO)
  and ``TRELLIS_COMB`` cells crossed on the carry (FCI in);
* ``hard``: hard blocks crossed combinationally (``MULT18X18D``, ``ALU54B``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

_LINE_CELLTYPE = re.compile(r'\(CELLTYPE "([^"]*)"\)')
_LINE_INSTANCE = re.compile(r"\(INSTANCE\s*([^)]*)\)")
_LINE_INTERCONNECT = re.compile(r"\(INTERCONNECT\s+(\S+)\s+(\S+)\s+(.*)\)\s*$")
_LINE_IOPATH = re.compile(r"\(IOPATH\s+(\S+)\s+(\S+)\s+(.*)\)\s*$")
_LINE_CHECK = re.compile(r"\((SETUPHOLD|SETUP)\s+\((?:posedge|negedge)?\s*(\S+?)\)\s+"
                         r"\((?:posedge|negedge)?\s*(\S+?)\)\s+\(([^)]*)\)")
_TRIPLE = re.compile(r"\(([^)]*)\)")
_UNESCAPE = re.compile(r"\\(.)")
_SPLIT_PIN = re.compile(r"^(.*)(?<!\\)/([^/]+)$")
#: clock inputs of the ECP5 cells nextpnr writes (clock-to-out arcs start there)
_CLOCK_PIN = re.compile(r"^(CLK\w*|WCK|CLK)$")

LUT_INPUTS = frozenset("ABCDM")
HARD_BLOCKS = frozenset({"MULT18X18D", "ALU54B"})


def _ps(values: str) -> float:
    """Max corner, in ns, of the delay triples ``(min:typ:max) (min:typ:max)``."""
    best = 0.0
    for t in _TRIPLE.findall(values) or [values]:
        parts = [p for p in t.split(":") if p.strip()]
        if parts:
            best = max(best, float(parts[-1]))
    return best / 1000.0


def _name(s: str) -> str:
    return _UNESCAPE.sub(r"\1", s.strip())


def _pin(ref: str) -> tuple:
    m = _SPLIT_PIN.match(ref)
    if not m:
        raise ValueError(f"SDF: no pin in {ref!r}")
    return _name(m.group(1)), m.group(2)


@dataclass
class Step:
    """One arc of a path: ``kind`` is clk-to-q, logic, routing or setup."""
    kind: str
    delay: float
    src: tuple              #: (cell, pin)
    dst: tuple


@dataclass
class Path:
    """The worst path into one endpoint (see the module docstring for the counts)."""
    start: tuple            #: (cell, pin) of the clocked output it starts at
    end: tuple              #: (cell, pin) of the checked input it ends at
    delay: float            #: ns, clock-to-out + logic + routing + setup
    steps: list = field(default_factory=list)
    logic_ns: float = 0.0
    routing_ns: float = 0.0
    levels: int = 0
    carry_chains: int = 0
    carry_cells: int = 0
    hard: int = 0

    def count(self, celltype: dict) -> "Path":
        """Fill the delay split and the level counts from ``steps``."""
        for s in self.steps:
            if s.kind == "routing":
                self.routing_ns += s.delay
                continue
            self.logic_ns += s.delay
            if s.kind != "logic":
                continue
            cell, a = s.src
            b = s.dst[1]
            ty = celltype.get(cell, "")
            if ty in HARD_BLOCKS:
                self.hard += 1
            elif ty == "TRELLIS_COMB":
                if a == "FCI":
                    self.carry_cells += 1
                elif b == "FCO":
                    self.carry_chains += 1
                    self.carry_cells += 1
                elif a in LUT_INPUTS and b in ("F", "OFX"):
                    self.levels += 1
        return self


class TimingGraph:
    """Cell and net arcs of a routed design (nodes are ``(cell, pin)``)."""

    def __init__(self):
        self.celltype: dict = {}
        self.index: dict = {}
        self.nodes: list = []
        self.fanout: defaultdict = defaultdict(list)      # node -> [(node, ns, kind)]
        self.clock_out: dict = {}                          # node -> clock-to-out ns
        self.setup: dict = {}                              # node -> setup ns
        self.arrival: list = []
        self.pred: list = []
        self.untimed = 0                                   # nodes left on combinational loops

    def node(self, cell: str, pin: str) -> int:
        key = (cell, pin)
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.nodes)
            self.nodes.append(key)
        return i

    # ------------------------------------------------------------------ analysis
    def analyze(self) -> "TimingGraph":
        """Latest arrival at every node (Kahn order over the combinational arcs)."""
        n = len(self.nodes)
        indeg = [0] * n
        for src, outs in self.fanout.items():
            for dst, _, _ in outs:
                indeg[dst] += 1
        arr = [float("-inf")] * n
        pred: list = [None] * n
        for i, d in self.clock_out.items():
            arr[i] = max(arr[i], d)
        queue = [i for i in range(n) if indeg[i] == 0]
        done = 0
        while queue:
            i = queue.pop()
            done += 1
            a = arr[i]
            for j, d, kind in self.fanout.get(i, ()):
                if a + d > arr[j]:
                    arr[j] = a + d
                    pred[j] = (i, d, kind)
                indeg[j] -= 1
                if indeg[j] == 0:
                    queue.append(j)
        self.untimed = n - done
        self.arrival, self.pred = arr, pred
        return self

    def endpoints(self) -> list:
        """``[(required ns, node)]`` of every timed endpoint, worst first."""
        out = [(self.arrival[i] + s, i) for i, s in self.setup.items()
               if self.arrival[i] != float("-inf")]
        out.sort(reverse=True)
        return out

    def path_to(self, end: int) -> Path:
        """The worst path into endpoint node ``end``."""
        steps = [Step("setup", self.setup[end], self.nodes[end], self.nodes[end])]
        i = end
        while self.pred[i] is not None:
            j, d, kind = self.pred[i]
            steps.append(Step(kind, d, self.nodes[j], self.nodes[i]))
            i = j
        steps.append(Step("clk-to-q", self.clock_out.get(i, 0.0), self.nodes[i], self.nodes[i]))
        steps.reverse()
        p = Path(start=self.nodes[i], end=self.nodes[end],
                 delay=self.arrival[end] + self.setup[end], steps=steps)
        return p.count(self.celltype)

    def worst_paths(self, n: int = 10, group=None) -> list:
        """The worst path of each of the ``n`` worst endpoints; with ``group`` (a
        function of the endpoint's cell name), of the ``n`` worst groups (e.g. one
        path per register, not one per bit)."""
        out, seen = [], set()
        for _, i in self.endpoints():
            key = group(self.nodes[i][0]) if group else i
            if key in seen:
                continue
            seen.add(key)
            out.append(self.path_to(i))
            if len(out) >= n:
                break
        return out

    def failing(self, period_ns: float) -> int:
        """How many endpoints miss ``period_ns``."""
        return sum(1 for t, _ in self.endpoints() if t > period_ns)


def parse_sdf(text: str) -> TimingGraph:
    """The :class:`TimingGraph` of nextpnr's SDF ``text``."""
    g = TimingGraph()
    cell = ctype = None
    arcs: list = []               # this cell's IOPATHs, resolved once its checks are known
    clocks: set = set()

    def close_cell():
        for a, b, d in arcs:
            src, dst = g.node(cell, a), g.node(cell, b)
            if a in clocks or _CLOCK_PIN.match(a):
                g.clock_out[dst] = max(g.clock_out.get(dst, 0.0), d)
            else:
                g.fanout[src].append((dst, d, "logic"))
        arcs.clear()
        clocks.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("(INTERCONNECT"):
            m = _LINE_INTERCONNECT.match(s)
            if m:
                a, b = _pin(m.group(1)), _pin(m.group(2))
                g.fanout[g.node(*a)].append((g.node(*b), _ps(m.group(3)), "routing"))
        elif s.startswith("(IOPATH"):
            m = _LINE_IOPATH.match(s)
            if m and cell is not None:
                arcs.append((m.group(1), m.group(2), _ps(m.group(3))))
        elif s.startswith("(SETUP"):
            m = _LINE_CHECK.match(s)
            if m and cell is not None:
                data, clk = m.group(2), m.group(3)
                clocks.add(clk)
                i = g.node(cell, data)
                g.setup[i] = max(g.setup.get(i, 0.0), _ps(f"({m.group(4)})"))
        elif s.startswith("(CELLTYPE"):
            if cell is not None:
                close_cell()
            m = _LINE_CELLTYPE.search(s)
            ctype = m.group(1) if m else None
            cell = None
        elif s.startswith("(INSTANCE"):
            m = _LINE_INSTANCE.search(s)
            cell = _name(m.group(1)) if m else None
            if cell:
                g.celltype[cell] = ctype
    if cell is not None:
        close_cell()
    return g


__all__ = ["HARD_BLOCKS", "Path", "Step", "TimingGraph", "parse_sdf"]
