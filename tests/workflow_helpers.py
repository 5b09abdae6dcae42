"""Helpers for running the real workflow in a scratch directory (used by e2e and cluster tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ["Snakefile", "workflow", "scripts", "config", "envs", "profiles"]
TINY_CONFIG = REPO / "tests" / "e2e" / "tiny_config.yaml"


class Workflow:
    """A copy of the workflow in ``root``, run with the tiny config unless told otherwise
    (``configfile=None``: the one its Snakefile names)."""

    def __init__(self, root: Path, configfile: str | None = "tiny_config.yaml"):
        self.root = root
        self.configfile = configfile

    def command(self, *args) -> list[str]:
        # --configfile takes several values, so it goes last: targets before it would be swallowed
        config = [] if self.configfile is None else ["--configfile", self.configfile]
        return [sys.executable, "-m", "snakemake", *args, *config]

    def run(self, *args, check=True, timeout=1200) -> subprocess.CompletedProcess:
        cmd = self.command(*args)
        result = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-8000:]}"
            )
        return result

    def start(self, *args, log_name="snakemake.log") -> subprocess.Popen:
        """Start in its own process group so a test can SIGKILL the whole job tree."""
        log = open(self.root / log_name, "w")
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def path(self, relative: str) -> Path:
        return self.root / relative


def _deep_update(base: dict, overrides: dict) -> dict:
    """``overrides`` merged into ``base`` section by section; an empty mapping replaces the
    section (``families: {}`` turns the comparison off)."""
    for key, value in overrides.items():
        if isinstance(value, dict) and value and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


def _copy_parts(dest: Path, parts: list[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for part in parts:
        src = REPO / part
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / part)


def _write_config(path: Path, config: Path, overrides: dict | None) -> None:
    import yaml

    settings = _deep_update(yaml.safe_load(Path(config).read_text()), overrides or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings, sort_keys=False))


def copy_workflow(
    dest: Path,
    config: Path = TINY_CONFIG,
    mechanisms_from: Path | None = None,
    overrides: dict | None = None,
) -> Workflow:
    _copy_parts(dest, WORKFLOW_PARTS)
    _write_config(dest / "tiny_config.yaml", config, overrides)
    if mechanisms_from is not None:
        # compiled NMODL is deterministic; reusing it saves a compile per scratch copy
        shutil.copytree(
            mechanisms_from, dest / "results" / "mechanisms", copy_function=shutil.copy2
        )
    return Workflow(dest)


def tiny_config(overrides: dict | None = None) -> dict:
    """The tiny config with ``overrides`` merged in (as the scratch copies get it)."""
    import yaml

    return _deep_update(yaml.safe_load(TINY_CONFIG.read_text()), overrides or {})


def deploy_as_module(project: Path, source: Path, overrides: dict | None = None) -> Workflow:
    """A user's project in ``project`` that runs a copy of the workflow's source (with its own
    ``src/``, put in ``source``) as a Snakemake module: the project holds only a Snakefile and
    ``config/config.yaml`` (the tiny config with ``overrides``), as `snakedeploy
    deploy-workflow` lays one out."""
    _copy_parts(source, [*WORKFLOW_PARTS, "src"])
    project.mkdir(parents=True, exist_ok=True)
    (project / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        "module neurodepth:\n"
        # relative to the project, as `snakemake --lint` asks of a path in a workflow
        f'    snakefile:\n        "{os.path.relpath(source / "Snakefile", project)}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from neurodepth as neurodepth_*\n"
    )
    _write_config(project / "config" / "config.yaml", TINY_CONFIG, overrides)
    return Workflow(project, configfile=None)
