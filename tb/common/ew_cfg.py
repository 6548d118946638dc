"""Configurations the element-wise datapath tests run on (lut_unit, ew_unit, requant).

``tiny`` is the default 16-bit preset; ``narrow`` changes every width and
binary point of the datapath (act 12/8, cell 13/8, pre 14/9, gate_frac 9,
512-entry tables, 8-bit weights, 40-bit accumulators), so that no width is
hard-wired to 16 or 48 anywhere.
"""

from ese.config import TINY, Config

NARROW: Config = TINY.replace(name="narrow", act_bits=12, act_frac=8, cell_bits=13, cell_frac=8,
                              pre_bits=14, pre_frac=9, gate_frac=9, lut_bits=9, weight_bits=8,
                              acc_bits=40)

#: name -> Config, the configurations every element-wise test runs on
EW_CONFIGS: dict[str, Config] = {"tiny": TINY, "narrow": NARROW}
