"""Shared by the CLI tests: run ``ese`` in-process and check a bad-input answer."""

from ese.cli import main


def run(capsys, *argv):
    """``(rc, stdout, stderr)`` of ``ese argv...``."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_bad(capsys, *argv, match=None):
    """Exit 2 with one ``ese: error:`` line (containing ``match``), no traceback."""
    rc, out, err = run(capsys, *argv)
    lines = err.splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("ese: error: "), err
    assert "Traceback" not in err
    if match is not None:
        assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]
