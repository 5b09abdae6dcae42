"""End to end: the tiny config through Snakemake, every stage real, asserting on content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

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


def test_metrics_are_within_valid_ranges(tiny_run):
    frames = [
        pd.read_csv(p) for p in sorted((tiny_run.root / "results/evaluation").rglob("metrics.csv"))
    ]
    assert len(frames) == 3 * 2  # variants x depths
    metrics = pd.concat(frames)
    auc = metrics.query("metric == 'spike_auc'")["value"].dropna()
    assert len(auc) > 0 and auc.between(0, 1).all()
    rmse = metrics.query("metric == 'soma_rmse_mv'")["value"]
    assert (rmse >= 0).all() and np.isfinite(rmse).all()
    summary = pd.read_csv(tiny_run.root / "results/summary/depth_needed.csv")
    assert set(summary["variant"]) == {"full", "no_nmda", "lif"}
    for _, row in summary.iterrows():
        test_spikes = (
            metrics.query("variant == @row.variant and metric == 'spike_auc'")["value"]
            .notna()
            .any()
        )
        if test_spikes:
            assert row["depth_needed"] in (1, 2)
            assert row["depth_needed_p05"] <= row["depth_needed"] <= row["depth_needed_p95"]
        else:  # a tiny test split can hold no output spike: the AUC and the depth are undefined
            assert np.isnan(row["depth_needed"]) and "no output spikes" in row["note"]


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
