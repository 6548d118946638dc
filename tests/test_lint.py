"""Verilator lint (-Wall + scripts/lint_waivers.vlt) of every converted top of tiny."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_mod():
    spec = importlib.util.spec_from_file_location("ese_lint", ROOT / "scripts" / "lint.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _blocks():
    from ese.hdl import tops
    return tops.BLOCKS


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from ese.config import TINY
    lint = _lint_mod()
    out = tmp_path_factory.mktemp("lint_tiny")
    return lint, lint.convert(TINY, out)


@pytest.mark.parametrize("top", _blocks())
def test_lint_tiny(converted, top):
    lint, conv = converted
    assert not isinstance(conv[top], str), f"{top}: {conv[top]}"
    rc, msgs = lint.lint_file(lint.verilator(), conv[top], top)
    assert rc == 0 and not msgs, f"{top}: lint messages:\n" + "\n".join(msgs)


def test_lint_csr_wide_address(tmp_path):
    from ese.config import TINY
    from ese.hdl.convert import convert_block
    from ese.hdl.csr import top
    lint = _lint_mod()
    src = convert_block(top(TINY.replace(lite_addr_bits=16)), "csr", tmp_path)
    rc, msgs = lint.lint_file(lint.verilator(), src, "csr")
    assert rc == 0 and not msgs, "\n".join(msgs)


def test_lint_script_summary(capsys):
    lint = _lint_mod()
    rc = lint.main(["--config", "tiny", "--top", "csr"])
    out = capsys.readouterr().out
    assert rc == 0 and "1/1 tops clean" in out
