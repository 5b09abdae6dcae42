"""The workflow as a Snakemake module of a user's project: a directory holding only a Snakefile
(``module neurodepth: snakefile: <the workflow's Snakefile>``, ``use rule * from neurodepth``) and
``config/config.yaml`` runs the tiny config end to end with the user's config, lints clean, and
packs its report. The module is a copy of the workflow with its own ``src/``, so the test also
shows that jobs run the workflow's neurodepth, not the one installed in the test's interpreter.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from workflow_helpers import REPO, deploy_as_module, tiny_config

import neurodepth

pytestmark = pytest.mark.slow

# what a module deployment adds is tested on a slim run: the stages it skips (family comparison,
# dendritic targets, more variants) are the tiny run's to test
OVERRIDES = {"variants": ["full", "lif"], "families": {}, "training": {"dendritic_components": {}}}
CONFIG = tiny_config(OVERRIDES)
CELL = CONFIG["cell"]["name"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    root = tmp_path_factory.mktemp("module_deployment")
    project = deploy_as_module(root / "project", root / "workflow", OVERRIDES)
    project.files_before = sorted(
        str(p.relative_to(project.root)) for p in project.root.rglob("*") if p.is_file()
    )
    start = time.monotonic()
    project.run("--cores", "2")
    project.seconds = time.monotonic() - start
    project.source = root / "workflow"
    return project


def test_the_project_held_only_a_snakefile_and_its_config(deployed):
    assert deployed.files_before == ["Snakefile", "config/config.yaml"]
    assert "module neurodepth:" in deployed.path("Snakefile").read_text()


def test_the_summary_has_every_variant_and_depth_of_the_users_config(deployed):
    metrics = pd.read_csv(deployed.path("results/summary/metrics.csv"))
    assert set(metrics["cell"]) == {CELL}
    assert set(metrics["variant"]) == set(CONFIG["variants"])
    assert set(metrics["depth"]) == set(CONFIG["network"]["depths"])
    auc = metrics.query("metric == 'spike_auc'")["mean"].dropna()
    assert len(auc) >= 1 and auc.between(0, 1).all()
    table = deployed.path("results/summary/results_table.md").read_text()
    assert all(variant in table for variant in CONFIG["variants"])


def test_datasets_have_the_users_sizes(deployed):
    simulation = CONFIG["simulation"]
    for variant in CONFIG["variants"]:
        for split, shards in simulation["shards"].items():
            path = deployed.path(f"results/datasets/{CELL}/{variant}/{split}.nc")
            with xr.open_dataset(path) as ds:
                assert ds.sizes["simulation"] == shards * simulation["simulations_per_shard"]
                assert ds.sizes["time"] == simulation["duration_ms"]
                assert np.isfinite(ds["soma_voltage"].values).all()


def test_every_job_ran_the_workflows_own_neurodepth(deployed):
    # the test's interpreter has neurodepth installed from the checkout; the module is a copy
    assert Path(neurodepth.__file__).resolve().parent == REPO / "src" / "neurodepth"
    source = str(deployed.source / "src" / "neurodepth")
    logs = sorted(deployed.path("logs").rglob("*.log"))
    # every job writes one: 2 variants' shards, merges, networks, evaluations, figures, summary
    assert len(logs) >= 35
    for log in logs:
        found = re.findall(r"neurodepth (\S+) from (\S+)", log.read_text())
        assert found == [(neurodepth.__version__, source)], f"{log}: {found}"


def test_outputs_stay_in_the_project_and_out_of_the_workflow(deployed):
    manifest = json.loads(
        deployed.path("results/mechanisms/stylized_l5pc/mechanisms.json").read_text()
    )
    assert "nd_AMPANMDA" in manifest["mechanisms"]
    assert sorted(p.name for p in deployed.source.iterdir()) == sorted(
        ["Snakefile", "workflow", "scripts", "config", "envs", "profiles", "src"]
    )


def test_lint_is_clean_for_the_project(deployed):
    result = deployed.run("--lint", check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in output


def test_the_report_packs_every_figure_with_its_caption(deployed):
    deployed.run("--report", "report.zip", timeout=600)
    with zipfile.ZipFile(deployed.path("report.zip")) as report:
        names = report.namelist()
        text = "".join(
            report.read(n).decode(errors="replace")
            for n in names
            if n.endswith((".html", ".js", ".json"))
        )
    figures = sorted(p.stem for p in deployed.path("results/figures").glob("*.png"))
    assert len(figures) >= 6
    for figure in figures:
        assert any(n.endswith(f"{figure}.png") for n in names), figure
    # captions come from the workflow's workflow/report/, which the project does not have
    for caption, phrase in [
        ("accuracy_vs_depth.rst", "one line per variant (colour)"),
        ("summary_metrics.rst", "aggregated per variant and depth"),
    ]:
        assert phrase in (deployed.source / "workflow" / "report" / caption).read_text()
        assert phrase in text, caption
