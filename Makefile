# Each target sets up what it needs from nothing: a virtualenv in .venv with requirements.txt.
PYTHON ?= python3.11
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# The offline quick start, lesson 1 for real: Google's ImageNet EfficientNet-Lite0 (weights from a package)
# fine-tuned on the built-in photos, 10 labelled crops per photograph, with the default recipe.
PHOTOS := -S data=photos -S arch=tf_efficientnet_lite0 -S weights=imagenet -S size=128 -S cache.resolution=160 \
          -S index.split=csv -S train.batch_size=8 -S train.epochs=8 -S train.epochs_unfrozen=2

# The built-in digits, a small ResNet from scratch at 32 px.
DIGITS := -S data=digits -S arch=resnet18 -S weights=none -S size=32 -S cache.resolution=32 \
          -S train.epochs=8 -S train.epochs_unfrozen=0 -S train.augment.flip=false

.PHONY: pets photos digits test test-fast lint

pets: $(VENV)/installed   ## the whole pipeline on Oxford-IIIT Pets (downloads about 0.8 GB)
	dvc repro

photos: $(VENV)/installed  ## the whole pipeline on the built-in photos, no network needed
	dvc exp run $(PHOTOS)

digits: $(VENV)/installed  ## the whole pipeline on the built-in digits, no network needed
	dvc exp run $(DIGITS)

test: $(VENV)/installed    ## the test suite (CPU, no network)
	python -m pytest -q tests

test-fast: $(VENV)/installed  ## the unit tests alone: everything but the end-to-end runs of dvc (-m e2e)
	python -m pytest -q tests -m "not e2e"

lint: $(VENV)/installed    ## ruff: lint and format check of the whole tree
	ruff check .
	ruff format --check .

$(VENV)/installed: requirements.txt
	@$(PYTHON) -c 'import sys, tarfile; sys.exit(0 if hasattr(tarfile, "data_filter") else "$(PYTHON) is Python " + sys.version.split()[0] + ": pets needs 3.11.4 or newer (tarfile'"'"'s data filter); run make PYTHON=<a newer python3.11>")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@
