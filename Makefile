# One-command entry points; see README.md.
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= 2
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=

.PHONY: setup run test test-fast lint report clean-results

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[test]'
	touch $@

## set up the virtual environment (torch CPU wheel, NEURON, Snakemake, Lightning, ...)
setup: $(VENV)/.installed

## run the whole study on the default (embedded stylized cell) config
run: setup
	$(VENV)/bin/snakemake --cores $(CORES) --configfile $(CONFIG)

## build the HTML report after a run
report: setup
	$(VENV)/bin/snakemake --configfile $(CONFIG) --report report.html

## every test: unit, end-to-end (tiny pipeline) and the real-Slurm cluster test
test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## fast unit tests only
test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow and not cluster" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
