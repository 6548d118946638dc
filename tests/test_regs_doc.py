"""docs/registers.md and the C header are generated from ese/regmap.py."""

import shutil
import subprocess
from pathlib import Path

import pytest

from ese import regmap

ROOT = Path(__file__).resolve().parents[1]


def test_registers_doc_up_to_date(load_script):
    doc = (ROOT / "docs" / "registers.md").read_text()
    assert doc == load_script("gen_regs").render_doc(), \
        "docs/registers.md differs from ese/regmap.py: run python scripts/gen_regs.py"


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="no C compiler")
def test_c_header_compiles(tmp_path, load_script):
    h = tmp_path / "ese_regs.h"
    h.write_text(load_script("gen_regs").render_header())
    c = tmp_path / "t.c"
    c.write_text('#include "ese_regs.h"\n'
                 '_Static_assert(ESE_REG_CTRL == %du, "ctrl");\n'
                 '_Static_assert(ESE_ERR_NO_MODEL == %du, "err");\n'
                 'int main(void) { return (int)(ESE_STATUS_ERR_CODE_MASK >> ESE_STATUS_ERR_CODE_SHIFT) - 255; }\n'
                 % (regmap.ADDR["CTRL"], regmap.ERR["NO_MODEL"]))
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-o", str(tmp_path / "t"), str(c)],
                   check=True, cwd=tmp_path)
    assert subprocess.run([str(tmp_path / "t")]).returncode == 0


def test_regmap_tables():
    assert regmap.ERR["OK"] == 0 and regmap.ERR["NO_MODEL"] == 9
    assert len(set(regmap.ERR.values())) == len(regmap.ERR)
    assert [r.offset for r in regmap.REGS] == sorted(r.offset for r in regmap.REGS)
    assert regmap.decode("STATUS", regmap.encode("STATUS", ERR_CODE=5, DONE=1)) == \
        {"BUSY": 0, "DONE": 1, "ERROR": 0, "ERR_CODE": 5}
    from ese.config import PRESETS
    for cfg in PRESETS.values():
        regmap.check(cfg)
