"""End to end: the tiny config through Snakemake, every stage real, asserting on content."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy.stats import norm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tiny_local_run):
    return tiny_local_run


def test_datasets_have_expected_dimensions_and_dtypes(tiny_run):
    for variant, n_channels in (("full", None), ("no_nmda", None), ("lif", 100)):
        for split, n_sims in (("train", 4), ("valid", 2), ("test", 2)):
            path = tiny_run.root / f"results/datasets/stylized_l5pc/{variant}/{split}.nc"
            with xr.open_dataset(path) as ds:
                assert ds.sizes["simulation"] == n_sims
                assert ds.sizes["time"] == 1200
                assert ds["soma_voltage"].dtype == np.float32
                assert ds["soma_voltage"].attrs["units"] == "mV"
                assert ds["spike_time"].dtype == np.float64
                assert ds["input_spikes_packed"].dtype == np.uint8
                assert ds.attrs["variant"] == variant
                assert ds.attrs["split"] == split
                if n_channels is not None:
                    assert ds.sizes["channel"] == n_channels
                v = ds["soma_voltage"].values
                assert np.isfinite(v).all()
                # output spikes: inside the simulation, each owned by one, counted and rated
                times = ds["spike_time"].values
                assert ds["spike_time"].attrs["units"] == "ms"
                assert ((times >= 0) & (times < ds.sizes["time"])).all()
                counts = np.bincount(ds["spike_simulation"].values, minlength=n_sims)
                np.testing.assert_array_equal(ds["spike_count"].values, counts)
                assert ds["output_rate_hz"].attrs["units"] == "Hz"
                rate = counts / (ds.sizes["time"] / 1000)
                np.testing.assert_allclose(ds["output_rate_hz"].values, rate, rtol=1e-6)
                if (
                    variant == "lif"
                ):  # V = -75 + 2 x filtered input: inhibition can pull it far down
                    assert -250 < v.min() and v.max() < -40
                else:  # between E_K - 5 and E_Na + 20 mV
                    assert -90 < v.min() and v.max() < 70
    with (
        xr.open_dataset(tiny_run.root / "results/datasets/stylized_l5pc/full/train.nc") as full,
        xr.open_dataset(
            tiny_run.root / "results/datasets/stylized_l5pc/no_nmda/train.nc"
        ) as no_nmda,
    ):
        assert full.sizes["channel"] == no_nmda.sizes["channel"] == 2 * full.sizes["segment"]


def _config(run) -> dict:
    """The run's config as its rules saw it: the file completed with the schema's defaults."""
    from neurodepth.core.config import validate_config

    return validate_config(yaml.safe_load(run.path(run.configfile).read_text()))


def _evaluation_metrics(run) -> pd.DataFrame:
    """Every model's metrics.csv, checked against the model its folder names."""
    frames = []
    for path in sorted(run.path("results/evaluation").rglob("d*_s*/metrics.csv")):
        frame = pd.read_csv(path, dtype={"subset": str})
        depth, seed = re.fullmatch(r"d(\d+)_s(\d+)", path.parent.name).groups()
        assert set(frame["variant"]) == {path.parent.parent.name}, path
        assert set(frame["depth"]) == {int(depth)} and set(frame["seed"]) == {int(seed)}, path
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_metrics_are_within_valid_ranges(tiny_run):
    config = _config(tiny_run)
    metrics = _evaluation_metrics(tiny_run)
    variants, depths = config["variants"], config["network"]["depths"]
    models = metrics[["variant", "depth", "seed"]].drop_duplicates()
    assert len(models) == len(variants) * len(depths) * len(config["network"]["seeds"])
    subsets = {"all"} | {str(k) for k in range(config["evaluation"]["subsets"])}
    for (variant, depth), group in metrics.groupby(["variant", "depth"]):
        assert set(group["subset"]) == subsets, (variant, depth)
        wide = group.set_index(["subset", "metric"])["value"].unstack("metric")
        auc = wide["spike_auc"].dropna()
        assert auc.between(0, 1).all(), (variant, depth, auc)
        # d' is defined from the AUC: sqrt(2) * Phi^-1(AUC)
        expected_d = np.sqrt(2) * norm.ppf(wide["spike_auc"])
        np.testing.assert_allclose(wide["d_prime"], expected_d, rtol=1e-9, equal_nan=True)
        # points of one ROC curve: the TPR cannot fall as the allowed FPR grows
        low, high = (f"tpr_at_fpr_{f:g}" for f in sorted(config["evaluation"]["fpr_points"]))
        both = wide[[low, high]].dropna()
        assert both[low].between(0, 1).all() and (both[high] >= both[low]).all()
        # soma errors in mV: finite, MAE <= RMSE, and smaller than the clipped voltage range
        rmse, mae = wide["soma_rmse_mv"], wide["soma_mae_mv"]
        assert np.isfinite(rmse).all() and (rmse > 0).all(), (variant, depth)
        assert (mae <= rmse + 1e-9).all() and (rmse < 200).all(), (variant, depth)
        assert (wide["soma_explained_variance"].dropna() <= 1).all()


def test_depth_needed_is_recomputed_from_the_metrics_written(tiny_run):
    """depth_needed.csv against its definition applied to the per-model metrics files."""
    config = _config(tiny_run)
    margin = config["summary"]["auc_margin"]
    baseline_margin = config["summary"]["baseline"]["margin"]
    auc = _evaluation_metrics(tiny_run).query("metric == 'spike_auc' and subset != 'all'")
    summary = pd.read_csv(tiny_run.path("results/summary/depth_needed.csv"))
    summary_metrics = pd.read_csv(tiny_run.path("results/summary/metrics.csv"))
    assert sorted(summary["variant"]) == sorted(config["variants"])
    assert (summary["margin"] == margin).all()
    assert set(summary["depths_evaluated"]) == {" ".join(map(str, config["network"]["depths"]))}
    defined = 0
    for _, row in summary.iterrows():
        means = auc[auc["variant"] == row["variant"]].groupby("depth")["value"].mean()
        published = summary_metrics.query("variant == @row.variant and metric == 'spike_auc'")
        np.testing.assert_allclose(
            published.set_index("depth")["mean"].loc[means.index], means, rtol=1e-12
        )
        if means.isna().all():  # a tiny test split can hold no output spike: depth undefined
            assert np.isnan(row["depth_needed"]) and "no output spikes" in row["note"]
            continue
        best = means.max()
        assert row["best_depth"] == int(means.idxmax())
        assert row["best_auc"] == pytest.approx(best, rel=1e-12)
        # a depth counts only where it beats the no-training baseline, scored on the same subsets
        baseline = pd.read_csv(
            tiny_run.path(
                f"results/evaluation/stylized_l5pc/{row['variant']}/baseline/metrics.csv"
            ),
            dtype={"subset": str},
        ).query("metric == 'spike_auc' and subset != 'all'")
        assert row["baseline_auc"] == pytest.approx(baseline["value"].mean(), rel=1e-12)
        eligible = means[(means >= best - margin) & (means > row["baseline_auc"] + baseline_margin)]
        if eligible.empty:
            assert np.isnan(row["depth_needed"]) and row["verdict"].startswith("none"), row
            continue
        defined += 1
        needed = int(eligible.index.min())
        assert row["depth_needed"] == needed, (row["variant"], means.to_dict())
        assert row["auc_at_depth_needed"] == pytest.approx(means[needed], rel=1e-12)
        assert row["auc_at_depth_needed"] >= row["best_auc"] - margin
        # the bootstrap interval holds depths that were trained, and brackets the estimate
        assert {row["depth_needed_p05"], row["depth_needed_p95"]} <= set(means.index)
        assert row["depth_needed_p05"] <= needed <= row["depth_needed_p95"]
        assert 0 <= row["bootstrap_fraction_same"] <= 1
    assert defined >= 1, "no variant of the tiny run has a depth that beats its baseline"


def test_checks_agree_with_the_metrics_and_datasets_they_judge(tiny_run):
    """checks.csv and network_checks.csv against the per-network files and the datasets."""
    from neurodepth.analysis.checks import dataset_rate

    config = _config(tiny_run)
    networks = pd.read_csv(tiny_run.path("results/summary/network_checks.csv"))
    n_per_variant = len(config["network"]["depths"]) * len(config["network"]["seeds"])
    assert len(networks) == len(config["variants"]) * n_per_variant
    ratios = _evaluation_metrics(tiny_run).query("metric == 'spike_bce_ratio' and subset == 'all'")
    merged = networks.merge(
        ratios[["variant", "depth", "seed", "value", "fails_bce_check"]],
        on=["variant", "depth", "seed"],
        suffixes=("", "_evaluation"),
    )
    assert len(merged) == len(networks)
    np.testing.assert_allclose(merged["bce_ratio"], merged["value"])
    # the checks carry the evaluation's verdict; where it judged, it is the ratio against the bar
    verdict, evaluated = merged["fails_bce_check"], merged["fails_bce_check_evaluation"]
    assert (verdict.isna() == evaluated.isna()).all()
    judged = evaluated.notna()
    assert (verdict[judged].astype(bool) == evaluated[judged].astype(bool)).all()
    limit = config["evaluation"]["max_bce_ratio"]
    assert (verdict[judged].astype(bool) == (merged.loc[judged, "value"] >= limit)).all()
    variants = pd.read_csv(tiny_run.path("results/summary/checks.csv")).set_index("variant")
    assert set(variants.index) == set(config["variants"])
    for variant in config["variants"]:
        row = variants.loc[variant]
        assert row["networks"] == n_per_variant
        mine = networks.query("variant == @variant")["fails_bce_check"]
        assert row["fail_bce_check"] == mine.fillna(False).astype(bool).sum()
        assert row["bce_check_unknown"] == mine.isna().sum()
        spikes = seconds = 0.0
        for split in ("train", "valid", "test"):
            dataset = tiny_run.path(f"results/datasets/stylized_l5pc/{variant}/{split}.nc")
            rate, simulated_s = dataset_rate(dataset)
            assert row[f"{split}_rate_hz"] == pytest.approx(rate)
            spikes, seconds = spikes + rate * simulated_s, seconds + simulated_s
        # the rate judged is the variant's over all its datasets
        assert row["rate_hz"] == pytest.approx(spikes / seconds)
        target = config["inputs"][variant].get("target_rate_hz")
        if target:
            tolerance = config["summary"]["rate_tolerance"]
            assert row["rate_within_tolerance"] == (abs(spikes / seconds / target - 1) <= tolerance)


def test_figures_are_nonempty_images(tiny_run):
    from PIL import Image

    figures = sorted((tiny_run.root / "results/figures").glob("*.png"))
    assert len(figures) >= 7
    for png in figures:
        with Image.open(png) as image:
            width, height = image.size
            assert width > 400 and height > 200
            pixels = np.asarray(image.convert("L"))
            assert pixels.std() > 5, f"{png.name} looks blank"
        assert png.with_suffix(".pdf").stat().st_size > 1000


def test_second_run_has_nothing_to_do(tiny_run):
    result = tiny_run.run("-n", "--cores", "1")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_one_figure_reruns_alone(tiny_run):
    target = "results/figures/accuracy_vs_depth.png"
    result = tiny_run.run(target, "--cores", "1", "--forcerun", "figure_accuracy_vs_depth")
    log = result.stdout + result.stderr
    assert "figure_accuracy_vs_depth" in log
    for upstream in ("simulate_shard", "merge_dataset", "train_model", "evaluate_model"):
        assert f"rule {upstream}" not in log and f"localrule {upstream}" not in log


def test_html_report_holds_every_figure_with_its_caption(tiny_run):
    tiny_run.run("--report", "report.html")
    html = (tiny_run.root / "report.html").read_text(errors="replace")
    for png in sorted((tiny_run.root / "results/figures").glob("*.png")):
        assert png.name in html, f"{png.name} missing from the report"
    # a phrase from a caption (.rst) and one from the workflow description
    assert "true-positive rate" in html
    assert "depth_needed.csv" in html


def test_family_comparison_matches_the_networks_it_compares(tiny_run):
    from neurodepth.data.shards import read_channel_table
    from neurodepth.learning.checkpoints import load_model

    config = _config(tiny_run)
    comparison = pd.read_csv(tiny_run.path("results/summary/family_comparison.csv"))
    expected = {(v, "tcn", d) for v in config["variants"] for d in config["network"]["depths"]}
    expected |= {
        (v, family, size)
        for v in config["variants"]
        for family, entry in config["families"].items()
        for size in entry["sizes"]
    }
    assert set(zip(comparison["variant"], comparison["family"], comparison["size"])) == expected
    table = comparison.set_index(["variant", "family", "size"])
    for variant in config["variants"]:
        channels = read_channel_table(
            tiny_run.path(f"results/datasets/stylized_l5pc/{variant}/train.nc")
        )
        for family, entry in config["families"].items():
            for size in entry["sizes"]:
                run = f"stylized_l5pc/{variant}/{family}/n{size}_s0"
                model, meta = load_model(tiny_run.path(f"results/models/{run}/model.ckpt"))
                assert meta["family"] == family and type(model).__name__ != "TCN"
                row = table.loc[(variant, family, size)]
                assert row["n_parameters"] == model.n_parameters
                assert row["macs_per_ms"] == model.macs_per_ms
                metrics = pd.read_csv(tiny_run.path(f"results/evaluation/{run}/metrics.csv"))
                auc = metrics[(metrics.metric == "spike_auc") & (metrics.subset != "all")]
                np.testing.assert_allclose(row["spike_auc"], auc["value"].mean(), equal_nan=True)
                if family == "elm":
                    # Branch-ELM: one group per (section, synapse kind) of the real cell
                    sections = channels["segment_section"][channels["channel_segment"]]
                    kinds = set(zip(sections, channels["channel_kind"], strict=True))
                    assert len(meta["architecture"]["channel_group"]) == model.n_inputs
                    assert model.n_groups == len(kinds) < model.n_inputs
    smallest = pd.read_csv(tiny_run.path("results/summary/smallest_models.csv"))
    for _, row in smallest.iterrows():
        # the best model is the best of those that learned (none may have, in this tiny run)
        per_variant = table.loc[row["variant"]]
        learned = per_variant.loc[per_variant["learned"].astype(bool), "spike_auc"]
        if learned.empty:
            assert np.isnan(row["best_auc"]) and np.isnan(row["n_parameters"])
            assert row["verdict"].startswith("none: no network of any family learned")
            continue
        assert row["best_auc"] == pytest.approx(learned.max(), abs=1e-12)
        if pd.notna(row["n_parameters"]):
            chosen = table.loc[
                (row["variant"], row["family"], row["smallest_size_by_n_parameters"])
            ]
            assert chosen["spike_auc"] >= row["best_auc"] - row["margin"] - 1e-12
            assert chosen["spike_auc"] > row["baseline_auc"]
        else:
            assert row["verdict"].startswith("none")


def test_the_full_cell_trains_its_dendritic_target(tiny_run):
    from neurodepth.data.dendritic_pca import read_dendritic_pca
    from neurodepth.data.reader import DatasetReader
    from neurodepth.learning.checkpoints import load_model

    config = _config(tiny_run)
    assert config["training"]["dendritic_components"] == {"full": 4}
    pca = read_dendritic_pca(tiny_run.path("results/datasets/stylized_l5pc/full/dendritic_pca.nc"))
    reader = DatasetReader(tiny_run.path("results/datasets/stylized_l5pc/full/train.nc"))
    assert pca.components.shape == (4, reader.dendritic_voltage(0, 0, 10).shape[0])
    # the reported variance is what the components reconstruct on the training split
    v = np.minimum(
        np.concatenate(
            [
                reader.dendritic_voltage(s, 0, reader.duration_ms)
                for s in range(reader.n_simulations)
            ],
            axis=1,
        ),
        2.0,
    )
    reader.close()
    total = ((v - v.mean(1, keepdims=True)) ** 2).sum()

    def explained(fit):
        return 1 - ((v - fit.reconstruct(fit.transform(v))) ** 2).sum() / total

    # the projection explains what the fit reports; the ±3 SD clip of the targets (dendritic
    # spikes are the heavy tail) keeps less of it, never more
    unclipped = dataclasses.replace(pca, clip_sd=np.inf)
    assert explained(unclipped) == pytest.approx(pca.explained.sum(), abs=0.01)
    assert 0.5 * pca.explained.sum() < explained(pca) <= explained(unclipped) + 1e-6
    for variant, components in (("full", 4), ("no_nmda", 0)):
        model, _ = load_model(
            tiny_run.path(f"results/models/stylized_l5pc/{variant}/d1_s0/model.ckpt")
        )
        assert model.n_dendritic == components
    log = pd.read_csv(tiny_run.path("results/models/stylized_l5pc/full/d1_s0/training_log.csv"))
    assert log["train_dendritic_mse"].notna().any()
