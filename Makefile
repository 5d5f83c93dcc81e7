# Each target sets up what it needs from nothing: a virtualenv in .venv with requirements.txt.
PYTHON ?= python3.11
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: pets photos digits pictures runs test test-fast lint

# The quick starts: params.yaml as committed with the values quickstarts.yaml gives each, then dvc exp run.
pets: $(VENV)/installed    ## the whole pipeline on Oxford-IIIT Pets (downloads about 0.8 GB)
	python -m pets quickstart pets

photos: $(VENV)/installed  ## the whole pipeline on the built-in photos, no network needed
	python -m pets quickstart photos

digits: $(VENV)/installed  ## the whole pipeline on the built-in digits, no network needed
	python -m pets quickstart digits

pictures: $(VENV)/installed  ## your own pictures, a subfolder per class: make pictures DIR=~/pictures (no network)
	python -m pets quickstart pictures $(if $(DIR),--set 'datasets.pictures.folder=$(DIR)')

runs: $(VENV)/installed    ## the experiments side by side in 100 columns: dvc exp show with the columns people compare
	dvc exp show --drop '.*' --keep '^(Experiment|valid\.error_rate|data|arch|size|train\.epochs)$$'

test: $(VENV)/installed    ## the test suite (CPU, no network), one worker per core, the end-to-end files first
	python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=15 tests

test-fast: $(VENV)/installed  ## the unit tests alone: everything but the end-to-end runs of dvc (-m e2e)
	python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder tests -m "not e2e"

lint: $(VENV)/installed    ## ruff: lint and format check of the whole tree
	ruff check .
	ruff format --check .

$(VENV)/installed: requirements.txt
	@$(PYTHON) -c 'import sys, tarfile; sys.exit(0 if hasattr(tarfile, "data_filter") else "$(PYTHON) is Python " + sys.version.split()[0] + ": pets needs 3.11.4 or newer (tarfile'"'"'s data filter); run make PYTHON=<a newer python3.11>")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@
