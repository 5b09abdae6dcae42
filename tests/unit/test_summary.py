"""Summary stage: aggregation over seeds/subsets, depth needed with bootstrap interval, tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from neurodepth.analysis.summary import (
    best_network,
    best_networks_table,
    bootstrap_depth_needed,
    bootstrap_summary,
    depth_needed_from_means,
    fci,
    read_metrics,
    read_summary_table,
    summarize,
)
from neurodepth.core.errors import DatasetError


def _write_model_metrics(path, variant, depth, seed, auc_by_subset, cell="toy", extra=None):
    rows = []
    for metric, values in {"spike_auc": auc_by_subset, **(extra or {})}.items():
        rows.append(dict(metric=metric, subset="all", value=float(np.mean(values))))
        rows += [dict(metric=metric, subset=str(i), value=float(v)) for i, v in enumerate(values)]
    df = pd.DataFrame(rows)
    df.insert(0, "seed", seed)
    df.insert(0, "depth", depth)
    df.insert(0, "variant", variant)
    df.insert(0, "cell", cell)
    df["n_parameters"] = 1000 * depth
    df["receptive_field_ms"] = 30 + 8 * (depth - 1)
    df["macs_per_ms"] = 900 * depth
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def test_depth_needed_hand_table():
    # The brief's example: best 0.995, margin 0.01 -> first depth >= 0.985 is depth 3.
    assert depth_needed_from_means([1, 2, 3, 4], [0.80, 0.95, 0.99, 0.995], 0.01) == 3
    assert depth_needed_from_means([1, 2, 3, 4], [0.80, 0.95, 0.99, 0.995], 0.001) == 4
    assert depth_needed_from_means([1, 2, 3, 4], [0.80, 0.95, 0.99, 0.995], 0.2) == 1
    # Depths need not be contiguous or sorted.
    assert depth_needed_from_means([7, 1, 3], [0.99, 0.5, 0.985], 0.01) == 3


def test_bootstrap_is_tight_for_clear_gaps_and_wide_for_ties():
    rng = np.random.default_rng(1)
    depths = [1, 2, 3, 4]
    clear = np.array([0.80, 0.95, 0.99, 0.995]) + rng.normal(0, 1e-4, (12, 4))
    boot = bootstrap_depth_needed(depths, clear, 0.01, n_boot=300)
    assert set(boot) == {3}
    # Depth 2's mean sits on the margin edge with a large spread: the interval must span 2..3.
    edge = np.tile([0.80, 0.985, 0.99, 0.995], (12, 1))
    edge[:, 1] += np.repeat([-0.005, 0.005], 6)
    boot = bootstrap_depth_needed(depths, edge, 0.01, n_boot=300)
    assert np.percentile(boot, 5) <= 2 and np.percentile(boot, 95) >= 3


def test_summarize_writes_all_tables(tmp_path):
    rng = np.random.default_rng(0)
    means = {"full": [0.80, 0.95, 0.99, 0.995], "no_nmda": [0.97, 0.975, 0.976, 0.977]}
    paths = []
    for variant, aucs in means.items():
        for d, m in enumerate(aucs, start=1):
            for seed in (0, 1):
                vals = m + rng.normal(0, 5e-4, 12)
                ev = 0.5 + 0.1 * d + rng.normal(0, 0.01, 12)
                paths.append(
                    _write_model_metrics(
                        tmp_path / "ev" / variant / f"d{d}_s{seed}" / "metrics.csv",
                        variant,
                        d,
                        seed,
                        vals,
                        extra={"soma_explained_variance": ev},
                    )
                )
    out = summarize(paths, 0.01, tmp_path / "summary", n_boot=200)

    agg = pd.read_csv(out["metrics"])
    row = agg[(agg.variant == "full") & (agg.depth == 3) & (agg.metric == "spike_auc")].iloc[0]
    assert row["n"] == 24 and row["n_seeds"] == 2  # 2 seeds x 12 subsets
    assert row["mean"] == pytest.approx(0.99, abs=1e-3)
    assert 0 < row["sd"] < 2e-3

    need = pd.read_csv(out["depth_needed"]).set_index("variant")
    assert need.loc["full", "depth_needed"] == 3
    assert need.loc["no_nmda", "depth_needed"] == 1
    assert need.loc["full", "depth_needed_p05"] <= 3 <= need.loc["full", "depth_needed_p95"]
    assert need.loc["full", "best_depth"] == 4

    table = pd.read_csv(out["results_table"])
    assert len(table) == 8
    assert {
        "n_parameters",
        "receptive_field_ms",
        "macs_per_ms",
        "spike_auc_mean",
        "spike_auc_sd",
        "soma_explained_variance_mean",
    } <= set(table.columns)
    assert table.loc[(table.variant == "full") & (table.depth == 2), "n_parameters"].item() == 2000
    md = out["results_table_md"].read_text()
    first, second = md.split("## Depth needed")
    assert len(re.findall(r"^\| toy \|", first, flags=re.M)) == 8
    assert len(re.findall(r"^\| toy \|", second, flags=re.M)) == 2
    # two seeds: the ± is the SD over seeds of the per-seed means
    assert re.search(
        r"\| toy \| full \| 3 \| 2 \| 3,000 \| 46 \| 2,700 \| 0\.98\d\d ± [\d.e-]+ \|", md
    )
    assert "| toy | full | 3 [3–3] | 4 |" in second
    # No temporary files left behind by the atomic writes.
    assert not list((tmp_path / "summary").glob(".tmp-*"))


def test_summary_without_subsets_uses_whole_set_values(tmp_path):
    paths = []
    for d, auc in enumerate([0.9, 0.99], start=1):
        df = pd.DataFrame(
            dict(
                cell="c",
                variant="lif",
                depth=d,
                seed=0,
                metric="spike_auc",
                subset="all",
                value=auc,
            ),
            index=[0],
        )
        p = tmp_path / f"m{d}.csv"
        df.to_csv(p, index=False)
        paths.append(p)
    out = summarize(paths, 0.01, tmp_path / "s", n_boot=50)
    need = pd.read_csv(out["depth_needed"])
    assert need["depth_needed"].item() == 2
    assert pd.read_csv(out["metrics"])["n"].tolist() == [1, 1]


def test_bad_inputs_name_the_culprit(tmp_path):
    with pytest.raises(DatasetError, match="missing.csv"):
        read_metrics([tmp_path / "missing.csv"])
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"cell": ["c"], "value": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(DatasetError, match="bad.csv.*lacks columns"):
        read_metrics([bad])
    p = _write_model_metrics(tmp_path / "a.csv", "full", 1, 0, [0.9] * 3)
    with pytest.raises(DatasetError, match="duplicate"):
        read_metrics([p, p])
    with pytest.raises(DatasetError, match="auc_margin"):
        summarize([p], 2.0, tmp_path / "out")


def test_variant_without_spikes_does_not_stop_the_summary(tmp_path):
    """An ablation whose test set has no output spikes has AUC NaN at every depth."""
    paths = [
        _write_model_metrics(tmp_path / "a" / "metrics.csv", "full", 1, 0, [0.9] * 12),
        _write_model_metrics(tmp_path / "b" / "metrics.csv", "full", 2, 0, [0.99] * 11 + [np.nan]),
        _write_model_metrics(tmp_path / "c" / "metrics.csv", "no_nmda", 1, 0, [np.nan] * 12),
        _write_model_metrics(tmp_path / "d" / "metrics.csv", "no_nmda", 2, 0, [np.nan] * 12),
    ]
    out = summarize(paths, 0.01, tmp_path / "s", n_boot=100)
    need = pd.read_csv(out["depth_needed"]).set_index("variant")
    assert need.loc["full", "depth_needed"] == 2
    assert np.isnan(need.loc["no_nmda", "depth_needed"])
    assert "no output spikes" in need.loc["no_nmda", "note"]
    agg = pd.read_csv(out["metrics"])
    row = agg[(agg.variant == "full") & (agg.depth == 2) & (agg.metric == "spike_auc")].iloc[0]
    assert row["n"] == 11 and row["mean"] == pytest.approx(0.99)
    assert "| no_nmda | 1 |" in out["results_table_md"].read_text()


def test_best_network_is_the_best_mean_auc_depth_then_its_best_seed(tmp_path):
    """One definition: the depth with the best mean AUC over seeds x subsets (depth_needed.csv's
    best_depth), then that depth's seed with the best mean over its subsets; ties go shallower."""
    subset_auc = {  # (depth, seed): AUC on each of 3 subsets
        (1, 0): [0.70, 0.70, 0.70],
        (1, 1): [0.99, 0.99, 0.99],  # the best single network, but depth 1's mean is low
        (2, 0): [0.90, 0.91, 0.92],
        (2, 1): [0.93, 0.94, 0.95],  # depth 2 has the best mean; seed 1 is its better seed
        (3, 0): [0.92, 0.92, 0.92],  # depth 3 ties depth 2's mean (0.925): the shallower wins
        (3, 1): [0.93, 0.93, 0.93],
    }
    paths = [
        _write_model_metrics(tmp_path / f"full/d{d}_s{s}/metrics.csv", "full", d, s, auc)
        for (d, s), auc in subset_auc.items()
    ]
    paths.append(
        _write_model_metrics(tmp_path / "lif/d1_s0/metrics.csv", "lif", 1, 0, [np.nan] * 3)
    )
    paths.append(
        _write_model_metrics(tmp_path / "lif/d2_s0/metrics.csv", "lif", 2, 0, [np.nan] * 3)
    )
    out = summarize(paths, 0.01, tmp_path / "summary", n_boot=20)
    best = read_summary_table(out["best_networks"], "best_networks").set_index("variant")
    assert best.loc["full", ["depth", "seed"]].tolist() == [2, 1]
    assert best.loc["full", "spike_auc"] == pytest.approx(0.94)
    assert best.loc["full", "depth_spike_auc"] == pytest.approx(0.925)
    need = pd.read_csv(out["depth_needed"]).set_index("variant")
    assert need.loc["full", "best_depth"] == best.loc["full", "depth"]
    # No finite AUC at any depth: the deepest network, named in a note.
    assert best.loc["lif", ["depth", "seed"]].tolist() == [2, 0]
    assert "undefined" in best.loc["lif", "note"]
    assert best_network(best.reset_index(), "full") == (2, 1)
    with pytest.raises(DatasetError, match="no_nmda"):
        best_network(best.reset_index(), "no_nmda")


def test_best_networks_table_needs_auc_rows():
    df = pd.DataFrame(
        dict(cell=["c"], variant=["full"], depth=[1], seed=[0], metric=["d_prime"], subset=["0"])
    )
    df["value"] = 1.0
    with pytest.raises(DatasetError, match="spike_auc"):
        best_networks_table(df)


def test_read_summary_table_names_the_file_and_missing_columns(tmp_path):
    with pytest.raises(DatasetError, match="nope.csv"):
        read_summary_table(tmp_path / "nope.csv", "best_networks")
    bad = tmp_path / "best_networks.csv"
    pd.DataFrame(dict(cell=["c"], variant=["full"], depth=[1])).to_csv(bad, index=False)
    with pytest.raises(DatasetError, match=r"best_networks.csv.*\['seed'\]"):
        read_summary_table(bad, "best_networks")


def test_fci_hand_values():
    # FCI = log10(1000 (1 - AUC)) / log10(1000 (1 - 0.9)) = log10(1000 (1 - AUC)) / 2
    assert fci(0.99) == pytest.approx(0.5)  # log10(10) / 2
    assert fci(0.9) == pytest.approx(1.0)  # log10(100) / 2
    assert fci(0.999) == pytest.approx(0.0, abs=1e-12)
    assert fci(0.9968377223398316) == pytest.approx(0.25)  # 1 - AUC = 10^-2.5
    assert fci(0.5) == pytest.approx(
        np.log10(500) / 2
    )  # outside the calibrated range: extrapolated
    assert np.isneginf(fci(1.0))
    np.testing.assert_allclose(fci(np.array([0.9, 0.99])), [1.0, 0.5])


def test_depth_needed_must_beat_the_baseline():
    means = [0.80, 0.95, 0.99, 0.995]
    # within 0.01 of the best: depths 3, 4; beating a baseline of 0.992: only depth 4
    assert depth_needed_from_means([1, 2, 3, 4], means, 0.01, baseline_auc=0.992) == 4
    assert depth_needed_from_means([1, 2, 3, 4], means, 0.01, baseline_auc=0.5) == 3
    # its own margin: 0.99 must exceed 0.985 + 0.004
    assert depth_needed_from_means([1, 2, 3, 4], means, 0.01, 0.985, 0.004) == 3
    assert depth_needed_from_means([1, 2, 3, 4], means, 0.01, 0.985, 0.006) == 4
    # no depth beats it: None, not a number
    assert depth_needed_from_means([1, 2, 3, 4], means, 0.01, baseline_auc=0.995) is None
    # a NaN baseline (no spikes) does not count
    assert depth_needed_from_means([1, 2, 3, 4], means, 0.01, baseline_auc=np.nan) == 3


def test_bootstrap_resamples_seeds_as_well_as_subsets():
    """Subsets agree, seeds disagree: the interval must come from the seeds."""
    depths = [1, 2]
    grid = np.empty((4, 12, 2))
    grid[..., 0] = 0.97
    # depth 2 is better by 0.02 for two seeds and equal for the other two
    grid[:, :, 1] = np.array([0.99, 0.99, 0.97, 0.97])[:, None]
    depth, best = bootstrap_summary(depths, grid, 0.01, n_boot=400, seed=3)
    assert set(np.unique(depth)) == {1.0, 2.0}
    assert best.min() >= 0.97 - 1e-12 and best.max() <= 0.99 + 1e-12
    # with one seed the same subsets give no spread at all
    depth, _ = bootstrap_summary(depths, grid[:1], 0.01, n_boot=100)
    assert set(np.unique(depth)) == {2.0}
    # a baseline at 0.995 beats every depth in every resample: inf = "none"
    depth, _ = bootstrap_summary(depths, grid, 0.01, np.full(12, 0.995), n_boot=50)
    assert np.isinf(depth).all()


def _baseline_metrics(path, variant, auc_by_subset, cell="toy"):
    df = _write_model_metrics(path, variant, 0, 0, auc_by_subset, cell=cell)
    return df


def test_summary_with_seeds_and_baseline(tmp_path):
    rng = np.random.default_rng(5)
    means = {"full": [0.80, 0.95, 0.99, 0.995], "no_nmda": [0.97, 0.975, 0.976, 0.977]}
    paths = []
    for variant, aucs in means.items():
        for d, m in enumerate(aucs, start=1):
            for seed in (0, 1, 2):
                vals = m + 0.001 * (seed - 1) + rng.normal(0, 2e-4, 12)
                paths.append(
                    _write_model_metrics(
                        tmp_path / "ev" / variant / f"d{d}_s{seed}" / "metrics.csv",
                        variant,
                        d,
                        seed,
                        vals,
                    )
                )
    baseline = [
        _baseline_metrics(tmp_path / "ev/full/baseline/metrics.csv", "full", [0.9] * 12),
        # the ablation's networks never beat its baseline
        _baseline_metrics(tmp_path / "ev/no_nmda/baseline/metrics.csv", "no_nmda", [0.98] * 12),
    ]
    out = summarize(paths, 0.01, tmp_path / "s", n_boot=300, baseline_paths=baseline)

    agg = pd.read_csv(out["metrics"])
    row = agg[(agg.variant == "full") & (agg.depth == 3) & (agg.metric == "spike_auc")].iloc[0]
    assert row["n_seeds"] == 3 and row["n"] == 36
    # seed offsets -0.001, 0, +0.001: SD over seeds of the per-seed means ~ 0.001
    assert row["sd_seeds"] == pytest.approx(0.001, rel=0.15)

    need = pd.read_csv(out["depth_needed"]).set_index("variant")
    assert need.loc["full", "depth_needed"] == 3
    assert need.loc["full", "baseline_auc"] == pytest.approx(0.9)
    assert need.loc["full", "depths_beating_baseline"] == "2 3 4"
    assert need.loc["full", "fci"] == pytest.approx(fci(need.loc["full", "best_auc"]))
    assert need.loc["full", "fci_p05"] <= need.loc["full", "fci"] <= need.loc["full", "fci_p95"]
    assert need.loc["full", "verdict"].startswith("3 [")
    assert np.isnan(need.loc["no_nmda", "depth_needed"])
    assert need.loc["no_nmda", "verdict"].startswith("none: no depth beats")
    assert need.loc["no_nmda", "bootstrap_fraction_none"] == 1.0
    assert need.loc["no_nmda", "best_auc_sd_seeds"] == pytest.approx(0.001, rel=0.2)

    base = read_summary_table(out["baseline"], "baseline")
    row = base[(base.variant == "no_nmda") & (base.metric == "spike_auc")].iloc[0]
    assert row["mean"] == pytest.approx(0.98)
    assert "none: no depth beats" in out["results_table_md"].read_text()
    # best_networks.csv is unchanged by the baseline
    best = read_summary_table(out["best_networks"], "best_networks").set_index("variant")
    assert best.loc["full", "depth"] == 4 and best.loc["full", "seed"] == 2


def test_summary_without_baseline_says_so(tmp_path):
    p = _write_model_metrics(tmp_path / "a.csv", "full", 1, 0, [0.9] * 3)
    out = summarize([p], 0.01, tmp_path / "s", n_boot=20)
    need = pd.read_csv(out["depth_needed"])
    assert need["depth_needed"].item() == 1
    assert "no baseline" in need["note"].item()
    assert read_summary_table(out["baseline"], "baseline").empty
