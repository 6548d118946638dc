"""ESE: a sparse LSTM inference accelerator (Han et al., FPGA 2017) in MyHDL.

Subpackages: ``ese.model`` (reference model, compression, encoder; folder
``model/``), ``ese.hdl`` (MyHDL blocks; folder ``hdl/``), ``ese.rtlsim`` (the
RTL runner; ``rtlsim/``), ``ese.speech`` (the spoken-word task; ``speech/``).

The repository keeps these folders next to ``ese/`` and ``pyproject.toml``
maps them into the package (``[tool.setuptools.package-dir]``); a wheel holds
them as ``ese/model/`` and so on.  Imported from a source tree (a script or
pytest run from the repository, or an editable install), this package
extends its ``__path__`` with the repository folder, so that ``ese.hdl``
resolves to ``hdl/`` there as it does in a wheel: the source tree, an
editable install and a wheel give the same ``ese.*`` modules, and a source
tree first on ``sys.path`` no longer hides the subpackages of an installed
``ese`` (docs/cli.md "Installing").  A side effect, in a source tree only:
the other folders of the repository are importable as ``ese.<folder>`` too;
nothing uses that.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

#: the folders that ``pyproject.toml`` maps to ``ese.<folder>`` (tests/test_deps.py
#: holds the two lists equal)
SUBPACKAGE_FOLDERS = ("model", "hdl", "rtlsim", "speech", "board")


def _source_root():
    """The repository folder if this ``ese/`` sits in a source tree, else None (installed)."""
    root = _Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and \
            all((root / d / "__init__.py").is_file() for d in SUBPACKAGE_FOLDERS):
        return root
    return None


#: the repository folder when ``ese`` is imported from a source tree, None when installed
SOURCE_ROOT = _source_root()

if SOURCE_ROOT is not None and str(SOURCE_ROOT) not in __path__:
    __path__.append(str(SOURCE_ROOT))
