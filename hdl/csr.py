"""AXI4-Lite register block, generated from the register map ``ese/regmap.py``.

The block holds no hand-written register list: at elaboration it loops over
``regmap.REGS`` and builds flat bit masks (which bits are RW, W1P, RW1C,
stored, cleared by START / SOFT_RESET, their reset values) and three
concatenations that place every field's source at its bit position in a flat
``32*N``-bit vector (``N`` = words of the map): the read value of every
register (stored bits, live inputs, configuration constants), the
hardware-set enables and the hardware-set values.  Register ``k`` (byte
offset ``4k``) is bits ``32k+31 .. 32k`` of these vectors.

Ports
-----
clk, rst                      clock; synchronous active-high reset
s_axil                        ``AxiLite`` (hdl/interfaces.py): the AXI4-Lite slave,
                              addresses lite_addr_bits wide; bresp/rresp always OKAY

Towards the controller (names and widths come from the map:
``regmap.OUT_PORTS`` / ``regmap.IN_PORTS``):

out  image_addr [64], image_size [32]   IMAGE_ADDR_HI:LO, IMAGE_SIZE
out  in_addr [64], out_addr [64]        IN_ADDR_HI:LO, OUT_ADDR_HI:LO
out  frames [32], batch [32]            FRAMES, BATCH (checked by the controller)
out  start, soft_reset                  one-cycle pulses (CTRL.START / SOFT_RESET written 1)
out  load                               CTRL.LOAD (level)
out  irq                                |(IRQ_STATUS & IRQ_EN), combinational from flip-flops
in   busy                               STATUS.BUSY (live)
in   done                               pulse: sets STATUS.DONE and IRQ_STATUS.DONE
in   error, err_code [8]                pulse + code: sets STATUS.ERROR, IRQ_STATUS.ERROR,
                                        loads STATUS.ERR_CODE
in   cycles [64], macs [64], stalls [64]  counters shown in CYCLES/MAC/STALL_HI:LO (live)

Parameters
----------
lite_addr_bits   AXI4-Lite address width (>= regmap.min_addr_bits())
cfg              the Config (HWCFG constants)

Behaviour
---------
* AW and W are accepted independently in any order (one of each is held);
  the register write happens once both are held and no response is pending,
  then ``bvalid`` rises and stays until ``bready``.  ``wstrb`` byte enables
  apply to RW, RW1C and W1P bits alike.
* A read takes the address when no read data is pending (``arready =
  !rvalid``) and answers the next cycle; ``rvalid`` stays until ``rready``.
* Addresses outside the map (and holes) read 0; writes to them are ignored;
  both answer OKAY.  Address bits 1:0 are ignored.
* Same-cycle conflicts: a hardware set (``done``/``error``) wins over a clear
  by START, SOFT_RESET or a write-1-to-clear.

Timing::

    clk        _/~\\_/~\\_/~\\_/~\\_/~\\_
    awvalid    _/~~~\\___________      (W may come before, with or after AW)
    wvalid     _/~~~\\___________
    (held)     _____/~~~\\_______      register written on this edge ->
    bvalid     _________/~~~\\___      (bready high)
    start      _________/~~~\\___      W1P pulse: exactly one cycle

    arvalid    _/~~~\\_______
    rvalid     _____/~~~\\___          rdata valid (rready high)

Latency: write to output 2 cycles after the later of AW/W handshakes; read
data one cycle after the AR handshake; ``done``/``error`` visible in STATUS
the cycle after the pulse.
"""

from myhdl import ConcatSignal, Signal, always_comb, always_seq, block, intbv, modbv

from ese import regmap

from .interfaces import AxiLite, clock_reset, uint


@block
def csr(clk, rst, s_axil, image_addr, image_size, in_addr, out_addr, frames, batch,
        start, soft_reset, load, irq, busy, done, error, err_code, cycles, macs, stalls,
        cfg, lite_addr_bits):
    regmap.check(cfg)
    AB = lite_addr_bits
    assert AB >= regmap.min_addr_bits(), \
        f"csr: lite_addr_bits={AB} cannot reach the register map ({regmap.span()} bytes " \
        f"need >= {regmap.min_addr_bits()} bits)"
    AxiLite.check(s_axil, cfg, "csr s_axil", addr_bits=AB)

    ports = dict(image_addr=image_addr, image_size=image_size, in_addr=in_addr,
                 out_addr=out_addr, frames=frames, batch=batch, start=start,
                 soft_reset=soft_reset, load=load, irq=irq, busy=busy, done=done,
                 error=error, err_code=err_code, cycles=cycles, macs=macs, stalls=stalls)
    for name, width in {**regmap.OUT_PORTS, **regmap.IN_PORTS}.items():
        assert name in ports, f"csr: the register map names port {name!r} the block lacks"
        assert len(ports[name]) == width, \
            f"csr: port {name} must be {width} bits (register map), got {len(ports[name])}"

    # ---- flat masks and concatenations from the table ------------------------
    NW = regmap.span() // 4          # words (holes included)
    W = 32 * NW
    IW = max(1, (NW - 1).bit_length()) if NW > 1 else 1
    rw_m = w1p_m = rw1c_m = store_m = reset_v = start_clr = srst_clr = 0
    rd_pieces, en_pieces, val_pieces = {}, {}, {}   # flat lsb -> (width, piece)
    out_span = {}                                   # port -> (flat hi, flat lo)
    for r in regmap.REGS:
        base = 8 * r.offset
        for f in r.fields:
            lo = base + f.lsb
            m = f.mask << base
            if f.access == "RW":
                rw_m |= m
            elif f.access == "W1P":
                w1p_m |= m
            elif f.access == "RW1C":
                rw1c_m |= m
            if f.stored:
                store_m |= m
                reset_v |= f.reset << lo
            if f.clear_on_start:
                start_clr |= m
            if f.set_by is not None:
                srst_clr |= m
                en_pieces[lo] = (f.width, [ports[f.set_by]] * f.width)
                val_pieces[lo] = (f.width, [ports[f.set_value]] if f.set_value
                                  else [intbv((1 << f.width) - 1)[f.width:]])
            # read value
            if f.stored:
                rd_pieces[lo] = (f.width, None)      # filled from `store` below
            elif f.const is not None:
                rd_pieces[lo] = (f.width, [intbv(int(f.const(cfg)))[f.width:]])
            elif f.access == "RO":
                p = ports[f.port]
                if len(p) == f.width and f.port_lsb == 0:
                    rd_pieces[lo] = (f.width, [p])
                else:
                    rd_pieces[lo] = (f.width, [p(f.port_lsb + f.width, f.port_lsb)])
            # RW output ports: each must be one contiguous run of the flat vector
            if f.access == "RW" and f.port is not None:
                hi_, lo_ = out_span.get(f.port, (lo + f.width, lo))
                if f.port_lsb == 0:
                    hi_, lo_ = max(hi_, lo + f.width), lo
                else:
                    hi_ = max(hi_, lo + f.width)
                out_span[f.port] = (hi_, lo_)
    for name, (hi_, lo_) in out_span.items():
        assert hi_ - lo_ == len(ports[name]), \
            f"csr: port {name} is not one contiguous run of registers in the map"
    ctrl_base = 8 * regmap.ADDR["CTRL"]
    START_BIT = ctrl_base + regmap.FIELD["CTRL"]["START"].lsb
    SRST_BIT = ctrl_base + regmap.FIELD["CTRL"]["SOFT_RESET"].lsb
    IEN = 8 * regmap.ADDR["IRQ_EN"]
    IST = 8 * regmap.ADDR["IRQ_STATUS"]
    ia_hi, ia_lo = out_span["image_addr"]
    is_hi, is_lo = out_span["image_size"]
    in_hi, in_lo = out_span["in_addr"]
    on_hi, on_lo = out_span["out_addr"]
    fr_hi, fr_lo = out_span["frames"]
    ba_hi, ba_lo = out_span["batch"]
    LOAD_BIT = out_span["load"][1]

    # constant masks as W-bit signals that are never driven (converted to
    # `assign X = W'h...;`, so every operand of the register logic is W bits)
    rw_mask, rw1c_mask, store_mask = (Signal(intbv(v)[W:]) for v in (rw_m, rw1c_m, store_m))
    keep_start = Signal(intbv(~start_clr & (2**W - 1))[W:])
    keep_srst = Signal(intbv(~srst_clr & (2**W - 1))[W:])
    store = Signal(modbv(reset_v)[W:])

    def concat(pieces, fill_store):
        """Pieces (msb first) covering W bits; gaps are zero constants."""
        out, pos = [], W
        for lo in sorted(pieces, reverse=True):
            w, p = pieces[lo]
            if lo + w < pos:
                out.append(intbv(0)[pos - lo - w:])
            if p is None:
                if not fill_store:
                    out.append(intbv(0)[w:])
                else:   # a bit shadow for 1-bit fields (a 1-bit slice converts to x[a:b][0])
                    out.append(store(lo) if w == 1 else store(lo + w, lo))
            else:
                out.extend(p)
            pos = lo
        if pos > 0:
            out.append(intbv(0)[pos:])
        if len(out) == 1:
            out.append(intbv(0)[0:])
        return out

    rd_flat = ConcatSignal(*concat(rd_pieces, True))
    hw_en = ConcatSignal(*concat(en_pieces, False))
    hw_val = ConcatSignal(*concat(val_pieces, False))
    assert len(rd_flat) == W and len(hw_en) == W and len(hw_val) == W

    # ---- AXI4-Lite handshakes ------------------------------------------------------
    aw_full = Signal(bool(0))
    w_full = Signal(bool(0))
    aw_idx = Signal(intbv(0)[AB - 2:])
    w_data = Signal(intbv(0)[32:])
    w_strb = Signal(intbv(0)[4:])
    bvalid = Signal(bool(0))
    rvalid = Signal(bool(0))
    rdata = Signal(intbv(0)[32:])
    do_write = Signal(bool(0))
    strb32 = Signal(intbv(0)[32:])

    @always_comb
    def handshake():
        s_axil.awready.next = not aw_full
        s_axil.wready.next = not w_full
        s_axil.arready.next = not rvalid
        s_axil.bvalid.next = bvalid
        s_axil.rvalid.next = rvalid
        s_axil.rdata.next = rdata
        s_axil.bresp.next = 0
        s_axil.rresp.next = 0
        do_write.next = aw_full and w_full and not bvalid

    @always_comb
    def strobes():
        m = intbv(0)[32:]
        for i in range(32):
            m[i] = w_strb[i // 8]
        strb32.next = m

    @always_seq(clk.posedge, reset=rst)
    def axi():
        t = modbv(0)[32:]
        if s_axil.awvalid and not aw_full:
            aw_full.next = 1
            aw_idx.next = s_axil.awaddr[AB:2]
        if s_axil.wvalid and not w_full:
            w_full.next = 1
            w_data.next = s_axil.wdata
            w_strb.next = s_axil.wstrb
        if do_write:
            aw_full.next = 0
            w_full.next = 0
            bvalid.next = 1
        elif bvalid and s_axil.bready:
            bvalid.next = 0
        if s_axil.arvalid and not rvalid:
            rvalid.next = 1
            t[:] = rd_flat >> (32 * s_axil.araddr[AB:2])    # keeps the low 32 bits
            rdata.next = t
        elif rvalid and s_axil.rready:
            rvalid.next = 0

    # ---- register file -------------------------------------------------------
    @always_seq(clk.posedge, reset=rst)
    def regs():
        nxt = modbv(0)[W:]
        bm = modbv(0)[W:]
        wd = modbv(0)[W:]
        nxt[:] = store
        bm[:] = 0
        wd[:] = 0
        if do_write:
            bm[32:0] = strb32
            bm[:] = bm << (32 * aw_idx)
            wd[32:0] = w_data
            wd[:] = wd << (32 * aw_idx)
        nxt[:] = (nxt & ~(bm & rw_mask)) | (wd & bm & rw_mask)
        nxt[:] = nxt & ~(wd & bm & rw1c_mask)
        if wd[START_BIT] and bm[START_BIT]:
            nxt[:] = nxt & keep_start
        if wd[SRST_BIT] and bm[SRST_BIT]:
            nxt[:] = nxt & keep_srst
        nxt[:] = (nxt & ~hw_en) | (hw_val & hw_en)
        store.next = nxt & store_mask
        start.next = wd[START_BIT] and bm[START_BIT]
        soft_reset.next = wd[SRST_BIT] and bm[SRST_BIT]

    @always_comb
    def outputs():
        image_addr.next = store[ia_hi:ia_lo]
        image_size.next = store[is_hi:is_lo]
        in_addr.next = store[in_hi:in_lo]
        out_addr.next = store[on_hi:on_lo]
        frames.next = store[fr_hi:fr_lo]
        batch.next = store[ba_hi:ba_lo]
        load.next = store[LOAD_BIT]
        irq.next = (store[IST + 32:IST] & store[IEN + 32:IEN]) != 0

    return handshake, strobes, axi, regs, outputs


def top(cfg, **params):
    """Elaborate :func:`csr` on fresh signals named like its ports."""
    ab = params.get("lite_addr_bits", cfg.lite_addr_bits)
    sig = {n: uint(w).signal() if w > 1 else Signal(bool(0))
           for n, w in {**regmap.OUT_PORTS, **regmap.IN_PORTS}.items()}
    return csr(**clock_reset(), s_axil=AxiLite(cfg, addr_bits=ab), **sig, cfg=cfg,
               lite_addr_bits=ab)
