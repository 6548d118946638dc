"""Golden integer engine vs. a scalar reference written here from docs/numerics.md.

The reference uses plain Python ints, one cell at a time, its own lookup
tables and its own rounding/saturation helpers; it counts every saturation so
that the tests can prove each clamp of the datapath was exercised.
"""

import math
from collections import Counter

import numpy as np
import pytest

from ese.config import ESE32, TINY
from ese.model.lstm_fixed import (float_products_exact, infer_fixed, quantize_input, run_fixed,
                                  run_fixed_trace)
from ese.model.modelfile import FloatLayer, FloatModel, ModelError, random_model
from ese.model.prune import prune_model
from ese.model.quantize import quantize_model


# ----------------------------------------------------------------- reference
def rsr(x, s):
    """x * 2**-s rounded half up; exact left shift for s < 0 (numerics.md)."""
    if s > 0:
        return (x + (1 << (s - 1))) >> s
    return x << -s


class Ref:
    def __init__(self, cfg):
        self.cfg = cfg
        self.sat_count = Counter()
        self.tabs = {}
        n = 1 << cfg.lut_bits
        for func, rl in (("sigmoid", cfg.sigmoid_range_log2), ("tanh", cfg.tanh_range_log2)):
            step = 2 * 2 ** rl / n
            tab = []
            for k in range(n):
                mid = (k - n / 2 + 0.5) * step
                v = 1 / (1 + math.exp(-mid)) if func == "sigmoid" else math.tanh(mid)
                tab.append(self.clamp(math.floor(v * 2 ** cfg.gate_frac + 0.5), cfg.act_bits))
            self.tabs[func] = (tab, rl)

    @staticmethod
    def clamp(x, bits):
        return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, x))

    def sat(self, x, bits, stage):
        y = self.clamp(x, bits)
        if y != x:
            self.sat_count[stage + ("+" if x > y else "-")] += 1
        return y

    def lut(self, func, x, frac):
        tab, rl = self.tabs[func]
        n = len(tab)
        k = (x >> (rl + 1 - self.cfg.lut_bits + frac)) + n // 2
        return tab[min(max(k, 0), n - 1)]

    def quantize_input(self, v):
        c = self.cfg
        return self.sat(math.floor(v * 2 ** c.act_frac + 0.5), c.act_bits, "x")

    def run(self, qm, seq):
        """seq: list of frames of ints; returns (outputs, per-layer list of per-frame dicts)."""
        c_ = self.cfg
        gf, cf, af, pf = c_.gate_frac, c_.cell_frac, c_.act_frac, c_.pre_frac
        traces = []
        for q in qm.layers:
            H, P = q.n_cells, q.n_out
            Wx, Wr, b = q.wx.tolist(), q.wr.tolist(), q.bias.tolist()
            F = max(q.wf_x, q.wf_r, q.acc_frac if q.acc_frac is not None else -99)
            y, c = [0] * P, [0] * H
            out, tr = [], []
            for x in seq:
                acc = [(sum(Wx[r][j] * x[j] for j in range(len(x))) << (F - q.wf_x))
                       + (sum(Wr[r][j] * y[j] for j in range(P)) << (F - q.wf_r))
                       for r in range(4 * H)]
                a = [self.sat(rsr(acc[r], F + af - pf) + b[r], c_.pre_bits, "a")
                     for r in range(4 * H)]
                c_new, m = [], []
                lut_in = {n: [] for n in ("ai", "af", "ag", "ao", "i", "f", "g", "o")}
                for k in range(H):
                    ai, af_, ag, ao = a[4 * k: 4 * k + 4]
                    if q.peep is not None:
                        sp = q.wf_peep + cf - pf
                        pi, pf_, po = (int(q.peep[g][k]) for g in range(3))
                        ai = self.sat(ai + rsr(pi * c[k], sp), c_.pre_bits, "peep_i")
                        af_ = self.sat(af_ + rsr(pf_ * c[k], sp), c_.pre_bits, "peep_f")
                    i = self.lut("sigmoid", ai, pf)
                    f = self.lut("sigmoid", af_, pf)
                    g = self.lut("tanh", ag, pf)
                    ck = self.sat(rsr(((f * c[k]) << (gf - cf)) + i * g, 2 * gf - cf),
                                  c_.cell_bits, "c")
                    if q.peep is not None:
                        ao = self.sat(ao + rsr(po * ck, sp), c_.pre_bits, "peep_o")
                    o = self.lut("sigmoid", ao, pf)
                    m.append(self.sat(rsr(o * self.lut("tanh", ck, cf), 2 * gf - af),
                                      c_.act_bits, "m"))
                    for n, v in (("ai", ai), ("af", af_), ("ag", ag), ("ao", ao), ("i", i),
                                 ("f", f), ("g", g), ("o", o)):
                        lut_in[n].append(v)
                    c_new.append(ck)
                c = c_new
                if q.wp is not None:
                    Wp = q.wp.tolist()
                    y = [self.sat(rsr(sum(Wp[r][k] * m[k] for k in range(H)), q.wf_p),
                                  c_.act_bits, "y") for r in range(P)]
                else:
                    y = m
                out.append(y)
                tr.append(dict(acc=acc, a=a, c=c, m=m, y=y, **lut_in))
            traces.append(tr)
            seq = out
        return seq, traces


def compare(qm, x_float):
    """Run reference and engine on float frames (B, T, I); assert bit-exact; return Ref."""
    ref = Ref(qm.cfg)
    xq = np.array([[[ref.quantize_input(v) for v in fr] for fr in s] for s in x_float.tolist()],
                  dtype=np.int64)
    np.testing.assert_array_equal(quantize_input(x_float, qm.cfg), xq)
    y = run_fixed(qm, xq)
    tr = run_fixed_trace(qm, xq)
    np.testing.assert_array_equal(run_fixed(qm, xq, force_int=True), y)
    for bi in range(xq.shape[0]):
        want, rtr = ref.run(qm, xq[bi].tolist())
        np.testing.assert_array_equal(y[bi], np.array(want, dtype=np.int64))
        for layer, (etr, lrtr) in enumerate(zip(tr, rtr)):
            for key in ("acc", "a", "ai", "af", "ag", "ao", "i", "f", "g", "o", "c", "m", "y"):
                got = etr[key][bi]
                exp = np.array([fr[key] for fr in lrtr], dtype=np.int64)
                np.testing.assert_array_equal(got, exp, err_msg=f"layer {layer} {key}")
    np.testing.assert_array_equal(tr[-1]["y"], y)
    return ref


# ----------------------------------------------------------------- random models
CFG_ODD = TINY.replace(act_frac=8, pre_frac=11, cell_frac=9, gate_frac=12)


@pytest.mark.parametrize("layers,proj,peep,cfg", [
    (1, None, False, TINY), (1, 5, True, TINY), (2, None, True, TINY), (2, 4, False, TINY),
    (3, 3, True, TINY), (2, 4, True, CFG_ODD), (1, None, True, CFG_ODD),
])
def test_bit_exact_vs_scalar_reference(layers, proj, peep, cfg):
    m = random_model(6, 7, proj, layers=layers, peephole=peep, seed=layers * 7 + (proj or 1))
    rng = np.random.default_rng(layers)
    for l in m.layers:          # stronger than the init, so that gates move
        l.wx *= 4
        l.wr *= 4
        if l.peep is not None:
            l.peep = rng.uniform(-1.5, 1.5, l.peep.shape)
    qm = quantize_model(prune_model(m, cfg, density=0.5), cfg)
    x = rng.normal(0, 2.0, (2, 6, 6))
    compare(qm, x)


# ----------------------------------------------------------------- saturation
def saturating_model():
    """Hand-built: every clamp of the datapath is driven into, in both directions.

    cell 0: bias +15 on every gate -> c grows by ~1 per frame until it saturates
            at +16; peepholes (+) push a_i, a_f, a_o past +16.
    cell 1: large W_x on +-40 inputs (input saturates to +-16): a saturates +-.
    cell 2: bias g = -15 -> c saturates at -16; p_o * c pushes a_o past +16.
    cell 3: a_i = +-16 (saturated) from the alternating input; c grows in the
            + frames; in the - frames p_i * c (p_i < 0) pushes a_i below -16.
    projection: 20*m_0 -> y saturates at +16 and -16.
    """
    H, I, P = 4, 2, 2
    wx = np.zeros((4 * H, I))
    wr = np.zeros((4 * H, P))
    for g, row in enumerate(([6, -6], [6, 6], [-6, 6], [6, 0.5])):
        wx[g * H + 1] = row
        wr[g * H + 1] = 0.25
    wx[0 * H + 3] = [6, -6]
    #            cell: 0   1   2    3
    b = np.array([[15, 0, 15, 0],          # i
                  [15, 0, 15, 15],         # f
                  [15, 0, -15, 15],        # g
                  [15, 0, 15, 0]], dtype=float).reshape(-1)   # o
    peep = np.array([[2, 0, 0, -1], [0.5, 0, 0.5, 0], [2, 0, -2, 0]], dtype=float)
    wp = np.array([[20, 1, 0, 0], [-20, 0, 1, 0]], dtype=float)
    return FloatModel([FloatLayer(wx=wx, wr=wr, b=b, peep=peep, wp=wp)])


def test_every_saturation_point():
    qm = quantize_model(saturating_model(), TINY)
    t = np.arange(24)
    x = np.stack([40.0 * (-1) ** t, -40.0 * (-1) ** t], axis=1)[None]
    x[0, ::5] = [3.1, -0.7]              # some frames inside the range
    ref = compare(qm, x)
    for stage in ("x+", "x-", "a+", "a-", "peep_i+", "peep_i-", "peep_f+", "peep_o+",
                  "c+", "c-", "y+", "y-"):
        assert ref.sat_count[stage] > 0, (stage, ref.sat_count)
    # m = o * tanh(c) with o, tanh(c) <= 1: can never reach the act format's limit
    assert ref.sat_count["m+"] == ref.sat_count["m-"] == 0


@pytest.mark.parametrize("seed", range(3))
def test_random_large_models(seed):
    rng = np.random.default_rng(seed)
    m = random_model(4, 5, 3, layers=2, peephole=True, seed=seed)
    for l in m.layers:
        l.wx = rng.uniform(-8, 8, l.wx.shape)
        l.wr = rng.uniform(-8, 8, l.wr.shape)
        l.b = rng.uniform(-15, 15, l.b.shape)
        l.peep = rng.uniform(-4, 4, l.peep.shape)
        l.wp = rng.uniform(-30, 30, l.wp.shape)
    qm = quantize_model(m, TINY)
    ref = compare(qm, rng.normal(0, 12, (2, 10, 4)))
    assert ref.sat_count["a+"] and ref.sat_count["a-"]
    assert ref.sat_count["y+"] + ref.sat_count["y-"]


# ----------------------------------------------------------------- API and exactness
def test_infer_fixed_shapes_and_errors():
    qm = quantize_model(random_model(3, 4, 2, seed=1), TINY)
    x = np.random.default_rng(0).normal(size=(5, 3))
    y = infer_fixed(qm, x)
    assert y.shape == (5, 2) and y.dtype == np.float32
    yb = infer_fixed(qm, np.stack([x, -x]))
    np.testing.assert_array_equal(yb[0], y)
    assert not np.array_equal(yb[1], y)
    xq = quantize_input(x[None], TINY)
    np.testing.assert_array_equal(y, run_fixed(qm, xq)[0] / 2.0 ** TINY.act_frac)
    with pytest.raises(ModelError):
        run_fixed(qm, xq[0])                           # (T, I) is not (B, T, I)
    with pytest.raises(ModelError):
        run_fixed(qm, xq.astype(float))
    with pytest.raises(ModelError):
        run_fixed(qm, xq * 100)                        # outside the act format
    with pytest.raises(ModelError):
        infer_fixed(qm, np.zeros((4, 5)))


def test_float_product_bound():
    assert float_products_exact(ESE32)                 # 12 + 16 - 2 + clog2(1024) = 36 <= 53
    wide = TINY.replace(weight_bits=18, act_bits=27, act_frac=11, acc_bits=64)
    assert float_products_exact(wide)                   # 18 + 27 - 2 + clog2(64) = 49
    assert float_products_exact(wide, 1024)             # 18 + 27 - 2 + 10 = 53
    assert not float_products_exact(wide, 1025)
    assert not float_products_exact(wide.replace(max_input=1025, max_cells=1024,
                                                 max_proj=64))


def test_worst_case_products_exact():
    # every weight and input at its most negative value, largest alignment shift
    from ese.model.qmodel import QLayer, QModel
    cfg = TINY
    H, I = 64, 64
    q = QLayer(n_in=I, n_cells=H, n_out=H, wx=np.full((4 * H, I), -2048, dtype=np.int64),
               wr=np.full((4 * H, H), -2048, dtype=np.int64),
               bias=np.zeros(4 * H, dtype=np.int64), wf_x=0, wf_r=cfg.max_align_shift)
    qm = QModel(cfg=cfg, layers=[q])
    xq = np.full((1, 2, I), -(1 << 15), dtype=np.int64)
    tr = run_fixed_trace(qm, xq)
    want = I * 2048 * (1 << 15) << cfg.max_align_shift          # frame 0: y_prev = 0
    assert int(tr[0]["acc"][0, 0, 0]) == want
    np.testing.assert_array_equal(run_fixed(qm, xq), run_fixed(qm, xq, force_int=True))
    ref = Ref(cfg)
    want_y, _ = ref.run(qm, xq[0].tolist())
    np.testing.assert_array_equal(run_fixed(qm, xq)[0], want_y)
