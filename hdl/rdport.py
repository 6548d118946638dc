"""Read port: a byte range of DDR -> a stream of 16- or 32-bit items.

Sits between the clients that read DDR (the loader, the input-frame mover of
the controller) and ``mem_reader``.  A request names any item-aligned byte
address and a number of items; the port widens it to whole AXI words
(``mem_reader`` needs ``axi_data_bits/8``-aligned address and byte count),
skips the halfwords before the first item, emits the items one per cycle
(little-endian, the low halfword first), and discards the tail of the last
word.

Ports
-----
clk, rst            clock; synchronous active-high reset
cancel               1: drop the request in progress and return to idle (after an error)
req_valid/req_ready request handshake (``req_ready`` = idle)
req_addr   [A]      byte address of the first item (a multiple of the item size)
req_n      [NB]     number of items (>= 1)
req_wide   [1]      0: 16-bit items, 1: 32-bit items
o_valid/o_ready     item stream (``o_ready`` may be held low at any time)
o_data     [32]     the item (16-bit items in the low half, upper half zero)
busy       [1]      a request is in progress (until its last word is consumed)
m_cmd_valid/m_cmd_ready, m_cmd_addr [A], m_cmd_bytes [32]
                    command to ``mem_reader``
m_valid/m_ready, m_data [axi_data_bits]
                    word stream from ``mem_reader``
m_busy              ``mem_reader`` busy (ends a drain when a rejected command delivers nothing)

After ``cancel`` in the middle of a request the port drains: it takes (and
drops) the words still due from ``mem_reader`` until none are left or the
reader is idle, so the next request never sees stale words.

Parameters
----------
cfg                 ese.config.Config (axi_data_bits, axi_addr_bits)
nb                  width of req_n

Timing: the command is issued the cycle after the request; then each word
gives ``axi_data_bits/16`` halfwords, one item per cycle (a 32-bit item takes
two halfwords in one cycle); a word is taken from ``mem_reader`` in the
cycle its predecessor's last halfword goes, so the stream has no bubble
between words beyond those of ``mem_reader``::

    clk       _/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_/‾\\_
    req_valid _/‾‾‾\\__________________
    m_cmd_v   _____/‾‾‾\\______________
    m_valid   _________/‾‾‾‾‾‾‾‾‾‾‾\\__      (word w0, then w1)
    o_valid   _____________/‾‾‾‾‾‾‾‾‾‾      (w0.h0 w0.h1 ...)
"""

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ese.config import Config, clog2


@block
def rdport(clk, rst, cancel, req_valid, req_ready, req_addr, req_n, req_wide,
           o_valid, o_ready, o_data, busy,
           m_cmd_valid, m_cmd_ready, m_cmd_addr, m_cmd_bytes,
           m_valid, m_ready, m_data, m_busy, cfg: Config, nb: int):
    DW = cfg.axi_data_bits
    A = cfg.axi_addr_bits
    WB = DW // 8                     # bytes per word
    NH = DW // 16                    # halfwords per word
    LWB = clog2(WB)
    assert DW % 32 == 0 and DW >= 32, "rdport: axi_data_bits must be a multiple of 32"
    assert len(req_addr) == A and len(m_cmd_addr) == A, "rdport: address width"
    assert len(m_data) == DW, "rdport: m_data must be axi_data_bits wide"
    assert len(req_n) == nb and len(o_data) == 32, "rdport: req_n / o_data widths"
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
        if req_wide:
            end_b.next = req_addr + (req_n << 2)
        else:
            end_b.next = req_addr + (req_n << 1)

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
            elif o_ready and hpos + step >= NH:
                word_done.next = True

    @always_comb
    def comb_io():
        o_valid.next = emit
        if wide:
            o_data.next = (hi << 16) | lo
        else:
            o_data.next = lo
        req_ready.next = state == st.IDLE
        busy.next = state != st.IDLE
        m_cmd_valid.next = state == st.CMD
        m_cmd_addr.next = cmd_addr
        m_cmd_bytes.next = cmd_bytes
        take.next = state == st.RUN and words_left != 0 and (not have or word_done)
        m_ready.next = (state == st.RUN and words_left != 0 and (not have or word_done)) or \
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
            if m_valid and words_left != 0:
                words_left.next = words_left - 1
            if words_left == 0 or (words_left == 1 and m_valid) or (not m_busy and not m_valid):
                state.next = st.IDLE
        elif state == st.IDLE:
            have.next = False
            if req_valid:
                # widen to whole words
                cmd_addr.next = (req_addr >> LWB) << LWB
                cmd_bytes.next = (((end_b + WB - 1) >> LWB) - (req_addr >> LWB)) << LWB
                words_left.next = ((end_b + WB - 1) >> LWB) - (req_addr >> LWB)
                skip.next = (req_addr[LWB:] >> 1)
                left.next = req_n
                wide.next = req_wide
                state.next = st.CMD
        elif state == st.CMD:
            if m_cmd_ready:
                state.next = st.RUN
        else:
            # consume the current halfword(s)
            if have and hpos < NH:
                if skip != 0:
                    skip.next = skip - 1
                    hpos.next = hpos + 1
                elif left != 0 and o_ready:
                    left.next = left - 1
                    hpos.next = hpos + step
            if take and m_valid:
                word.next = m_data
                have.next = True
                hpos.next = 0
                words_left.next = words_left - 1
            elif word_done:
                have.next = False
            if words_left == 0 and (not have or word_done) and not (take and m_valid):
                state.next = st.IDLE

    return comb_end, comb_sel, comb_out, comb_io, seq


def ports(cfg: Config, nb: int = 24) -> dict:
    """Fresh signals for every port of ``rdport`` (names = port names)."""
    from myhdl import ResetSignal
    A, D = cfg.axi_addr_bits, cfg.axi_data_bits
    b = lambda: Signal(bool(0))  # noqa: E731
    u = lambda n: Signal(intbv(0)[n:])  # noqa: E731
    return dict(clk=b(), rst=ResetSignal(0, active=1, isasync=False), cancel=b(),
                req_valid=b(), req_ready=b(), req_addr=u(A), req_n=u(nb), req_wide=b(),
                o_valid=b(), o_ready=b(), o_data=u(32), busy=b(),
                m_cmd_valid=b(), m_cmd_ready=b(), m_cmd_addr=u(A), m_cmd_bytes=u(32),
                m_valid=b(), m_ready=b(), m_data=u(D), m_busy=b())


def top(cfg: Config, nb: int = 24):
    """``rdport`` on fresh port signals."""
    return rdport(**ports(cfg, nb), cfg=cfg, nb=nb)
