# ESE sparse LSTM accelerator.  `make sim` and `make test` are all a fresh
# machine needs: both create the virtual environment first.

SHELL     := /bin/bash
PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
PRESET    ?= tiny
SIM       ?= verilator
BOARD     ?= ulx3s
JOBS      ?= 2
FREQ      ?=
BLOCKS    ?=
BUILD     := build
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help env sim sim-random speech test test-model test-rtl verilog lint synth pnr pnr-blocks \
        bitstream bench board board-sim board-load clean distclean

help:
	@echo "make sim        speak a few words (espeak-ng), recognize them on the RTL with the default model (SIM=verilator|icarus)"
	@echo "make sim-random a fixed-seed random model on the RTL, compared bit for bit"
	@echo "make speech     train the spoken-word recognizer: data, training, pruning, accuracy tables (about 40 min + speaking on 2 cores)"
	@echo "make test       the whole test suite (model, blocks, system; both simulators)"
	@echo "make test-model the Python side only (tests not marked rtl: no MyHDL conversion, no simulator; < 1 min)"
	@echo "make test-rtl   the RTL side only (tests marked rtl: tb/, conversion, lint, the rtl engine)"
	@echo "make verilog    convert MyHDL to Verilog in $(BUILD)/gen/<preset> (PRESET=$(PRESET))"
	@echo "make lint       Verilator --lint-only -Wall on the generated Verilog"
	@echo "make synth      Yosys resource estimate and logic depth for the XCKU060"
	@echo "make pnr        open place and route on the ECP5-85F with timing (PRESET=$(PRESET), FREQ=100; ~20 min for tiny)"
	@echo "make pnr-blocks every block alone, out of context, at 120 MHz (PRESET=$(PRESET), BLOCKS=a,b)"
	@echo "make bitstream  Vivado flow (needs vivado on PATH)"
	@echo "make bench      performance figures (compression, integer engine, RTL cycles)"
	@echo "make board      the board's SoC: ULX3S bitstream (open tools, timing checked), KV260 Vivado project (BOARD=ulx3s|kv260)"
	@echo "make board-sim  spoken words through the simulated SoC of BOARD (--engine board), bit for bit"
	@echo "make board-load program the attached ULX3S with the bitstream of make board"

# --- environment -------------------------------------------------------------
env: $(VENV)/.done

$(VENV)/.done: pyproject.toml scripts/setup_env.sh
	@bash scripts/setup_env.sh "$(PYTHON)" "$(VENV)"
	@touch $@

# --- main jobs ---------------------------------------------------------------
sim: env
	$(BIN)/python -m ese.speech.demo --sim $(SIM)

sim-random: env
	$(BIN)/python scripts/run_sim.py --sim $(SIM)

speech: env
	$(BIN)/python scripts/speech.py --sim $(SIM)

test: env
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadgroup

# The split is by the pytest marker `rtl` (conftest.py): a test that starts a
# simulator without it fails, so test-model cannot grow an RTL run unnoticed.
test-model: env
	$(BIN)/python -m pytest -q -n $(JOBS) -m "not rtl"

test-rtl: env
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadgroup -m rtl

verilog: env
	$(BIN)/ese verilog --config $(PRESET) -o $(BUILD)/gen/$(PRESET)

lint: env
	$(BIN)/python scripts/lint.py --config $(PRESET)

synth: env
	$(BIN)/python scripts/synth.py --config $(PRESET)

pnr: env
	$(BIN)/python scripts/pnr.py --config $(PRESET) $(if $(FREQ),--freq $(FREQ))

pnr-blocks: env
	$(BIN)/python scripts/pnr_blocks.py --config $(PRESET) $(if $(FREQ),--freq $(FREQ)) $(if $(BLOCKS),--block $(BLOCKS))

bitstream: env
	@command -v vivado >/dev/null || { echo "make bitstream: vivado is not on PATH (source settings64.sh of Vivado 2023.2 or later)"; exit 2; }
	$(BIN)/python scripts/bitstream.py --config $(PRESET)

bench: env
	$(BIN)/python scripts/bench.py

# --- the accelerator on a board (docs/boards.md) ---------------------------------
board: env
	$(BIN)/python -m ese.board build --board $(BOARD)

board-sim: env
	$(BIN)/python -m ese.board sim --board $(BOARD)

board-load: env
	$(BIN)/python -m ese.board load --board $(BOARD)

clean:
	rm -rf $(BUILD) .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
