"""Every figure renders from a tiny precomputed result set; content checked on the Figure objects;
the figure registry lists each figure once and the workflow's figure rules follow it."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import tiny_results  # noqa: E402
from PIL import Image  # noqa: E402

from neurodepth.core.errors import ConfigError, DatasetError  # noqa: E402
from neurodepth.data.predictions import write_predictions  # noqa: E402
from neurodepth.figures import (  # noqa: E402
    FIGURES,
    Input,
    _common,
    accuracy_vs_depth,
    cell_morphology,
    dataset_overview,
    example_predictions,
    figures_for,
    first_layer_weights,
    input_paths,
    lif_check,
    main_variant,
    roc_timing,
)

UNIT_HINTS = (
    "(ms",
    "(mV",
    "(Hz",
    "(µm",
    "(a.u",
    "(fraction",
    "(per",
    "(hidden",
    "(ROC",
    "(%",
    "(1/mV",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_results.build(tmp_path_factory.mktemp("tiny_results"))


def _labels(fig):
    return [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel()) if t]


def _check_saved(fig, tmp_path, name, min_width=800):
    out_png, out_pdf = _common.save(fig, tmp_path / f"{name}.png")
    plt.close(fig)
    with Image.open(out_png) as im:
        im.verify()
    with Image.open(out_png) as im:
        w, h = im.size
        arr = np.asarray(im.convert("L"))
    assert min_width <= w <= 1600 and 250 <= h <= 1200, (w, h)
    assert arr.std() > 10  # not a blank canvas
    assert out_pdf.read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".tmp-*"))


def _best(tiny, variant):
    best = pd.read_csv(tiny["summary"]["best_networks"]).set_index("variant")
    return int(best.loc[variant, "depth"]), int(best.loc[variant, "seed"])


def _variant_lines(ax, colors):
    return [ln for ln in ax.get_lines() if ln.get_color() in colors and len(ln.get_xdata()) > 1]


def test_accuracy_vs_depth(tiny, tmp_path):
    s = tiny["summary"]
    fig = accuracy_vs_depth.from_files(s["metrics"], s["depth_needed"], s["baseline"])
    axes = [ax for ax in fig.axes]
    assert len(axes) == 3
    assert [ax.get_xlabel() for ax in axes] == ["network depth (hidden layers)"] * 3
    assert "AUC" in axes[0].get_ylabel() and "0.25 %" in axes[1].get_ylabel()
    # One error-bar line per variant per panel, each with one point per depth.
    for ax in axes:
        assert len(ax.containers) == len(tiny_results.VARIANTS)
        for c in ax.containers:
            assert len(c.lines[0].get_xdata()) == len(tiny_results.DEPTHS)
    # Depth needed: one star per variant on the AUC panel, placed at that variant's depth needed.
    need = pd.read_csv(s["depth_needed"]).set_index("variant")
    # (The toy I&F cell is a leaky integrator: its baseline is as good as any network, so it has
    # no depth needed and no star.)
    assert need.loc["lif", "verdict"].startswith("none")
    stars = [ln for ln in axes[0].get_lines() if ln.get_marker() == "*"]
    assert len(stars) == need["depth_needed"].notna().sum() == len(tiny_results.VARIANTS) - 1
    star_x = sorted(round(float(ln.get_xdata()[0])) for ln in stars)
    assert star_x == sorted(need["depth_needed"].dropna().tolist())
    legend_text = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("needs" in t for t in legend_text) and any("depth needed" in t for t in legend_text)
    # The no-training baseline: one dashed horizontal line per variant per panel, at its mean,
    # in the variant's colour; the FCI of each variant and the seeds' spread named in the legend.
    base = pd.read_csv(s["baseline"])
    for ax, metric in zip(axes, ["spike_auc", "tpr_at_fpr_0.0025", "soma_explained_variance"]):
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(dashed) == len(tiny_results.VARIANTS)
        drawn = sorted(float(ln.get_ydata()[0]) for ln in dashed)
        for ln in dashed:
            assert len(set(np.asarray(ln.get_ydata(), float))) == 1  # horizontal
        want = sorted(base.loc[base.metric == metric, "mean"])
        np.testing.assert_allclose(drawn, want)
    assert any("no-training baseline" in t for t in legend_text)
    assert any("SD over training seeds" in t for t in legend_text)
    fci_text = [t for t in legend_text if "FCI" in t]
    assert len(fci_text) == len(tiny_results.VARIANTS)
    full = need.loc["full"]
    assert any(f"FCI {full['fci']:.2f}" in t for t in fci_text)
    _check_saved(fig, tmp_path, "accuracy_vs_depth")


def test_accuracy_vs_depth_names_a_variant_no_depth_beats_the_baseline(tiny, tmp_path):
    s = tiny["summary"]
    summary = pd.read_csv(s["metrics"])
    need = pd.read_csv(s["depth_needed"])
    need.loc[need.variant == "full", "verdict"] = "none: no depth beats the no-training baseline"
    need.loc[need.variant == "full", "depth_needed"] = np.nan
    fig = accuracy_vs_depth.make(summary, need, baseline=pd.read_csv(s["baseline"]))
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sum("no depth beats the baseline" in t for t in texts) == 2  # full and lif
    stars = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "*"]
    assert len(stars) == len(tiny_results.VARIANTS) - 2
    plt.close(fig)


def test_accuracy_vs_depth_rejects_bad_table():
    with pytest.raises(DatasetError, match="'sd'"):
        accuracy_vs_depth.make(
            pd.DataFrame({"cell": [], "variant": [], "depth": [], "metric": [], "mean": []}),
            pd.DataFrame(),
        )


def test_example_predictions(tiny, tmp_path):
    preds = [tiny["predictions"][("full", d)] for d in tiny_results.DEPTHS]
    fig = example_predictions.from_files(
        tiny["datasets"]["full"], preds, tiny["summary"]["best_networks"]
    )
    assert len(fig.axes) == 6
    assert "soma voltage (mV)" in _labels(fig) and "time (ms)" in _labels(fig)
    ax_v = fig.axes[2]  # full-window voltage panel
    labels = [ln.get_label() for ln in ax_v.get_lines()]
    assert labels[0] == "simulated (truth)"
    assert any(lab.startswith("shallowest (1 layer") for lab in labels)
    # The best network is the one best_networks.csv names (tiny: deepest is best, seed 0).
    depth, seed = _best(tiny, "full")
    assert f"best ({example_predictions.p_label(dict(depth=depth, seed=seed))})" in labels
    # Only the scored part of the trace is drawn (after drop_first_ms).
    assert ax_v.get_lines()[0].get_xdata().min() >= tiny_results.DROP_MS
    # The zoomed window (right column) is narrower than the full window.
    full_w = np.diff(fig.axes[2].get_xlim())[0]
    zoom_w = np.diff(fig.axes[3].get_xlim())[0]
    assert zoom_w == pytest.approx(300) and zoom_w < full_w
    # Raster: every input spike of the shown window is drawn (exc + inh scatter collections).
    raster_pts = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert raster_pts > 100
    _check_saved(fig, tmp_path, "example_predictions")


def test_roc_timing(tiny, tmp_path):
    fig = roc_timing.from_files(
        list(tiny["predictions"].values()), tiny["summary"]["best_networks"]
    )
    assert len(fig.axes) == 2  # ROC (with its low-FP inset as a child axes) and timing
    ax_roc, ax_t = fig.axes
    assert len(ax_roc.child_axes) == 1
    inset = ax_roc.child_axes[0]
    assert inset.get_xlabel() == "FP rate (%)" and inset.get_xlim() == (0, 1)
    assert "false-positive rate" in ax_roc.get_xlabel()
    assert ax_t.get_xlabel() == "predicted − true spike time (ms)"
    assert ax_t.get_xlim() == (-50, 50)
    colors = set(_common.VARIANT_COLORS[v] for v in tiny_results.VARIANTS)
    assert len(_variant_lines(ax_roc, colors)) == len(tiny_results.VARIANTS)
    assert len(_variant_lines(ax_t, colors)) == len(tiny_results.VARIANTS)
    # The 0.25 % FP dots sit at x = 0.25 (%) in the inset.
    dots = [ln for ln in inset.get_lines() if ln.get_marker() == "o"]
    assert len(dots) == len(tiny_results.VARIANTS)
    assert all(ln.get_xdata()[0] == pytest.approx(0.25) for ln in dots)
    # Legend reports each variant's AUC from its best network; lif (easiest) is highest.
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    for v in tiny_results.VARIANTS:  # each curve is labelled with the best network's depth
        depth = _best(tiny, v)[0]
        label = f"{_common.variant_label(v)} ({depth} layer{'s' if depth != 1 else ''}"
        assert any(t.startswith(label) for t in texts), (label, texts)
    aucs = {t.split(" ")[0]: float(t.rsplit("AUC ", 1)[1]) for t in texts if "AUC" in t}
    assert aucs["integrate-and-fire"] > aucs["full"]
    _check_saved(fig, tmp_path, "roc_timing")


def test_first_layer_weights(tiny, tmp_path):
    ckpts = [tiny["checkpoints"][("full", d)] for d in tiny_results.DEPTHS]
    best_csv = tiny["summary"]["best_networks"]
    best = _common.best_file(ckpts, best_csv, "full")
    agg = pd.read_csv(tiny["summary"]["metrics"])
    auc = agg[(agg.metric == "spike_auc") & (agg.variant == "full")].set_index("depth")["mean"]
    assert best.parent.name == f"d{auc.idxmax()}_s0"
    fig = first_layer_weights.from_files(ckpts, tiny["datasets"]["full"], best_csv, n_show=3)
    assert f"({auc.idxmax()} layers" in fig._suptitle.get_text()
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3
    # Channel rows grouped exc/inh x basal/oblique/tuft: six region profiles per filter panel.
    profile_axes = [ax for ax in fig.axes if not ax.images and ax.get_lines()]
    assert len(profile_axes) == 3
    assert all(
        len([ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]) == 6 for ax in profile_axes
    )
    assert any("weight" in lab for lab in _labels(fig))
    # The heat map of the strongest filter equals the checkpoint's weights in display order.
    w, _ = _common.first_layer_weights(best)
    ds = _common.open_dataset(tiny["datasets"]["full"], "dataset")
    region, kind = _common.channel_region_kind(ds)
    order, _ = _common.channel_groups(region, kind)
    f0 = _common.filter_order(w)[0]
    np.testing.assert_allclose(images[0].images[0].get_array(), w[f0][order])
    _check_saved(fig, tmp_path, "first_layer_weights")


def test_cell_morphology(tiny, tmp_path):
    ckpts = [tiny["checkpoints"][("full", d)] for d in tiny_results.DEPTHS]
    fig = cell_morphology.from_files(
        tiny["datasets"]["full"], ckpts, tiny["summary"]["best_networks"]
    )
    # Panel B is coloured by a filter of the best network (not simply the deepest one).
    colorbar = next(ax for ax in fig.axes if "weight" in ax.get_ylabel())
    assert f"of the {_best(tiny, 'full')[0]}-layer network" in colorbar.get_ylabel()
    with pytest.raises(DatasetError, match="best_networks"):
        cell_morphology.from_files(tiny["datasets"]["full"], ckpts)
    panels = [ax for ax in fig.axes if ax.get_xlabel() == "x (µm)"]
    assert len(panels) == 2 and all(ax.get_ylabel() == "y (µm)" for ax in panels)
    assert any("weight" in ax.get_ylabel() for ax in fig.axes if ax not in panels)  # colour bar
    legend = [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert legend[:3] == ["basal (6 segments)", "oblique (6 segments)", "tuft (6 segments)"]
    _check_saved(fig, tmp_path, "cell_morphology")


def test_skeleton_is_a_tree():
    table = tiny_results.segment_table()
    edges = cell_morphology.skeleton(table)
    children = [b for _, b in edges]
    # Every segment has exactly one parent (a segment or the soma, -1), so n edges for n segments.
    assert sorted(children) == list(range(len(table)))
    parents = dict((b, a) for a, b in edges)
    for seg in range(len(table)):  # following parents always reaches the soma
        seen = set()
        while seg != -1:
            assert seg not in seen
            seen.add(seg)
            seg = parents[seg]


def test_cell_morphology_needs_segments(tiny):
    ds = _common.open_dataset(tiny["datasets"]["lif"], "dataset")
    with pytest.raises(DatasetError, match="segment"):
        cell_morphology.make(_common.segment_table(ds))


def test_dataset_overview(tiny, tmp_path):
    fig = dataset_overview.from_files([str(p) for p in tiny["datasets"].values()])
    assert len(fig.axes) == 3
    labels = _labels(fig)
    assert "somatic voltage (mV)" in labels and "output firing rate (Hz)" in labels
    ax_r, ax_v, ax_f = fig.axes
    assert len(ax_r.collections) == len(tiny_results.VARIANTS)
    n_sim = sum(len(c.get_offsets()) for c in ax_r.collections)
    assert n_sim == len(tiny_results.VARIANTS) * tiny_results.N_SIM
    assert len(ax_v.patches) == len(tiny_results.VARIANTS)  # one step histogram per variant
    assert [t.get_text() for t in ax_f.get_xticklabels()] == ["full", "AMPA\nonly", "I&F"]
    _check_saved(fig, tmp_path, "dataset_overview")


def test_lif_check(tiny, tmp_path):
    fig = lif_check.from_files(
        tiny["predictions"][("lif", 1)], tiny["checkpoints"][("lif", 1)], tiny["datasets"]["lif"]
    )
    assert len(fig.axes) == 3
    assert "voltage (mV)" in _labels(fig) and "time relative to output (ms)" in _labels(fig)
    assert "1 unit per layer" in fig._suptitle.get_text()
    ax_w = fig.axes[2]
    texts = [t.get_text() for t in ax_w.get_legend().get_texts()]
    # The tiny checkpoint's excitatory filter decays with tau 5 ms, the inhibitory with 10 ms.
    assert "fit: τ = 5 ms (R² 1.00)" in texts and "fit: τ = 10 ms (R² 1.00)" in texts
    _check_saved(fig, tmp_path, "lif_check")


def test_fit_exponential_recovers_tau():
    lag = np.arange(40.0)
    a, tau, r2 = lif_check.fit_exponential(0.3 * np.exp(-lag / 20.0), lag)
    assert tau == pytest.approx(20.0) and a == pytest.approx(0.3) and r2 == pytest.approx(1.0)


def test_missing_inputs_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="nope.nc"):
        dataset_overview.from_files([tmp_path / "nope.nc"])
    with pytest.raises(DatasetError, match="nope.csv"):
        accuracy_vs_depth.from_files(tmp_path / "nope.csv", tmp_path / "x.csv")
    with pytest.raises(DatasetError, match="model.ckpt"):
        _common.first_layer_weights(tmp_path / "model.ckpt")


def test_save_requires_png(tmp_path):
    fig = plt.figure()
    with pytest.raises(ValueError, match="png"):
        _common.save(fig, tmp_path / "x.pdf")
    plt.close(fig)


def test_each_figure_regenerates_fast(tiny, tmp_path):
    """Issue 7: regenerating one figure takes <= 30 s; the tiny set must be far below."""
    start = time.perf_counter()
    fig = roc_timing.from_files(
        list(tiny["predictions"].values()), tiny["summary"]["best_networks"]
    )
    _common.save(fig, tmp_path / "again.png")
    plt.close(fig)
    assert time.perf_counter() - start < 30


def test_variant_without_test_spikes_is_named_not_fatal(tiny, tmp_path):
    """An ablation whose test set has no output spike has no ROC and no depth needed."""
    import xarray as xr

    src = tiny["predictions"][("full", 1)]
    silent = tmp_path / "no_branching" / "d1_s0" / "predictions.nc"
    silent.parent.mkdir(parents=True)
    with xr.open_dataset(src) as ds:
        ds = ds.load()
    ds = ds.drop_vars(["roc_fpr", "roc_tpr", "spike_timing_count", "lag_ms"])
    ds["spike_target"][:] = 0
    ds.attrs["variant"] = "no_branching"
    write_predictions(ds, silent)
    best_csv = tmp_path / "best_networks.csv"
    best = pd.read_csv(tiny["summary"]["best_networks"])
    best.loc[best.variant == "full", "depth"] = 2
    silent_row = best.iloc[[0]].assign(variant="no_branching", depth=1, seed=0)
    pd.concat([best, silent_row]).to_csv(best_csv, index=False)
    fig = roc_timing.from_files([tiny["predictions"][("full", 2)], silent], best_csv)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("branching removed: no output spikes" in t for t in texts)
    plt.close(fig)
    with pytest.raises(DatasetError, match="no predictions file has output spikes"):
        roc_timing.from_files([silent], best_csv)

    summary = pd.read_csv(tiny["summary"]["metrics"])
    need = pd.read_csv(tiny["summary"]["depth_needed"])
    need.loc[
        need.variant == "no_nmda", ["depth_needed", "depth_needed_p05", "depth_needed_p95"]
    ] = np.nan
    fig = accuracy_vs_depth.make(summary, need)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("NMDA removed: depth needed undefined" in t for t in texts)
    # no star for no_nmda (undefined) nor for lif (no depth beats the toy's baseline)
    assert (
        len([ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "*"])
        == len(tiny_results.VARIANTS) - 2
    )
    plt.close(fig)


# --- the figure registry ------------------------------------------------------------------------
BUILT_IN = [
    "accuracy_vs_depth",
    "example_predictions",
    "roc_timing",
    "first_layer_weights",
    "cell_morphology",
    "dataset_overview",
    "lif_check",
]


def test_registry_lists_each_figure_once_with_its_module_and_caption(repo_root):
    names = FIGURES.names()
    assert names[: len(BUILT_IN)] == BUILT_IN and len(set(names)) == len(names)
    for name in BUILT_IN:
        figure = FIGURES[name]
        assert figure.name == name
        assert figure.draw.__module__ == f"neurodepth.figures.{name}"
        assert (repo_root / "workflow" / "report" / figure.caption_file).is_file()
        assert figure.category and figure.inputs
    with pytest.raises(ConfigError, match="figure 'roc_timing' is registered twice"):
        FIGURES.register("roc_timing", FIGURES["accuracy_vs_depth"])


def test_figures_apply_to_the_variants_run():
    assert figures_for(["full", "no_nmda", "lif"]) == BUILT_IN
    assert figures_for(["full", "no_nmda"]) == BUILT_IN[:-1]
    assert main_variant(["no_nmda", "full"]) == "full" and main_variant(["no_nmda"]) == "no_nmda"


def test_figures_that_show_the_best_network_read_best_networks():
    for name in ("example_predictions", "roc_timing", "first_layer_weights", "cell_morphology"):
        assert Input("best_networks") in FIGURES[name].inputs.values(), name
    assert Input("summary_metrics") not in FIGURES["first_layer_weights"].inputs.values()


def test_input_declarations_are_checked():
    with pytest.raises(ConfigError, match="'model'"):
        Input("model")
    with pytest.raises(ConfigError, match="'deepest'"):
        Input("checkpoint", networks="deepest")


def test_every_registered_figure_draws_from_its_resolved_inputs(tiny, tmp_path):
    """The registry's declared inputs, resolved on the tiny result tree, are what draw needs."""
    root = tiny["summary"]["metrics"].parent.parent
    patterns = {
        "summary_metrics": str(root / "summary" / "metrics.csv"),
        "depth_needed": str(root / "summary" / "depth_needed.csv"),
        "best_networks": str(root / "summary" / "best_networks.csv"),
        "baseline_summary": str(root / "summary" / "baseline.csv"),
        "dataset": str(root / "datasets" / "{cell}" / "{variant}" / "test.nc"),
        "predictions": str(root / "evaluation/{cell}/{variant}/d{depth}_s{seed}/predictions.nc"),
        "checkpoint": str(root / "models/{cell}/{variant}/d{depth}_s{seed}/model.ckpt"),
    }
    for name in figures_for(tiny_results.VARIANTS):
        kwargs = input_paths(
            FIGURES[name],
            patterns,
            cell="toy",
            variants=tiny_results.VARIANTS,
            depths=tiny_results.DEPTHS,
            seeds=[0],
        )
        for key, value in kwargs.items():
            assert isinstance(value, list) == FIGURES[name].inputs[key].many, (name, key)
        fig = FIGURES[name].draw(**kwargs)
        assert fig.axes, name
        plt.close(fig)
    lif = input_paths(
        FIGURES["lif_check"],
        patterns,
        cell="toy",
        variants=["full", "lif"],
        depths=[2, 1],
        seeds=[3, 0],
    )
    assert lif["checkpoint"] == patterns["checkpoint"].format(
        cell="toy", variant="lif", depth=1, seed=3
    )


@pytest.mark.slow
def test_workflow_generates_one_rule_per_registered_figure(repo_root):
    """Rules figure_<name> come from the registry, for the default config and one without lif."""
    import subprocess
    import sys

    import yaml

    variants = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())["variants"]
    for args, run in (
        ([], variants),
        (["--config", "variants=[no_nmda,full]"], ["no_nmda", "full"]),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "--list-rules", *args],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        rules = [r for r in result.stdout.split() if r.startswith("figure_")]
        assert sorted(rules) == sorted(f"figure_{n}" for n in figures_for(run))
