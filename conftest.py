"""Project-wide pytest set-up.

RTL tests of one testbench file share simulator builds (``build/tb/...``), so
under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) every test
in a ``tb/`` file is kept on one worker; different files run in parallel.
"""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if "/tb/" in path:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
            item.add_marker(pytest.mark.rtl)
