"""`convert_all` is reproducible: two conversions of tiny give identical bytes,
in one process and in another process with another string-hash seed."""

import os
import subprocess
import sys
import warnings

import pytest


@pytest.mark.rtl      # converts every block three times (MyHDL)
def test_convert_twice_identical(tmp_path):
    from ese.config import TINY
    from ese.hdl.convert import convert_all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = convert_all(TINY, tmp_path / "a")
        b = convert_all(TINY, tmp_path / "b")
    # a fresh interpreter with another hash seed (MyHDL iterates over sets)
    code = "from ese.config import TINY; from ese.hdl.convert import convert_all; " \
           f"convert_all(TINY, {str(tmp_path / 'c')!r})"
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True,
                   env=dict(os.environ, PYTHONHASHSEED="4711"))
    c = sorted((tmp_path / "c").glob("*.v"))
    assert [p.name for p in c] == sorted(p.name for p in a)
    for pa, pc in zip(sorted(a), c):
        assert pa.read_bytes() == pc.read_bytes(), f"{pa.name} differs in another process"
    assert [p.name for p in a] == [p.name for p in b] and "csr.v" in [p.name for p in a]
    listed = (tmp_path / "a" / "files.f").read_text().split()
    assert listed == [p.name for p in a]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two conversions"
    assert (tmp_path / "a" / "files.f").read_bytes() == (tmp_path / "b" / "files.f").read_bytes()


def test_every_block_registered():
    """Every hdl module with a top() is listed in tops.BLOCKS (so verilog/lint/synth see it)."""
    import importlib
    import pkgutil
    import ese.hdl
    from ese.hdl import tops
    for m in pkgutil.iter_modules(ese.hdl.__path__):
        mod = importlib.import_module(f"ese.hdl.{m.name}")
        if callable(getattr(mod, "top", None)):
            assert m.name in tops.BLOCKS, f"ese.hdl.{m.name} has top() but is not in tops.BLOCKS"
