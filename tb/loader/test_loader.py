"""loader: memory images from DDR into the PE memories, parameter memories and layer table.

DUT (``loader_bench`` below): ``loader`` + ``rdport`` + ``mem_reader``, the
read path of ``ese_top``, with the AXI read channels as ports (cocotbext-axi's
``AxiRamRead`` is the DDR) and a ``stall`` input that holds the item stream
between the read port and the loader (read-port stalls).  Random pauses on
AR, R and the item stream in every test.

What is expected comes from ``model/image.py`` alone (``read_tables``,
``pe_words``: the format's reader), never from the loader:

* ``good``: random models (1..max_layers layers, peepholes and projection on
  and off, sizes the PE count does not divide) loaded at random aligned
  addresses, several back to back: every PE entry and pointer word written
  once at its address with the image's value and nothing else, every bias and
  peephole at ``layer*max_cells + cell`` of its memory, the layer table (sizes,
  flags, shifts, the pointer bases from the matrix table), the model sizes,
  ``fin`` with code 0, ``loaded``, ``busy`` exactly from start to fin;
* ``bad``: each error code of the loader (``ese/regmap.py``): BAD_MAGIC
  (magic, version, header size), CONFIG_MISMATCH (fingerprint fields, an image
  made for another PE count, a layer shift beyond the configuration),
  MODEL_TOO_LARGE (layers, matrices, widths, a PE's entries, an image made
  for a configuration with larger memories), ADDR_RANGE (the image is larger
  than IMAGE_SIZE, e.g. truncated by the host), an image cut short in DDR, an
  image of another field layout; after each, ``loaded`` is low and no memory
  was written when the header or the tables were wrong; a good load after all
  of them works;
* ``cancel``: a cancel in the middle of a load loses the model; the next load
  works.

``test_loader_layout`` elaborates the loader for a ``model.image.Layout``
with swapped header, layer-, matrix- and PE-table fields and loads images
built with that layout: the model writer and the RTL move together.
"""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params
from tb.common.sim import pauses

#: the swaps of the layout test: (table, field, field)
SWAPS = (("header", "n_layers", "n_in"), ("header", "layer_table_offset", "pe_dir_offset"),
         ("layer", "n_cells", "bias_offset"), ("matrix", "layer", "ptr_base"),
         ("pe", "entries_offset", "n_ptrs"))


def make_layout(swaps):
    from ese.model.image import STANDARD_LAYOUT
    lay = STANDARD_LAYOUT
    for table, a, b in swaps:
        lay = lay.swapped(table, a, b)
    return lay


# ----------------------------------------------------------------------------- DUT
def loader_bench_block():
    """The bench top (a function so that MyHDL is imported only where needed)."""
    from myhdl import Signal, always_comb, block

    from ese.hdl.interfaces import ItemStream, MemCmd, ReadReq, WordStream, uint
    from ese.hdl.loader import loader
    from ese.hdl.mem_reader import mem_reader
    from ese.hdl.rdport import rdport

    @block
    def loader_bench(clk, rst, cancel, image_addr, image_size, stall, n_layers, m_n_in, m_n_out,
                     layer_sel, ldr, ld, pw, layer, m_axi, cfg, layout):
        rq = ReadReq(cfg)
        items = ItemStream(cfg)                     # from the read port
        li = items.view(valid=Signal(bool(0)), ready=Signal(bool(0)))   # to the loader
        mr_cmd, mr_o = MemCmd(cfg), WordStream(cfg, last=True)
        rp_busy, mr_busy, mr_done, rd_err = (Signal(bool(0)) for _ in range(4))
        rd_code = uint(4).signal()
        i_ld = loader(clk, rst, ldr, cancel, image_addr, image_size, rq, li, ld, pw, n_layers,
                      m_n_in, m_n_out, layer_sel, layer, cfg=cfg, layout=layout)
        i_rp = rdport(clk, rst, cancel, rq, items, rp_busy, mr_cmd, mr_o.without_last(), mr_busy,
                      cfg=cfg)
        i_mr = mem_reader(clk, rst, mr_cmd, mr_o, mr_done, rd_err, rd_code, mr_busy, m_axi,
                          cfg=cfg)

        @always_comb
        def gate():
            # read-port stalls: the stream pauses while ``stall`` is high
            li.valid.next = items.valid and not stall
            items.ready.next = li.ready and not stall

        return i_ld, i_rp, i_mr, gate

    return loader_bench


def make_bench(cfg, layout):
    from myhdl import Signal

    from ese.hdl import loader as hl
    from ese.hdl.interfaces import AxiRead
    p = hl.ports(cfg)
    del p["req"], p["i"]
    return loader_bench_block()(**p, stall=Signal(bool(0)), m_axi=AxiRead(cfg), cfg=cfg,
                                layout=layout)


# ----------------------------------------------------------------------------- expectations
def random_qmodel(cfg, rng, n_layers=None):
    """A random QModel that fits ``cfg`` (sizes n_pe does not divide, every option mixed)."""
    from ese.model.qmodel import QLayer, QModel

    def sparse(rows, cols):
        lim = (1 << (cfg.weight_bits - 1)) - 1
        w = rng.integers(-lim, lim + 1, size=(rows, cols))
        w[rng.random((rows, cols)) >= rng.choice([0.05, 0.2, 0.5])] = 0
        return w.astype(np.int64)

    nl = n_layers or int(rng.integers(1, cfg.max_layers + 1))
    layers, n_in = [], int(rng.integers(1, min(24, cfg.max_input) + 1))
    for _ in range(nl):
        h = int(rng.integers(1, min(20, cfg.max_cells) + 1))
        proj = bool(rng.integers(0, 2))
        p = int(rng.integers(1, min(16, cfg.max_proj) + 1)) if proj else h
        if not proj and h > cfg.max_proj:
            h = p = cfg.max_proj
        peep = bool(rng.integers(0, 2))
        wf_x, wf_r = int(rng.integers(6, 12)), int(rng.integers(6, 12))
        layers.append(QLayer(
            n_in=n_in, n_cells=h, n_out=p, wx=sparse(4 * h, n_in), wr=sparse(4 * h, p),
            bias=rng.integers(-(1 << (cfg.pre_bits - 1)), 1 << (cfg.pre_bits - 1), 4 * h),
            wf_x=wf_x, wf_r=wf_r, wp=sparse(p, h) if proj else None,
            wf_p=int(rng.integers(6, 14)) if proj else 0,
            peep=rng.integers(-(1 << (cfg.weight_bits - 1)), 1 << (cfg.weight_bits - 1), (3, h))
            if peep else None, wf_peep=int(rng.integers(11, 16)) if peep else 0))
        n_in = p
    return QModel(cfg=cfg, layers=layers)


class Expected:
    """What a load of ``image`` must leave behind, read with model/image.py's reader."""

    def __init__(self, image: bytes, cfg, layout):
        from ese.model import image as mi
        t = mi.read_tables(image, layout)
        h, self.header = t["header"], t["header"]
        self.n_layers, self.n_in, self.n_out = h["n_layers"], h["n_in"], h["n_out"]
        self.ld = {}
        for p, row in enumerate(t["pes"]):
            ent, ptr = mi.pe_words(image, h, row)
            self.ld.update({(p, 0, a): int(v) for a, v in enumerate(ent)})
            self.ld.update({(p, 1, a): int(v) for a, v in enumerate(ptr)})
        self.pw, self.table = {}, []
        vwb = h["value_word_bytes"]
        for k, r in enumerate(t["layers"]):
            hc = r["n_cells"]
            bias = np.frombuffer(image, dtype=f"<u{vwb}", count=mi.BIAS_PER_CELL * hc,
                                 offset=r["bias_offset"])
            for j, v in enumerate(bias):          # stored order: 4c + g
                self.pw[(j % 4, k * cfg.max_cells + j // 4)] = int(v) & 0xFFFF
            peep = bool(r["flags"] & mi.FLAG_PEEPHOLE)
            if peep:
                pv = np.frombuffer(image, dtype=f"<u{vwb}", count=mi.PEEP_PER_CELL * hc,
                                   offset=r["peep_offset"]).reshape(mi.PEEP_PER_CELL, hc)
                for g in range(mi.PEEP_PER_CELL):
                    for c in range(hc):
                        self.pw[(4 + g, k * cfg.max_cells + c)] = int(pv[g, c]) & 0xFFFF
            ptr = {m["kind"]: m["ptr_base"] for m in t["matrices"] if m["layer"] == k}
            proj = bool(r["flags"] & mi.FLAG_PROJECTION)
            row = dict(n_in=r["n_in"], n_cells=hc, n_out=r["n_out"], peep=int(peep),
                       proj=int(proj), shift_x=r["shift_x"], shift_r=r["shift_r"],
                       s_acc=r["s_acc"], s_p=r["s_p"], wf_p=r["wf_p"],
                       ptr_x=ptr[mi.KINDS.index("Wx")], ptr_r=ptr[mi.KINDS.index("Wr")])
            if proj:
                row["ptr_p"] = ptr[mi.KINDS.index("Wp")]
            self.table.append(row)
        # what the loader reads: items and read requests (regions)
        nl, n_pe = len(t["layers"]), len(t["pes"])
        n_peep = sum(bool(r["flags"] & mi.FLAG_PEEPHOLE) for r in t["layers"])
        self.items = (len(layout.header) + nl * len(layout.layer)
                      + len(t["matrices"]) * len(layout.matrix) + len(self.pw)
                      + n_pe * len(layout.pe) + len(self.ld))
        self.regions = 3 + nl + n_peep + n_pe + sum(
            (r["n_entries"] > 0) + (r["n_ptrs"] > 0) for r in t["pes"])


def patch_header(image: bytes, layout, field: str, value: int) -> bytes:
    im = bytearray(image)
    struct.pack_into("<I", im, 4 * layout.header.index(field), value)
    return bytes(im)


def patch_row(image: bytes, layout, table: str, row: int, field: str, value: int) -> bytes:
    """Set ``field`` of row ``row`` of the layer (``layers``) or PE (``pes``) table."""
    from ese.model import image as mi
    h = mi.read_tables(image, layout)["header"]
    if table == "layers":
        off = h["layer_table_offset"] + row * mi.LAYER_ROW_BYTES + 4 * layout.layer.index(field)
    else:
        off = h["pe_dir_offset"] + row * mi.PE_ROW_BYTES + 4 * layout.pe.index(field)
    im = bytearray(image)
    struct.pack_into("<I", im, off, value)
    return bytes(im)


# ----------------------------------------------------------------------------- testbench
class TB:
    """Clock, reset, the DDR model, pause generators and the load monitor."""

    def __init__(self, dut, cfg, layout, seed: int, p_pause: float):
        from cocotb.clock import Clock

        from tb.common.axi import ram_read
        self.dut, self.cfg, self.layout = dut, cfg, layout
        self.rng = random.Random(seed)
        self.nb = cfg.axi_data_bits // 8
        cocotb.start_soon(Clock(dut.clk, 5, unit="ns").start())
        self.ram = ram_read(dut, self.rng, p_pause, cfg.axi_addr_bits)
        self.stall = pauses(self.rng, p_pause)
        self.ld, self.pw = {}, {}
        self.ld_dups = 0
        self.busy_bad = []
        self.cycle = 0

    async def reset(self):
        d = self.dut
        for n in ("ldr_start", "cancel", "stall", "image_addr", "image_size", "layer_sel"):
            getattr(d, n).value = 0
        d.rst.value = 1
        for _ in range(3):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await FallingEdge(d.clk)
        cocotb.start_soon(self._stalls())
        cocotb.start_soon(self._monitor())

    async def _stalls(self):
        while True:
            await FallingEdge(self.dut.clk)
            self.dut.stall.value = int(next(self.stall))

    async def _monitor(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            # values before this edge
            self.cycle += 1
            if int(d.ld_we.value):
                key = (int(d.ld_pe.value), int(d.ld_sel.value), int(d.ld_addr.value))
                self.ld_dups += key in self.ld
                self.ld[key] = int(d.ld_data.value)
            if int(d.pw_we.value):
                self.pw[(int(d.pw_sel.value), int(d.pw_addr.value))] = int(d.pw_data.value)

    async def load(self, image: bytes, addr: int, size: int | None = None,
                   cancel_after: int | None = None, max_cycles: int = 400_000) -> dict:
        """Put ``image`` at ``addr``, start a load (IMAGE_SIZE ``size``), wait for fin.

        Returns dict(err, cycles, writes): ``writes`` the PE / parameter words written.
        With ``cancel_after``: cancel after that many cycles instead (returns err None).
        """
        d = self.dut
        self.ram.write(addr, image)
        self.ld, self.pw, self.ld_dups = {}, {}, 0
        await FallingEdge(d.clk)
        d.image_addr.value = addr
        d.image_size.value = len(image) if size is None else size
        d.ldr_start.value = 1
        await FallingEdge(d.clk)
        d.ldr_start.value = 0
        n = 1
        while True:
            busy, fin = int(d.ldr_busy.value), int(d.ldr_fin.value)
            if fin:
                assert not busy, "ldr.busy still high in the cycle of fin"
                err = int(d.ldr_err.value)
                break
            assert busy, f"ldr.busy low {n} cycles after start, before fin"
            if cancel_after is not None and n == cancel_after:
                d.cancel.value = 1
                await FallingEdge(d.clk)
                d.cancel.value = 0
                assert not int(d.ldr_busy.value), "busy after cancel"
                err = None
                break
            await FallingEdge(d.clk)
            n += 1
            assert n < max_cycles, f"watchdog: no fin within {max_cycles} cycles"
        for _ in range(2):      # the monitor's last edge
            await FallingEdge(d.clk)
        return dict(err=err, cycles=n, ld=dict(self.ld), pw=dict(self.pw), dups=self.ld_dups)

    async def check_good(self, image: bytes, res: dict, what: str) -> None:
        d, cfg = self.dut, self.cfg
        exp = Expected(image, cfg, self.layout)
        assert res["err"] == 0, f"{what}: fin with error {res['err']}"
        assert int(d.ldr_loaded.value), f"{what}: loaded low after a good load"
        assert res["dups"] == 0, f"{what}: {res['dups']} PE words written twice"
        assert res["ld"].keys() == exp.ld.keys(), \
            f"{what}: PE words written at {sorted(set(res['ld']) ^ set(exp.ld))[:5]} ..." \
            f" differ from the image's (pe, sel, addr)"
        bad = [k for k in exp.ld if res["ld"][k] != exp.ld[k]]
        assert not bad, f"{what}: PE word {bad[0]} = {res['ld'][bad[0]]:#x}, image " \
            f"{exp.ld[bad[0]]:#x} ({len(bad)} differ)"
        assert res["pw"] == exp.pw, f"{what}: parameter writes differ: " \
            f"{sorted(set(res['pw'].items()) ^ set(exp.pw.items()))[:5]}"
        assert (int(d.n_layers.value), int(d.m_n_in.value), int(d.m_n_out.value)) == \
            (exp.n_layers, exp.n_in, exp.n_out), f"{what}: model sizes"
        for k, row in enumerate(exp.table):
            d.layer_sel.value = k
            await FallingEdge(d.clk)
            got = {f: int(getattr(d, f"layer_{f}").value) for f in row}
            assert got == row, f"{what}: layer {k} row {got} != image {row}"
        d.layer_sel.value = 0

    async def check_bad(self, res: dict, code: int, what: str, writes: bool = False) -> None:
        from ese import regmap
        assert res["err"] == code, f"{what}: expected error {code} " \
            f"({regmap.ERR_NAME[code]}), got {res['err']}"
        assert not int(self.dut.ldr_loaded.value), f"{what}: loaded high after an error"
        if not writes:
            assert not res["ld"] and not res["pw"], f"{what}: memories written before the error"


def good_images(cfg, seed: int, n: int, layout) -> list:
    from ese.model.image import build_image
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        qm = random_qmodel(cfg, rng, n_layers=(k % cfg.max_layers) + 1)
        out.append(bytes(build_image(qm, cfg, layout=layout)[0]))
    return out


def place(tb: TB, rng: random.Random, image: bytes) -> int:
    """A random address for ``image`` (a multiple of the AXI word, some near 4 KB pages)."""
    nb = tb.nb
    base = rng.randrange(0, 1 << 20, nb)
    if rng.random() < 0.5:
        base = (base // 4096) * 4096 + 4096 - nb * rng.randrange(1, 4)
    return base


@cocotb.test()
async def good(dut):
    """Random good images, back to back; everything written is the image's."""
    p, cfg = tb_params(), tb_config()
    layout = make_layout(p["swaps"])
    tb = TB(dut, cfg, layout, p["seed"], p["p_pause"])
    await tb.reset()
    rng = random.Random(p["seed"])
    for k, image in enumerate(good_images(cfg, p["seed"], p["n_good"], layout)):
        addr = place(tb, rng, image)
        res = await tb.load(image, addr)
        await tb.check_good(image, res, f"image {k} at {addr:#x}")
        dut._log.info(f"image {k}: {len(image)} bytes at {addr:#x} loaded in {res['cycles']} "
                      f"cycles ({len(res['ld'])} PE words, {len(res['pw'])} parameters)")
        if p["p_pause"] == 0:
            # one item per cycle, a few cycles per read request
            exp = Expected(image, cfg, layout)
            assert res["cycles"] <= exp.items + 12 * exp.regions, \
                f"image {k}: {res['cycles']} cycles for {exp.items} items in {exp.regions} " \
                f"regions"


@cocotb.test()
async def bad(dut):
    """Every error code of the loader; the model is lost; a good load works afterwards."""
    from ese import regmap
    from ese.model import image as mi
    p, cfg = tb_params(), tb_config()
    layout = make_layout(p["swaps"])
    tb = TB(dut, cfg, layout, p["seed"] + 1, p["p_pause"])
    await tb.reset()
    rng = random.Random(p["seed"] + 1)
    E = regmap.ERR
    good = good_images(cfg, p["seed"] + 2, 2, layout)
    image = good[0]
    h = mi.read_tables(image, layout)["header"]
    hdr = lambda f, v: patch_header(image, layout, f, v)  # noqa: E731

    # a good load first: every failure below must also clear ``loaded``
    res = await tb.load(image, 0x1000)
    await tb.check_good(image, res, "first good image")

    cases = [
        ("magic", hdr("magic", 0x12345678), E["BAD_MAGIC"]),
        ("version", hdr("version", mi.FORMAT_VERSION + 1), E["BAD_MAGIC"]),
        ("header size", hdr("header_bytes", 64), E["BAD_MAGIC"]),
        ("fingerprint index_bits", hdr("index_bits", cfg.index_bits + 1), E["CONFIG_MISMATCH"]),
        ("fingerprint lut_bits", hdr("lut_bits", cfg.lut_bits - 1), E["CONFIG_MISMATCH"]),
        ("fingerprint entry word", hdr("entry_word_bytes", 6 - h["entry_word_bytes"]),
         E["CONFIG_MISMATCH"]),
        ("too many layers", hdr("n_layers", cfg.max_layers + 1), E["MODEL_TOO_LARGE"]),
        ("no layer", hdr("n_layers", 0), E["MODEL_TOO_LARGE"]),
        ("no matrix", hdr("n_matrices", 0), E["MODEL_TOO_LARGE"]),
        ("input too wide", hdr("n_in", cfg.max_input + 1), E["MODEL_TOO_LARGE"]),
        ("entries beyond the memory", hdr("max_entries_per_pe", cfg.pe_entry_depth + 1),
         E["MODEL_TOO_LARGE"]),
        ("layer wider than max_cells",
         patch_row(image, layout, "layers", 0, "n_cells", cfg.max_cells + 1),
         E["MODEL_TOO_LARGE"]),
        ("layer shift beyond max_align_shift",
         patch_row(image, layout, "layers", 0, "shift_x", cfg.max_align_shift + 1),
         E["CONFIG_MISMATCH"]),
    ]
    for what, im, code in cases:
        res = await tb.load(im, place(tb, rng, im))
        await tb.check_bad(res, code, what)
        dut._log.info(f"{what}: error {code} after {res['cycles']} cycles")

    # a PE's directory row beyond the memory: PEs before it are written, then the error
    pe = cfg.n_pe - 1
    im = patch_row(image, layout, "pes", pe, "n_entries", cfg.pe_entry_depth + 1)
    res = await tb.load(im, 0x2000)
    await tb.check_bad(res, E["MODEL_TOO_LARGE"], "PE directory entries", writes=True)
    assert {k[0] for k in res["ld"]} <= set(range(pe)), "a PE after the bad row was written"

    # the host gives an IMAGE_SIZE smaller than the image (a truncated transfer)
    res = await tb.load(image, 0x3000, size=len(image) - 64)
    await tb.check_bad(res, E["ADDR_RANGE"], "image larger than IMAGE_SIZE")
    # the image cut short in DDR after its header (the rest reads as zeros)
    cut = image[:mi.HEADER_BYTES] + bytes(len(image) - mi.HEADER_BYTES)
    res = await tb.load(cut, 0x3000)
    await tb.check_bad(res, E["MODEL_TOO_LARGE"], "image cut after its header")

    # an image made for another configuration: another PE count (fingerprint) ...
    other = cfg.replace(name="other_pe", n_pe=cfg.n_pe + 4)
    im = good_images(other, p["seed"] + 3, 1, layout)[0]
    res = await tb.load(im, 0x4000)
    await tb.check_bad(res, E["CONFIG_MISMATCH"], "image for another n_pe")
    # ... and larger memories: same fingerprint, a layer wider than ours
    bigger = cfg.replace(name="bigger", max_cells=2 * cfg.max_cells, max_proj=2 * cfg.max_proj)
    from ese.model.image import build_image
    qm = random_qmodel(bigger, np.random.default_rng(p["seed"]), n_layers=1)
    qm.layers[0] = _widen(qm.layers[0], cfg.max_cells + 3, np.random.default_rng(1), bigger)
    im = bytes(build_image(qm, bigger, layout=layout)[0])
    res = await tb.load(im, 0x8000)
    await tb.check_bad(res, E["MODEL_TOO_LARGE"], "image for larger memories")
    # an image of the other field layout (swapped header and table fields)
    other_layout = make_layout(SWAPS) if not p["swaps"] else make_layout(())
    im = good_images(cfg, p["seed"] + 4, 1, other_layout)[0]
    res = await tb.load(im, 0x5000)
    assert res["err"] != 0 and not int(dut.ldr_loaded.value), \
        "an image of another field layout was loaded"

    # still alive
    image = good[1]
    res = await tb.load(image, place(tb, rng, image))
    await tb.check_good(image, res, "good image after the errors")


def _widen(layer, h, rng, cfg):
    """``layer`` with ``h`` cells (a layer only a larger configuration accepts)."""
    from ese.model.qmodel import QLayer
    lim = (1 << (cfg.weight_bits - 1)) - 1

    def sparse(rows, cols):
        w = rng.integers(-lim, lim + 1, size=(rows, cols))
        w[rng.random((rows, cols)) >= 0.1] = 0
        return w.astype(np.int64)

    return QLayer(n_in=layer.n_in, n_cells=h, n_out=h, wx=sparse(4 * h, layer.n_in),
                  wr=sparse(4 * h, h), bias=rng.integers(-100, 100, 4 * h), wf_x=9, wf_r=9)


@cocotb.test()
async def cancel(dut):
    """A cancel while loading loses the model; the next load is complete."""
    p, cfg = tb_params(), tb_config()
    layout = make_layout(p["swaps"])
    tb = TB(dut, cfg, layout, p["seed"] + 5, p["p_pause"])
    await tb.reset()
    image, image2 = good_images(cfg, p["seed"] + 6, 2, layout)
    res = await tb.load(image, 0x1000)
    await tb.check_good(image, res, "before the cancel")
    for after in (3, res["cycles"] // 2):
        res2 = await tb.load(image2, 0x9000, cancel_after=after)
        assert res2["err"] is None and not int(dut.ldr_loaded.value), \
            f"cancel after {after} cycles: the model must be lost"
    res = await tb.load(image, 0x1000)
    await tb.check_good(image, res, "after the cancels")


# ----------------------------------------------------------------------------- pytest side
def configs():
    from ese.config import TINY
    return {
        "tiny": TINY,
        # 18-bit entries and 32-bit pointers (4-byte words: 32-bit items), 8 PEs, 128-bit AXI
        "wide": TINY.replace(name="ld_wide", n_pe=8, n_ch=3, index_bits=6, axi_data_bits=128,
                             max_layers=2, max_cells=32, max_proj=24, pe_entry_depth=70000),
    }


def _run(sim, cname, swaps=(), testcase=None, p_pause=0.3):
    from ese.hdl.convert import config_key
    cfg = configs()[cname]
    layout = make_layout(swaps)
    params = dict(cfg=cfg.to_dict(), seed=11 + len(cname), p_pause=p_pause, n_good=4,
                  swaps=[list(s) for s in swaps])
    run_cocotb("loader_bench", lambda: make_bench(cfg, layout), __name__, sim,
               config_key(cfg, {"swaps": repr(swaps)}), params, testcase=testcase,
               test_name=f"{cname}-{'swapped' if swaps else 'standard'}-{p_pause}")


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", ["tiny", "wide"])
def test_loader(sim, cname):
    _run(sim, cname)


@pytest.mark.rtl
def test_loader_no_pauses():
    """Without pauses the load streams at one item per cycle (about image bytes / 2)."""
    _run("verilator", "tiny", testcase="good", p_pause=0.0)


@pytest.mark.rtl
def test_loader_layout():
    """Fields moved in model/image.py's layout: the writer, the reader and the RTL follow."""
    _run("icarus", "tiny", swaps=SWAPS)
