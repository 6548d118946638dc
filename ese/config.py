"""The one configuration object of the project.

A :class:`Config` fixes everything that is decided at elaboration time: the
number of channels and PEs, every number format, the lookup tables, buffer
depths and the largest model the hardware accepts.  The same object drives

* the compression pipeline in ``ese.model`` (pruning shares, number formats,
  encoder index width),
* MyHDL elaboration in ``ese.hdl`` (port widths, memory depths),
* the cocotb testbenches in ``tb/`` (what to generate, what to expect).

Configurations are immutable; build a new one with :meth:`Config.replace`.
Named presets live in :data:`PRESETS`; a JSON file holding a subset of the
fields (optionally ``"base": "<preset>"``) is loaded by :func:`load_config`.

Every field is checked by :meth:`Config.validate` (called on construction);
an impossible configuration raises :class:`ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from ese.pipeline import ACC_READ_HOLD, ACC_READ_REG  # re-exported: accumulator read delays
from ese.pipeline import ENTRY_BANK_WORDS, ENTRY_BANKED_READ


class ConfigError(ValueError):
    """An impossible or malformed configuration (message names the field)."""


def clog2(n: int) -> int:
    """Bits needed to address ``n`` items (ceil(log2(n)), at least 1)."""
    return max(1, math.ceil(math.log2(max(n, 1))))


#: at most this many accumulator rows per PE: one memory with one read port (hdl/pe_lanes.py)
ACC_ONE_PORT_ROWS = 32


@dataclass(frozen=True)
class Config:
    """Elaboration-time parameters of the accelerator and its software.

    Number formats are written (bits, frac): a signed two's complement integer
    of ``bits`` bits holding value * 2**frac.  See docs/numerics.md.
    """

    name: str = "custom"

    # --- array -----------------------------------------------------------
    n_ch: int = 2                 #: channels (sequences computed at once)
    n_pe: int = 4                 #: PEs per channel (rows dealt round-robin)

    # --- number formats --------------------------------------------------
    weight_bits: int = 12         #: encoded weight width (frac per matrix)
    index_bits: int = 4           #: relative row index width of an entry
    act_bits: int = 16            #: x, y, m: activations
    act_frac: int = 11
    cell_bits: int = 16           #: c: cell state
    cell_frac: int = 11
    pre_bits: int = 16            #: gate pre-activations and biases
    pre_frac: int = 11
    gate_frac: int = 14           #: LUT outputs (i, f, g, o, tanh c); act_bits wide
    acc_bits: int = 48            #: PE accumulator (never overflows, see validate)
    max_align_shift: int = 8      #: largest W_x/W_r binary-point difference aligned exactly
    weight_frac_max: int = 24     #: finest binary point the quantizer may pick

    # --- lookup tables ---------------------------------------------------
    lut_bits: int = 11            #: log2(entries): 2048 entries per table
    sigmoid_range_log2: int = 3   #: sigmoid table covers [-8, 8)
    tanh_range_log2: int = 2      #: tanh table covers [-4, 4)

    # --- largest model accepted -----------------------------------------
    max_input: int = 64
    max_cells: int = 64
    max_proj: int = 64
    max_layers: int = 3
    max_frames: int = 65535       #: T limit of the frame counter

    # --- buffers and parallelism ----------------------------------------
    pe_entry_depth: int = 4096    #: encoded entries each PE can hold (all matrices)
    ew_lanes: int = 1             #: cells the element-wise unit finishes per cycle
    drain_lanes: int = 1          #: projection rows requantized per cycle
    bcast_width: int = 2          #: activation values broadcast to the PEs per cycle
    window: int = 64              #: activation window of each lane (stream values)

    # --- memory side -----------------------------------------------------
    axi_data_bits: int = 64       #: AXI4 master data width
    axi_addr_bits: int = 32
    lite_addr_bits: int = 8       #: AXI4-Lite register block address width

    # ---------------------------------------------------------------------
    def __post_init__(self):
        self.validate()

    # derived quantities -------------------------------------------------
    @property
    def gate_rows_per_pe(self) -> int:
        """Local gate rows of one PE (4*max_cells rows dealt over n_pe)."""
        return -(-4 * self.max_cells // self.n_pe)

    @property
    def proj_rows_per_pe(self) -> int:
        """Local projection rows of one PE."""
        return -(-self.max_proj // self.n_pe)

    @property
    def max_cols(self) -> int:
        """Widest matrix the hardware may see (columns of any matrix)."""
        return max(self.max_input, self.max_proj, self.max_cells)

    @property
    def max_matrices(self) -> int:
        """Matrices of the largest model: W_x, W_r, W_p per layer."""
        return 3 * self.max_layers

    @property
    def ptr_depth(self) -> int:
        """Entry pointers each PE holds: the start of every matrix and the end of the last."""
        return self.max_matrices + 1

    @property
    def vbuf_bank_count(self) -> int:
        """Banks of a channel's vector buffer: one value of each per cycle."""
        return max(self.bcast_width, self.ew_lanes, self.drain_lanes)

    @property
    def max_row_shift(self) -> int:
        """log2 of the largest row stride of a matrix (model/encode.py)."""
        rows = max(-(-4 * self.max_cells // self.n_pe), -(-self.max_proj // self.n_pe), 1)
        return (rows - 1).bit_length()

    @property
    def acc_one_port(self) -> bool:
        """At most ACC_ONE_PORT_ROWS accumulator rows per PE (gate + projection): the
        rows are one memory with a single read port, shared by the accumulation and the
        reads (hdl/pe_lanes.py); with more, the two regions have a port each."""
        return self.gate_rows_per_pe + self.proj_rows_per_pe <= ACC_ONE_PORT_ROWS

    @property
    def acc_read_delay(self) -> int:
        """Cycles an accumulator read waits inside a PE (hdl/pe_lanes.py).

        With one port (:attr:`acc_one_port`) a read takes it LANE_ACC_READ cycles after
        it reaches the PE (the PE's fetch holds the entry that would have read the
        accumulators in that cycle) and its word is registered once more: ACC_READ_HOLD.
        With a port per region the read is registered once (ACC_READ_REG) before it reads.
        """
        return ACC_READ_HOLD if self.acc_one_port else ACC_READ_REG

    @property
    def entry_banks(self) -> int:
        """Banks of the PE's entry memory (hdl/ram.py ``banked_ram``): 1 up to
        ENTRY_BANK_WORDS entries, else that many words a bank, each read into a
        register of its own before the bank is picked (ENTRY_BANKED_READ more cycles)."""
        return -(-self.pe_entry_depth // ENTRY_BANK_WORDS)

    @property
    def entry_read_extra(self) -> int:
        """Cycles a banked entry memory adds to the fetch's front end (pipeline.py)."""
        return ENTRY_BANKED_READ if self.entry_banks > 1 else 0

    @property
    def entry_bits(self) -> int:
        return self.weight_bits + self.index_bits

    @property
    def max_gap(self) -> int:
        """Largest relative index an entry can hold."""
        return (1 << self.index_bits) - 1

    @property
    def lut_size(self) -> int:
        return 1 << self.lut_bits

    # validation -----------------------------------------------------------
    def validate(self) -> None:
        """Reject impossible values with a :class:`ConfigError` naming the field."""
        def need(cond, fld, why):
            if not cond:
                raise ConfigError(f"config {self.name!r}: {fld}: {why}")

        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "name":
                need(isinstance(v, str) and v, "name", "must be a non-empty string")
                continue
            need(isinstance(v, int) and not isinstance(v, bool), f.name,
                 f"must be an integer, got {v!r}")

        for fld in ("n_ch", "n_pe", "max_input", "max_cells", "max_proj", "max_layers",
                    "max_frames", "pe_entry_depth", "ew_lanes", "drain_lanes", "bcast_width",
                    "window"):
            need(getattr(self, fld) >= 1, fld, f"must be >= 1, got {getattr(self, fld)}")
        need(self.n_pe <= 1024, "n_pe", "at most 1024 PEs per channel")
        need(self.n_ch <= 64, "n_ch", "at most 64 channels")
        need(2 <= self.weight_bits <= 18, "weight_bits", "must be in 2..18 (one DSP input)")
        need(1 <= self.index_bits <= 8, "index_bits", "must be in 1..8")
        for b, fr in (("act_bits", "act_frac"), ("cell_bits", "cell_frac"),
                      ("pre_bits", "pre_frac")):
            bits, frac = getattr(self, b), getattr(self, fr)
            need(4 <= bits <= 27, b, f"must be in 4..27, got {bits}")
            need(0 <= frac <= bits - 2, fr, f"must be in 0..{b}-2 = {bits - 2}, got {frac}")
        need(1 <= self.gate_frac <= self.act_bits - 2, "gate_frac",
             f"must be in 1..act_bits-2 so that 1.0 fits, got {self.gate_frac}")
        need(self.gate_frac >= self.cell_frac, "gate_frac",
             "must be >= cell_frac (f*c is aligned to i*g by a left shift)")
        need(0 <= self.max_align_shift <= 16, "max_align_shift", "must be in 0..16")
        need(1 <= self.weight_frac_max <= 31, "weight_frac_max", "must be in 1..31")
        need(4 <= self.lut_bits <= 14, "lut_bits", "must be in 4..14")
        for rng, fr_name in (("sigmoid_range_log2", "pre_frac"), ("tanh_range_log2", "pre_frac")):
            r = getattr(self, rng)
            need(0 <= r <= 6, rng, "must be in 0..6")
            # the table's step must be a whole number of input LSBs
            need(r + 1 - self.lut_bits + self.pre_frac >= 0, rng,
                 f"table step 2**({r + 1 - self.lut_bits}) is finer than the pre-activation "
                 f"LSB 2**-{self.pre_frac}: lower lut_bits or raise pre_frac")
            # the input format must reach the table's edges
            need(self.pre_bits - 1 - self.pre_frac >= r, rng,
                 f"pre-activation format ({self.pre_bits},{self.pre_frac}) cannot hold the "
                 f"table range +-2**{r}")
        need(self.tanh_range_log2 + 1 - self.lut_bits + self.cell_frac >= 0, "tanh_range_log2",
             f"tanh table step is finer than the cell LSB 2**-{self.cell_frac}")
        need(self.entry_depth_ok(), "pe_entry_depth", "must be in 16..1048576")
        need(self.axi_data_bits in (32, 64, 128, 256, 512), "axi_data_bits",
             "must be one of 32, 64, 128, 256, 512")
        need(self.axi_addr_bits in (32, 40, 48, 64), "axi_addr_bits", "must be 32, 40, 48 or 64")
        need(7 <= self.lite_addr_bits <= 16, "lite_addr_bits", "must be in 7..16 (the register map spans 0x00-0x6C)")
        def pow2(v):
            return v >= 1 and v & (v - 1) == 0
        for fld in ("ew_lanes", "drain_lanes", "bcast_width", "window"):
            need(pow2(getattr(self, fld)), fld,
                 f"must be a power of two, got {getattr(self, fld)}")
        need(self.n_pe % 4 == 0, "n_pe",
             f"must be a multiple of 4 (a cell's four gates share one local row), got {self.n_pe}")
        need(self.n_pe % (4 * self.ew_lanes) == 0, "ew_lanes",
             f"the 4*ew_lanes gate rows of ew_lanes cells are read in one cycle from one "
             f"group of PEs: n_pe ({self.n_pe}) must be a multiple of 4*ew_lanes")
        need(self.max_cells % self.ew_lanes == 0, "ew_lanes",
             f"max_cells ({self.max_cells}) must be a multiple of ew_lanes")
        need(self.drain_lanes <= 4 * self.ew_lanes, "drain_lanes",
             f"projection rows are gathered from the PE block of one element-wise step: "
             f"drain_lanes must be <= 4*ew_lanes = {4 * self.ew_lanes}")
        need(self.bcast_width <= 64, "bcast_width", "must be <= 64")
        need((self.axi_data_bits // 16) % self.vbuf_bank_count == 0, "axi_data_bits",
             f"the output mover packs vbuf_bank_count = max(bcast_width, ew_lanes, "
             f"drain_lanes) = {self.vbuf_bank_count} values per cycle into a bus word of "
             f"axi_data_bits/16 values: axi_data_bits/16 must be a multiple of it")
        need(self.window >= 4 * self.bcast_width, "window",
             f"must hold at least 4 broadcast chunks (4*bcast_width = {4 * self.bcast_width})")
        need(self.window <= 4096, "window", "must be <= 4096")
        # exact accumulation: products, alignment shift and the longest sum fit.
        # Gate rows sum I + P products; a layer k > 0 takes the previous y, so
        # I <= max(max_input, max_proj).  The projection (shift 0) sums H products.
        need_acc = self.weight_bits + self.act_bits + self.max_align_shift \
            + clog2(max(self.max_input, self.max_proj) + self.max_proj + 1)
        need(self.acc_bits >= need_acc, "acc_bits",
             f"must be >= weight_bits+act_bits+max_align_shift"
             f"+clog2(max(max_input,max_proj)+max_proj+1) "
             f"= {need_acc} so that no sum can overflow, got {self.acc_bits}")
        need_proj = self.weight_bits + self.act_bits + clog2(self.max_cells + 1)
        need(self.acc_bits >= need_proj, "acc_bits",
             f"must be >= weight_bits+act_bits+clog2(max_cells+1) = {need_proj} so that the "
             f"projection sum cannot overflow, got {self.acc_bits}")
        need(self.acc_bits <= 64, "acc_bits", "must be <= 64")

    def entry_depth_ok(self) -> bool:
        return 16 <= self.pe_entry_depth <= (1 << 20)

    # convenience ----------------------------------------------------------
    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        d = dict(d)
        base = d.pop("base", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown configuration field(s): {', '.join(unknown)}")
        if base is not None and base not in PRESETS:
            raise ConfigError(f"unknown base preset {base!r}")
        start = PRESETS[base].to_dict() if base is not None else {}
        start.update(d)
        return cls(**start)


PRESETS: dict[str, Config] = {}


def _preset(cfg: Config) -> Config:
    PRESETS[cfg.name] = cfg
    return cfg


#: A few PEs and two channels: fast tests.  Accepts models up to 64/64/64, 3 layers.
#: The presets meant for an ECP5 (tiny, kws) align W_x / W_r by at most 6 bits: a
#: weight_bits + max_align_shift = 18-bit weight times an 18-bit value is one ECP5
#: MULT18X18D (20 bits need two and an adder: docs/timing.md)
TINY = _preset(Config(name="tiny", n_ch=2, n_pe=4, max_input=64, max_cells=64, max_proj=64,
                      max_layers=3, pe_entry_depth=4096, axi_data_bits=64,
                      bcast_width=2, window=16, max_align_shift=6))

#: The paper's channel: 32 PEs, the paper model (153/1024/512, one layer) fits.
#: The index is 6 bits, not the paper's 4: block RAM words are 18 bits wide, so a
#: 12 + 6 bit entry costs no more memory than 12 + 4, and it removes nearly all
#: filler entries (12.6 % of the paper model's entries with 4 bits).
ESE32 = _preset(Config(name="ese32", n_ch=2, n_pe=32, index_bits=6, max_input=256,
                       max_cells=1024, max_proj=512, max_layers=2, pe_entry_depth=16384,
                       axi_data_bits=512, ew_lanes=2, drain_lanes=2, bcast_width=4,
                       window=64))

#: Latency-oriented: many PEs per channel, several element-wise lanes.
#: 512 PEs (about 711 entries each for the paper model), 8 cells per cycle through the
#: element-wise unit, 8 activation values broadcast per cycle.  W_x and W_r of a layer
#: share one binary point (max_align_shift = 0): no alignment shifter in the 512 PEs and a
#: 40-bit accumulator, for the area of an XCKU060 (docs/performance.md).
FAST = _preset(Config(name="fast", n_ch=1, n_pe=512, index_bits=6, max_input=256,
                      max_cells=1024, max_proj=512, max_layers=2, pe_entry_depth=1024,
                      axi_data_bits=512, ew_lanes=8, drain_lanes=8, bcast_width=8,
                      window=256, max_align_shift=0, acc_bits=40))

#: Throughput: several channels (one sequence each) on 256 PEs, every PE index's
#: lanes fed by one shared ``pe_fetch``: 6 x 256 = 1,536 multiply-accumulate lanes.
#: 18 accumulator rows per PE: one read port (acc_read_delay), which keeps the
#: Yosys estimate of the whole design inside an XCKU060 (93 %; docs/performance.md
#: "The full chip": a seventh channel would need ~107 %).  4 values broadcast per
#: cycle keep each lane's window in full 32-deep LUT-RAM (128 / 4); 8 would halve
#: the depth used and double the window's LUTs for 2 % of utilization.  The accumulator
#: is 39 bits, the exact bound (validate: 12 + 16 + clog2(512 + 512 + 1)): a bit less in
#: every accumulator word, forwarding multiplexer and gathered row (~4,000 LUT in all).
CHIP = _preset(Config(name="chip", n_ch=6, n_pe=256, index_bits=6, max_input=256,
                      max_cells=1024, max_proj=512, max_layers=2, pe_entry_depth=2048,
                      axi_data_bits=512, ew_lanes=4, drain_lanes=4, bcast_width=4,
                      window=128, max_align_shift=0, acc_bits=39))

#: The spoken-word recognizer of ``make speech`` (docs/speech.md): 2 LSTMP layers,
#: 80 inputs (two stacked 40-band log-mel frames), 256 cells, projection 128,
#: pruned to 11 % (~3,800 entries per PE; the depth leaves room up to ~23 %).
#: 16 PEs x 2 channels: the Verilator build stays short and an utterance
#: (49 steps) costs ~250k simulated cycles.  6-bit index as in ese32: no
#: fillers at all (a PE's share of a column has at most 64 rows).  n_pe is
#: tied to the trained model: its pruning masks are the load-balanced masks of
#: 16 PEs; more PEs would prune it further (ese.speech.recognizer refuses it).  One element-wise lane: n_pe is
#: a multiple of 4*ew_lanes and the MACs dominate a step anyway.
KWS = _preset(Config(name="kws", n_ch=2, n_pe=16, index_bits=6, max_input=80,
                     max_cells=256, max_proj=128, max_layers=2, pe_entry_depth=8192,
                     axi_data_bits=64, ew_lanes=1, drain_lanes=1, bcast_width=2,
                     window=64, max_align_shift=6))


#: The recognizer on a Radiona ULX3S 85F (LFE5U-85F; make board BOARD=ulx3s, docs/boards.md):
#: `kws` with one channel.  `kws` maps to 2,800 TRELLIS_DPR16X4 (11,200 LUTs of distributed
#: RAM against the part's 10,455), the lanes' windows and accumulators being per channel; one
#: channel halves them (Yosys synth_ecp5 of the core alone: 32,178 LUT4, 4,332 CCU2C, 1,544
#: TRELLIS_DPR16X4, 13,961 FF, 147 of 208 DP16KD, 48 of 156 MULT18X18D).  Everything else is
#: kws's, so the trained recognizer's image (16-PE pruning, 6-bit index, 64-bit words) loads
#: as it is; the driver runs one utterance per START.
ULX3S = _preset(KWS.replace(name="ulx3s", n_ch=1))

#: The recognizer on an AMD Kria KV260 (Zynq UltraScale+ XCK26: 117,120 LUT, 234,240 FF,
#: 1,248 DSP, 144 BRAM36 + 64 URAM; make board BOARD=kv260, docs/boards.md): `kws` with four
#: channels (four utterances per START), sized by the Yosys estimate (make synth PRESET=kv260:
#: 46,885 LUT, 18,733 FF, 98 BRAM36, 105 DSP; eight channels would take 92 % of the BRAM36).
KV260 = _preset(KWS.replace(name="kv260", n_ch=4))


def load_config(spec: "str | Path | Config | None") -> Config:
    """A preset name, a JSON file path, a Config, or None (= ``tiny``)."""
    if spec is None:
        return TINY
    if isinstance(spec, Config):
        return spec
    s = str(spec)
    if s in PRESETS:
        return PRESETS[s]
    p = Path(s)
    if p.suffix == ".json" or p.exists():
        try:
            d = json.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file {s} not found") from None
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"configuration file {s} is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise ConfigError(f"configuration file {s} must hold a JSON object")
        d.setdefault("name", p.stem)
        return Config.from_dict(d)
    raise ConfigError(f"unknown preset {s!r} (presets: {', '.join(PRESETS)}; or a .json file)")
