"""Verilator lint (-Wall + scripts/lint_waivers.vlt) of every converted top of tiny."""

import pytest

pytestmark = pytest.mark.rtl     # MyHDL conversion and Verilator


def _blocks():
    from ese.hdl import tops
    return tops.BLOCKS


@pytest.fixture(scope="module")
def converted(tmp_path_factory, load_script):
    from ese.config import TINY
    lint = load_script("lint")
    out = tmp_path_factory.mktemp("lint_tiny")
    return lint, lint.convert(TINY, out)


@pytest.mark.parametrize("top", _blocks())
def test_lint_tiny(converted, top):
    lint, conv = converted
    assert not isinstance(conv[top], str), f"{top}: {conv[top]}"
    rc, msgs = lint.lint_file(lint.verilator(), conv[top], top)
    assert rc == 0 and not msgs, f"{top}: lint messages:\n" + "\n".join(msgs)


def test_lint_csr_wide_address(tmp_path, load_script):
    from ese.config import TINY
    from ese.hdl.convert import convert_block
    from ese.hdl.csr import top
    lint = load_script("lint")
    src = convert_block(top(TINY.replace(lite_addr_bits=16)), "csr", tmp_path)
    rc, msgs = lint.lint_file(lint.verilator(), src, "csr")
    assert rc == 0 and not msgs, "\n".join(msgs)


def test_lint_script_summary(capsys, load_script):
    lint = load_script("lint")
    rc = lint.main(["--config", "tiny", "--top", "csr"])
    out = capsys.readouterr().out
    assert rc == 0 and "1/1 tops clean" in out
