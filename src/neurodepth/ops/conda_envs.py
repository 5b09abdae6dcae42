"""``neurodepth conda-envs``: write ``envs/*.yaml`` (the rules' conda envs) from ``pyproject.toml``.

``pyproject.toml`` is the one place that holds the project's version ranges; this module holds
only which of its dependencies each env carries (what its rules' scripts import) and each one's
name on conda-forge. No env installs neurodepth itself: the rule scripts import it from the
workflow's own ``src/`` (``scripts/_workflow_src.py``). The scripts' Snakemake preamble imports
Snakemake from the installation that runs the workflow (Snakemake puts it on the script's search
path), and those modules are pure Python, so an env needs only a Python that neurodepth supports.
"""

from __future__ import annotations

import re
import sys
import textwrap
import tomllib
from pathlib import Path

from neurodepth.core.errors import NeurodepthError

# pyproject name -> conda-forge name, for the dependencies that come from conda-forge
CONDA_FORGE = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "xarray": "xarray",
    "netcdf4": "netcdf4",
    "pyyaml": "pyyaml",
    "tqdm": "tqdm",
    # conda-forge's pytorch is the CUDA build where the solver sees a GPU driver (the __cuda
    # virtual package) and the CPU build elsewhere: one env file for GPU and CPU nodes
    "torch": "pytorch",
    "pytorch-lightning": "pytorch-lightning",
    # matplotlib without the Qt GUI backends, which figures written to files never use
    "matplotlib": "matplotlib-base",
    "seaborn": "seaborn",
}

# pyproject dependencies that stay on pip (with pyproject's exact spec), and why
PIP_ONLY = {
    "neuron": "conda-forge's neuron ends at 8.2.4; the PyPI wheel of 9.0.2 ships nrnivmodl",
}

# conda-forge tools an env needs beyond Python packages (not in pyproject.toml), and why
NRNIVMODL_TOOLS = {
    "c-compiler": "nrnivmodl compiles the NMODL mechanisms",
    "cxx-compiler": "NEURON 9 translates NMODL to C++",
    "make": "nrnivmodl builds with make",
}

# env name -> (what its rules do, the pyproject dependencies their scripts import, extra tools).
# netCDF4 is in every env: xarray loads it by engine name, so no import statement shows it.
ENVS = {
    "base": (
        "Data rules (merge_dataset, summarize, study_checks): the data stack.",
        ["numpy", "pandas", "xarray", "netCDF4"],
        {},
    ),
    "neuron": (
        "Simulation rules (compile_mechanisms, fetch_morphology, calibrate_inputs, "
        "simulate_shard, calibration_table): NEURON and its compilers, and the data stack.",
        ["neuron", "numpy", "scipy", "pandas", "xarray", "netCDF4", "pyyaml", "tqdm"],
        NRNIVMODL_TOOLS,
    ),
    "torch": (
        "Training and evaluation rules (train_model, select_model, evaluate_model, "
        "evaluate_baseline): PyTorch and Lightning, and the data stack.",
        ["torch", "pytorch-lightning", "numpy", "scipy", "pandas", "xarray", "netCDF4"],
        {},
    ),
    "plot": (
        "Figure rules (figure_<name>): seaborn and matplotlib; torch and Lightning to read the "
        "learned weights, NEURON to draw the cell's morphology.",
        [
            "seaborn",
            "matplotlib",
            "torch",
            "pytorch-lightning",
            "neuron",
            "numpy",
            "scipy",
            "pandas",
            "xarray",
            "netCDF4",
            "pyyaml",
        ],
        {},
    ),
}

HEADER = (
    "# Written by `neurodepth conda-envs` from pyproject.toml's versions and the package lists in\n"
    "# src/neurodepth/ops/conda_envs.py; edit those, then rerun it, not this file.\n"
)


def normalize(name: str) -> str:
    """A distribution name in PEP 503 form (``netCDF4`` -> ``netcdf4``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirement(requirement: str) -> tuple[str, str]:
    """``"numpy>=2.0,<3"`` -> ``("numpy", ">=2.0,<3")``."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*([^;]*?)\s*", requirement)
    if match is None:
        raise NeurodepthError(f"pyproject.toml: cannot read the requirement {requirement!r}")
    return match.group(1), match.group(2).replace(" ", "")


def pyproject_requirements(root: Path) -> tuple[str, dict[str, tuple[str, str]]]:
    """requires-python and {normalized name: (name as written, version spec)} of pyproject.toml."""
    project = tomllib.loads((Path(root) / "pyproject.toml").read_text())["project"]
    requirements = {}
    for requirement in project["dependencies"]:
        name, spec = split_requirement(requirement)
        requirements[normalize(name)] = (name, spec)
    return project["requires-python"].replace(" ", ""), requirements


def render_env(name: str, root: Path) -> str:
    """The text of ``envs/<name>.yaml``."""
    description, packages, tools = ENVS[name]
    python, requirements = pyproject_requirements(root)
    conda, pip = [f"python {python}"], []
    for package in packages:
        key = normalize(package)
        if key not in requirements:
            raise NeurodepthError(f"env {name}: {package} is not a dependency in pyproject.toml")
        written, spec = requirements[key]
        if key in PIP_ONLY:
            pip.append(f"      # {PIP_ONLY[key]}\n      - {written}{spec}")
        elif key in CONDA_FORGE:
            conda.append(f"{CONDA_FORGE[key]} {spec}".rstrip())
        else:
            raise NeurodepthError(f"env {name}: no conda-forge name or pip reason for {package}")
    for tool, why in tools.items():
        conda.append(f"{tool}  # {why}")
    lines = [HEADER + textwrap.fill(description, 99, initial_indent="# ", subsequent_indent="# ")]
    lines += ["channels:", "  - conda-forge", "  - nodefaults"]
    lines.append("dependencies:")
    lines += [f"  - {entry}" for entry in conda]
    if pip:
        lines += ["  - pip", "  - pip:", *pip]
    return "\n".join(lines) + "\n"


def stale_envs(root: Path) -> list[str]:
    """The env files under ``root/envs`` whose text differs from what would be written."""
    envs = Path(root) / "envs"
    return [
        name
        for name in ENVS
        if not (envs / f"{name}.yaml").exists()
        or (envs / f"{name}.yaml").read_text() != render_env(name, root)
    ]


def add_arguments(parser) -> None:
    parser.add_argument("--root", default=".", help="the workflow's root (holds pyproject.toml)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; fail if an env file is out of date"
    )


def run(args) -> int:
    root = Path(args.root)
    stale = stale_envs(root)
    if args.check:
        for name in stale:
            print(f"envs/{name}.yaml is out of date: run `neurodepth conda-envs`", file=sys.stderr)
        return 1 if stale else 0
    for name in stale:
        (root / "envs" / f"{name}.yaml").write_text(render_env(name, root))
        print(f"wrote envs/{name}.yaml")
    return 0
