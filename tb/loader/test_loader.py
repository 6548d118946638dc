"""loader: memory images from DDR into the PE memories, parameter memories and layer table.

DUT (``loader_bench`` below): ``loader`` + ``rdport`` + ``mem_reader`` +
``read_mux``, the read path of ``ese_top``, with the AXI read channels as
ports (cocotbext-axi's ``AxiRamRead`` is the DDR) and a ``stall`` input that
holds both streams into the loader (the read port's items and the beat
port's words): backpressure.  Random pauses on AR and R (read latency) and on
the streams in every test but the speed ones.

What is expected comes from ``model/image.py``'s *reader* alone
(``read_tables``, ``pe_memories``, ``read_image``), never from the loader:

* ``good``: random models (1..max_layers layers, peepholes and projection on
  and off, sizes the PE count does not divide) loaded at random aligned
  addresses, several back to back: every ``LoadBeat`` write (group, pointer or
  entry row, address) exactly once with the beat the PE memories of the image
  make (word j = PE group*G + j's pointer or entry, 0 past its count) and
  nothing else, every bias and peephole cell word at ``layer*max_cells + cell``,
  the layer table (sizes, flags, shifts, first matrix, the row shifts from the
  matrix table), the model sizes, ``fin`` with code 0, ``loaded``, ``busy``
  exactly from start to fin; without pauses the load takes no more cycles than
  its items, cell words and beats plus a few per region (``REGION_CYCLES``);
* ``bad``: each error code of the loader (``ese/regmap.py``): BAD_MAGIC
  (magic, version, header size), CONFIG_MISMATCH (fingerprint fields, an image
  made for another PE count or bus width, a layer shift beyond the
  configuration), MODEL_TOO_LARGE (layers, matrices, widths, PE rows beyond the
  memory, matrix rows that do not match the layer table, an image made for a
  configuration with larger memories), MISALIGNED (a table, parameter or PE
  region offset), ADDR_RANGE (the image larger than IMAGE_SIZE, a region
  beyond the image), an image cut short in DDR, an image of another field
  layout; after each ``loaded`` is low and no memory was written when the
  header or the tables were wrong; a good load after all of them works;
* ``cancel``: a cancel in the middle of a load (tables, parameters, PE beats)
  loses the model, the words still due are drained; the next load works;
* ``speed``: on a 512-bit bus, a load takes <= 1.25 x image bytes / beat bytes
  cycles (issue 11), without pauses.

``test_loader_layout`` elaborates the loader for a ``model.image.Layout``
with swapped header, layer- and matrix-table fields and loads images built
with that layout: the model writer and the RTL move together.
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
SWAPS = (("header", "n_layers", "n_in"), ("header", "layer_table_offset", "pe_offset"),
         ("header", "pe_rows", "max_entries_per_pe"), ("layer", "n_cells", "bias_offset"),
         ("layer", "flags", "first_matrix"), ("matrix", "layer", "row_shift"))

#: the bound of issue 11: load cycles <= SPEED_BOUND x image bytes / beat bytes
SPEED_BOUND = 1.25
#: cycles per region beyond one per item, cell word and beat, without pauses: the command
#: and the AXI round trip (~8), and after a table region the pipelined checks (5 cycles:
#: the item register, the decoders, the matrix-row check, the next region's extent)
REGION_CYCLES = 16


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
    from ese.hdl.loader import loader, read_mux
    from ese.hdl.mem_reader import mem_reader
    from ese.hdl.rdport import rdport

    @block
    def loader_bench(clk, rst, cancel, image_addr, image_size, stall, n_layers, m_n_in, m_n_out,
                     lsel, ldr, ld, pw, lrow, m_axi, cfg, layout):
        rq = ReadReq(cfg)
        items = ItemStream(cfg)                     # from the read port
        li = items.view(valid=Signal(bool(0)), ready=Signal(bool(0)))   # to the loader
        rp_cmd, rp_m = MemCmd(cfg), WordStream(cfg)
        bcmd, beat = MemCmd(cfg), WordStream(cfg)   # the beat port, mux side
        lb = beat.view(valid=Signal(bool(0)), ready=Signal(bool(0)))    # to the loader
        mr_cmd, mr_o = MemCmd(cfg), WordStream(cfg, last=True)
        bsel, rp_busy, mr_busy, mr_done, rd_err = (Signal(bool(0)) for _ in range(5))
        rd_code = uint(4).signal()
        i_ld = loader(clk, rst, ldr, cancel, image_addr, image_size, rq, li, bcmd, lb, bsel,
                      mr_busy, ld, pw, n_layers, m_n_in, m_n_out, lsel, lrow, cfg=cfg,
                      layout=layout)
        i_rp = rdport(clk, rst, cancel, rq, items, rp_busy, rp_cmd, rp_m, mr_busy, cfg=cfg)
        i_mx = read_mux(bsel, rp_cmd, rp_m, bcmd, beat, mr_cmd, mr_o.without_last())
        i_mr = mem_reader(clk, rst, mr_cmd, mr_o, mr_done, rd_err, rd_code, mr_busy, m_axi,
                          cfg=cfg)

        @always_comb
        def gate():
            # backpressure: both streams into the loader pause while ``stall`` is high
            li.valid.next = items.valid and not stall
            items.ready.next = li.ready and not stall
            lb.valid.next = beat.valid and not stall
            beat.ready.next = lb.ready and not stall

        return i_ld, i_rp, i_mx, i_mr, gate

    return loader_bench


def make_bench(cfg, layout):
    from myhdl import Signal

    from ese.hdl import loader as hl
    from ese.hdl.interfaces import AxiRead
    p = hl.ports(cfg)
    for k in ("req", "i", "bcmd", "beat", "bsel", "m_busy"):
        del p[k]
    return loader_bench_block()(**p, stall=Signal(bool(0)), m_axi=AxiRead(cfg), cfg=cfg,
                                layout=layout)


# ----------------------------------------------------------------------------- expectations
def random_qmodel(cfg, rng, n_layers=None, big=False):
    """A random QModel that fits ``cfg`` (sizes n_pe does not divide, every option mixed).

    ``big``: every layer as wide as the configuration allows, denser (the speed test).
    """
    from ese.model.qmodel import QLayer, QModel

    def sparse(rows, cols):
        lim = (1 << (cfg.weight_bits - 1)) - 1
        w = rng.integers(-lim, lim + 1, size=(rows, cols))
        dens = 0.5 if big else rng.choice([0.05, 0.2, 0.5])
        w[rng.random((rows, cols)) >= dens] = 0
        return w.astype(np.int64)

    nl = n_layers or int(rng.integers(1, cfg.max_layers + 1))
    cap = 1 << 30 if big else 24
    layers, n_in = [], cfg.max_input if big else int(rng.integers(1, min(24, cfg.max_input) + 1))
    for _ in range(nl):
        h = min(cfg.max_cells, cap) if big else int(rng.integers(1, min(20, cfg.max_cells) + 1))
        proj = True if big else bool(rng.integers(0, 2))
        p = (min(cfg.max_proj, cap) if big else int(rng.integers(1, min(16, cfg.max_proj) + 1))) \
            if proj else h
        if not proj and h > cfg.max_proj:
            h = p = cfg.max_proj
        peep = True if big else bool(rng.integers(0, 2))
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


def cell_word(values) -> int:
    """Four int16 values as the 64-bit cell word of ``pw.data`` (value g in bits 16g ..)."""
    return sum((int(v) & 0xFFFF) << (16 * g) for g, v in enumerate(values))


class Expected:
    """What a load of ``image`` must leave behind, read with model/image.py's reader."""

    def __init__(self, image: bytes, cfg, layout):
        from ese.model import image as mi
        t = mi.read_tables(image, layout)
        h, self.header = t["header"], t["header"]
        self.n_layers, self.n_in, self.n_out = h["n_layers"], h["n_in"], h["n_out"]
        # LoadBeat writes: (group, sel, address) -> the beat of the group's PE words
        G, w8 = h["pe_group"], 8 * h["pe_word_bytes"]
        mems = mi.pe_memories(image, h)
        self.ld = {}
        rows_e = h["max_entries_per_pe"]
        for g in range(-(-h["n_pe"] // G)):
            pes = [(j, mems[g * G + j]) for j in range(G) if g * G + j < h["n_pe"]]
            for a in range(h["n_matrices"] + 1):
                self.ld[(g, 1, a)] = sum(int(ptr[a]) << (j * w8) for j, (_, ptr) in pes)
            for a in range(rows_e):
                self.ld[(g, 0, a)] = sum(int(ent[a]) << (j * w8) for j, (ent, _) in pes
                                         if a < len(ent))
        # cell words, from the integer model the image holds
        qm = mi.read_image(image, {"config": cfg.to_dict()}, layout)
        self.pw = {}
        for k, lay in enumerate(qm.layers):
            for c in range(lay.n_cells):
                self.pw[(0, k * cfg.max_cells + c)] = cell_word(lay.bias[4 * c:4 * c + 4])
                if lay.has_peep:
                    self.pw[(1, k * cfg.max_cells + c)] = cell_word(
                        [lay.peep[g, c] for g in range(3)] + [0])
        self.table = []
        for k, r in enumerate(t["layers"]):
            rs = {m["kind"]: m["row_shift"] for m in t["matrices"] if m["layer"] == k}
            peep, proj = bool(r["flags"] & mi.FLAG_PEEPHOLE), bool(r["flags"] & mi.FLAG_PROJECTION)
            row = dict(n_in=r["n_in"], n_cells=r["n_cells"], n_out=r["n_out"], peep=int(peep),
                       proj=int(proj), shift_x=r["shift_x"], shift_r=r["shift_r"],
                       s_acc=r["s_acc"], s_p=r["s_p"], wf_p=r["wf_p"], mat=r["first_matrix"],
                       rs_x=rs[mi.KINDS.index("Wx")], rs_r=rs[mi.KINDS.index("Wr")])
            if proj:
                row["rs_p"] = rs[mi.KINDS.index("Wp")]
            self.table.append(row)
        # what the loader reads: table items, cell words, PE beats and regions
        nl, nm = len(t["layers"]), len(t["matrices"])
        self.work = (len(layout.header) + nl * len(layout.layer) + nm * len(layout.matrix)
                     + len(self.pw) + len(self.ld))
        self.regions = 3 + nl + sum(bool(r["flags"] & mi.FLAG_PEEPHOLE) for r in t["layers"]) + 1


def patch_header(image: bytes, layout, field: str, value: int) -> bytes:
    im = bytearray(image)
    struct.pack_into("<I", im, 4 * layout.header.index(field), value)
    return bytes(im)


def patch_row(image: bytes, layout, table: str, row: int, field: str, value: int) -> bytes:
    """Set ``field`` of row ``row`` of the layer (``layer``) or matrix (``matrix``) table."""
    from ese.model import image as mi
    h = mi.read_tables(image, layout)["header"]
    if table == "layer":
        off = h["layer_table_offset"] + row * mi.LAYER_ROW_BYTES
    else:
        off = h["matrix_table_offset"] + row * mi.MATRIX_ROW_BYTES
    im = bytearray(image)
    struct.pack_into("<i", im, off + 4 * getattr(layout, table).index(field), value)
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
        self.cycle = 0

    async def reset(self):
        d = self.dut
        for n in ("ldr_start", "cancel", "stall", "image_addr", "image_size", "lsel"):
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
                key = (int(d.ld_grp.value), int(d.ld_sel.value), int(d.ld_addr.value))
                self.ld_dups += key in self.ld
                self.ld[key] = int(d.ld_data.value)
            if int(d.pw_we.value):
                self.pw[(int(d.pw_sel.value), int(d.pw_addr.value))] = int(d.pw_data.value)

    async def load(self, image: bytes, addr: int, size: int | None = None,
                   cancel_after: int | None = None, max_cycles: int = 400_000) -> dict:
        """Put ``image`` at ``addr``, start a load (IMAGE_SIZE ``size``), wait for fin.

        Returns dict(err, cycles, ld, pw, dups).  With ``cancel_after``: cancel after
        that many cycles instead, wait for busy to fall (the drain); err None.
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
                k = 0
                while int(d.ldr_busy.value):          # the drain of the beat port
                    await FallingEdge(d.clk)
                    k += 1
                    assert k < 5000, "busy did not fall after a cancel"
                assert not int(d.ldr_fin.value), "fin after a cancel"
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
        assert res["dups"] == 0, f"{what}: {res['dups']} PE beats written twice"
        assert res["ld"].keys() == exp.ld.keys(), \
            f"{what}: PE beats written at {sorted(set(res['ld']) ^ set(exp.ld))[:5]} ..." \
            f" differ from the image's (group, sel, addr)"
        bad = [k for k in exp.ld if res["ld"][k] != exp.ld[k]]
        assert not bad, f"{what}: PE beat {bad[0]} = {res['ld'][bad[0]]:#x}, image " \
            f"{exp.ld[bad[0]]:#x} ({len(bad)} differ)"
        assert res["pw"] == exp.pw, f"{what}: parameter writes differ: " \
            f"{sorted(set(res['pw'].items()) ^ set(exp.pw.items()))[:5]}"
        assert (int(d.n_layers.value), int(d.m_n_in.value), int(d.m_n_out.value)) == \
            (exp.n_layers, exp.n_in, exp.n_out), f"{what}: model sizes"
        for k, row in enumerate(exp.table):
            d.lsel.value = k
            await FallingEdge(d.clk)
            got = {f: int(getattr(d, f"lrow_{f}").value) for f in row}
            assert got == row, f"{what}: layer {k} row {got} != image {row}"
        d.lsel.value = 0

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
        exp = Expected(image, cfg, layout)
        dut._log.info(f"image {k}: {len(image)} bytes at {addr:#x} loaded in {res['cycles']} "
                      f"cycles ({len(res['ld'])} PE beats, {len(res['pw'])} cell words)")
        if p["p_pause"] == 0:
            # one item, cell word or beat per cycle, a few cycles per region
            assert res["cycles"] <= exp.work + REGION_CYCLES * exp.regions, \
                f"image {k}: {res['cycles']} cycles for {exp.work} items, cell words and " \
                f"beats in {exp.regions} regions"


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
    t = mi.read_tables(image, layout)
    h = t["header"]
    hdr = lambda f, v: patch_header(image, layout, f, v)  # noqa: E731
    lrow = lambda f, v: patch_row(image, layout, "layer", 0, f, v)  # noqa: E731
    mrow = lambda f, v: patch_row(image, layout, "matrix", 0, f, v)  # noqa: E731
    nb, nm = tb.nb, h["n_matrices"]

    # a good load first: every failure below must also clear ``loaded``
    res = await tb.load(image, 0x1000)
    await tb.check_good(image, res, "first good image")

    cases = [
        ("magic", hdr("magic", 0x12345678), E["BAD_MAGIC"]),
        ("version", hdr("version", mi.FORMAT_VERSION - 1), E["BAD_MAGIC"]),
        ("header size", hdr("header_bytes", 64), E["BAD_MAGIC"]),
        ("fingerprint index_bits", hdr("index_bits", cfg.index_bits + 1), E["CONFIG_MISMATCH"]),
        ("fingerprint lut_bits", hdr("lut_bits", cfg.lut_bits - 1), E["CONFIG_MISMATCH"]),
        ("fingerprint PE word", hdr("pe_word_bytes", 6 - h["pe_word_bytes"]),
         E["CONFIG_MISMATCH"]),
        ("fingerprint PE group", hdr("pe_group", 2 * h["pe_group"]), E["CONFIG_MISMATCH"]),
        ("too many layers", hdr("n_layers", cfg.max_layers + 1), E["MODEL_TOO_LARGE"]),
        ("no layer", hdr("n_layers", 0), E["MODEL_TOO_LARGE"]),
        ("no matrix", hdr("n_matrices", 0), E["MODEL_TOO_LARGE"]),
        ("a matrix short", hdr("n_matrices", 2 * h["n_layers"] - 1), E["MODEL_TOO_LARGE"]),
        ("input too wide", hdr("n_in", cfg.max_input + 1), E["MODEL_TOO_LARGE"]),
        ("entries beyond the memory", hdr("max_entries_per_pe", cfg.pe_entry_depth + 1),
         E["MODEL_TOO_LARGE"]),
        ("PE rows beyond the memory", hdr("pe_rows", nm + 2 + cfg.pe_entry_depth),
         E["MODEL_TOO_LARGE"]),
        ("PE rows without entries", hdr("pe_rows", nm), E["MODEL_TOO_LARGE"]),
        ("PE region misaligned", hdr("pe_offset", h["pe_offset"] + nb // 2), E["MISALIGNED"]),
        ("layer table misaligned", hdr("layer_table_offset", h["layer_table_offset"] + 2),
         E["MISALIGNED"]),
        ("image larger than its header says", hdr("image_bytes", len(image) + 10 * nb),
         E["ADDR_RANGE"]),
        ("layer wider than max_cells", lrow("n_cells", cfg.max_cells + 1), E["MODEL_TOO_LARGE"]),
        ("layer shift beyond max_align_shift", lrow("shift_x", cfg.max_align_shift + 1),
         E["CONFIG_MISMATCH"]),
        ("first matrix beyond the table", lrow("first_matrix", cfg.max_matrices),
         E["MODEL_TOO_LARGE"]),
        ("first matrix not the layer's", lrow("first_matrix", 1), E["MODEL_TOO_LARGE"]),
        ("bias region misaligned", lrow("bias_offset", t["layers"][0]["bias_offset"] + 4),
         E["MISALIGNED"]),
        ("bias region beyond the image", lrow("bias_offset", len(image)), E["ADDR_RANGE"]),
        ("matrix wider than max_cols", mrow("cols", cfg.max_cols + 1), E["MODEL_TOO_LARGE"]),
        ("row shift beyond max_row_shift", mrow("row_shift", cfg.max_row_shift + 1),
         E["MODEL_TOO_LARGE"]),
        ("matrix of another kind", mrow("kind", 1), E["MODEL_TOO_LARGE"]),
        ("matrix of no layer", mrow("layer", h["n_layers"]), E["MODEL_TOO_LARGE"]),
    ]
    for what, im, code in cases:
        res = await tb.load(im, place(tb, rng, im))
        await tb.check_bad(res, code, what)
        dut._log.info(f"{what}: error {code} after {res['cycles']} cycles")

    # the PE region beyond the image: the parameters are written, then the error
    im = hdr("pe_offset", len(image) - nb)
    res = await tb.load(im, 0x2000)
    await tb.check_bad(res, E["ADDR_RANGE"], "PE region beyond the image", writes=True)
    assert res["pw"] and not res["ld"], "the PE region was read"

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
    # ... another bus width (the PE group) ...
    other = cfg.replace(name="other_bus", axi_data_bits=2 * cfg.axi_data_bits)
    im = good_images(other, p["seed"] + 3, 1, layout)[0]
    res = await tb.load(im, 0x4000)
    await tb.check_bad(res, E["CONFIG_MISMATCH"], "image for another bus width")
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
    """A cancel while loading (tables, parameters, PE beats) loses the model; the next
    load is complete."""
    p, cfg = tb_params(), tb_config()
    layout = make_layout(p["swaps"])
    tb = TB(dut, cfg, layout, p["seed"] + 5, p["p_pause"])
    await tb.reset()
    image, image2 = good_images(cfg, p["seed"] + 6, 2, layout)
    res = await tb.load(image2, 0x9000)
    await tb.check_good(image2, res, "before the cancel")
    n = res["cycles"]
    for after in (3, 40, n // 3, 2 * n // 3):     # tables, parameters, PE beats
        res2 = await tb.load(image2, 0x9000, cancel_after=after)
        assert res2["err"] is None and not int(dut.ldr_loaded.value), \
            f"cancel after {after} cycles: the model must be lost"
        res = await tb.load(image, 0x1000)
        await tb.check_good(image, res, f"after a cancel at cycle {after}")


@cocotb.test()
async def speed(dut):
    """Large models on the bench's bus without pauses: load cycles <= 1.25 x beats."""
    p, cfg = tb_params(), tb_config()
    if not p.get("speed"):
        return
    from ese.model.image import build_image
    layout = make_layout(p["swaps"])
    tb = TB(dut, cfg, layout, p["seed"] + 7, 0.0)
    await tb.reset()
    rng = np.random.default_rng(p["seed"] + 7)
    for k in range(2):
        qm = random_qmodel(cfg, rng, n_layers=k + 1, big=True)
        image = bytes(build_image(qm, cfg, layout=layout)[0])
        res = await tb.load(image, 0x10000)
        await tb.check_good(image, res, f"speed model {k}")
        beats = len(image) / tb.nb
        dut._log.info(f"speed model {k}: {len(image)} bytes = {beats:.0f} beats loaded in "
                      f"{res['cycles']} cycles ({len(image) / res['cycles']:.1f} bytes/cycle, "
                      f"bus {tb.nb}; {res['cycles'] / beats:.3f} cycles per beat)")
        assert res["cycles"] <= SPEED_BOUND * beats, \
            f"speed model {k}: {res['cycles']} cycles > {SPEED_BOUND} x {beats:.0f} beats"


@cocotb.test()
async def image_file(dut):
    """One image from a file, loaded without pauses and checked; its cycles written out
    (:func:`measure_load`)."""
    import json
    p, cfg = tb_params(), tb_config()
    if not p.get("image_file"):
        return
    from pathlib import Path
    layout = make_layout(p["swaps"])
    image = Path(p["image_file"]).read_bytes()
    tb = TB(dut, cfg, layout, p["seed"], 0.0)
    await tb.reset()
    res = await tb.load(image, 0x10000, max_cycles=4 * len(image) // tb.nb + 10_000)
    if p.get("check", True):
        await tb.check_good(image, res, p["image_file"])
    assert res["err"] == 0, f"{p['image_file']}: error {res['err']}"
    Path(p["out"]).write_text(json.dumps({"cycles": res["cycles"], "bytes": len(image)}))


def measure_load(cfg, image: bytes, sim: str = "verilator", check: bool = True) -> dict:
    """Cycles to load ``image`` on the loader's read path: ``loader`` + ``rdport`` +
    ``read_mux`` + ``mem_reader`` against an AXI RAM without pauses (the same path and
    RAM model as ``ese_top`` under ``ese infer --engine rtl``; its LOAD_CYCLES is this
    plus the cycle of the controller's start pulse).  For configurations whose whole
    top is too large to convert or simulate.  ``check``: also check every write against
    model/image.py.  Returns ``ese.perf.load_figures`` of the load."""
    import json
    import tempfile

    from ese import perf
    from ese.hdl.convert import config_key
    from tb.common.runner import BUILD
    work = BUILD.parent / "load_runs"
    work.mkdir(parents=True, exist_ok=True)
    layout = make_layout(())
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        f, out = f"{tmp}/image.bin", f"{tmp}/out.json"
        with open(f, "wb") as fh:
            fh.write(image)
        params = dict(cfg=cfg.to_dict(), seed=1, p_pause=0.0, swaps=[], image_file=f, out=out,
                      check=check)
        run_cocotb("loader_bench", lambda: make_bench(cfg, layout), __name__, sim,
                   config_key(cfg, {"swaps": repr(())}), params, testcase="image_file",
                   test_name="image_file")
        res = json.loads(open(out).read())
    return perf.load_figures(res["cycles"], res["bytes"], cfg.axi_data_bits)


# ----------------------------------------------------------------------------- pytest side
def configs():
    from ese.config import TINY
    return {
        "tiny": TINY,
        # 18-bit entries and 17-bit pointers (4-byte PE words), 8 PEs, 128-bit AXI: groups
        # of 4 PEs
        "wide": TINY.replace(name="ld_wide", n_pe=8, n_ch=3, index_bits=6, axi_data_bits=128,
                             max_layers=2, max_cells=32, max_proj=24, pe_entry_depth=70000),
        # a 512-bit bus (16 PEs of 4-byte words per beat, 8 cell words per beat), 2 groups
        "bus512": TINY.replace(name="ld_bus512", n_pe=32, index_bits=6, axi_data_bits=512,
                               max_layers=2, pe_entry_depth=2048),
    }


def _run(sim, cname, swaps=(), testcase=None, p_pause=0.3, speed=False):
    from ese.hdl.convert import config_key
    cfg = configs()[cname]
    layout = make_layout(swaps)
    params = dict(cfg=cfg.to_dict(), seed=11 + len(cname), p_pause=p_pause, n_good=4,
                  swaps=[list(s) for s in swaps], speed=speed)
    tc = testcase if isinstance(testcase, str) or testcase is None else "+".join(testcase)
    run_cocotb("loader_bench", lambda: make_bench(cfg, layout), __name__, sim,
               config_key(cfg, {"swaps": repr(swaps)}), params, testcase=testcase,
               test_name=f"{cname}-{'swapped' if swaps else 'standard'}-{p_pause}-{tc}")


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cname", ["tiny", "wide"])
def test_loader(sim, cname):
    _run(sim, cname, testcase=["good", "bad", "cancel"])


@pytest.mark.rtl
def test_loader_no_pauses():
    """Without pauses the load streams at one item, cell word or beat per cycle."""
    _run("verilator", "tiny", testcase="good", p_pause=0.0)


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
def test_loader_bus512(sim):
    """A 512-bit bus: good images with pauses, then the load-speed bound of issue 11."""
    _run(sim, "bus512", testcase="good")
    _run(sim, "bus512", testcase="speed", p_pause=0.0, speed=True)


@pytest.mark.rtl
def test_loader_layout():
    """Fields moved in model/image.py's layout: the writer, the reader and the RTL follow."""
    _run("icarus", "tiny", swaps=SWAPS, testcase=["good", "bad"])
