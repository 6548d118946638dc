"""Separately converted modules: hierarchical Verilog from MyHDL.

MyHDL flattens a design into one Verilog module, so converting (and
compiling) 512 PEs costs 512 times one PE.  A block decorated with
:func:`submodule` is instead converted once into its own Verilog module, and
every block that instantiates it gets a Verilog *instantiation* of that
module in its place::

    @submodule
    @block
    def pe(clk, rst, cmd, ..., cfg, n_lanes=None):     # as before
        ...

    pe(clk, rst, cmd, ..., cfg=cfg)    # inside another block: an instance of module `pe`
    pe.top(...) / pe(...) at top level:  elaborated and converted whole, as before

Inside another block's elaboration the call returns a *stub* block: it
elaborates nothing (the body does not run), records its arguments and emits
MyHDL user-defined Verilog code (``_InstanceCode``): ``pe pe3 (.clk(clk), ...);``.
Called at top level (a test bench or ``convert_block`` of ``pe`` itself) the
decorated block elaborates as usual.

The module of a block depends on its parameters: its non-signal arguments
(``cfg``, widths, depths) and the types of its port signals (width, sign,
initial value: reset values come from it).  :func:`signature` puts them in a
canonical, process-independent form; instances with equal signatures share
one module.  :mod:`ese.hdl.convert` (``ModuleTable``) collects the stubs of a
design, elaborates each distinct module once on fresh signals of the same
types (:func:`fresh_args`), converts it, names it (``<block>`` or, when a
design holds several variants, ``<block>_<key>``) and marks the signals the
stubs connect, so that the parent's conversion declares them:

* output ports of the module: ``sig.driven = "wire"`` (MyHDL then reports a
  second driver in the parent as an error);
* input ports: ``sig.read = True``; an undriven input is a constant, which
  MyHDL declares as a wire with a constant assignment;
* every port signal is marked used and put in the stub's signal dictionary
  under its port name, so an otherwise anonymous signal (an element of a list,
  a loop variable rebound per instance) is named ``<instance>_<port>``.

Port names follow MyHDL's rule for a converted top: the positional-or-keyword
parameters that received a Signal, in signature order, then every attribute
signal of an *interface* argument (any other object with a ``__dict__``), as
``<arg>_<attr>`` (recursively ``<arg>_<attr>_<attr2>``), in argument and
attribute order.  The converter checks this list against the converted
module's port list.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import sys
from dataclasses import dataclass, field

from myhdl import EnumType, ResetSignal, Signal, block, intbv, modbv
from myhdl._block import _Block, _CallInfo
from myhdl._extractHierarchy import _isMem, _UserVerilogCode
from myhdl._ShadowSignal import _ShadowSignal, _SliceSignal
from myhdl._Signal import _Signal, _isListOfSigs

from ese.config import Config

#: block function -> its Submodule (so a top-level instance of a marked block
#: can be matched with the module of its stubs)
SUBMODULES: dict = {}

_COMPREHENSIONS = {"<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>"}


class HierError(ValueError):
    """A separately converted module cannot be formed (message says why)."""


def submodule(blk=None, *, key=None):
    """Mark a MyHDL block (``@submodule`` above ``@block``) as a separately converted module.

    ``key`` (optional) names the variants of the module when a design holds
    several: a function of the block's arguments by parameter name (defaults
    applied) returning a short identifier, e.g.
    ``key=lambda p: f"w{len(p['din'])}_d{p['depth']}"`` for ``ram_w18_d1024``.
    Without it a variant is suffixed with a hash of its parameters.
    """
    if blk is None:
        return lambda b: Submodule(b, key)
    return Submodule(blk, key)


class Submodule:
    """A block converted once into its own Verilog module (see :func:`submodule`)."""

    def __init__(self, blk, key=None):
        if not hasattr(blk, "func") or not callable(getattr(blk, "func")):
            raise TypeError("@submodule goes above @block (it needs a MyHDL block)")
        self.block = blk
        self.func = blk.func
        self.name = blk.func.__name__
        self.key = key
        functools.update_wrapper(self, blk.func)
        SUBMODULES[blk.func] = self

        def stub():
            return []
        stub.__name__ = stub.__qualname__ = self.name
        # a block of its own, so instances are named like the real block (pe0, pe1, ...)
        self._stub = block(stub)

    def __repr__(self):
        return f"<submodule {self.name}>"

    @functools.cached_property
    def source(self) -> tuple:
        """(file, first line) of the block function, for MyHDL's error messages."""
        return inspect.getsourcefile(self.func), inspect.getsourcelines(self.func)[1]

    def __call__(self, *args, **kwargs):
        caller = sys._getframe(1)
        while caller.f_code.co_name in _COMPREHENSIONS and caller.f_back is not None:
            caller = caller.f_back
        outer = caller.f_back
        nested = outer is not None and isinstance(outer.f_locals.get("self"), _Block)
        if not nested:
            return self.block(*args, **kwargs)       # a top: elaborate the whole block
        inst = self._stub()
        # MyHDL takes the call context (the parent's namespace, and whether the
        # call is inside a block) from fixed stack depths; this wrapper adds one
        symdict = dict(caller.f_globals)
        symdict.update(caller.f_locals)
        inst.callinfo = _CallInfo(caller.f_code.co_name, True, symdict)
        inst.modctxt = True
        inst.callername = caller.f_code.co_name
        info = Instance(self, inst, args, kwargs, port_map(self.func, args, kwargs))
        inst.hier = info
        inst.sigdict = {p: s for p, s in info.ports}
        inst.verilog_code = _InstanceCode(info)
        return inst


@dataclass(eq=False)
class Instance:
    """One stub: the module it instantiates and the signals on its ports."""
    sub: Submodule
    block: object                 #: the stub _Block (its .name is the Verilog instance name)
    args: tuple
    kwargs: dict
    ports: list                   #: [(port name, actual signal)] in module port order
    module: object = None         #: the converted module (set by the converter)
    _sig: str | None = field(default=None, repr=False)

    @property
    def signature(self) -> str:
        if self._sig is None:
            self._sig = signature(self.sub.func, self.args, self.kwargs)
        return self._sig

    def mark(self, directions: dict) -> None:
        """Mark the connected signals for the parent's conversion (``directions``:
        port name -> ``"input"``/``"output"`` of the converted module)."""
        where = f"{self.block.name} ({self.sub.name})"
        for p, s in self.ports:
            d = directions.get(p)
            if d is None:
                raise HierError(f"{where}: port {p} is not a port of the converted module")
            s._markUsed()
            if d == "input":
                s._markRead()
                if isinstance(s, _ShadowSignal) and not isinstance(s, _SliceSignal):
                    # a ConcatSignal is declared and assigned only if "driven"
                    # (MyHDL marks it so when a generator reads it)
                    s._driven = "wire"
            elif d == "output":
                if isinstance(s, _ShadowSignal):
                    raise HierError(f"{where}: output port {p} is connected to a shadow "
                                    "signal (a slice or concatenation), which cannot be driven")
                s.driven = "wire"
            else:
                raise HierError(f"{where}: port {p}: {d} ports are not supported")


class _InstanceCode(_UserVerilogCode):
    """User-defined Verilog of a stub: the instantiation, written at conversion
    time (signal names exist only then)."""

    def __init__(self, info: Instance):
        src, line = info.sub.source
        super().__init__("", {}, info.sub.name, info.sub.func, src, line)
        self.info = info

    def _interpolate(self):
        info = self.info
        if info.module is None or info.module.name is None:
            raise HierError(f"instance {info.block.name} of submodule {info.sub.name}: its "
                            "module was not converted (convert with ese.hdl.convert."
                            "convert_block / ModuleTable, not Block.convert)")
        conns = []
        for p, s in info.ports:
            if s._name is None:
                raise HierError(f"instance {info.block.name}: port {p} is connected to an "
                                "unnamed signal (a slice of a signal no block declares)")
            if s._inList and s._driven:
                raise HierError(f"instance {info.block.name}: output port {p} is connected to "
                                f"a word of a memory ({s._name})")
            conns.append(f"    .{p}({s._name.strip()})")
        return f"{info.module.name} {info.block.name} (\n" + ",\n".join(conns) + "\n);"


# --------------------------------------------------------------------------- ports
def _positional_names(func) -> list:
    code = func.__code__
    return list(code.co_varnames[:code.co_argcount])


def port_map(func, args, kwargs) -> list:
    """[(port name, signal)] of ``func(*args, **kwargs)`` converted as a top, in
    MyHDL's order (see the module docstring)."""
    names = _positional_names(func)
    if len(args) > len(names):
        raise HierError(f"{func.__name__}: more positional arguments than parameters")
    passed = dict(zip(names, args))
    for n in names[len(args):]:
        if n in kwargs:
            passed[n] = kwargs[n]
    ports = []
    for n, v in passed.items():
        if _isListOfSigs(v) or _isMem(v):
            raise HierError(f"{func.__name__}: argument {n} is a list of signals; a module "
                            "port must be a signal or an interface")
        if isinstance(v, _Signal):
            ports.append((n, v))
    for n, v in passed.items():
        if not isinstance(v, _Signal) and hasattr(v, "__dict__"):
            _expand(n, v, ports)
    return ports


def _expand(name, obj, out) -> None:
    for attr, v in vars(obj).items():
        if isinstance(v, _Signal):
            out.append((f"{name}_{attr}", v))
        elif isinstance(v, EnumType):
            pass
        elif hasattr(v, "__dict__"):
            _expand(f"{name}_{attr}", v, out)


# --------------------------------------------------------------------------- signatures
def _sig_type(s) -> tuple:
    """What a port signal contributes to a module: type, width, range and initial
    value (the reset value of an output).  A slice or concatenation is read-only,
    an input, so its initial value does not matter: it counts as 0, like the
    plain signals of a top's port factory (so ``pe`` of ``ese_top``, whose
    ``ld_we`` is a slice, is the ``pe`` converted on its own)."""
    v = s._init
    init = 0 if isinstance(s, _ShadowSignal) else int(v)
    if isinstance(v, bool):
        t = ("bool", init)
    elif isinstance(v, intbv):
        # hex: a 24,576-bit bus has a bound of 7,400 decimal digits, beyond what
        # Python converts to decimal text by default
        t = ("modbv" if isinstance(v, modbv) else "intbv", len(v),
             *(None if x is None else hex(x) for x in (v.min, v.max, init)))
    else:
        raise HierError(f"signals of type {type(v).__name__} are not supported on a "
                        "module port (use bool or intbv)")
    if isinstance(s, ResetSignal):
        t += ("reset", int(s.active), bool(s.isasync))
    return t


def _canon(v, where: str):
    """A hashable, process-independent form of a parameter value."""
    if isinstance(v, _Signal):
        return ("sig",) + _sig_type(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return ("int", hex(v))
    if v is None or isinstance(v, (bool, float, str)):
        return (type(v).__name__, v)
    if isinstance(v, Config):
        return ("Config", tuple(sorted(v.to_dict().items())))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_canon(x, f"{where}[{i}]") for i, x in enumerate(v)))
    if isinstance(v, dict):
        return ("dict", tuple(sorted((repr(k), _canon(x, f"{where}[{k!r}]"))
                                     for k, x in v.items())))
    if hasattr(v, "__dict__") and not callable(v):
        cls = type(v)
        return ("intf", f"{cls.__module__}.{cls.__qualname__}",
                tuple((a, _canon(x, f"{where}.{a}")) for a, x in vars(v).items()))
    raise HierError(f"{where}: a parameter of type {type(v).__name__} cannot be keyed "
                    "(use numbers, strings, tuples, Config, signals or interfaces)")


def bound_params(func, args, kwargs) -> dict:
    """The block's arguments by parameter name, defaults applied."""
    ba = inspect.signature(func).bind(*args, **kwargs)
    ba.apply_defaults()
    return dict(ba.arguments)


def signature(func, args, kwargs) -> str:
    """Canonical text of a block and its parameters: equal text, same Verilog module."""
    params = bound_params(func, args, kwargs)
    canon = tuple((n, _canon(v, f"{func.__name__}: {n}")) for n, v in params.items())
    return repr((f"{func.__module__}.{func.__qualname__}", canon))


def short_key(sig: str) -> str:
    return hashlib.sha1(sig.encode()).hexdigest()[:8]


def describe(func, args, kwargs) -> str:
    """``n_lanes=2, ptr_fifo=4``: the non-signal, non-Config parameters (for headers)."""
    out = []
    for n, v in bound_params(func, args, kwargs).items():
        if isinstance(v, (_Signal, Config)) or (hasattr(v, "__dict__") and not callable(v)):
            continue
        if v is None or isinstance(v, (bool, int, float, str, tuple)):
            out.append(f"{n}={v!r}")
    return ", ".join(out)


# --------------------------------------------------------------------------- fresh copies
def _fresh_signal(s):
    v = s._init
    if not isinstance(v, (bool, intbv)):
        _sig_type(s)                              # raises the clear error
    if isinstance(s, ResetSignal):
        return ResetSignal(int(v), active=s.active, isasync=s.isasync)
    return Signal(copy.deepcopy(v))


def _has_signals(v, depth=0) -> bool:
    if isinstance(v, _Signal):
        return True
    if depth > 8:
        return False
    if isinstance(v, (list, tuple)):
        return any(_has_signals(x, depth + 1) for x in v)
    if hasattr(v, "__dict__") and not callable(v) and not isinstance(v, Config):
        return any(_has_signals(x, depth + 1) for x in vars(v).values())
    return False


def _fresh(v):
    if isinstance(v, _Signal):
        return _fresh_signal(v)
    if not _has_signals(v):
        return v
    if isinstance(v, (list, tuple)):
        return type(v)(_fresh(x) for x in v)
    new = copy.copy(v)
    for a, x in vars(v).items():
        new.__dict__[a] = _fresh(x)
    return new


def fresh_args(args, kwargs) -> tuple:
    """The arguments with every signal replaced by a new signal of the same type
    (interfaces copied), for elaborating a module on ports of its own."""
    return tuple(_fresh(a) for a in args), {k: _fresh(v) for k, v in kwargs.items()}


def stubs_of(inst) -> list:
    """Every stub below ``inst`` (a MyHDL block instance), in elaboration order."""
    out = []

    def walk(b):
        for s in b.subs:
            if isinstance(s, _Block):
                if getattr(s, "hier", None) is not None:
                    out.append(s.hier)
                else:
                    walk(s)
    walk(inst)
    return out


__all__ = ["HierError", "Instance", "SUBMODULES", "Submodule", "bound_params", "describe",
           "fresh_args", "port_map", "short_key", "signature", "stubs_of", "submodule"]
