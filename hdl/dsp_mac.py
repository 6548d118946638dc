"""DSP multiply-accumulate: one lane's product and accumulation sum, one DSP48 slice.

``p`` (registered) = Z + a x b, where a and b passed through a register each and
the product through another, and Z is 0, the row's old sum ``c`` or ``p`` itself
(the previous cycle's sum: back-to-back entries into one row), chosen per
cycle by ``zsel``; ``c`` and ``zsel`` are registered too, a cycle after a and b.
It is exactly a DSP48E1/E2 slice with every register in use (AREG=1, BREG=1,
MREG=1, CREG=1, OPMODEREG=1, PREG=1) and the Z multiplexer of OPMODE driven
dynamically (X = Y = the product, ALUMODE 0000): the product, the accumulate
adder and its gating cost no LUTs, and no path of the slice starts or ends
outside a register.

Simulation uses this block's converted Verilog.  Synthesis uses the
text of ``hdl/vendor/dsp_mac_xilinx.py``: the same module name and ports around one
DSP48E1 primitive (Vivado retargets it to a DSP48E2 on UltraScale; Yosys
0.23 puts only the multiplier into a DSP48E2, the registers, the adder and the Z
multiplexer into the fabric, see
docs/synthesis.md); ``tb/dsp_mac`` holds the two equal on random stimulus
under the DSP48E1 model of Yosys' ``cells_sim.v``.

Ports
-----
clk     clock (no reset: every register is data, valid bits travel beside it)
a       signed [weight_bits + max_align_shift]: the weight (the DSP's A port, 25 bits),
        registered (AREG) in the cycle ``b`` is
b       signed [act_bits]: the value, registered here (the DSP's B port, 18 bits)
c       signed [acc_bits]: the row's old sum, a cycle after a and b (C port, CREG)
zsel    [2] the Z operand of the addition, with ``c`` (OPMODEREG): ZSEL_ZERO, ZSEL_C or
        ZSEL_P (3 adds 0 too)
p       signed [acc_bits] out: the sum, registered

Timing (``a``, ``b`` in cycle n)::

    n      a, b registered                              (AREG, BREG)
    n+1    product a x b registered (MREG); c, zsel of n+1 registered (CREG, OPMODEREG)
    n+2    p = Z + product, registered at the end of n+2 (PREG); Z = p is the sum of n+1
"""

from myhdl import Signal, always, block, intbv

from ese.config import Config

from .hier import submodule

#: zsel: the addition's Z operand (the DSP's OPMODE[6:4] is 000, 011, 010; 3 as 0).
#: Not the Z code itself: Yosys maps a ``chip`` PE in ~50 fewer LUTs with these values
#: than with OPMODE[6:4] = {0, zsel}, which would save the 2 LUT2 of decode per lane
ZSEL_ZERO, ZSEL_C, ZSEL_P = 0, 1, 2

#: DSP48E1 input widths of the multiplier (A, B) and of the post-adder (P)
DSP_A_BITS, DSP_B_BITS, DSP_P_BITS = 25, 18, 48


def check_dsp_fit(cfg: Config) -> None:
    """Raise ValueError unless a lane's operands fit one DSP48 slice."""
    for what, bits, lim in (("weight_bits + max_align_shift (the DSP's A input)",
                             cfg.weight_bits + cfg.max_align_shift, DSP_A_BITS),
                            ("act_bits (the DSP's B input)", cfg.act_bits, DSP_B_BITS),
                            ("acc_bits (the DSP's post-adder)", cfg.acc_bits, DSP_P_BITS)):
        if bits > lim:
            raise ValueError(f"config '{cfg.name}': {what} is {bits} bits, the hardware's "
                             f"multiply-accumulate (one DSP48 slice) takes at most {lim}")


def _signed(bits):
    return intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))


@submodule
@block
def dsp_mac(clk, a, b, c, zsel, p, cfg: Config):
    WA, A, ACC = len(a), cfg.act_bits, cfg.acc_bits
    check_dsp_fit(cfg)
    assert WA == cfg.weight_bits + cfg.max_align_shift and len(b) == A \
        and len(c) == len(p) == ACC and len(zsel) == 2, \
        f"dsp_mac: a {WA}, b {len(b)}, c {len(c)}, p {len(p)}, zsel {len(zsel)} bits"
    a_r = Signal(_signed(WA))
    b_r = Signal(_signed(A))
    m = Signal(_signed(WA + A))
    c_r = Signal(_signed(ACC))
    z_r = Signal(intbv(0)[2:])

    @always(clk.posedge)
    def regs():
        a_r.next = a
        b_r.next = b
        m.next = a_r * b_r
        c_r.next = c
        z_r.next = zsel
        if z_r == ZSEL_C:
            p.next = c_r + m
        elif z_r == ZSEL_P:
            p.next = p + m
        else:
            p.next = m

    return regs


def ports(cfg: Config) -> dict:
    """Fresh signals for every port of ``dsp_mac``."""
    return dict(clk=Signal(bool(0)), a=Signal(_signed(cfg.weight_bits + cfg.max_align_shift)),
                b=Signal(_signed(cfg.act_bits)), c=Signal(_signed(cfg.acc_bits)),
                zsel=Signal(intbv(0)[2:]), p=Signal(_signed(cfg.acc_bits)))


def top(cfg: Config):
    """``dsp_mac`` on fresh port signals for ``cfg``."""
    return dsp_mac(**ports(cfg), cfg=cfg)
