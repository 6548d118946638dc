"""Project-wide pytest set-up.

RTL tests of one testbench file share simulator builds (``build/tb/...``), so
under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) every test
in a ``tb/`` file is kept on one worker; different files run in parallel.

Fixture ``load_script``: ``load_script("lint")`` imports ``scripts/lint.py``
(``scripts/`` is not a package) for the tests that call a script's functions.
"""

import importlib.util
from pathlib import Path

import pytest

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


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if "/tb/" in path:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
            item.add_marker(pytest.mark.rtl)
