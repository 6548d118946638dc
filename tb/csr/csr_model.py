"""Register-level Python model of the CSR block, derived from ``ese/regmap.py``.

The testbench compares every read of the RTL with :meth:`CsrModel.read`.
Semantics (the same as documented in hdl/csr.py): RW bits store, W1P bits
pulse for one cycle and read 0, RW1C bits clear on 1, RO bits ignore
writes; a hardware set wins over a clear in the same cycle; START clears
the ``clear_on_start`` fields, SOFT_RESET every hardware-set field.
"""

from __future__ import annotations

from ese import regmap
from ese.config import Config


class CsrModel:
    def __init__(self, cfg: Config, addr_bits: int):
        self.cfg = cfg
        self.addr_bits = addr_bits
        self.store = {r.name: r.reset for r in regmap.REGS}
        self.inputs = {n: 0 for n in regmap.IN_PORTS}
        self.pulses: list[str] = []      # W1P ports pulsed by the last write

    # -- helpers --------------------------------------------------------------
    @staticmethod
    def _reg_at(addr: int):
        for r in regmap.REGS:
            if r.offset == addr & ~3:
                return r
        return None

    @staticmethod
    def _mask(r, pred) -> int:
        return sum(f.mask for f in r.fields if pred(f))

    # -- bus side ---------------------------------------------------------------
    def write(self, addr: int, data: int, strb: int = 0xF) -> None:
        self.pulses = []
        addr &= (1 << self.addr_bits) - 1
        r = self._reg_at(addr)
        if r is None:
            return
        bm = sum(0xFF << (8 * i) for i in range(4) if strb >> i & 1)
        d = data & bm
        v = self.store[r.name]
        rw = self._mask(r, lambda f: f.access == "RW")
        v = (v & ~(bm & rw)) | (d & rw)
        v &= ~(d & self._mask(r, lambda f: f.access == "RW1C"))
        self.store[r.name] = v
        for f in r.fields:
            if f.access == "W1P" and d & f.mask:
                self.pulses.append(f.port)
        if "start" in self.pulses:
            self._clear(lambda f: f.clear_on_start)
        if "soft_reset" in self.pulses:
            self._clear(lambda f: f.set_by is not None)

    def _clear(self, pred) -> None:
        for r in regmap.REGS:
            self.store[r.name] &= ~self._mask(r, pred)

    def read(self, addr: int) -> int:
        addr &= (1 << self.addr_bits) - 1
        r = self._reg_at(addr)
        if r is None:
            return 0
        v = 0
        for f in r.fields:
            if f.stored:
                v |= self.store[r.name] & f.mask
            elif f.const is not None:
                v |= int(f.const(self.cfg)) << f.lsb
            elif f.access == "RO":
                v |= ((self.inputs[f.port] >> f.port_lsb) & ((1 << f.width) - 1)) << f.lsb
        return v

    # -- controller side ------------------------------------------------------
    def pulse(self, name: str, **values: int) -> None:
        """The hardware pulse ``name`` (done / error) with values (err_code=...)."""
        for r in regmap.REGS:
            for f in r.fields:
                if f.set_by == name:
                    x = values.get(f.set_value, 0) if f.set_value else (1 << f.width) - 1
                    self.store[r.name] = (self.store[r.name] & ~f.mask) | (x << f.lsb)

    def outputs(self) -> dict[str, int]:
        """Level outputs of the CSR block (RW ports and irq)."""
        out: dict[str, int] = {}
        for r in regmap.REGS:
            for f in r.fields:
                if f.access == "RW" and f.port:
                    x = (self.store[r.name] & f.mask) >> f.lsb
                    out[f.port] = out.get(f.port, 0) | (x << f.port_lsb)
        out["irq"] = int(self.store["IRQ_STATUS"] & self.store["IRQ_EN"] != 0)
        return out
