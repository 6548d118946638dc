"""`convert_all` is reproducible: two conversions of tiny give identical bytes,
in one process and in another process with another string-hash seed."""

import os
import subprocess
import sys
import warnings

import pytest


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


def test_tops_skip_only_missing_modules(monkeypatch, tmp_path):
    """A listed block whose module is missing is skipped; an import error propagates."""
    import importlib
    import sys
    from ese.hdl import tops
    assert "csr" in tops.present()
    broken = tmp_path / "ese_broken_block.py"
    broken.write_text("import no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError):
        importlib.import_module("ese_broken_block")
    sys.modules.pop("ese_broken_block", None)
    # the registration path itself re-raises (not swallowed)
    with pytest.raises(ImportError):
        tops._register("ese_broken_block", package=None)
