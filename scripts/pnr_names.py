"""Names of a routed netlist back to MyHDL blocks and signals (docs/timing.md).

Yosys names a mapped cell after the net it drives or feeds
(``requant0_r_L6MUX21_Z_3_D0_...``: logic in front of register ``requant0_r``;
``p_off_TRELLIS_FF_Q_3``: a flip-flop of ``p_off``) and joins the Verilog
instance path with dots (``channel0.requant0_r``).  MyHDL flattens a block's
hierarchy into one module, prefixing each signal with the instance names of
the blocks above the one that declares it (``core0_ctrl_exec0_hist``), and the
separately converted ``pe``/``channel``/``dsp_mac`` are Verilog instances.

* :func:`design_names` (in the converting process, needs the elaborated
  modules of ``ese.hdl.convert.ModuleTable``) records, per Verilog module,
  each signal's MyHDL block path and local name (MyHDL's own naming rule,
  ``myhdl.conversion._analyze._analyzeSigs``) and each instance's module and
  block path.  ``scripts/pnr.py`` writes it to ``names.json``.
* :func:`cell_signal` strips Yosys' and nextpnr's suffixes from a cell name;
  :class:`Names` turns a dotted netlist name into ``{"block", "signal", ...}``
  (``"core0/channel0/requant0"``, ``"r[5]"``), and reads the ``Defined in``
  source locations nextpnr reports (``channel.v:140``) when Yosys kept no
  readable name.
"""

from __future__ import annotations

import re
from pathlib import Path

from pnr_wrap import DUT, IN_REG, OUT_REG, STUB_IN

#: Yosys/nextpnr suffixes after the signal a cell is named after
_CELL_SUFFIX = re.compile(r"(\$.*|_(TRELLIS_|DP16KD|MULT18X18D|ALU54B|LUT4|CCU2C|PFUMX|L6MUX21|"
                          r"DPR16X4C|TRELLIS)\w*)$")
_FF_PORT = re.compile(r"_TRELLIS_FF_([A-Z]+)(?:_\d+)?$")
_BANK = re.compile(r"(\.\d+)+$")                  # Yosys memory banks: mem.0.3
_BIT = re.compile(r"^(.*?)((?:\[\d+\])*)$")
_SRC = re.compile(r"([\w.-]+\.v):(\d+)")
_ASSIGN = re.compile(r"^\s*(?:assign\s+)?(\w+)(?:\[[^\]]*\])?\s*<?=[^=]")
_DECL = re.compile(r"^\s*(?:\(\*[^*]*\*\)\s*)?(?:input|output|reg|wire)\s+(?:signed\s+)?"
                   r"(?:\[[^\]]*\]\s*)?(\w+)")


def cell_signal(cell: str) -> str:
    """The signal a cell is named after: ``dut.y_TRELLIS_FF_Q_4_DI_LUT4_Z`` ->
    ``dut.y``; ``u.mem.0.2$DPRAM_COMB3`` -> ``u.mem``."""
    s = _CELL_SUFFIX.sub("", cell)
    return _BANK.sub("", s) or cell


def named_by_output(cell: str) -> bool:
    """False for a flip-flop Yosys named after a net on an input port
    (``x_TRELLIS_FF_LSR``, ``_CE``, ``_DI``, ``_M``): its name is not what it holds."""
    m = _FF_PORT.search(cell)
    return m is None or m.group(1) == "Q"


def split_bit(name: str) -> tuple:
    """``("p_off", "[1]")`` of ``p_off[1]``; ``("rq_y", "[0][14]")`` of a memory
    word's bit; ``("x", "")`` of ``x``."""
    m = _BIT.match(name)
    return m.group(1), m.group(2) or ""


# ------------------------------------------------------------------ MyHDL side
def _hierarchy_names(inst, top: str) -> tuple:
    """``(signals, block paths)`` of an elaborated block: Verilog name -> (block
    path, local name), and id(block) -> block path, by MyHDL's naming rule."""
    from myhdl._getHierarchy import _getHierarchy
    from myhdl._ShadowSignal import _SliceSignal
    h = _getHierarchy(top, inst)
    named: dict = {}
    out: dict = {}
    paths: dict = {}
    prefixes: list = []
    level_now = 0
    for hi in h.hierarchy:
        if level_now - hi.level > -1:
            prefixes = prefixes[:hi.level - 1]
        level_now = hi.level
        prefixes.append(hi.name)
        live = [p for p in prefixes if p]
        path = "/".join(live[1:])
        paths[id(hi.obj)] = path

        def name_of(n):
            return ("_".join(live[1:]) + "_" + n if len(live) > 1 else n).replace("self_", "")
        for n, s in hi.sigdict.items():
            if id(s) in named or isinstance(s, _SliceSignal):
                continue
            named[id(s)] = True
            out.setdefault(name_of(n), (path, n))
        for n, m in hi.memdict.items():
            if id(m) in named:
                continue
            named[id(m)] = True
            out.setdefault(name_of(n), (path, n))
    return out, paths


def design_names(table) -> dict:
    """``{module: {"block", "signals": {verilog: [path, local]}, "instances":
    {instance: {"module", "path"}}}}`` of every module of a written ModuleTable."""
    out = {}
    for m in table.order():
        if m.name is None or m.error:
            continue
        sigs, paths = _hierarchy_names(m.inst, m.name)
        for port in m.ports:            # interface ports (``ew_s_acc``) are the module's own
            sigs.setdefault(port, ("", port))
        insts = {st.block.name: {"module": st.module.name, "path": paths.get(id(st.block), "")}
                 for st in m.stubs}
        out[m.name] = {"block": m.block, "signals": {k: list(v) for k, v in sigs.items()},
                       "instances": insts}
    return out


# ------------------------------------------------------------------ resolving
class Names:
    """Resolve netlist names with the ``names.json`` of :func:`design_names`.

    ``top``: the synthesized top (a module of the table, or ``<block>_ooc``, the
    wrapper of ``scripts/pnr_wrap.py`` around ``<block>``); ``stubs``: modules
    replaced by register stubs, or a dict of them to the output bits each stub
    register drives (``pnr_wrap.stub_outputs``: a path starting at a stub is
    named by its output); ``src_dirs``: folders to find the Verilog files of
    nextpnr's source locations in.
    """

    def __init__(self, names: dict, top: str, stubs=(), src_dirs=()):
        self.names = dict(names)
        self.top = top
        self.stubs = stubs if isinstance(stubs, dict) else {m: {} for m in stubs}
        self.src_dirs = [Path(d) for d in src_dirs]
        self._lines: dict = {}
        if top not in self.names and top.endswith("_ooc"):
            self.names[top] = {"block": "wrapper", "signals": {},
                               "instances": {DUT: {"module": top[:-4], "path": ""}}}

    def resolve(self, hier: str, sources=(), start: bool = False) -> dict:
        """``{"block", "signal", "module", "note"}`` of dotted netlist name ``hier``
        (a net or a signal from :func:`cell_signal`); ``start``: a path starts
        there (a stub register is then named by the outputs it drives)."""
        parts = hier.split(".")
        module, path = self.top, []
        for i, inst in enumerate(parts[:-1]):
            info = self.names.get(module, {}).get("instances", {}).get(inst)
            if info is None:                          # a dot inside a Yosys name
                parts = parts[:i] + [".".join(parts[i:])]
                break
            if info["path"]:
                path.append(info["path"])
            module = info["module"]
        base, bit = split_bit(parts[-1])
        block = "/".join(path)
        note = ""
        if module in self.stubs:
            drives = self.stubs[module].get(base, {})
            if start and drives:
                i = int(bit[1:-1]) if bit else (0 if len(drives) == 1 else None)
                outs = drives.get(i) if i is not None else None
                if outs is None:                      # bit unknown: the ports it feeds
                    outs = sorted({o.split("[")[0] for v in drives.values() for o in v})
                return {"block": block, "signal": "/".join(outs), "module": module,
                        "note": "stub output register"}
            if base.startswith(STUB_IN):
                base, note = base[len(STUB_IN):], "stub input register"
            return {"block": block, "signal": base + bit, "module": module, "note": note or "stub"}
        if module == self.top and self.top.endswith("_ooc"):
            for pre, what in ((IN_REG, "input"), (OUT_REG, "output")):
                if base.startswith(pre):
                    return {"block": "", "signal": base[len(pre):] + bit, "module": module,
                            "note": f"{what} port register (wrapper)"}
            if base.startswith(f"{DUT}_"):
                return {"block": "", "signal": base[len(DUT) + 1:] + bit, "module": module,
                        "note": "output port register (wrapper)"}
        sig = self.names.get(module, {}).get("signals", {}).get(base)
        if sig is not None:
            p, local = sig
            block = "/".join(x for x in (block, p) if x)
            return {"block": block, "signal": local + bit, "module": module, "note": note}
        decl = self.declared(sources)
        if decl:
            return {"block": block, "signal": parts[-1], "module": module,
                    "note": f"declared at {decl}"}
        return {"block": block, "signal": parts[-1], "module": module, "note": "netlist name"}

    def declared(self, sources) -> str:
        """``"channel.v:140 p_off"``: the first Verilog declaration among nextpnr's
        source locations (``file.v:line.col-line.col``), or ''."""
        for s in sources or ():
            m = _SRC.search(s)
            if not m:
                continue
            f, line = m.group(1), int(m.group(2))
            text = self._line(Path(f).name, line)
            d = _DECL.match(text or "")
            if d:
                return f"{Path(f).name}:{line} {d.group(1)}"
        return ""

    def assigned(self, src: str) -> str:
        """The signal assigned on a Verilog line (``channel.v:12345``, ``x <= a * b;``
        -> ``x``), or ''."""
        m = _SRC.search(src or "")
        text = self._line(Path(m.group(1)).name, int(m.group(2))) if m else None
        a = _ASSIGN.match(text or "")
        return a.group(1) if a else ""

    def _line(self, fname: str, line: int) -> str | None:
        if fname not in self._lines:
            self._lines[fname] = None
            for d in self.src_dirs:
                p = d / fname
                if p.exists():
                    self._lines[fname] = p.read_text().splitlines()
                    break
        lines = self._lines[fname]
        return lines[line - 1] if lines and 0 < line <= len(lines) else None


def label(r: dict) -> str:
    """One short text of a :meth:`Names.resolve` result: ``core0/channel0/requant0.r[5]``."""
    s = f"{r['block']}.{r['signal']}" if r["block"] else r["signal"]
    return f"{s} ({r['note']})" if r.get("note") else s


__all__ = ["Names", "cell_signal", "design_names", "label", "split_bit"]
