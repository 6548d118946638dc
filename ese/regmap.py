"""The AXI4-Lite register map of the accelerator, written once.

Everything else is generated from the tables below: the CSR block
(``hdl/csr.py`` loops over :data:`REGS` at elaboration), the register
documentation (``docs/registers.md``) and the C header
(``build/gen/ese_regs.h``) written by ``scripts/gen_regs.py``, and the driver
constants (:data:`ADDR`, :data:`ERR`, :data:`FIELD`).

Registers are 32 bits wide at byte offsets ``4*k``.  Each field has its own
access type:

======  ===================================================================
RO      read only; writes are ignored.  The value is a live input of the
        CSR block (``port``), a constant of the configuration (``const``)
        or a sticky flag the hardware sets (``set_by``).
RW      read/write storage; drives an output port of the CSR block.
W1P     write-1-pulse: writing 1 makes the output port high for exactly
        one clock cycle (the cycle after the write); always reads 0.
RW1C    read / write-1-to-clear; set by the hardware pulse ``set_by``.
======  ===================================================================

Hardware-set fields (``set_by``) load ``set_value`` (an input port; default
all ones) when the ``set_by`` input pulses.  A hardware set wins over a
clear in the same cycle (an event is never lost).  Fields with
``clear_on_start`` are cleared by ``CTRL.START``; every hardware-set field
is cleared by ``CTRL.SOFT_RESET``.

Byte addresses not in the map read 0 and writes to them are ignored; both
answer OKAY.  The two low address bits are ignored (32-bit accesses).

Driver use::

    from ese import regmap
    regmap.ADDR["CTRL"]                  # 0x04
    regmap.FIELD["CTRL"]["START"].mask   # 0x1
    regmap.ERR["BAD_MAGIC"]              # 1
    regmap.decode("STATUS", value)       # {'BUSY': 0, 'DONE': 1, ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ese.config import Config

ACCESS = ("RO", "RW", "W1P", "RW1C")

#: ID register: magic "ESE" in bits 31:8 and the register-map version in 7:0
MAGIC = 0x455345
VERSION = 2


@dataclass(frozen=True)
class Field:
    """One bit field of a register (bits ``lsb .. lsb+width-1``)."""

    name: str
    lsb: int
    width: int
    access: str
    desc: str
    reset: int = 0
    port: str | None = None          #: RW/W1P: output port driven; RO: input port read
    port_lsb: int = 0                #: first bit of ``port`` this field holds
    const: Callable[[Config], int] | None = None   #: RO constant from the configuration
    set_by: str | None = None        #: input pulse that loads the field (RO sticky, RW1C)
    set_value: str | None = None     #: input port loaded on ``set_by`` (None = all ones)
    clear_on_start: bool = False     #: cleared by CTRL.START (sticky status)

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    @property
    def bits(self) -> str:
        return f"{self.msb}:{self.lsb}" if self.width > 1 else f"{self.lsb}"

    @property
    def stored(self) -> bool:
        """Held in a flip-flop of the CSR block (RW, RW1C, hardware-set RO)."""
        return self.access in ("RW", "RW1C") or self.set_by is not None


@dataclass(frozen=True)
class Reg:
    """One 32-bit register."""

    name: str
    offset: int
    desc: str
    fields: tuple[Field, ...]

    @property
    def access(self) -> str:
        """The register's access summary: the common field access, or 'mixed'."""
        acc = {f.access for f in self.fields}
        return acc.pop() if len(acc) == 1 else "mixed"

    @property
    def reset(self) -> int:
        """Reset value of the stored fields (constants not included, see reset_value)."""
        return sum((f.reset << f.lsb) for f in self.fields)


def _f(name, lsb, width, access, desc, **kw) -> Field:
    return Field(name, lsb, width, access, desc, **kw)


def _word(name, port, port_lsb, access, desc):
    return (_f(name, 0, 32, access, desc, port=port, port_lsb=port_lsb),)


# ---------------------------------------------------------------------------
# The register map.  Offsets are dense from 0 (the CSR block indexes words).
# ---------------------------------------------------------------------------
REGS: tuple[Reg, ...] = (
    Reg("ID", 0x00, "Identification: magic and register-map version.", (
        _f("VERSION", 0, 8, "RO", "register-map version", const=lambda c: VERSION),
        _f("MAGIC", 8, 24, "RO", 'magic 0x455345 ("ESE")', const=lambda c: MAGIC),
    )),
    Reg("CTRL", 0x04, "Control.", (
        _f("START", 0, 1, "W1P", "start a run (with LOAD=1: load the model image first); "
           "clears STATUS.DONE/ERROR/ERR_CODE", port="start"),
        _f("SOFT_RESET", 1, 1, "W1P", "reset the controller and the datapath; clears STATUS "
           "sticky bits and IRQ_STATUS (configuration registers keep their values)",
           port="soft_reset"),
        _f("LOAD", 2, 1, "RW", "(re)load the model image from IMAGE_ADDR before running",
           port="load"),
    )),
    Reg("STATUS", 0x08, "Status.", (
        _f("BUSY", 0, 1, "RO", "a run (or image load) is in progress", port="busy"),
        _f("DONE", 1, 1, "RO", "the last run finished; sticky until the next START",
           set_by="done", clear_on_start=True),
        _f("ERROR", 2, 1, "RO", "the last run stopped on an error; sticky until the next START",
           set_by="error", clear_on_start=True),
        _f("ERR_CODE", 8, 8, "RO", "error code of the last error (table ERR)",
           set_by="error", set_value="err_code", clear_on_start=True),
    )),
    Reg("IRQ_EN", 0x0C, "Interrupt enables: irq = |(IRQ_STATUS & IRQ_EN).", (
        _f("DONE", 0, 1, "RW", "interrupt when a run finishes"),
        _f("ERROR", 1, 1, "RW", "interrupt when an error is reported"),
    )),
    Reg("IRQ_STATUS", 0x10, "Interrupt status (write 1 to clear).", (
        _f("DONE", 0, 1, "RW1C", "a run finished", set_by="done"),
        _f("ERROR", 1, 1, "RW1C", "an error was reported", set_by="error"),
    )),
    Reg("IMAGE_ADDR_LO", 0x14, "Model image byte address in DDR, bits 31:0.",
        _word("ADDR", "image_addr", 0, "RW", "address bits 31:0")),
    Reg("IMAGE_ADDR_HI", 0x18, "Model image byte address in DDR, bits 63:32.",
        _word("ADDR", "image_addr", 32, "RW", "address bits 63:32")),
    Reg("IMAGE_SIZE", 0x1C, "Model image size in bytes.",
        _word("BYTES", "image_size", 0, "RW", "image size in bytes")),
    Reg("IN_ADDR_LO", 0x20, "Input frames byte address, bits 31:0.",
        _word("ADDR", "in_addr", 0, "RW", "address bits 31:0")),
    Reg("IN_ADDR_HI", 0x24, "Input frames byte address, bits 63:32.",
        _word("ADDR", "in_addr", 32, "RW", "address bits 63:32")),
    Reg("OUT_ADDR_LO", 0x28, "Output byte address, bits 31:0.",
        _word("ADDR", "out_addr", 0, "RW", "address bits 31:0")),
    Reg("OUT_ADDR_HI", 0x2C, "Output byte address, bits 63:32.",
        _word("ADDR", "out_addr", 32, "RW", "address bits 63:32")),
    Reg("FRAMES", 0x30, "Frames per sequence T (1..max_frames).",
        _word("T", "frames", 0, "RW", "frames per sequence")),
    Reg("BATCH", 0x34, "Sequences B run at once, one per channel (1..n_ch).",
        _word("B", "batch", 0, "RW", "sequences")),
    Reg("CYCLES_LO", 0x38, "Clock cycles of the last run (start to done), bits 31:0.",
        _word("COUNT", "cycles", 0, "RO", "count bits 31:0")),
    Reg("CYCLES_HI", 0x3C, "Clock cycles of the last run, bits 63:32.",
        _word("COUNT", "cycles", 32, "RO", "count bits 63:32")),
    Reg("MAC_LO", 0x40, "Multiply-accumulates of the last run per channel: non-filler "
        "entries issued, summed over the PEs, bits 31:0.",
        _word("COUNT", "macs", 0, "RO", "count bits 31:0")),
    Reg("MAC_HI", 0x44, "Multiply-accumulates of the last run per channel, bits 63:32.",
        _word("COUNT", "macs", 32, "RO", "count bits 63:32")),
    Reg("STALL_LO", 0x48, "Cycles the controller waited on memory, bits 31:0.",
        _word("COUNT", "stalls", 0, "RO", "count bits 31:0")),
    Reg("STALL_HI", 0x4C, "Cycles the controller waited on memory, bits 63:32.",
        _word("COUNT", "stalls", 32, "RO", "count bits 63:32")),
    Reg("HWCFG0", 0x50, "Hardware configuration: array size.", (
        _f("N_PE", 0, 16, "RO", "PEs per channel", const=lambda c: c.n_pe),
        _f("N_CH", 16, 8, "RO", "channels", const=lambda c: c.n_ch),
        _f("MAX_LAYERS", 24, 8, "RO", "largest number of layers", const=lambda c: c.max_layers),
    )),
    Reg("HWCFG1", 0x54, "Hardware configuration: number widths.", (
        _f("WEIGHT_BITS", 0, 8, "RO", "encoded weight bits", const=lambda c: c.weight_bits),
        _f("INDEX_BITS", 8, 8, "RO", "relative index bits", const=lambda c: c.index_bits),
        _f("ACT_BITS", 16, 8, "RO", "activation bits", const=lambda c: c.act_bits),
        _f("ACC_BITS", 24, 8, "RO", "accumulator bits", const=lambda c: c.acc_bits),
    )),
    Reg("HWCFG2", 0x58, "Hardware configuration: largest model (input, cells).", (
        _f("MAX_INPUT", 0, 16, "RO", "largest input size I", const=lambda c: c.max_input),
        _f("MAX_CELLS", 16, 16, "RO", "largest cell count H", const=lambda c: c.max_cells),
    )),
    Reg("HWCFG3", 0x5C, "Hardware configuration: largest model (projection), memory.", (
        _f("MAX_PROJ", 0, 16, "RO", "largest projection size P", const=lambda c: c.max_proj),
        _f("AXI_BYTES", 16, 8, "RO", "AXI4 master data bytes (address alignment)",
           const=lambda c: c.axi_data_bits // 8),
        _f("LUT_BITS", 24, 8, "RO", "log2 of the lookup-table entries", const=lambda c: c.lut_bits),
    )),
    Reg("HWCFG4", 0x60, "Hardware configuration: largest T.", (
        _f("MAX_FRAMES", 0, 32, "RO", "largest frames per sequence", const=lambda c: c.max_frames),
    )),
    Reg("HWCFG5", 0x64, "Hardware configuration: PE memory.", (
        _f("PE_ENTRY_DEPTH", 0, 32, "RO", "encoded entries each PE holds",
           const=lambda c: c.pe_entry_depth),
    )),
    Reg("LOAD_CYCLES_LO", 0x68, "Clock cycles of the last model load (from START with LOAD "
        "to the end of the load; 0 after a START without LOAD), bits 31:0.",
        _word("COUNT", "load_cycles", 0, "RO", "count bits 31:0")),
    Reg("LOAD_CYCLES_HI", 0x6C, "Clock cycles of the last model load, bits 63:32.",
        _word("COUNT", "load_cycles", 32, "RO", "count bits 63:32")),
)

#: error codes reported in STATUS.ERR_CODE
ERRORS: tuple[tuple[str, int, str], ...] = (
    ("OK", 0, "no error"),
    ("BAD_MAGIC", 1, "the model image does not start with the magic / format version"),
    ("CONFIG_MISMATCH", 2, "the image was built for another hardware configuration"),
    ("MODEL_TOO_LARGE", 3, "the model exceeds the hardware's maximum sizes or PE memories"),
    ("BAD_FRAMES", 4, "FRAMES is 0 or larger than max_frames"),
    ("BAD_BATCH", 5, "BATCH is 0 or larger than n_ch"),
    ("MISALIGNED", 6, "an address is not aligned to axi_data_bits/8 bytes"),
    ("ADDR_RANGE", 7, "address + size wraps the AXI address space"),
    ("AXI_ERROR", 8, "an AXI read or write answered SLVERR or DECERR"),
    ("NO_MODEL", 9, "START without a loaded model (set CTRL.LOAD)"),
)

ERR: dict[str, int] = {n: v for n, v, _ in ERRORS}
ERR_NAME: dict[int, str] = {v: n for n, v, _ in ERRORS}
ADDR: dict[str, int] = {r.name: r.offset for r in REGS}
REG: dict[str, Reg] = {r.name: r for r in REGS}
FIELD: dict[str, dict[str, Field]] = {r.name: {f.name: f for f in r.fields} for r in REGS}

#: input ports of the CSR block that are pulses / values (name -> width), from the table
#: (``set_by``/``set_value``/RO ``port``); outputs likewise.  Widths of 64-bit pairs follow
#: from ``port_lsb``.


def _port_widths(kinds) -> dict[str, int]:
    w: dict[str, int] = {}
    for r in REGS:
        for f in r.fields:
            if f.port and f.access in kinds:
                w[f.port] = max(w.get(f.port, 0), f.port_lsb + f.width)
    return w


#: CSR outputs driven by RW and W1P fields (name -> width), plus ``irq``
OUT_PORTS: dict[str, int] = {**_port_widths(("RW", "W1P")), "irq": 1}
#: CSR inputs read by RO fields and hardware-set pulses/values (name -> width)
IN_PORTS: dict[str, int] = dict(_port_widths(("RO",)))
for _r in REGS:
    for _f2 in _r.fields:
        if _f2.set_by:
            IN_PORTS.setdefault(_f2.set_by, 1)
        if _f2.set_value:
            IN_PORTS[_f2.set_value] = max(IN_PORTS.get(_f2.set_value, 0), _f2.width)
del _r, _f2


def span() -> int:
    """Bytes the map occupies (last offset + 4)."""
    return max(r.offset for r in REGS) + 4


def min_addr_bits() -> int:
    """Smallest AXI4-Lite address width that reaches every register."""
    return max(2, (span() - 1).bit_length())


def const_value(reg: "str | Reg", cfg: Config) -> int:
    """The constant (configuration) part of a register's value."""
    r = REG[reg] if isinstance(reg, str) else reg
    v = 0
    for f in r.fields:
        if f.const is not None:
            x = int(f.const(cfg))
            if not 0 <= x < (1 << f.width):
                raise ValueError(f"regmap: {r.name}.{f.name} ({f.width} bits) cannot hold "
                                 f"{x} of configuration {cfg.name!r}")
            v |= x << f.lsb
    return v


def reset_value(reg: "str | Reg", cfg: Config) -> int:
    """What a read returns after reset with all CSR inputs at 0."""
    r = REG[reg] if isinstance(reg, str) else reg
    return const_value(r, cfg) | sum(f.reset << f.lsb for f in r.fields if f.stored)


def decode(reg: str, value: int) -> dict[str, int]:
    """Split a register value into its fields."""
    return {f.name: (value >> f.lsb) & ((1 << f.width) - 1) for f in REG[reg].fields}


def encode(reg: str, **fields: int) -> int:
    """Build a register value from field values (unknown names raise KeyError)."""
    v = 0
    for n, x in fields.items():
        f = FIELD[reg][n]
        if not 0 <= x < (1 << f.width):
            raise ValueError(f"regmap: {reg}.{n} is {f.width} bits, got {x}")
        v |= x << f.lsb
    return v


def check(cfg: Config | None = None) -> None:
    """Consistency of the table (and, with ``cfg``, that constants fit their fields)."""
    seen = set()
    for k, r in enumerate(REGS):
        assert r.offset % 4 == 0, f"regmap: {r.name}: offset {r.offset:#x} not word aligned"
        assert r.offset not in seen, f"regmap: {r.name}: offset {r.offset:#x} used twice"
        seen.add(r.offset)
        used = 0
        for f in r.fields:
            assert f.access in ACCESS, f"regmap: {r.name}.{f.name}: access {f.access!r}"
            assert f.width >= 1 and 0 <= f.lsb and f.msb <= 31, \
                f"regmap: {r.name}.{f.name}: bits {f.bits} outside 31:0"
            assert not (used & f.mask), f"regmap: {r.name}.{f.name} overlaps another field"
            used |= f.mask
            assert 0 <= f.reset < (1 << f.width), f"regmap: {r.name}.{f.name}: reset value"
            kinds = [f.port is not None and f.access == "RO", f.const is not None,
                     f.set_by is not None]
            if f.access == "RO":
                assert sum(kinds) == 1, \
                    f"regmap: {r.name}.{f.name}: an RO field needs one of port, const, set_by"
            if f.access == "RW1C":
                assert f.set_by, f"regmap: {r.name}.{f.name}: an RW1C field needs set_by"
            if f.access == "W1P":
                assert f.port and f.width == 1, f"regmap: {r.name}.{f.name}: a W1P field is " \
                    f"one bit with a port"
            if f.set_value is not None:
                assert f.set_by is not None, f"regmap: {r.name}.{f.name}: set_value needs set_by"
        if cfg is not None:
            const_value(r, cfg)
    assert "START" in FIELD["CTRL"] and "SOFT_RESET" in FIELD["CTRL"], "regmap: CTRL pulses"


check()
