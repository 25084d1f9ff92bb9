# Two commands do all the set-up (README):  make tutorial   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/0*.ipynb))

.PHONY: install system-deps tutorial test bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,audio]"
	touch $(STAMP)

install: $(STAMP)  ## the isolated environment in .venv

system-deps:  ## optional Debian tools: FluidSynth (audio), abcmidi + abcm2ps (ABC, sheet music), Chromium (browser test)
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfluidsynth3 abcmidi abcm2ps chromium

tutorial: $(STAMP)  ## execute the four notebooks in full into build/, tunes into outputs/
	$(BIN)/folkrnn download
	mkdir -p build/notebooks outputs
	$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=3600 \
		--KernelManager.transport=ipc --ExecutePreprocessor.store_widget_state=False \
		--output-dir build/notebooks $(NOTEBOOKS)
	$(BIN)/jupyter nbconvert --to html --output-dir build/html build/notebooks/*.ipynb
	@echo "Executed notebooks: build/notebooks (HTML: build/html); generated tunes: outputs/"

test: $(STAMP)  ## unit tests, then the four notebooks in smoke mode (nbval)
	FOLKRNN_SMOKE=1 FOLKRNN_HOME=$(CURDIR)/build/test-home $(BIN)/python -m pytest -q \
		tests $(NOTEBOOKS) --nbval-lax --nbval-current-env

screenshots: $(STAMP)  ## whole-page screenshots of build/notebooks in headless Chromium
	$(BIN)/python scripts/screenshot_notebooks.py

bench: $(STAMP)  ## the benchmarks in bench/ (figures go into BENCHMARKS.md)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf build outputs
