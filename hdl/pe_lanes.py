"""PE lanes: the activation window, the multipliers and the accumulators of one PE index.

One lane per channel; the lanes of a PE index share the entry stream of its
``pe_fetch`` and therefore every address: the window, the accumulators and
their row-valid flags are each one memory whose words hold all lanes side by
side (lane k in the k-th slice), and only the data differ.

Window: ``window / bcast_width`` words; a broadcast chunk (C values of every
lane) is written into word ``(pos / C) mod words``.

Accumulators: the *gate* rows (``GR``: addresses ``0 .. GR-1``) and the
*projection* rows (``PR``: ``GR ..``), ``lanes * acc_bits`` wide, with one
valid flag per row: a row whose flag is low reads as 0, an accumulation sets
it, a read on ``rd`` clears it (read-and-clear: no clear commands).  With at
most ``ACC_ONE_PORT_ROWS`` rows (``cfg.acc_read_delay`` > 0) they are one
memory with a single read port: a read takes it ``LANE_ACC_READ`` cycles
after it arrives, and ``pe_fetch`` holds the one entry that would have read
the accumulators in that cycle (its ``hold`` input is ``rd.valid``; an entry
reads the accumulators ``LANE_ACC_READ`` cycles after its issue, in its ent
cycle, and the word is registered), so the LUT-RAM is not duplicated for a
second read address.  With more rows, two
memories with a single read port each, shared by the accumulation and
``rd`` without delay: the stream order never lets the two touch one region in
the same cycle (the element-wise pass reads the gate rows while W_p
accumulates into the projection rows, and the next writer of a region only
starts after its reader is done; docs/architecture.md).  The delayed read
still comes before the next writer: that writer's values are broadcast after
the read (ctrl_exec), and an entry issues at the earliest the cycle after its
value arrives, reading the accumulators LANE_ACC_READ cycles after its issue.

Ports
-----
clk, rst     clock; synchronous active-high reset (clears every row-valid flag)
bc           ``Bcast`` (lanes): chunks into the window
ent          ``Entry``: the entries of this PE index's ``pe_fetch`` (weights already
             carry their product shift)
rd           ``AccRead`` (lanes): read-and-clear port, data registered: the row
             ``1 + cfg.acc_read_delay`` cycles after ``valid``, 0 in every other cycle
             (after a reset: from its second cycle on)

Parameters
----------
cfg          ese.config.Config
n_lanes      lanes (default cfg.n_ch)

Pipeline (entry on ``ent`` in cycle n), every lane's arithmetic in one DSP48
slice (``dsp_mac``) with all its registers::

    n     window read (asynchronous), value selected; value (BREG) and weight (AREG)
          registered; the row's old sum read from the accumulators (asynchronously,
          the port's address from the ent register) and registered with its flag and
          the row's matches against the three entries before
    n+1   product = value * weight, registered (MREG); the old sum chosen (the
          registered word, or a sum written after the read) and registered (CREG) with
          the Z choice (OPMODEREG): the old sum, 0 when the row's flag is low, or the
          slice's own sum (P) when the entry before went into the same row
    n+2   sum = Z + product, registered (PREG)
    n+3   acc[row] = sum, written on the edge; the row's flag set

Forwarding: the entry before (E-1, into the same row) is summed in n+1 and written at
the end of n+2: P feedback.  The entry two before (E-2) is written at the end of
n+1 and E-3 at the end of n, both after this entry's read in n: the sum of E-2 (P
in n+1) or of E-3 (a register of the word written at the end of n) goes into C
instead of the memory's word.  E-4 is in the memory.  Choosing Z is the same for
every lane (the rows and flags are shared), so the adder and its gating cost no
LUTs; every stage holds one heavy operation (the LUT-RAM read and its output mux,
the product, the 2-input add).
Fillers read nothing and write nothing.  The sums are exact (acc_bits >=
weight_bits + act_bits + max_align_shift + log2 of the terms).
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv, modbv

from ese.config import Config, clog2
from ese.pipeline import ACC_READ_REG, LANE_ACC_READ

from .delay import delay_reg
from .dsp_mac import ZSEL_C, ZSEL_P, ZSEL_ZERO, dsp_mac
from .interfaces import clock_reset
from .stream_if import AccRead, Bcast, Entry, stream_widths


def _signed(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@block
def lane_mac(clk, wchunk, sel, weight, cur_raw, zsel, new, cfg: Config):
    """One lane's datapath: the value select and its ``dsp_mac`` (see pe_lanes).

    wchunk [C*act_bits]  this lane's window word;  sel: the value in it (cycle n)
    weight               signed, the entry's (shifted) weight (cycle n)
    cur_raw [acc_bits]   this lane's slice of the row's old sum (cycle n+1)
    zsel                 the addition's Z operand (shared by the lanes of the PE; n+1)
    new     signed [acc] the sum, registered at the end of n+2 (written back a cycle later)
    """
    A, ACC = cfg.act_bits, cfg.acc_bits
    v = Signal(_signed(A))
    cur = Signal(_signed(ACC))
    word = Signal(modbv(0)[A:])             # the selected value's bits

    @always_comb
    def select():
        word.next = wchunk >> (sel * A)

    @always_comb
    def value():
        v.next = word.signed()

    @always_comb
    def current():
        cur.next = cur_raw.signed()

    mac = dsp_mac(clk, weight, v, cur, zsel, new, cfg=cfg)
    return select, value, current, mac


@block
def acc_region(clk, rst, we, waddr, wdata, erow, rdv_nx, rda_nx, word, ok, rd_ok,
               depth: int):
    """One accumulator region: ``depth`` words with valid flags and one read port.

    The read row comes a cycle ahead (``rd*_nx``) and is registered here; the port reads
    it when there is a read, else the entry's row ``erow`` (from the ent register, so
    both addresses start at flip-flops: the memory stays LUT-RAM with an asynchronous
    read, docs/timing.md).  ``word`` is the port's row, ``ok`` the entry row's flag and
    ``rd_ok`` (a register) the read row's flag as it stands then; the user registers
    ``word`` and ``ok``.  A read clears its row's flag on the edge; ``we`` writes
    ``wdata`` at ``waddr`` and sets its flag.
    """
    mem = [Signal(intbv(0)[len(wdata):]) for _ in range(depth)]
    vld = Signal(intbv(0)[depth:])
    AB = max(1, clog2(depth))
    ra = Signal(intbv(0)[AB:])           # the port's address
    rda = Signal(intbv(0)[AB:])          # the read row (register) ...
    rdv = Signal(bool(0))                # ... and whether it is read
    q_ok = Signal(bool(0))

    @always(clk.posedge)
    def addr_regs():
        rda.next = rda_nx

    @always_comb
    def port():
        if rdv:
            ra.next = rda
        else:
            ra.next = erow

    @always_seq(clk.posedge, reset=rst)
    def read_valid():
        rdv.next = rdv_nx

    @always_comb
    def read():
        word.next = mem[ra]

    @always_comb
    def flag():
        ok.next = vld[erow]

    # the read row's flag after this edge's updates (as the flags register computes it):
    # registered, so the read's data path starts from a flip-flop, not from a flag mux
    @always_comb
    def next_flag():
        q_ok.next = (vld[rda_nx] and not (rdv and rda == rda_nx)) or (we and waddr == rda_nx)

    @always_seq(clk.posedge, reset=rst)
    def read_flag():
        rd_ok.next = q_ok

    @always(clk.posedge)
    def write():
        if we:
            mem[waddr].next = wdata

    # the flag updates as one-hot masks: a decoder per address, no indexed bit writes
    clr = Signal(intbv(0)[depth:])
    sett = Signal(intbv(0)[depth:])

    @always_comb
    def masks():
        if rdv:
            clr.next = 1 << rda
        else:
            clr.next = 0
        if we:
            sett.next = 1 << waddr
        else:
            sett.next = 0

    @always_seq(clk.posedge, reset=rst)
    def flags():
        vld.next = (vld & ~clr) | sett

    return addr_regs, port, read_valid, read, flag, next_flag, read_flag, write, masks, flags


@block
def _region(addr, proj, g, p, gr: int):
    """Which region an accumulator address is in (``proj``) and its row there (g, p).

    Without a carry chain where the numbers allow (they are on the entry's path to
    the accumulators' read port): with ``gr`` a multiple of the projection region's
    size the row is the address's low bits, with ``gr`` a power of two the region is
    whether a bit at or above it is set."""
    GB, PB, AB = len(g), len(p), len(addr)
    low = gr % (1 << PB) == 0
    pow2 = gr & (gr - 1) == 0 and gr < (1 << AB)
    K = gr.bit_length() - 1

    @always_comb
    def split():
        if pow2:
            proj.next = addr[AB:K] != 0
        else:
            proj.next = addr >= gr
        g.next = addr[GB:]
        if low:
            p.next = addr[PB:]
        else:
            p.next = addr - gr
    return split


@block
def pe_lanes(clk, rst, bc, ent, rd, cfg: Config, n_lanes=None):
    n = cfg.n_ch if n_lanes is None else n_lanes
    w = stream_widths(cfg)
    Bcast.check(bc, cfg, "pe_lanes bc", lanes=n)
    Entry.check(ent, cfg, "pe_lanes ent")
    AccRead.check(rd, cfg, "pe_lanes rd", lanes=n)
    A, ACC = cfg.act_bits, cfg.acc_bits
    WSB = len(ent.weight)
    C = cfg.bcast_width
    CB = C * A
    WORDS = cfg.window // C
    GR, PR = w.gate_rows, w.proj_rows
    GB, PB = max(1, clog2(GR)), max(1, clog2(PR))
    CSH = C.bit_length() - 1
    D = cfg.acc_read_delay
    insts = []

    # ---- window -----------------------------------------------------------------
    win = [Signal(intbv(0)[n * CB:]) for _ in range(WORDS)]
    wslot = Signal(intbv(0)[w.slot:])
    wword = Signal(intbv(0)[n * CB:])

    @always_comb
    def win_addr():
        wslot.next = bc.pos[CSH + w.slot:CSH]

    @always(clk.posedge)
    def win_write():
        if bc.valid:
            win[wslot].next = bc.data

    @always_comb
    def win_read():
        wword.next = win[ent.slot]

    # ---- shared pipeline registers ----------------------------------------------
    m0_v = Signal(bool(0))                  # the entry whose accumulator read is now
    m0_acc = Signal(intbv(0)[w.acc_addr:])
    m1_v = Signal(bool(0))                  # the entry being summed
    m1_acc = Signal(intbv(0)[w.acc_addr:])
    m2_v = Signal(bool(0))                  # the sum being written
    m2_acc = Signal(intbv(0)[w.acc_addr:])
    take = Signal(bool(0))
    zsel = Signal(intbv(0)[2:])

    @always_comb
    def take_comb():
        take.next = ent.valid and not ent.filler

    @always_seq(clk.posedge, reset=rst)
    def pipe():
        m0_v.next = take
        m1_v.next = m0_v
        m2_v.next = m1_v

    @always(clk.posedge)
    def pipe_data():
        m0_acc.next = ent.acc
        m1_acc.next = m0_acc
        m2_acc.next = m1_acc

    # ---- accumulators ---------------------------------------------------------------
    # Every entry reads its row in its ent cycle, with the window, and the word is
    # registered; the next cycle only chooses between that word and the sums written
    # after the read (the LUT-RAM's output mux and the forwarding are a cycle apart)
    e_word = Signal(intbv(0)[n * ACC:])     # the entry's row (asynchronous read) ...
    e_ok = Signal(bool(0))                  # ... and its flag
    d_word = Signal(intbv(0)[n * ACC:])     # the row being read on rd, due into rd.data
    d_ok = Signal(bool(0))
    d_valid = Signal(bool(0))               # the read's data are due this cycle
    wdata = Signal(intbv(0)[n * ACC:])
    if cfg.acc_one_port:
        # few rows: one memory, one read port shared by the accumulation and the reads.
        # A read takes the port LANE_ACC_READ cycles after it arrives; the fetch holds
        # the entry that would have read with it (pe_fetch ``hold``), so no entry reads
        # in that cycle; the read's word and flag are registered like an entry's and its
        # data a cycle later (acc_read_delay = LANE_ACC_READ + 1)
        assert D == LANE_ACC_READ + 1, "pe_lanes: one port reads LANE_ACC_READ cycles late"
        acc = [Signal(intbv(0)[n * ACC:]) for _ in range(GR + PR)]
        vld = Signal(intbv(0)[GR + PR:])
        r_v = Signal(bool(0))                       # the read, at the port
        r_a = Signal(intbv(0)[w.acc_addr:])
        p_a = Signal(intbv(0)[w.acc_addr:])         # the port's address
        r_word = Signal(intbv(0)[n * ACC:])         # the port's word, registered
        r_ok, r_vq = Signal(bool(0)), Signal(bool(0))
        insts += [delay_reg(clk, rst, rd.valid, r_v, LANE_ACC_READ),
                  delay_reg(clk, rst, rd.addr, r_a, LANE_ACC_READ)]

        @always_comb
        def acc_port():
            if r_v:
                p_a.next = r_a
            else:
                p_a.next = ent.acc

        @always_comb
        def acc_read():
            e_word.next = acc[p_a]
            e_ok.next = vld[ent.acc]

        @always(clk.posedge)
        def acc_read_regs():
            r_word.next = e_word
            r_ok.next = vld[r_a]

        @always_seq(clk.posedge, reset=rst)
        def acc_read_valid():
            r_vq.next = r_v

        @always_comb
        def acc_drain():
            d_word.next = r_word
            d_ok.next = r_ok
            d_valid.next = r_vq

        @always(clk.posedge)
        def acc_write():
            if m2_v:
                acc[m2_acc].next = wdata

        clr = Signal(intbv(0)[GR + PR:])       # flag updates as one-hot masks
        sett = Signal(intbv(0)[GR + PR:])

        @always_comb
        def acc_masks():
            if r_v:
                clr.next = 1 << r_a
            else:
                clr.next = 0
            if m2_v:
                sett.next = 1 << m2_acc
            else:
                sett.next = 0

        @always_seq(clk.posedge, reset=rst)
        def acc_valid():
            vld.next = (vld & ~clr) | sett

        insts += [acc_port, acc_read, acc_read_regs, acc_read_valid, acc_drain, acc_write,
                  acc_masks, acc_valid]
    else:
        # the gate and projection regions apart, one read port each: the stream order
        # never makes an entry and a read use one region in the same cycle.  A read is
        # registered once in the PE (ACC_READ_REG, acc_read_delay) and goes from the
        # port straight into rd.data
        assert D == ACC_READ_REG, "pe_lanes: a port per region reads one cycle late"

        def rows():
            return Signal(bool(0)), Signal(intbv(0)[GB:]), Signal(modbv(0)[PB:])
        e_proj, e_g, e_p = rows()            # the entry's row (ent.acc)
        m0_proj, m0_g, m0_p = rows()         # ... registered with m0, m1, m2
        m1_proj, m1_g, m1_p = rows()
        m2_proj, m2_g, m2_p = rows()
        q_proj, q_g, q_p = rows()            # the read's row (rd.addr) ...
        r_proj = Signal(bool(0))             # ... its region, registered
        r_v = Signal(bool(0))
        g_we, p_we = Signal(bool(0)), Signal(bool(0))
        q_grv, q_prv = Signal(bool(0)), Signal(bool(0))   # the read, by region (a cycle ahead)
        g_word, p_word = Signal(intbv(0)[n * ACC:]), Signal(intbv(0)[n * ACC:])
        g_ok, p_ok = Signal(bool(0)), Signal(bool(0))
        g_rok, p_rok = Signal(bool(0)), Signal(bool(0))
        split_e = _region(ent.acc, e_proj, e_g, e_p, GR)
        split_q = _region(rd.addr, q_proj, q_g, q_p, GR)

        @always(clk.posedge)
        def region_pipe():
            m0_proj.next = e_proj
            m0_g.next = e_g
            m0_p.next = e_p
            m1_proj.next = m0_proj
            m1_g.next = m0_g
            m1_p.next = m0_p
            m2_proj.next = m1_proj
            m2_g.next = m1_g
            m2_p.next = m1_p
            r_proj.next = q_proj

        @always_seq(clk.posedge, reset=rst)
        def read_reg():
            r_v.next = rd.valid

        @always_comb
        def enables():
            g_we.next = m2_v and not m2_proj
            p_we.next = m2_v and m2_proj
            q_grv.next = rd.valid and not q_proj
            q_prv.next = rd.valid and q_proj

        @always_comb
        def acc_words():
            if e_proj:
                e_word.next = p_word
                e_ok.next = p_ok
            else:
                e_word.next = g_word
                e_ok.next = g_ok
            if r_proj:
                d_word.next = p_word
                d_ok.next = p_rok
            else:
                d_word.next = g_word
                d_ok.next = g_rok
            d_valid.next = r_v

        insts += [split_e, split_q, region_pipe, read_reg, enables, acc_words,
                  acc_region(clk, rst, g_we, m2_g, wdata, e_g, q_grv, q_g, g_word, g_ok,
                             g_rok, depth=GR),
                  acc_region(clk, rst, p_we, m2_p, wdata, e_p, q_prv, q_p, p_word, p_ok,
                             p_rok, depth=PR)]

    # the entry's row registered with its flag and its matches against the three entries
    # before it: the one before (m0) is summed in the next cycle (Z = P), the sums of the
    # second (m1) and third (m2) are written at the end of the next cycle and of this
    # one, both after this read, so they are forwarded into C instead of the word
    q_word = Signal(intbv(0)[n * ACC:])
    q_ok = Signal(bool(0))
    e_f1, e_f2, e_f3 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    f1, f2, f3 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    wdata_d = Signal(intbv(0)[n * ACC:])    # the sum written at the end of the last cycle
    a_word = Signal(intbv(0)[n * ACC:])     # m0's old sum with the forwarding (C)
    a_ok = Signal(bool(0))                  # ... whether it counts

    @always_comb
    def matches():
        e_f1.next = m0_v and m0_acc == ent.acc
        e_f2.next = m1_v and m1_acc == ent.acc
        e_f3.next = m2_v and m2_acc == ent.acc

    @always(clk.posedge)
    def entry_regs():
        q_word.next = e_word
        q_ok.next = e_ok
        f1.next = e_f1
        f2.next = e_f2
        f3.next = e_f3
        wdata_d.next = wdata

    @always_comb
    def c_choice():
        if f2:
            a_word.next = wdata
        elif f3:
            a_word.next = wdata_d
        else:
            a_word.next = q_word
        a_ok.next = f2 or f3 or q_ok

    # the Z choice of m0 (registered in the DSP slices with C: CREG, OPMODEREG): the
    # previous sum (P) when m1 has the same row (it is being summed now), else the old
    # sum when the row's flag is set or a forward applies, else 0
    @always_comb
    def z_choice():
        if f1:
            zsel.next = ZSEL_P
        elif a_ok:
            zsel.next = ZSEL_C
        else:
            zsel.next = ZSEL_ZERO

    insts += [matches, entry_regs, c_choice, z_choice]

    news = [Signal(_signed(ACC)) for _ in range(n)]
    for k in range(n):
        insts.append(lane_mac(clk, wword((k + 1) * CB, k * CB), ent.sel, ent.weight,
                              a_word((k + 1) * ACC, k * ACC), zsel, news[k], cfg=cfg))
    new_word = ConcatSignal(*reversed(news)) if n > 1 else None
    if n > 1:
        @always_comb
        def pack():
            wdata.next = new_word
    else:
        new0 = news[0]

        @always_comb
        def pack():
            wdata.next = new0[ACC:]

    # the data are 0 in every cycle but the one after a read of a valid row (the PE
    # array ORs the blocks of PEs instead of selecting one); the zero is the register's
    # synchronous reset (FDRE R): no multiplexer per bit.  The datapath reset is not in
    # it (its fan-out to every PE's data bits was a critical path of the whole design):
    # d_valid is reset, so the data are 0 from the second cycle of a reset on, and
    # nothing reads the gather while the scheduler is reset
    @always(clk.posedge)
    def drain():
        if not d_valid or not d_ok:
            rd.data.next = 0
        else:
            rd.data.next = d_word

    insts += [win_addr, win_write, win_read, take_comb, pipe, pipe_data, pack, drain]
    return insts


def ports(cfg: Config, n_lanes: int | None = None) -> dict:
    """Fresh signals and interfaces for every port of ``pe_lanes``."""
    n = cfg.n_ch if n_lanes is None else n_lanes
    return dict(**clock_reset(), bc=Bcast(cfg, lanes=n), ent=Entry(cfg), rd=AccRead(cfg, lanes=n))


def top(cfg: Config, n_lanes: int | None = None):
    """``pe_lanes`` on fresh port signals for ``cfg``."""
    return pe_lanes(**ports(cfg, n_lanes), cfg=cfg, n_lanes=n_lanes)
