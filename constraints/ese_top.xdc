# Constraints of ese_top for the XCKU060 (xcku060-ffva1156-2-e).
#
# ese_top is meant to be wrapped: in a board flow its AXI4-Lite slave, AXI4
# master and irq connect inside a Vivado block design (PCIe/XDMA bridge, DDR
# memory controller, interrupt), which supplies the clock and reset.  Only
# the clock and the reset are constrained here; pin locations and I/O
# standards belong to the board wrapper.  See constraints/README.md.

# 200 MHz fabric clock on port clk (docs/performance.md).
create_clock -name clk -period 5.000 [get_ports clk]

# rst is synchronous, active high, and comes from the same clock domain in a
# block design (e.g. proc_sys_reset's peripheral_reset); it is timed as a
# normal input.  The design has a single clock domain: no ASYNC_REG
# synchronizers and no clock-domain false paths are needed.  If rst is driven
# from an asynchronous source, synchronize it in the wrapper (two flip-flops
# with ASYNC_REG) rather than adding a false path here.
