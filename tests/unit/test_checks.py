"""The study's trust checks (neurodepth.analysis.checks) on hand-built cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from toy_data import toy_dataset, write_toy_dataset

from neurodepth.analysis.checks import (
    dataset_rate,
    dataset_rate_hz,
    network_checks,
    read_training_summaries,
    study_checks,
    variant_checks,
)
from neurodepth.core.errors import DatasetError

RATE_COLUMNS = ("variant", "split", "rate_hz", "simulated_s")


def _verdict(ratio: float):
    """The evaluation's verdict for a ratio (its bar 0.8; unknown without a ratio)."""
    return bool(ratio >= 0.8) if np.isfinite(ratio) else None


def _metrics(ratios: dict, verdicts: dict | None = None) -> pd.DataFrame:
    """Tidy metrics with one spike_bce_ratio 'all' row (and a distractor) per network, and the
    evaluation's fails_bce_check on every row (``verdicts`` overrides the ratio's)."""
    verdicts = verdicts or {}
    rows = []
    for (variant, depth, seed), ratio in ratios.items():
        verdict = verdicts.get((variant, depth, seed), _verdict(ratio))
        for metric, subset, value in (
            ("spike_bce_ratio", "all", ratio),
            ("spike_bce_ratio", "0", 0.01),  # per-subset rows are not the check's input
            ("spike_auc", "all", 0.9),
        ):
            rows.append(
                dict(
                    cell="toy",
                    variant=variant,
                    depth=depth,
                    seed=seed,
                    metric=metric,
                    subset=subset,
                    value=value,
                    fails_bce_check=verdict,
                )
            )
    return pd.DataFrame(rows)


def _summary(selected, stopped=600, max_steps=600, capped=False, suspect=False) -> dict:
    return dict(
        selected_step=selected,
        stopped_step=stopped,
        max_steps=max_steps,
        capped=capped,
        memorisation_suspect=suspect,
    )


def test_network_checks_flag_each_failure_by_its_own_rule():
    ratios = {("full", 1, 0): 0.5, ("full", 2, 0): 0.8, ("full", 3, 0): np.nan}
    summaries = {
        ("full", 1, 0): _summary(300),
        ("full", 2, 0): _summary(50, suspect=True),
        ("full", 3, 0): _summary(600, capped=True),
    }
    table = network_checks(_metrics(ratios), summaries).set_index("depth")
    # 0.8 is not below 0.8: it fails; a NaN ratio (no test spikes) cannot be judged
    assert table.loc[1, "fails_bce_check"] == False  # noqa: E712  (pandas' nullable boolean)
    assert table.loc[2, "fails_bce_check"] == True  # noqa: E712
    assert pd.isna(table.loc[3, "fails_bce_check"])
    assert table.loc[1, "bce_ratio"] == 0.5 and np.isnan(table.loc[3, "bce_ratio"])
    assert table["memorisation_suspect"].tolist() == [False, True, False]
    assert table["capped"].tolist() == [False, False, True]
    assert table.loc[2, "selected_step"] == 50


def test_network_checks_refuse_a_network_without_metrics():
    with pytest.raises(DatasetError, match="no_nmda depth 1 seed 0"):
        network_checks(_metrics({("full", 1, 0): 0.5}), {("no_nmda", 1, 0): _summary(100)})


def test_network_checks_take_the_evaluations_verdict_not_the_ratio():
    """A test set without output spikes has a finite ratio that beats the bar by chance; the
    evaluation calls it unknown, and so must the checks (and the variant then does not pass)."""
    key = ("full", 1, 0)
    networks = network_checks(_metrics({key: 0.5}, {key: None}), {key: _summary(300)})
    assert pd.isna(networks.loc[0, "fails_bce_check"]) and networks.loc[0, "bce_ratio"] == 0.5
    rates = pd.DataFrame([("full", "train", 1.0, 30.0)], columns=list(RATE_COLUMNS))
    table = variant_checks(networks, rates, {"full": 1.0}, 0.2).set_index("variant")
    assert table.loc["full", "fail_bce_check"] == 0
    assert table.loc["full", "bce_check_unknown"] == 1 and not table.loc["full", "passes"]


def test_network_checks_refuse_metrics_without_the_evaluations_verdict():
    metrics = _metrics({("full", 1, 0): 0.5}).drop(columns="fails_bce_check")
    with pytest.raises(DatasetError, match="fails_bce_check.*evaluate the networks again"):
        network_checks(metrics, {("full", 1, 0): _summary(100)})


def test_variant_checks_combine_rates_and_network_flags():
    networks = network_checks(
        _metrics({("full", 1, 0): 0.5, ("lif", 1, 0): 0.5, ("lif", 2, 0): 0.9}),
        {k: _summary(300) for k in [("full", 1, 0), ("lif", 1, 0), ("lif", 2, 0)]},
    )
    rates = pd.DataFrame(
        [
            ("full", "train", 2.0, 30.0),  # +33 % alone, but pooled with test:
            ("full", "test", 1.0, 10.0),  # (60 + 10) / 40 s = 1.75 Hz, +17 %: within 20 %
            ("lif", "train", 1.0, 30.0),  # (30 + 15) / 40 s = 1.125 Hz, -25 %: outside
            ("lif", "test", 1.5, 10.0),
        ],
        columns=list(RATE_COLUMNS),
    )
    table = variant_checks(networks, rates, {"full": 1.5, "lif": 1.5}, 0.2).set_index("variant")
    assert table.loc["full", "passes"] and table.loc["full", "fail_bce_check"] == 0
    assert table.loc["full", "bce_check_unknown"] == 0
    assert table.loc["full", "train_rate_hz"] == 2.0 and table.loc["full", "test_rate_hz"] == 1.0
    assert table.loc["full", "rate_hz"] == pytest.approx(1.75)
    assert table.loc["full", "rate_within_tolerance"]
    assert table.loc["lif", "rate_hz"] == pytest.approx(1.125)
    assert not table.loc["lif", "rate_within_tolerance"]
    assert table.loc["lif", "fail_bce_check"] == 1 and not table.loc["lif", "passes"]
    # explicit rates (no target): only the networks are checked
    free = variant_checks(networks, rates, {"full": None, "lif": None}, 0.2).set_index("variant")
    assert free.loc["full", "passes"] and pd.isna(free.loc["full", "target_rate_hz"])


def test_dataset_rate_counts_every_simulated_millisecond(tmp_path):
    path = tmp_path / "train.nc"
    write_toy_dataset(path, n_simulations=3, duration_ms=1000, seed=4)
    ds = toy_dataset(n_simulations=3, duration_ms=1000, seed=4)
    spikes = int(ds.sizes["spike"])
    assert spikes > 0
    assert dataset_rate_hz(path) == pytest.approx(spikes / 3.0)
    assert dataset_rate(path) == pytest.approx((spikes / 3.0, 3.0))


def test_study_checks_writes_both_tables_from_files(tmp_path):
    dataset = tmp_path / "full" / "train.nc"
    dataset.parent.mkdir()
    write_toy_dataset(dataset, n_simulations=2, duration_ms=1000, seed=1)
    run = tmp_path / "models" / "full" / "d2_s1"
    run.mkdir(parents=True)
    (run / "training_summary.json").write_text(json.dumps(_summary(200)))
    metrics = tmp_path / "metrics.csv"
    _metrics({("full", 2, 1): 0.4}).to_csv(metrics, index=False)
    assert set(read_training_summaries([run / "training_summary.json"])) == {("full", 2, 1)}
    rate = dataset_rate_hz(dataset)
    table = study_checks(
        [metrics],
        [run / "training_summary.json"],
        {("full", "train"): dataset},
        {"full": rate},
        0.2,
        tmp_path / "networks.csv",
        tmp_path / "checks.csv",
    )
    assert table["passes"].tolist() == [True]
    written = pd.read_csv(tmp_path / "checks.csv")
    assert written.loc[0, "train_rate_hz"] == pytest.approx(rate)
    assert pd.read_csv(tmp_path / "networks.csv").loc[0, "bce_ratio"] == 0.4
