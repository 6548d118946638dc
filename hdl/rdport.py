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

Timing: the command is issued the cycle after the request; then each word
gives ``axi_data_bits/16`` halfwords, one item per cycle (a 32-bit item takes
two halfwords in one cycle); a word is taken from ``mem_reader`` in the
cycle its predecessor's last halfword goes, so the stream has no bubble
between words beyond those of ``mem_reader``::

    clk       _/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_
    req.valid _/‾‾‾\\__________________
    m_cmd.v   _____/‾‾‾\\______________
    m.valid   _________/‾‾‾‾‾‾‾‾‾‾‾\\__      (word w0, then w1)
    o.valid   _____________/‾‾‾‾‾‾‾‾‾‾      (w0.h0 w0.h1 ...)
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

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

    st = enum("IDLE", "CMD", "RUN", "DRAIN")
    state = Signal(st.IDLE)
    word = Signal(intbv(0)[DW:])
    have = Signal(bool(0))            # ``word`` holds a word
    hpos = Signal(intbv(0, min=0, max=NH + 2))   # halfword position in ``word``
    skip = Signal(intbv(0, min=0, max=NH))       # halfwords to skip at the start
    left = Signal(intbv(0)[nb + 1:])             # items still to emit
    words_left = Signal(intbv(0)[WCB + 1:])      # words still to receive
    wide = Signal(bool(0))
    cmd_addr = Signal(intbv(0)[A:])
    cmd_bytes = Signal(intbv(0)[32:])
    step = Signal(intbv(0, min=0, max=3))
    emit = Signal(bool(0))
    take = Signal(bool(0))
    word_done = Signal(bool(0))
    lo = Signal(intbv(0)[16:])
    hi = Signal(intbv(0)[16:])
    end_b = Signal(intbv(0)[A + 2:])

    @always_comb
    def comb_end():
        # one past the last byte of the request
        if req.wide:
            end_b.next = req.addr + (req.n << 2)
        else:
            end_b.next = req.addr + (req.n << 1)

    @always_comb
    def comb_sel():
        lo.next = (word >> (16 * hpos[HB:])) & 0xFFFF if hpos < NH else 0
        hi.next = (word >> (16 * hpos[HB:] + 16)) & 0xFFFF if hpos + 1 < NH else 0

    @always_comb
    def comb_out():
        step.next = 2 if wide else 1
        # the current halfword is an item when the skip is over and items remain
        emit.next = state == st.RUN and have and hpos < NH and skip == 0 and left != 0
        word_done.next = False
        if have:
            if hpos >= NH:
                word_done.next = True
            elif skip != 0:
                word_done.next = hpos + 1 >= NH
            elif left == 0:
                word_done.next = True          # tail: drop the rest of the word
            elif o.ready and hpos + step >= NH:
                word_done.next = True

    @always_comb
    def comb_io():
        o.valid.next = emit
        if wide:
            o.data.next = (hi << 16) | lo
        else:
            o.data.next = lo
        req.ready.next = state == st.IDLE
        busy.next = state != st.IDLE
        m_cmd.valid.next = state == st.CMD
        m_cmd.addr.next = cmd_addr
        m_cmd.bytes.next = cmd_bytes
        take.next = state == st.RUN and words_left != 0 and (not have or word_done)
        m.ready.next = (state == st.RUN and words_left != 0 and (not have or word_done)) or \
            state == st.DRAIN

    @always_seq(clk.posedge, reset=rst)
    def seq():
        if cancel:
            if state == st.RUN or state == st.DRAIN:
                state.next = st.DRAIN
            else:
                state.next = st.IDLE
            have.next = False
        elif state == st.DRAIN:
            if m.valid and words_left != 0:
                words_left.next = words_left - 1
            if words_left == 0 or (words_left == 1 and m.valid) or (not m_busy and not m.valid):
                state.next = st.IDLE
        elif state == st.IDLE:
            have.next = False
            if req.valid:
                # widen to whole words
                cmd_addr.next = (req.addr >> LWB) << LWB
                cmd_bytes.next = (((end_b + WB - 1) >> LWB) - (req.addr >> LWB)) << LWB
                words_left.next = ((end_b + WB - 1) >> LWB) - (req.addr >> LWB)
                skip.next = (req.addr[LWB:] >> 1)
                left.next = req.n
                wide.next = req.wide
                state.next = st.CMD
        elif state == st.CMD:
            if m_cmd.ready:
                state.next = st.RUN
        else:
            # consume the current halfword(s)
            if have and hpos < NH:
                if skip != 0:
                    skip.next = skip - 1
                    hpos.next = hpos + 1
                elif left != 0 and o.ready:
                    left.next = left - 1
                    hpos.next = hpos + step
            if take and m.valid:
                word.next = m.data
                have.next = True
                hpos.next = 0
                words_left.next = words_left - 1
            elif word_done:
                have.next = False
            if words_left == 0 and (not have or word_done) and not (take and m.valid):
                state.next = st.IDLE

    return comb_end, comb_sel, comb_out, comb_io, seq


def ports(cfg: Config, nb: int = ITEM_COUNT_BITS) -> dict:
    """Fresh signals and interfaces for every port of ``rdport``."""
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(**clock_reset(), cancel=b(), req=ReadReq(cfg, count_bits=nb), o=ItemStream(cfg),
                busy=b(), m_cmd=MemCmd(cfg), m=WordStream(cfg), m_busy=b())


def top(cfg: Config, nb: int = ITEM_COUNT_BITS):
    """``rdport`` on fresh port signals."""
    return rdport(**ports(cfg, nb), cfg=cfg, nb=nb)
