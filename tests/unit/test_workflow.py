"""The workflow itself: lint-clean, snakefmt-formatted, and the DAGs it plans."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow  # each Snakemake start costs seconds


def snakemake(repo_root, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_counts(output: str) -> dict:
    table = output.split("job ", 1)[1] if "job " in output else output
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_snakemake_lint_is_clean(repo_root):
    result = snakemake(repo_root, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefmt_has_nothing_to_change(repo_root):
    snakefmt = [sys.executable, "-m", "snakefmt"]
    result = subprocess.run(
        [*snakefmt, "--check", "Snakefile", "workflow/rules"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_paper_config_plans_the_full_study(repo_root):
    config = yaml.safe_load((repo_root / "config" / "paper.yaml").read_text())
    result = snakemake(repo_root, "-n", "--configfile", "config/paper.yaml")
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


def test_a_typo_in_the_config_stops_the_run_naming_the_key(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    config["training"]["batchsize"] = 8
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(repo_root, "-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert (
        "'batchsize'" in result.stdout + result.stderr
        and "training" in result.stdout + result.stderr
    )
