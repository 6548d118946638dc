"""The pipeline latencies of the hardware, written once.

The blocks of ``hdl/`` are built to these numbers (each block imports its own
and asserts at elaboration that its structure has that many stages), and the
cycle model of ``model/schedule.py`` adds them up into the latencies of the
schedule (:func:`ese.model.schedule.latency_for`).  Plain Python, no MyHDL: the
model runs without the hardware extra.

Every latency is in clock cycles (register stages).  docs/timing.md explains
where each stage comes from; docs/architecture.md how the schedule uses them.
"""

#: lut_unit: index register, ROM read, output register (a block RAM with its output
#: register)
LUT_LATENCY = 3
#: ew_unit: input handshake to out_valid (its stage list: 12 + the two lookups)
EW_LATENCY = 12 + 2 * LUT_LATENCY
#: requant: barrel shift, then the rounding add with its saturation
REQUANT_LATENCY = 2

#: channel: ``ew.issue`` to the m (or y) write-back: the step register, the parameter
#: RAMs' output register, ew_unit
CH_EW_WRITEBACK = 2 + EW_LATENCY
#: channel: ``pj.issue`` to the y write-back: step register, row pick, requant
CH_PJ_WRITEBACK = 2 + REQUANT_LATENCY
#: channel: a broadcast read (``bcr``) to its chunk on ``bc_data``: the block RAM read and
#: its output register
CH_BC_READ = 2

# ---- the PEs ------------------------------------------------------------------
#: pe_fetch: places of the entry queue between the fetch's front end (read, RAM output
#: register, decode) and its issue stage; the front end reads an entry only with a free
#: place (a credit), so nothing stalls it
ENTRY_QUEUE = 8
#: pe_fetch: cycles from a command at the head of the command FIFO to the earliest
#: issue of its first entry: two prefetch registers, the walker, the RAM read and its
#: output register, two decode stages, the entry queue and its head register (and
#: Config.entry_read_extra more with a banked entry memory)
FETCH_FIRST = 9
#: pe_fetch: entries a bank of a deep entry memory holds (Config.entry_banks): 2,048
#: words of 18 bits are two ECP5 DP16KD side by side (2,048 x 9 each) and one Xilinx
#: RAMB36E2 (2,048 x 18), both without a multiplexer after the block RAMs.  A deeper
#: memory is read bank by bank into registers and the bank picked a cycle later: the
#: block RAMs' output mux was a critical path (8,192 entries on kws: 8 banks of 1,024
#: behind the RAM's output, 110.9 MHz).  (Banks of 1,024 cost chip 17 LUTs per PE for
#: the pick of two banks, 4,400 in all.)
ENTRY_BANK_WORDS = 2048
#: pe_fetch: cycles the bank registers add to the fetch of a banked entry memory (to
#: FETCH_FIRST; Config.entry_read_extra)
ENTRY_BANKED_READ = 1
#: pe_lanes: cycles from an entry's issue in pe_fetch to its accumulator read (the ent
#: register; the row is read with the window and registered, so the LUT-RAM's output
#: mux and the forwarding choice are a cycle apart)
LANE_ACC_READ = 1
#: pe_lanes: cycles from ``ent.valid`` to the product being in the accumulator row
LANE_RETIRE = 4
#: with one accumulator port (Config.acc_one_port) a read takes the port LANE_ACC_READ
#: cycles after it arrives, holding the fetch's issue when it arrives (the held entry is
#: the one that would read the port with it), and its word is registered like an
#: entry's: its data leave the PE ``1 + ACC_READ_HOLD`` cycles after it arrives
ACC_READ_HOLD = LANE_ACC_READ + 1
#: with a port per accumulator region a read is registered in the PE before it reads
ACC_READ_REG = 1

# ---- the PE array ---------------------------------------------------------------
#: the lag (max) and MAC-count (add) trees register after every this many levels of
#: 2-input nodes: one compare-and-select per stage (two were 7 LUT levels and three
#: carry chains on kws, 73 MHz); their latency enters the scheduler's reaction to the
#: lag reports (model/schedule.py tree_latency)
TREE_REG_EVERY = 1
