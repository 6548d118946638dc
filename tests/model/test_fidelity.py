"""Integer engine vs. float engine on the same pruned model: SQNR on the paper shape."""

import numpy as np
import pytest

from ese.config import ESE32, TINY
from ese.model.lstm_fixed import infer_fixed
from ese.model.lstm_float import run_float
from ese.model.modelfile import random_model
from ese.model.prune import prune_model
from ese.model.quantize import dequantize_model, quantize_model


def sqnr_db(y, ref):
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    return 10 * np.log10(np.sum(ref ** 2) / np.sum((y - ref) ** 2))


def test_paper_model_sqnr():
    """153 inputs, 1024 cells, projection 512, peepholes, density 0.112, 32 frames."""
    m = random_model(153, 1024, 512, layers=1, peephole=True, seed=0)
    pruned = prune_model(m, ESE32, density=0.112)
    qm = quantize_model(pruned, ESE32)
    x = np.random.default_rng(1).standard_normal((1, 32, 153))
    y_float = run_float(pruned, x)
    y_fixed = infer_fixed(qm, x)
    total = sqnr_db(y_fixed, y_float)
    weights_only = sqnr_db(run_float(dequantize_model(qm), x), y_float)
    rms = float(np.sqrt(np.mean(y_float ** 2)))
    print(f"\npaper model (153/1024/512, density 0.112, 32 frames, x ~ N(0,1)): "
          f"SQNR integer vs float {total:.2f} dB (12-bit weights alone {weights_only:.2f} dB; "
          f"output rms {rms:.4f}, act LSB {2.0 ** -ESE32.act_frac:.2e})")
    assert total >= 30.0
    assert weights_only > total          # activations/LUTs dominate, not the weights


@pytest.mark.parametrize("layers,proj", [(2, 16), (3, None)])
def test_small_stack_sqnr(layers, proj):
    m = random_model(20, 32, proj, layers=layers, peephole=True, seed=layers)
    pruned = prune_model(m, TINY, density=0.3)
    qm = quantize_model(pruned, TINY)
    x = 2.0 * np.random.default_rng(layers).standard_normal((2, 24, 20))
    s = sqnr_db(infer_fixed(qm, x), run_float(pruned, x))
    print(f"\n{layers} layers, 20/32/{proj}: SQNR {s:.2f} dB")
    assert s >= 25.0
