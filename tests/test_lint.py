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
    table, conv = lint.convert(TINY, out)
    return lint, table, conv


@pytest.mark.parametrize("top", _blocks())
def test_lint_tiny(converted, top):
    lint, table, conv = converted
    assert not isinstance(conv[top], str), f"{top}: {conv[top]}"
    rc, msgs = lint.lint_file(lint.verilator(), table.files_of(conv[top]), top)
    assert rc == 0 and not msgs, f"{top}: lint messages:\n" + "\n".join(msgs)


def test_lint_tiny_separate_modules(converted):
    """Modules that are only instantiated (no top of their own) are linted too."""
    lint, table, conv = converted
    for name, m in conv.items():
        if isinstance(m, str) or m.top:
            continue
        rc, msgs = lint.lint_file(lint.verilator(), table.files_of(m), name)
        assert rc == 0 and not msgs, f"{name}: lint messages:\n" + "\n".join(msgs)


def test_lint_reports_submodule_messages_once(tmp_path, load_script):
    """A module's messages are those in its own file: ``toy`` is clean, while its
    ``scale`` modules report the unused input ``spare`` (tb/hier/toy.py)."""
    from ese.hdl.convert import ModuleTable, elaborate
    from tb.hier.toy import top
    lint = load_script("lint")
    table = ModuleTable()
    root = table.add_top(elaborate(top), "toy")
    table.write(tmp_path)
    seen = {}
    for m in table.order(root):
        rc, msgs = lint.lint_file(lint.verilator(), table.files_of(m), m.name)
        seen[m.name] = msgs
    assert any("spare" in x for x in seen["scale_g2_r0"]), seen
    assert not any("spare" in x for x in seen["toy"]), seen["toy"]


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
    assert rc == 0 and "1/1 modules clean" in out
