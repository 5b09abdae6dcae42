# One-command entry points; see README.md.
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= 2
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=

.PHONY: help setup run test test-cluster test-fast lint report

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[test]'
	touch $@

## list the targets
help:
	@awk '/^## /{doc = doc substr($$0, 4) " "; next} /^[a-z-]+:/{if (doc) printf "%-13s %s\n", $$1, doc; doc = ""} !/^## /{doc = ""}' $(MAKEFILE_LIST)

## set up the virtual environment (torch CPU wheel, NEURON, Snakemake, Lightning, ...)
setup: $(VENV)/.installed

## run the whole study on the default (embedded stylized cell) config
run: setup
	$(VENV)/bin/snakemake --cores $(CORES) --configfile $(CONFIG)

## build the HTML report after a run
report: setup
	$(VENV)/bin/snakemake --configfile $(CONFIG) --report report.html

## unit and end-to-end (tiny pipeline) tests; installs nothing outside .venv
test: setup
	$(VENV)/bin/python -m pytest -m "not cluster" $(PYTEST_ARGS)

## the real-Slurm cluster test: as root, brings up a local one-node Slurm (apt-get installs
## Slurm, munge and MariaDB when missing), runs `pytest -m cluster`, then stops what it started
test-cluster: setup
	bash tests/cluster/run_cluster_tests.sh $(PYTEST_ARGS)

## fast unit tests only
test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow and not cluster" $(PYTEST_ARGS)

## ruff (lint and format) on the Python, snakefmt and snakemake --lint on the workflow, and
## whether envs/ and config/README.md are what pyproject.toml and the config schema write
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/neurodepth conda-envs --check
	$(VENV)/bin/neurodepth config-docs --check
