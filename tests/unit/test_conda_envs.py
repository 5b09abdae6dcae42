"""The rules' conda envs (envs/*.yaml) build by construction: each carries pyproject.toml's version
of every dependency its rules' scripts import, from conda-forge unless it must come from pip,
and none installs the project or refers to a path (Snakemake builds an env from a copy of its
file under .snakemake/conda/, where a relative path points elsewhere).

No conda here: the files are checked statically; conda-forge's names are the module's table.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from test_layers import discover, import_graph

from neurodepth.ops.conda_envs import (
    CONDA_FORGE,
    ENVS,
    PIP_ONLY,
    normalize,
    pyproject_requirements,
    render_env,
    stale_envs,
)

REPO = Path(__file__).resolve().parents[2]
# conda-forge packages an env may carry that pyproject.toml does not list: nrnivmodl's build tools
# and pip itself (for an env's pip: section)
TOOLS = {"c-compiler", "cxx-compiler", "make", "pip"}
# xarray loads netCDF4 by engine name, which no import statement shows
LOADED_BY_NAME = {"netcdf4"}


def env_file(name: str) -> dict:
    return yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())


def entries(env: dict) -> tuple[list[str], list[str]]:
    """(conda entries, pip entries) of an env file."""
    conda, pip = [], []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip += entry["pip"]
        else:
            conda.append(entry)
    return conda, pip


def test_every_env_file_is_what_the_generator_writes():
    assert sorted(p.stem for p in (REPO / "envs").glob("*.yaml")) == sorted(ENVS)
    assert stale_envs(REPO) == [], "run `neurodepth conda-envs` and commit envs/"


@pytest.mark.parametrize("name", list(ENVS))
def test_env_has_pyprojects_versions(name):
    python, requirements = pyproject_requirements(REPO)
    conda, pip = entries(env_file(name))
    assert env_file(name)["channels"] == ["conda-forge", "nodefaults"]
    from_conda_forge = {conda_name: key for key, conda_name in CONDA_FORGE.items()}
    seen = set()
    for entry in conda:
        package, _, spec = entry.partition(" ")
        if package == "python":
            assert spec == python
        elif package in from_conda_forge:
            key = from_conda_forge[package]
            assert spec == requirements[key][1], f"{entry}: pyproject.toml has {requirements[key]}"
            seen.add(key)
        else:
            assert package in TOOLS, f"{name}: {entry} is neither in pyproject.toml nor a tool"
    for entry in pip:
        package = re.match(r"[A-Za-z0-9._-]+", entry).group(0)
        key = normalize(package)
        assert key in PIP_ONLY, f"{name}: {entry} is on conda-forge, so it comes from there"
        assert entry == "".join(requirements[key]), f"pyproject.toml has {requirements[key]}"
        seen.add(key)
    assert ("pip" in conda) == bool(pip)
    assert seen == {normalize(p) for p in ENVS[name][1]}


@pytest.mark.parametrize("name", list(ENVS))
def test_no_env_installs_the_project_or_names_a_path(name):
    conda, pip = entries(env_file(name))
    for entry in conda + pip:
        assert not entry.startswith(("-", ".", "~", "file:")), entry
        assert "/" not in entry and ".." not in entry and "neurodepth" not in entry, entry


def rule_scripts() -> dict[str, set[str]]:
    """env name -> the scripts of the rules that use it, read from workflow/rules/*.smk."""
    scripts: dict[str, set[str]] = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^\s*rule\b", smk.read_text(), flags=re.M)[1:]:
            script = re.search(r"scripts/(\w+)\.py", block)
            env = re.search(r"envs/(\w+)\.yaml", block)
            assert script and env, f"{smk.name}: a rule without a script or a conda env"
            scripts.setdefault(env.group(1), set()).add(script.group(1))
    return scripts


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the non-stdlib, non-neurodepth modules a file imports anywhere."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module.split(".")[0])
    own = {"neurodepth", "_workflow_src", "__future__"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in own}


def imported_dependencies(scripts: set[str]) -> set[str]:
    """pyproject dependencies that the scripts import, directly or through any neurodepth module
    they reach (every import counts, also one inside a function: it runs when the rule does)."""
    modules, graph = discover(), import_graph()
    names, todo = set(), []
    for script in scripts:
        path = REPO / "scripts" / f"{script}.py"
        names |= third_party_imports(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neurodepth"):
                todo.append(node.module)
    seen = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        names |= third_party_imports(modules[module])
        todo += graph[module]
    _, requirements = pyproject_requirements(REPO)
    distributions = packages_distributions()
    found = {normalize(d) for name in names for d in distributions.get(name, [name])}
    return found & set(requirements)


def test_every_rule_runs_in_one_of_the_envs():
    assert set(rule_scripts()) == set(ENVS)


@pytest.mark.parametrize("name", list(ENVS))
def test_env_carries_what_its_rules_import_and_nothing_else(name):
    needed = imported_dependencies(rule_scripts()[name])
    carried = {normalize(p) for p in ENVS[name][1]}
    assert needed <= carried, f"envs/{name}.yaml lacks {sorted(needed - carried)}"
    assert carried - needed <= LOADED_BY_NAME, f"no rule of {name} imports {carried - needed}"


def test_the_generator_refuses_a_package_pyproject_does_not_list(tmp_path):
    from neurodepth.core.errors import NeurodepthError

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.11,<3.12"\ndependencies = ["numpy>=2.0,<3"]\n'
    )
    with pytest.raises(NeurodepthError, match="pandas is not a dependency"):
        render_env("base", tmp_path)


def test_check_fails_on_a_stale_env_until_it_is_rewritten(tmp_path):
    from neurodepth.ops.cli import main

    shutil.copy2(REPO / "pyproject.toml", tmp_path)
    shutil.copytree(REPO / "envs", tmp_path / "envs")
    stale = tmp_path / "envs" / "torch.yaml"
    stale.write_text("dependencies:\n  - pip:\n      - -e ..\n")
    assert main(["conda-envs", "--check", "--root", str(tmp_path)]) == 1
    assert "-e .." in stale.read_text()
    assert main(["conda-envs", "--root", str(tmp_path)]) == 0
    assert stale.read_text() == (REPO / "envs" / "torch.yaml").read_text()
    assert main(["conda-envs", "--check", "--root", str(tmp_path)]) == 0
