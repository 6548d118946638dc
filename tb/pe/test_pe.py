"""PE (pe_fetch + n_lanes pe_lanes): sparse matrix-vector products, bit for bit.

Random integer matrices of every nasty kind (tb/pe/stim.py: empty columns,
long gaps needing fillers, full columns, an all-zero PE share, one column,
rows not divisible by n_pe) are encoded with model/encode.encode_matrix and
loaded together at random entry/pointer offsets of one PE.  Every lane gets
its own random vectors (extremes included).  Then a sequence of jobs, with
random idle gaps and random pauses on every port:

* ``one``:  clear (mostly) + one command, ``avail`` = all;
* ``two``:  clear + two commands back to back into one region (W_x x + W_r y),
  different vectors and shifts (sometimes into two regions);
* ``slow``: the command's vector words first hold garbage, the command starts
  with ``avail`` = 0 and each word is written (and ``avail`` raised) one by one;
* ``zero``: a command with 0 columns.

After the jobs' ``done`` pulses the whole accumulator memory of every lane is
drained and compared with a numpy reference computed from the UNENCODED
matrix: ``acc[region + l] (+)= (W[l*n_pe+p, :] @ x[vb:vb+cols]) << shift``
(exact int64).  Throughput: a ``one`` job's ``done`` comes exactly
E + Z + 8 cycles after acceptance (E entries incl. fillers, Z empty columns),
a ``two`` job's second ``done`` E1 + Z1 + E2 + Z2 + 12 cycles after the first
acceptance.
"""

import random
import time

import numpy as np
import pytest

from tb.common.runner import SIMS, run_cocotb, tb_config, tb_params

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from tb.common.pe_ports import LoadDriver, PeCommandDriver
from tb.common.sim import BaseTB
from tb.common.trace import Trace

PE_LAT = 8   # done - accept = E + Z + PE_LAT (hdl/pe.py docstring)


def flat(vals, bits):
    """Lane values -> flat bus (lane 0 in the LSBs)."""
    v = 0
    for k, x in enumerate(vals):
        v |= (int(x) & ((1 << bits) - 1)) << (k * bits)
    return v


def unflat(v, n, bits):
    out = []
    for k in range(n):
        u = (v >> (k * bits)) & ((1 << bits) - 1)
        out.append(u - (1 << bits) if u >> (bits - 1) else u)
    return out


class TB(BaseTB):
    """pe with ``n_lanes`` lanes: clock and reset, the load and command drivers
    (tb/common/pe_ports.py), the vector, clear and drain ports, one pause
    generator (probability ``p_idle``) for all of them, and the reference:
    the vector memory and the accumulators every lane must hold."""

    def __init__(self, dut, cfg, n_lanes: int, rng: random.Random, p_idle: float):
        super().__init__(dut, rng)
        self.cfg, self.n = cfg, n_lanes
        self.A, self.ACC = cfg.act_bits, cfg.acc_bits
        for s in ("ld_we", "cmd_valid", "vec_we", "clr_valid"):
            getattr(dut, s).value = 0
        dut.avail.value = cfg.max_cols
        dut.drn_addr.value = 0
        self.idle = self.pauses(p_idle)
        self.trace = Trace(dut, ["cmd_valid", "cmd_ready", "done"])
        self.loader = LoadDriver(dut, self.idle)
        self.cmd = PeCommandDriver(dut, self.trace)
        gr, pr = cfg.gate_rows_per_pe, cfg.proj_rows_per_pe
        self.depth = 2 * gr + pr
        self.region = [(0, gr), (gr, gr), (2 * gr, pr)]
        self.vec = np.zeros((n_lanes, cfg.vec_depth), dtype=np.int64)
        self.acc = np.zeros((n_lanes, self.depth), dtype=np.int64)

    async def start(self, watchdog_cycles: int) -> None:
        """Clock, reset, watchdog, trace; returns after a falling edge."""
        await super().start()
        self.watchdog(watchdog_cycles, "pe test")
        self.trace.start()
        await self.cycle()

    async def cycle(self):
        await FallingEdge(self.dut.clk)

    async def pause(self):
        while next(self.idle):
            await self.cycle()

    async def load(self, loads):
        """Write ``loads`` (sel, addr, data) in random order with random idle cycles."""
        order = list(loads)
        self.rng.shuffle(order)
        await self.loader.write(order)

    async def vec_write(self, addr, lane_vals, avail=None):
        d = self.dut
        d.vec_we.value, d.vec_addr.value = 1, addr
        d.vec_data.value = flat(lane_vals, self.A)
        if avail is not None:
            d.avail.value = avail
        await self.cycle()
        d.vec_we.value = 0

    async def clear(self, r):
        d = self.dut
        d.clr_valid.value, d.clr_region.value = 1, r
        await self.cycle()
        d.clr_valid.value = 0
        b, n = self.region[r]
        self.acc[:, b:b + n] = 0

    async def wait_done(self, n, since):
        """Wait until ``n`` done pulses were seen from trace row ``since``; return their rows."""
        rows = self.trace.rows
        while True:
            got = [t for t in range(since, len(rows)) if rows[t]["done"]]
            if len(got) >= n:
                assert len(got) == n, f"{len(got)} done pulses, expected {n}"
                return got
            await self.cycle()

    async def drain(self):
        """Read every accumulator row of every lane (1-cycle latency, pipelined)."""
        d = self.dut
        out = np.zeros((self.n, self.depth), dtype=np.int64)
        for a in range(self.depth + 1):
            if a < self.depth:
                d.drn_addr.value = a
            await ReadOnly()
            if a > 0:
                out[:, a - 1] = unflat(int(d.drn_data.value), self.n, self.ACC)
            await self.cycle()
        return out

    def reference(self, m, cmd):
        """Add the product of command ``cmd`` on matrix ``m`` into the reference (all lanes)."""
        _, ncols, vb, ab, sh = cmd
        local = m.local(self.cfg.n_pe)[:, :ncols]
        for k in range(self.n):
            prod = (local @ self.vec[k, vb:vb + ncols]) << sh
            self.acc[k, ab:ab + local.shape[0]] += prod


@cocotb.test()
async def pe_products(dut):
    from tb.pe.stim import acc_base, activations, scenario

    p = tb_params()
    cfg = tb_config()
    n = p["n_lanes"]
    rng = random.Random(p["seed"])
    nrng = np.random.default_rng(p["seed"])
    lay, regions, pe_idx = scenario(cfg, p["seed"])
    all_cols = cfg.max_cols
    wall0 = time.time()

    tb = TB(dut, cfg, n, rng, 0.25)
    await tb.start(p["watchdog"])

    await tb.load(lay.loads)
    for a in rng.sample(range(cfg.vec_depth), cfg.vec_depth):   # random order, own per lane
        vals = activations(nrng, n, cfg.act_bits)
        tb.vec[:, a] = vals
        await tb.pause()
        await tb.vec_write(a, vals)

    fits = {r: [i for i, m in enumerate(lay.mats)
                if -(-m.rows // cfg.n_pe) <= tb.region[r][1]] for r in range(3)}
    perf = []        # (E, Z, cycles) of the 'one' jobs
    perf2 = []       # (E1+Z1+E2+Z2, cycles) of the 'two' jobs
    kinds_done = {}
    # every matrix once alone (avail = all), then random jobs
    jobs = [("one", i) for i in range(len(lay.mats))] + [("one", None)] * 4 \
        + [("two", None)] * 8 + [("slow", None)] * 6 + [("zero", None)] * 2
    rng.shuffle(jobs)
    jobs = [("one", None)] + jobs          # a first job straight from reset
    for job, want_mi in jobs:
        if want_mi is None:
            r = rng.randrange(3)
        else:
            r = rng.choice([q for q in range(3) if want_mi in fits[q]])
        for _ in range(rng.choice([0, 0, 1, 2, 7])):
            await tb.cycle()
        if rng.random() < 0.85 or job == "two":
            await tb.clear(r)
        if rng.random() < 0.5:
            await tb.pause()

        def make_cmd(region, mi=None):
            mi = rng.choice(fits[region]) if mi is None else mi
            m = lay.mats[mi]
            vb = rng.randrange(cfg.vec_depth - m.cols + 1)
            return mi, (m.ptr_base, m.cols, vb, acc_base(cfg, region),
                        rng.randrange(cfg.max_align_shift + 1))

        if job == "one":
            mi, cmd = make_cmd(r, want_mi)
            t0 = await tb.cmd.issue(cmd, all_cols)
            tb.reference(lay.mats[mi], cmd)
            (t1,) = await tb.wait_done(1, t0)
            m = lay.mats[mi]
            perf.append((m.n_entries, m.empty_cols, t1 - t0))
            kinds_done[m.kind] = kinds_done.get(m.kind, 0) + 1
        elif job == "two":
            r2 = r if rng.random() < 0.75 else rng.randrange(3)
            mi1, c1 = make_cmd(r)
            mi2, c2 = make_cmd(r2)
            c1 = c1[:4] + (0,) if rng.random() < 0.5 else c1       # like shift_x / shift_r
            t0 = await tb.cmd.issue(c1, all_cols)
            await tb.cmd.issue(c2, all_cols)
            tb.reference(lay.mats[mi1], c1)
            tb.reference(lay.mats[mi2], c2)
            t1, t2 = await tb.wait_done(2, t0)
            m1, m2 = lay.mats[mi1], lay.mats[mi2]
            perf2.append((m1.n_entries + m1.empty_cols + m2.n_entries + m2.empty_cols, t2 - t0))
        elif job == "slow":
            mi, cmd = make_cmd(r)
            _, ncols, vb, _, _ = cmd
            for j in range(ncols):                  # garbage first: a read too early fails
                await tb.vec_write(vb + j, activations(nrng, n, cfg.act_bits))
            await tb.cmd.wait_ready()
            t0 = await tb.cmd.issue(cmd, 0)
            for j in range(ncols):
                vals = activations(nrng, n, cfg.act_bits)
                tb.vec[:, vb + j] = vals
                await tb.pause()
                for _ in range(rng.choice([0, 1, 4, 12, 30])):   # let the PE catch up
                    await tb.cycle()
                # raise avail in the cycle of the write (allowed) or a bit later
                if rng.random() < 0.6:
                    await tb.vec_write(vb + j, vals, avail=j + 1)
                else:
                    await tb.vec_write(vb + j, vals)
                    await tb.pause()
                    dut.avail.value = j + 1
                    await tb.cycle()
            dut.avail.value = all_cols
            tb.reference(lay.mats[mi], cmd)
            await tb.wait_done(1, t0)
        else:  # zero columns
            cmd = (rng.randrange(cfg.ptr_depth), 0, 0, acc_base(cfg, r), 0)
            t0 = await tb.cmd.issue(cmd, all_cols)
            (t1,) = await tb.wait_done(1, t0)
            assert t1 - t0 == 5, f"ncols=0: done {t1 - t0} cycles after accept, expected 5"
        got = await tb.drain()
        for k in range(n):
            bad = np.nonzero(got[k] != tb.acc[k])[0]
            assert bad.size == 0, \
                f"job {job} (region {r}), lane {k}: {bad.size} accumulator rows differ, first " \
                f"row {bad[0]}: got {got[k, bad[0]]}, expected {tb.acc[k, bad[0]]}"
    # throughput
    for E, Z, cyc in perf:
        assert cyc == E + Z + PE_LAT, f"one command: {cyc} cycles for E={E}, Z={Z} " \
                                      f"(expected E+Z+{PE_LAT})"
    for EZ, cyc in perf2:     # second cmd_valid held from the cycle after the first accept
        assert cyc == EZ + PE_LAT + 4, f"two commands: {cyc} cycles for E1+Z1+E2+Z2={EZ} " \
                                       f"(expected E+Z+{PE_LAT + 4})"
    E = sum(x[0] for x in perf)
    Z = sum(x[1] for x in perf)
    C = sum(x[2] for x in perf)
    cycles = tb.trace.now
    wall = time.time() - wall0
    cocotb.log.info(
        f"pe: {len(jobs)} jobs, kinds {kinds_done}; 'one' jobs: {E} entries + {Z} empty cols in "
        f"{C} cycles = {C / max(E, 1):.3f} cycles/entry (E+Z+{PE_LAT} each); 'two' jobs: "
        + ", ".join(f"{c}/{ez}" for ez, c in perf2) + " cycles/(E+Z); "
        f"{cycles} cycles simulated in {wall:.1f} s = {cycles / wall:.0f} cycles/s")


# ----------------------------------------------------------------------------- pytest side

def configs():
    from tb.pe_fetch.test_pe_fetch import configs as c
    return c()


@pytest.mark.rtl
@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("cfg_name", ["tiny", "pe_alt"])
def test_pe(sim, cfg_name):
    from ese.hdl.convert import config_key
    from ese.hdl.pe import top

    cfg = configs()[cfg_name]
    n_lanes = cfg.n_ch
    params = dict(cfg=cfg.to_dict(), n_lanes=n_lanes, seed=5 + len(cfg_name), watchdog=200000)
    run_cocotb("pe", lambda: top(cfg, n_lanes=n_lanes), __name__, sim,
               config_key(cfg, {"n_lanes": n_lanes}), params)
