"""Read port: a byte range of DDR -> a stream of 16- or 32-bit items.

Sits between the clients that read DDR (the loader, the input-frame mover of
the controller) and ``mem_reader``.  A request names any item-aligned byte
address and a number of items; the port widens it to whole AXI words
(``mem_reader`` needs ``axi_data_bits/8``-aligned address and byte count),
skips the halfwords before the first item, emits the items one per cycle
(little-endian, the low halfword first), and discards the tail of the last
word.

Ports (interfaces: hdl/interfaces.py)
-----
clk, rst            clock; synchronous active-high reset
cancel              1: drop the request in progress and return to idle (after an error)
req                 ``ReadReq``: the request (``req.ready`` = idle); ``req.n`` [nb] items of
                    16 (``req.wide`` = 0) or 32 bits from byte address ``req.addr``
o                   ``ItemStream``: the items (``o.ready`` may be held low at any time)
busy       [1]      a request is in progress (until its last word is consumed)
m_cmd               ``MemCmd``: command to ``mem_reader``
m                   ``WordStream``: words from ``mem_reader``
m_busy              ``mem_reader`` busy (ends a drain when a rejected command delivers nothing)

After ``cancel`` in the middle of a request the port drains: it takes (and
drops) the words still due from ``mem_reader`` until none are left or the
reader is idle, so the next request never sees stale words.

Parameters
----------
cfg                 ese.config.Config (axi_data_bits, axi_addr_bits)
nb                  width of ``req.n`` (default 24)

Timing: the command is issued two cycles after the request: the request's
fields are registered at acceptance (the request arrives through the
clients' multiplexer in ese_top) and the word count is computed from those
registers in the next cycle (SIZE: one carry chain); then each word gives
``axi_data_bits/16`` halfwords, one item per cycle (a 32-bit item takes two
halfwords in one cycle).  Words wait in two word buffers used in turn: one
is read while the other is filled from ``mem_reader`` whenever it is free,
so ``m.ready`` and the buffers' write enables come from this block's
flip-flops only, never from ``o.ready`` (a word of 512 bits has no late
enable); the item is selected from the buffers by (buffer, halfword).  The
stream has no bubble between words beyond those of ``mem_reader``::

    clk       _/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_
    req.valid _/‾‾‾\\______________________
    m_cmd.v   _________/‾‾‾\\______________
    m.valid   _____________/‾‾‾‾‾‾‾‾‾‾‾\\__      (word w0, then w1)
    o.valid   _________________/‾‾‾‾‾‾‾‾‾‾      (w0.h0 w0.h1 ...)
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, concat, enum, intbv

from ese.config import Config, clog2

from .interfaces import ITEM_COUNT_BITS, ItemStream, MemCmd, ReadReq, WordStream, clock_reset


@block
def rdport(clk, rst, cancel, req, o, busy, m_cmd, m, m_busy, cfg: Config,
           nb: int = ITEM_COUNT_BITS):
    DW = cfg.axi_data_bits
    A = cfg.axi_addr_bits
    WB = DW // 8                     # bytes per word
    NH = DW // 16                    # halfwords per word
    LWB = clog2(WB)
    assert DW % 32 == 0 and DW >= 32, "rdport: axi_data_bits must be a multiple of 32"
    ReadReq.check(req, cfg, "rdport req", count_bits=nb)
    ItemStream.check(o, cfg, "rdport o")
    MemCmd.check(m_cmd, cfg, "rdport m_cmd")
    WordStream.check(m, cfg, "rdport m")
    HB = clog2(NH)
    WCB = nb + 2                      # words of one request (+ skip / tail)

    st = enum("IDLE", "SIZE", "CMD", "RUN", "DRAIN")
    state = Signal(st.IDLE)
    buf0, buf1 = Signal(intbv(0)[DW:]), Signal(intbv(0)[DW:])   # the two word buffers
    both = ConcatSignal(buf1, buf0)
    full0, full1 = Signal(bool(0)), Signal(bool(0))
    wp = Signal(bool(0))              # the buffer the next word goes into
    rp = Signal(bool(0))              # the buffer being read
    have = Signal(bool(0))            # the buffer being read holds a word
    free_w = Signal(bool(0))          # the buffer ``wp`` is free
    other = Signal(bool(0))           # the buffer not being read holds a word
    psel = Signal(intbv(0)[HB:])      # the 32-bit pair read: rp * NH/2 + hpos / 2
    pair = Signal(intbv(0)[32:])
    hpos = Signal(intbv(0, min=0, max=NH + 2))   # halfword position in the word being read
    skip = Signal(intbv(0, min=0, max=NH))       # halfwords to skip at the start
    left = Signal(intbv(0)[nb + 1:])             # items still to emit
    left_z = Signal(bool(1))                     # left == 0
    words_left = Signal(intbv(0)[WCB + 1:])      # words still to receive
    wl_nz = Signal(bool(0))                      # words_left != 0 (from the CMD state on)
    wide = Signal(bool(0))
    cmd_addr = Signal(intbv(0)[A:])
    words = Signal(intbv(0)[WCB:])               # words of the request
    emit = Signal(bool(0))
    take = Signal(bool(0))
    word_done = Signal(bool(0))
    # hpos against the word's end, as narrow decodes (no adder): past the end, at its
    # last halfword, at one of its last two
    h_end, h_last, h_last2 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    span = Signal(intbv(0)[WCB + LWB:])          # skipped bytes + request bytes + WB - 1
    r_n = Signal(intbv(0)[nb:])                  # the request's items ...
    r_lo1 = Signal(intbv(0)[LWB + 1:])           # ... and its address in a word + WB - 1

    @always_comb
    def comb_span():
        # (addr mod WB) + bytes + WB - 1: the words to read are span >> LWB (from the
        # request's registers, in SIZE)
        if wide:
            span.next = (r_n << 2) + r_lo1
        else:
            span.next = (r_n << 1) + r_lo1

    @always_comb
    def comb_bufs():
        if rp:
            have.next = full1
            other.next = full0
        else:
            have.next = full0
            other.next = full1
        if wp:
            free_w.next = not full1
        else:
            free_w.next = not full0

    @always_comb
    def comb_pos():
        h_end.next = hpos[HB]
        h_last.next = hpos[HB:] == NH - 1
        if HB > 1:
            h_last2.next = hpos[HB:1] == NH // 2 - 1
        else:
            h_last2.next = True

    @always_comb
    def comb_psel():
        if HB > 1:
            psel.next = concat(rp, hpos[HB:1])
        else:
            psel.next = rp

    @always_comb
    def comb_pair():
        # items never straddle a 32-bit pair: a 32-bit item is 4-byte aligned
        pair.next = (both >> (32 * psel)) & 0xFFFFFFFF

    @always_comb
    def comb_out():
        # the current halfword is an item when the skip is over and items remain
        emit.next = state == st.RUN and have and not h_end and skip == 0 and not left_z
        word_done.next = False
        if have:
            if h_end:
                word_done.next = True
            elif skip != 0:
                word_done.next = h_last
            elif left_z:
                word_done.next = True          # tail: drop the rest of the word
            elif o.ready:
                if wide:
                    word_done.next = h_last2
                else:
                    word_done.next = h_last

    @always_comb
    def comb_io():
        o.valid.next = emit
        if wide:
            o.data.next = pair
        elif hpos[0]:
            o.data.next = pair[32:16]
        else:
            o.data.next = pair[16:]
        req.ready.next = state == st.IDLE
        busy.next = state != st.IDLE
        m_cmd.valid.next = state == st.CMD
        m_cmd.addr.next = cmd_addr
        m_cmd.bytes.next = words << LWB
        # a word is taken whenever the buffer it goes into is free (or dropped in a drain)
        m.ready.next = (state == st.RUN and wl_nz and free_w) or state == st.DRAIN
        take.next = state == st.RUN and wl_nz and free_w and m.valid

    @always(clk.posedge)
    def fill():
        # the word buffers (no reset: ``full0``/``full1`` say what they hold)
        if take and not wp:
            buf0.next = m.data
        if take and wp:
            buf1.next = m.data

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if cancel:
            # a command mem_reader takes in the cycle of the cancel still delivers its words
            if state == st.RUN or state == st.DRAIN or (state == st.CMD and m_cmd.ready):
                state.next = st.DRAIN
            else:
                state.next = st.IDLE
            full0.next = False
            full1.next = False
        elif state == st.DRAIN:
            if m.valid and words_left != 0:
                words_left.next = words_left - 1
            if words_left == 0 or (words_left == 1 and m.valid) or (not m_busy and not m.valid):
                state.next = st.IDLE
        elif state == st.IDLE:
            full0.next = False
            full1.next = False
            wp.next = False
            rp.next = False
            hpos.next = 0
            if req.valid:
                # widen to whole words (the count in SIZE)
                cmd_addr.next = (req.addr >> LWB) << LWB
                r_n.next = req.n
                r_lo1.next = req.addr[LWB:] + WB - 1
                skip.next = (req.addr[LWB:] >> 1)
                left.next = req.n
                left_z.next = req.n == 0
                wide.next = req.wide
                state.next = st.SIZE
        elif state == st.SIZE:
            words.next = span >> LWB
            words_left.next = span >> LWB
            state.next = st.CMD
        elif state == st.CMD:
            wl_nz.next = words_left != 0
            if m_cmd.ready:
                state.next = st.RUN
        else:
            # consume the current halfword(s)
            if have and not h_end:
                if skip != 0:
                    skip.next = skip - 1
                    hpos.next = hpos + 1
                elif not left_z and o.ready:
                    left.next = left - 1
                    left_z.next = left == 1
                    if wide:
                        hpos.next = hpos + 2
                    else:
                        hpos.next = hpos + 1
            if take:
                words_left.next = words_left - 1
                wl_nz.next = words_left != 1
                if wp:
                    full1.next = True
                else:
                    full0.next = True
                wp.next = not wp
            if word_done:
                hpos.next = 0
                if rp:
                    full1.next = False
                else:
                    full0.next = False
                rp.next = not rp
            if not wl_nz and not other and (not have or word_done):
                state.next = st.IDLE

    return comb_span, comb_bufs, comb_pos, comb_psel, comb_pair, comb_out, comb_io, fill, seq


def ports(cfg: Config, nb: int = ITEM_COUNT_BITS) -> dict:
    """Fresh signals and interfaces for every port of ``rdport``."""
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), cancel=b(), req=ReadReq(cfg, count_bits=nb), o=ItemStream(cfg),
                busy=b(), m_cmd=MemCmd(cfg), m=WordStream(cfg), m_busy=b())


def top(cfg: Config, nb: int = ITEM_COUNT_BITS):
    """``rdport`` on fresh port signals."""
    return rdport(**ports(cfg, nb), cfg=cfg, nb=nb)
