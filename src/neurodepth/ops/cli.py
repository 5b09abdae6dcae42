"""Command line: ``neurodepth <command>``. Each command lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

from neurodepth.core.errors import NeurodepthError

# command -> (module, help); each module defines add_arguments(parser) and run(args) -> int
COMMANDS = {
    "cost": (
        "neurodepth.ops.cost_report",
        "estimate jobs, core-hours, GPU-hours and disk of a config before submitting",
    ),
    "validate-integration": (
        "neurodepth.ops.integration_check",
        "compare the configured integrator with a CVODE reference on the same inputs",
    ),
    "check-cell": (
        "neurodepth.ops.check_cell",
        "build a cell spec and print what to check before simulating a dataset of it",
    ),
    "check-config": (
        "neurodepth.ops.study_config",
        "validate a config file against the schema and the registered variants and networks",
    ),
    "conda-envs": (
        "neurodepth.ops.conda_envs",
        "write the rules' conda envs (envs/*.yaml) from pyproject.toml's versions",
    ),
    "import-authors": (
        "neurodepth.ops.import_authors",
        "convert the authors' released pickles (a file or a split folder) into a dataset netCDF",
    ),
    "config-docs": (
        "neurodepth.ops.config_docs",
        "write config/README.md (every config key) from the config schema's descriptions",
    ),
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="neurodepth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    # only the chosen command's module is imported: torch and NEURON load slowly
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    try:
        return module.run(args) or 0
    except NeurodepthError as exc:
        print(f"neurodepth {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
