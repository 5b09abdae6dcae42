"""The workflow itself: lint-clean, and the DAGs it plans.

Every Snakemake call runs in a scratch copy of the workflow, so what a user has in the checkout
(results/, resources/, logs/, .snakemake/ from an earlier `make run`, or a run in progress that
holds the lock) cannot change what these tests plan or see.
"""

from __future__ import annotations

import re

import pytest
import yaml
from workflow_helpers import Workflow, copy_workflow

pytestmark = pytest.mark.slow  # each Snakemake start costs seconds


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Workflow:
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


def snakemake(scratch: Workflow, configfile: str, *args, timeout=300):
    return Workflow(scratch.root, configfile).run(*args, check=False, timeout=timeout)


def job_counts(output: str) -> dict:
    table = output.split("job ", 1)[1] if "job " in output else output
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_snakemake_lint_is_clean(scratch):
    result = snakemake(scratch, "config/config.yaml", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_paper_config_plans_the_full_study(scratch):
    config = yaml.safe_load((scratch.root / "config" / "paper.yaml").read_text())
    result = snakemake(scratch, "config/paper.yaml", "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    shards = sum(config["simulation"]["shards"].values())
    neuron_variants = [v for v in config["variants"] if v != "lif"]
    networks = (
        len(config["variants"]) * len(config["network"]["depths"]) * len(config["network"]["seeds"])
    )
    assert counts["simulate_shard"] == shards * len(config["variants"])
    assert counts["merge_dataset"] == 3 * len(config["variants"])
    assert counts["train_model"] == counts["evaluate_model"] == networks
    assert counts["fetch_morphology"] == 1 and counts["compile_mechanisms"] == 1
    assert len(neuron_variants) >= 3


def test_a_typo_in_the_config_stops_the_run_naming_the_key(scratch, tmp_path):
    config = yaml.safe_load((scratch.root / "config" / "config.yaml").read_text())
    config["training"]["batchsize"] = 8
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(scratch, str(bad), "-n")
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'batchsize'" in log and "training" in log


def test_authors_source_plans_imports_and_names_a_missing_folder(scratch, tmp_path):
    """dataset.source authors: one import job per pickle and no simulation job; a folder that is
    not there stops the run naming its config key."""
    from authors_release import write_release

    config = yaml.safe_load((scratch.root / "tiny_config.yaml").read_text())
    folders = write_release(tmp_path / "data", "L5PC_NMDA", {"train": 3, "valid": 1, "test": 2})
    config |= {
        "variants": ["full"],
        "families": {},
        "dataset": {"source": "authors", "authors": {"full": folders}},
    }
    good = tmp_path / "authors.yaml"
    good.write_text(yaml.safe_dump(config))
    result = snakemake(scratch, str(good), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["import_authors"] == 6 and counts["merge_dataset"] == 3
    assert not {"simulate_shard", "compile_mechanisms", "calibrate_inputs"} & set(counts)
    assert "figure_cell_morphology" not in counts
    config["dataset"]["authors"]["full"]["valid"] = str(tmp_path / "nowhere")
    bad = tmp_path / "missing.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(scratch, str(bad), "-n")
    assert result.returncode != 0
    assert "config key 'dataset.authors.full.valid'" in result.stdout + result.stderr
