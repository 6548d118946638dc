"""Project-wide pytest set-up.

RTL tests of one testbench file share simulator builds (``build/tb/...``), so
under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) every test
in a ``tb/`` file is kept on one worker; different files run in parallel.

Marker ``rtl``: the test works on the RTL (MyHDL conversion, Verilator, a
Verilog simulator).  Every test under ``tb/`` gets it here; tests under
``tests/`` carry it explicitly.  ``make test-model`` runs ``-m "not rtl"``,
``make test-rtl`` runs ``-m rtl``.  A test without the marker that starts a
simulator fails (``ese.rtlsim.build`` refuses to build while
``ESE_FORBID_SIM`` is set, see :func:`_no_simulator_unless_rtl`), so a
missing marker cannot slip a simulation into the fast loop.

Fixture ``load_script``: ``load_script("lint")`` imports ``scripts/lint.py``
(``scripts/`` is not a package) for the tests that call a script's functions.
"""

import importlib.util
from pathlib import Path

import pytest

from ese.rtlsim.build import FORBID_ENV

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def load_script():
    """A function: script name -> ``scripts/<name>.py`` imported as a module."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"ese_script_{name}",
                                                      ROOT / "scripts" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load


@pytest.fixture(autouse=True)
def _no_simulator_unless_rtl(request, monkeypatch):
    """Forbid simulator runs (also in subprocesses) during a test not marked ``rtl``."""
    if request.node.get_closest_marker("rtl") is None:
        monkeypatch.setenv(FORBID_ENV, f"{request.node.nodeid} starts a Verilog simulator but "
                                       f"is not marked rtl (add @pytest.mark.rtl)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if "/tb/" in path:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
            item.add_marker(pytest.mark.rtl)
