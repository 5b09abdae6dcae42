"""Summary stage: aggregate per-model evaluation tables into per (variant, depth) results.

Inputs are the tidy ``metrics.csv`` files written by ``neurodepth.learning.evaluate`` (one per
trained model, columns ``cell, variant, depth, seed, metric, subset, value`` plus model meta
columns).
Outputs (all written atomically into ``out_dir``):

- ``metrics.csv``: per (cell, variant, depth, metric) the mean, SD and count over seeds x test
  subsets, the SD over seeds of each seed's mean over subsets (``sd_seeds``, the spread due to
  training; empty with one seed), plus the mean over seeds of the whole-test-set value
  (``subset == "all"``).
- ``depth_needed.csv``: per (cell, variant) the smallest depth whose mean spike AUC is within
  ``margin`` of that variant's best depth *and* beats the no-training baseline
  (``neurodepth.analysis.baseline``) by more than ``baseline_margin``, with a bootstrap 5-95 %
  interval over seeds and test subsets; a variant where no depth beats the baseline says so in
  ``verdict`` (its depth needed is empty, not a number). Also the functional complexity index
  (:func:`fci`) of the variant's best depth, with its bootstrap interval.
- ``baseline.csv``: the no-training baseline's metrics per (cell, variant), aggregated like
  ``metrics.csv`` (plus the fitted filter time constants), for the figures.
- ``best_networks.csv``: per (cell, variant) the one network every figure shows as "the best":
  the depth with the highest mean spike AUC over seeds x test subsets (the ``best_depth`` that
  depth-needed is measured against), and at that depth the seed with the highest mean over its
  subsets (ties: the shallower depth, the lower seed).
- ``results_table.csv`` / ``results_table.md``: every (cell, variant, depth) with model size
  (parameters, receptive field, MACs per ms) and every metric as mean and SD; the markdown adds
  the depth-needed / complexity table.

Each table is written by :func:`summarize` and read back by :func:`read_summary_table`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.core.atomic import write_csv_atomic, write_text_atomic
from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import read_prediction_attrs

ID_COLUMNS = ["cell", "variant", "depth", "seed", "metric", "subset", "value"]
# Model-size columns; the first name found in a metrics file is used.  When a metrics file has
# none, they are read from the ``model_*`` attributes of the ``predictions.nc`` that evaluate.py
# writes beside it (same rule, same folder).
META_COLUMNS = {
    "n_parameters": ("n_parameters", "model_n_parameters"),
    "receptive_field_ms": ("receptive_field_ms", "receptive_field", "model_receptive_field"),
    "macs_per_ms": ("macs_per_ms", "model_macs_per_ms"),
}
PREDICTIONS_NAME = "predictions.nc"
AUC_METRIC = "spike_auc"
# Order used in tables and figures; metrics not listed follow alphabetically.
METRIC_ORDER = [
    "spike_auc",
    "tpr_at_fpr_0.001",
    "tpr_at_fpr_0.0025",
    "d_prime",
    "soma_explained_variance",
    "soma_rmse_mv",
    "soma_mae_mv",
    "soma_explained_variance_realigned",
    "soma_rmse_mv_realigned",
    "soma_mae_mv_realigned",
]


def read_metrics(metric_paths) -> pd.DataFrame:
    """Concatenate per-model metrics files; meta columns are normalised to ``META_COLUMNS`` keys."""
    frames = []
    for path in metric_paths:
        path = Path(path)
        if not path.exists():
            raise DatasetError(f"metrics file {path} does not exist")
        df = pd.read_csv(path, dtype={"subset": str})
        missing = [c for c in ID_COLUMNS if c not in df.columns]
        if missing:
            raise DatasetError(f"metrics file {path} lacks columns {missing}")
        if df.empty:
            raise DatasetError(f"metrics file {path} has no rows")
        for key, names in META_COLUMNS.items():
            found = next((n for n in names if n in df.columns), None)
            if found is not None and found != key:
                df = df.rename(columns={found: key})
        missing_meta = [k for k in META_COLUMNS if k not in df.columns]
        if missing_meta:
            for key, value in _meta_from_predictions(path.parent / PREDICTIONS_NAME).items():
                if key in missing_meta:
                    df[key] = value
        df["source"] = str(path)
        frames.append(df)
    if not frames:
        raise DatasetError("summary needs at least one metrics file, got none")
    out = pd.concat(frames, ignore_index=True)
    out["subset"] = out["subset"].astype(str)
    out["depth"] = out["depth"].astype(int)
    dup = out.duplicated(["cell", "variant", "depth", "seed", "metric", "subset"])
    if dup.any():
        row = out[dup].iloc[0]
        raise DatasetError(
            f"duplicate metric row {row['metric']!r} subset {row['subset']} for "
            f"{row['cell']}/{row['variant']}/d{row['depth']}_s{row['seed']} (in {row['source']})"
        )
    return out


def _meta_from_predictions(path: Path) -> dict:
    """Model size from a predictions.nc's ``model_*`` attributes ({} when the file is absent)."""
    attrs = read_prediction_attrs(path)
    out = {}
    for key, names in META_COLUMNS.items():
        found = next((n for n in names if n in attrs), None)
        if found is not None:
            out[key] = float(np.asarray(attrs[found]).ravel()[0])
    return out


def _spread_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows that carry the spread: the test subsets, or whole-set values when no subsets exist."""
    subsets = df[df["subset"] != "all"]
    return subsets if not subsets.empty else df


def aggregate_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD (ddof=1) and n over seeds x subsets per (cell, variant, depth, metric), and the
    SD over seeds of the per-seed means (``sd_seeds``)."""
    keys = ["cell", "variant", "depth", "metric"]
    parts = []
    for key, group in df.groupby(keys, sort=True):
        rows = _spread_rows(group)
        spread = rows["value"].astype(float)
        whole = group[group["subset"] == "all"]["value"].astype(float)
        per_seed = rows.groupby("seed")["value"].mean().dropna()  # NaN subsets skipped
        parts.append(
            dict(
                zip(keys, key),
                mean=spread.mean(),  # NaN values (e.g. AUC of a subset without spikes) skipped
                sd=spread.std(ddof=1) if spread.notna().sum() > 1 else np.nan,
                n=int(spread.notna().sum()),
                n_seeds=int(group["seed"].nunique()),
                sd_seeds=per_seed.std(ddof=1) if len(per_seed) > 1 else np.nan,
                all_mean=whole.mean() if not whole.empty else np.nan,
            )
        )
    return pd.DataFrame(parts)


def fci(auc):
    """Functional complexity index of Aizenbud et al. (PNAS 123(28), 2026).

    ``FCI = log10(1000 (1 - AUC)) / log10(1000 (1 - 0.9))`` (= ``log10(1000 (1 - AUC)) / 2``):
    AUC 0.9 gives 1, 0.99 gives 0.5, 0.999 gives 0; a neuron whose spikes a network predicts
    less well is the more complex one. The paper calibrated it on AUCs in [0.9, 0.999]; outside
    it the formula extrapolates (AUC 1 gives -inf). Their AUC is that of a fixed depth-3,
    width-128 TCN on a test set normalised to 1 Hz output; here it is applied to the best depth
    of the sweep on the protocol's test set, so values compare between this study's variants,
    not directly with the paper's table.
    """
    auc = np.asarray(auc, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(1000.0 * (1.0 - auc)) / np.log10(1000.0 * (1.0 - 0.9))
    return float(out) if out.ndim == 0 else out


def depth_needed_from_means(
    depths, mean_auc, margin: float, baseline_auc=None, baseline_margin: float = 0.0
):
    """Smallest depth whose mean AUC is within ``margin`` of the best depth's and, when
    ``baseline_auc`` is given (and finite), exceeds it by more than ``baseline_margin``.

    NaN AUCs are ignored. Returns None when no depth beats the baseline.
    """
    depths = np.asarray(depths)
    mean_auc = np.asarray(mean_auc, dtype=float)
    finite = np.isfinite(mean_auc)
    if not finite.any():
        raise ValueError("no depth has a finite spike AUC")
    ok = finite & (mean_auc >= np.max(mean_auc[finite]) - margin)
    if baseline_auc is not None and np.isfinite(baseline_auc):
        ok &= mean_auc > float(baseline_auc) + float(baseline_margin)
    return int(np.min(depths[ok])) if ok.any() else None


def _subset_key(label: str):
    return (0, int(label), "") if str(label).isdigit() else (1, 0, str(label))


def auc_grid(group: pd.DataFrame, by: str = "depth"):
    """``(depths, subsets, grid)``: spike AUC as a (seeds x subsets x depths) array, or with
    ``by`` another integer column in place of the depth (e.g. a model index).

    NaN where a network is missing or a subset (or a whole test set) has no output spikes.
    """
    spread = _spread_rows(group)
    table = spread.groupby(["seed", "subset", by])["value"].mean().unstack(by)
    seeds = sorted(table.index.get_level_values("seed").unique())
    subsets = sorted(table.index.get_level_values("subset").unique(), key=_subset_key)
    table = table.reindex(pd.MultiIndex.from_product([seeds, subsets], names=["seed", "subset"]))
    grid = table.to_numpy(dtype=float).reshape(len(seeds), len(subsets), table.shape[1])
    return table.columns.to_numpy(dtype=int), subsets, grid


def _auc_matrix(group: pd.DataFrame):
    """(units x depths) spike-AUC matrix; units are (seed, subset) pairs, NaN where missing."""
    depths, _, grid = auc_grid(group)
    return depths, grid.reshape(-1, grid.shape[-1])


def nanmean_columns(a: np.ndarray) -> np.ndarray:
    n = np.isfinite(a).sum(axis=0)
    total = np.where(np.isfinite(a), a, 0.0).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def bootstrap_summary(
    depths,
    grid,
    margin: float,
    baseline=None,
    baseline_margin: float = 0.0,
    n_boot: int = 2000,
    seed: int = 0,
):
    """Bootstrap over seeds and test subsets of depth-needed and of the best depth's mean AUC.

    ``grid`` is (seeds x subsets x depths) spike AUC; ``baseline`` (optional) the baseline's AUC
    per subset, aligned with the grid's subsets. Each resample draws seeds and subsets with
    replacement, independently, and crosses them: the subsets are the same simulations for every
    depth, seed and the baseline, so the comparison stays paired, and a seed's networks stay
    together. NaN entries (no output spikes) are left out of the means.

    Returns ``(depth, best_auc)`` arrays of length ``n_boot``; ``depth`` is ``inf`` where no depth
    beats the baseline in that resample and NaN where no depth has a finite AUC.
    """
    rng = np.random.default_rng(seed)
    depths = np.asarray(depths)
    grid = np.asarray(grid, dtype=float)
    n_seeds, n_subsets, n_depths = grid.shape
    base = None if baseline is None else np.asarray(baseline, dtype=float)
    depth = np.empty(n_boot)
    best = np.empty(n_boot)
    for b in range(n_boot):
        si = rng.integers(0, n_seeds, n_seeds)
        ki = rng.integers(0, n_subsets, n_subsets)
        means = nanmean_columns(grid[si][:, ki].reshape(-1, n_depths))
        if not np.isfinite(means).any():
            depth[b] = best[b] = np.nan
            continue
        base_auc = None
        if base is not None and np.isfinite(base[ki]).any():
            base_auc = float(np.nanmean(base[ki]))
        needed = depth_needed_from_means(depths, means, margin, base_auc, baseline_margin)
        depth[b] = np.inf if needed is None else needed
        best[b] = np.nanmax(means)
    return depth, best


def bootstrap_depth_needed(depths, auc, margin: float, n_boot: int = 2000, seed: int = 0):
    """Bootstrap distribution of depth-needed for (units x depths) AUCs, units resampled whole
    (paired between depths); see :func:`bootstrap_summary`."""
    auc = np.asarray(auc, dtype=float)
    return bootstrap_summary(depths, auc[None], margin, n_boot=n_boot, seed=seed)[0]


def percentiles(values, q=(5, 95)):
    """Percentiles of a discrete bootstrap distribution (``inf`` kept, NaN dropped): the
    inverted-CDF method returns values that occurred, so depths stay whole numbers."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (np.nan,) * len(q)
    return tuple(float(v) for v in np.percentile(values, q, method="inverted_cdf"))


def _fmt_depth(d) -> str:
    return "none" if np.isinf(d) else f"{d:g}"


def baseline_auc_by_subset(baseline: pd.DataFrame | None, cell, variant, subsets):
    """The baseline's spike AUC per subset of ``subsets`` (None without a baseline row)."""
    if baseline is None or baseline.empty:
        return None
    rows = baseline[
        (baseline["cell"] == cell)
        & (baseline["variant"] == variant)
        & (baseline["metric"] == AUC_METRIC)
    ]
    if rows.empty:
        return None
    per_subset = _spread_rows(rows).groupby("subset")["value"].mean()
    aligned = per_subset.reindex(subsets).to_numpy(dtype=float)
    if not np.isfinite(aligned).any():  # e.g. networks scored on "all" only, baseline on subsets
        aligned = np.full(len(subsets), per_subset.mean())
    return aligned


DEPTH_NEEDED_COLUMNS = [
    "cell",
    "variant",
    "verdict",
    "depth_needed",
    "depth_needed_p05",
    "depth_needed_p95",
    "bootstrap_fraction_same",
    "bootstrap_fraction_none",
    "best_depth",
    "best_auc",
    "best_auc_sd_seeds",
    "auc_at_depth_needed",
    "baseline_auc",
    "depths_beating_baseline",
    "fci",
    "fci_p05",
    "fci_p95",
    "margin",
    "baseline_margin",
    "depths_evaluated",
    "n_seeds",
    "n_subsets",
    "n_units",
    "n_bootstrap",
    "note",
]


def depth_needed_table(
    df: pd.DataFrame,
    margin: float,
    n_boot: int = 2000,
    baseline: pd.DataFrame | None = None,
    baseline_margin: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Per (cell, variant): depth needed, its bootstrap 5-95 % interval, the AUCs behind it, the
    baseline it had to beat and the FCI of the best depth.

    ``baseline``: the baseline's tidy metrics (as :func:`read_metrics` returns them), or None
    (then only the margin to the best depth counts, and ``note`` says so). A variant whose spike
    AUC is undefined at every depth (no output spikes in its test set) gets a row of NaNs and a
    ``note``, so one silent ablation does not stop the summary.
    """
    auc_rows = df[df["metric"] == AUC_METRIC]
    if auc_rows.empty:
        raise DatasetError(f"no {AUC_METRIC!r} rows in the metrics files; cannot find depth needed")
    parts = []
    for (cell, variant), group in auc_rows.groupby(["cell", "variant"], sort=True):
        depths, subsets, grid = auc_grid(group)
        means = nanmean_columns(grid.reshape(-1, grid.shape[-1]))
        base = baseline_auc_by_subset(baseline, cell, variant, subsets)
        base_auc = float(np.nanmean(base)) if base is not None and np.isfinite(base).any() else None
        row = dict.fromkeys(DEPTH_NEEDED_COLUMNS, np.nan)
        row.update(
            cell=cell,
            variant=variant,
            margin=float(margin),
            baseline_margin=float(baseline_margin),
            baseline_auc=np.nan if base_auc is None else base_auc,
            depths_evaluated=" ".join(str(d) for d in depths),
            n_seeds=int(grid.shape[0]),
            n_subsets=int(grid.shape[1]),
            n_units=int(grid.shape[0] * grid.shape[1]),
            n_bootstrap=int(n_boot),
            note="" if base_auc is not None else "no baseline: only the margin to the best counts",
        )
        if not np.isfinite(means).any():
            row.update(
                verdict="undefined (no output spikes in the test set)",
                note="spike AUC undefined at every depth (no output spikes in the test set)",
            )
            parts.append(row)
            continue
        needed = depth_needed_from_means(depths, means, margin, base_auc, baseline_margin)
        boot, boot_best = bootstrap_summary(
            depths, grid, margin, base, baseline_margin, n_boot=n_boot, seed=seed
        )
        lo, hi = percentiles(boot)
        best_auc = float(np.nanmax(means))
        best_depth = int(depths[np.nanargmax(means)])
        at_best = grid[:, :, depths == best_depth][..., 0]
        per_seed = nanmean_columns(at_best.T)  # each seed's mean over its subsets
        per_seed = per_seed[np.isfinite(per_seed)]
        auc_lo, auc_hi = percentiles(boot_best)
        beating = (
            depths[np.isfinite(means) & (means > base_auc + baseline_margin)]
            if base_auc is not None
            else depths[np.isfinite(means)]
        )
        valid = boot[~np.isnan(boot)]
        row.update(
            depth_needed=np.nan if needed is None else needed,
            depth_needed_p05=np.nan if np.isinf(lo) else lo,
            depth_needed_p95=np.nan if np.isinf(hi) else hi,
            bootstrap_fraction_same=float(np.mean(valid == (np.inf if needed is None else needed))),
            bootstrap_fraction_none=float(np.mean(np.isinf(valid))),
            best_depth=best_depth,
            best_auc=best_auc,
            best_auc_sd_seeds=float(np.std(per_seed, ddof=1)) if per_seed.size > 1 else np.nan,
            auc_at_depth_needed=np.nan if needed is None else float(means[depths == needed][0]),
            depths_beating_baseline=" ".join(str(d) for d in beating),
            # FCI falls as AUC rises: its 5 % point comes from the AUC's 95 % point
            fci=fci(best_auc),
            fci_p05=fci(auc_hi),
            fci_p95=fci(auc_lo),
        )
        if needed is None:
            row["verdict"] = (
                f"none: no depth beats the no-training baseline (AUC {base_auc:.4f}; best depth "
                f"{best_depth}: {best_auc:.4f})"
            )
        else:
            row["verdict"] = f"{needed} [{_fmt_depth(lo)}–{_fmt_depth(hi)}]"
        if not np.isfinite(means).all():
            missing = "depths " + " ".join(str(d) for d in depths[~np.isfinite(means)])
            row["note"] = "; ".join(filter(None, [row["note"], missing + " have no finite AUC"]))
        parts.append(row)
    out = pd.DataFrame(parts)[DEPTH_NEEDED_COLUMNS]
    out["depth_needed"] = out["depth_needed"].astype("Int64")
    out["best_depth"] = out["best_depth"].astype("Int64")
    out["note"] = out["note"].fillna("")
    return out


def baseline_table(baseline: pd.DataFrame | None) -> pd.DataFrame:
    """The baseline's metrics aggregated like ``metrics.csv``, per (cell, variant, metric), with
    the fitted filter time constants when its predictions.nc records them."""
    cols = ["cell", "variant", "metric", "mean", "sd", "n", "all_mean"]
    if baseline is None or baseline.empty:
        return pd.DataFrame(columns=cols + ["tau_spike_ms", "tau_soma_ms"])
    agg = aggregate_metrics(baseline)[cols]
    taus = {}
    for (cell, variant), rows in baseline.groupby(["cell", "variant"]):
        attrs = read_prediction_attrs(Path(rows["source"].iloc[0]).parent / PREDICTIONS_NAME)
        taus[(cell, variant)] = (
            float(attrs.get("baseline_tau_spike_ms", np.nan)),
            float(attrs.get("baseline_tau_soma_ms", np.nan)),
        )
    key = list(zip(agg["cell"], agg["variant"]))
    agg["tau_spike_ms"] = [taus.get(k, (np.nan, np.nan))[0] for k in key]
    agg["tau_soma_ms"] = [taus.get(k, (np.nan, np.nan))[1] for k in key]
    return agg


def best_networks_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, variant): the depth and seed of the best network (module docstring).

    A variant whose spike AUC is undefined at every depth falls back to its deepest network of
    the lowest seed, with a ``note``, so its figures still have a network to show.
    """
    auc_rows = df[df["metric"] == AUC_METRIC]
    if auc_rows.empty:
        raise DatasetError(f"no {AUC_METRIC!r} rows in the metrics files; cannot pick a network")
    parts = []
    for (cell, variant), group in auc_rows.groupby(["cell", "variant"], sort=True):
        depths, auc = _auc_matrix(group)
        means = nanmean_columns(auc)
        row = dict(cell=cell, variant=variant, note="")
        if np.isfinite(means).any():
            depth = int(depths[np.nanargmax(means)])  # first maximum: the shallower depth
            row["depth_spike_auc"] = float(np.nanmax(means))
        else:
            depth = int(depths.max())
            row["depth_spike_auc"] = np.nan
            row["note"] = "spike AUC undefined at every depth; the deepest network is shown"
        at_depth = _spread_rows(group[group["depth"] == depth])
        per_seed = at_depth.groupby("seed")["value"].mean()  # NaN subsets skipped
        finite = per_seed.dropna()
        if finite.empty:
            seed = int(per_seed.index.min())
        else:
            seed = int(finite[finite == finite.max()].index.min())
        row.update(depth=depth, seed=seed, spike_auc=float(per_seed.loc[seed]))
        parts.append(row)
    cols = ["cell", "variant", "depth", "seed", "spike_auc", "depth_spike_auc", "note"]
    return pd.DataFrame(parts)[cols]


#: Columns each summary table must have for its readers.
SUMMARY_COLUMNS = {
    "metrics": ("cell", "variant", "depth", "metric", "mean", "sd"),
    "depth_needed": ("cell", "variant", "depth_needed"),
    "best_networks": ("cell", "variant", "depth", "seed"),
    "baseline": ("cell", "variant", "metric", "mean", "sd"),
    "results_table": ("cell", "variant", "depth"),
}


def read_summary_table(path, table: str) -> pd.DataFrame:
    """Read one summary table (a ``SUMMARY_COLUMNS`` key) with errors naming the file."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"summary file {path} ({table}) does not exist")
    df = pd.read_csv(path)
    missing = [c for c in SUMMARY_COLUMNS[table] if c not in df.columns]
    if missing:
        raise DatasetError(f"summary file {path} ({table}) lacks columns {missing}")
    return df


def best_network(best_networks: pd.DataFrame, variant: str) -> tuple[int, int]:
    """``(depth, seed)`` of ``variant``'s best network in a ``best_networks`` table."""
    rows = best_networks[best_networks["variant"].astype(str) == str(variant)]
    if rows.empty:
        raise DatasetError(
            f"best_networks has no variant {variant!r} (has {sorted(best_networks['variant'])})"
        )
    return int(rows["depth"].iloc[0]), int(rows["seed"].iloc[0])


def _metric_sort_key(name: str):
    return (METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER), name)


def results_table(df: pd.DataFrame, agg: pd.DataFrame) -> pd.DataFrame:
    """Wide table: one row per (cell, variant, depth), model size then ``<metric>_mean/_sd`` (SD
    over seeds x subsets) and ``<metric>_sd_seeds`` (SD over seeds of the per-seed means)."""
    keys = ["cell", "variant", "depth"]
    meta_cols = [c for c in META_COLUMNS if c in df.columns]
    base = df.groupby(keys, sort=True).agg(n_seeds=("seed", "nunique")).reset_index()
    if meta_cols:
        # Seeds of one architecture share the size, so the first value stands for all.
        meta = df.groupby(keys, sort=True)[meta_cols].first().reset_index()
        base = base.merge(meta, on=keys)
    metrics = sorted(agg["metric"].unique(), key=_metric_sort_key)
    wide = agg.set_index(keys + ["metric"])[["mean", "sd", "sd_seeds"]].unstack("metric")
    for m in metrics:
        names = [f"{m}_mean", f"{m}_sd", f"{m}_sd_seeds"]
        cols = [("mean", m), ("sd", m), ("sd_seeds", m)]
        base = base.merge(wide[cols].set_axis(names, axis=1).reset_index(), on=keys, how="left")
    return base


def _fmt_mean(value, metric: str) -> str:
    if pd.isna(value):
        return "–"
    # AUC-like fractions need 4 decimals to tell depths apart near 0.99; mV values need 3.
    return (
        f"{value:.4f}"
        if ("auc" in metric or "tpr" in metric or "variance" in metric)
        else f"{value:.3f}"
    )


def _fmt_sd(sd) -> str:
    # Round-off SDs (identical subsets give ~1e-16) read as 0.
    return "" if pd.isna(sd) else f" ± {0.0 if abs(sd) < 1e-12 else sd:.2g}"


def results_markdown(table: pd.DataFrame, needed: pd.DataFrame | None = None) -> str:
    """Markdown rendering of ``results_table`` (metrics as ``mean ± SD``: over seeds where there
    are several, else over test subsets), then the depth-needed / complexity table."""
    metric_names = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    headers = ["cell", "variant", "depth", "seeds"]
    labels = {
        "n_parameters": "parameters",
        "receptive_field_ms": "RF (ms)",
        "macs_per_ms": "MACs/ms",
    }
    meta = [c for c in labels if c in table.columns]
    headers += [labels[c] for c in meta] + metric_names
    lines = [
        "## Accuracy per variant and depth",
        "",
        "Mean over seeds x test subsets ± SD over seeds (of each seed's mean over subsets) where "
        "a depth has several seeds, ± SD over test subsets where it has one.",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for _, row in table.iterrows():
        several = int(row["n_seeds"]) > 1
        cells = [
            str(row["cell"]),
            str(row["variant"]),
            str(int(row["depth"])),
            str(int(row["n_seeds"])),
        ]
        for c in meta:
            v = row[c]
            cells.append("–" if pd.isna(v) else f"{int(round(float(v))):,}")
        for m in metric_names:
            sd = row.get(f"{m}_sd_seeds") if several else row[f"{m}_sd"]
            cells.append(_fmt_mean(row[f"{m}_mean"], m) + _fmt_sd(sd))
        lines.append("| " + " | ".join(cells) + " |")
    if needed is not None and not needed.empty:
        lines += [
            "",
            "## Depth needed and functional complexity",
            "",
            "Depth needed: the smallest depth whose mean spike AUC is within the margin of the "
            "variant's best and beats the no-training baseline; [5–95 %] over a bootstrap of "
            "seeds and test subsets (none: in those resamples no depth beats the baseline). "
            "FCI = log10(1000 (1 − AUC)) / 2 of the best depth (Aizenbud et al. 2026).",
            "",
            "| cell | variant | depth needed [5–95 %] | best depth | best spike AUC | "
            "no-training baseline AUC | FCI [5–95 %] |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, r in needed.iterrows():
            best = _fmt_mean(r["best_auc"], AUC_METRIC) + _fmt_sd(r["best_auc_sd_seeds"])
            fci_text = (
                "–"
                if pd.isna(r["fci"])
                else f"{r['fci']:.2f} [{r['fci_p05']:.2f}–{r['fci_p95']:.2f}]"
            )
            lines.append(
                "| "
                + " | ".join(
                    [
                        str(r["cell"]),
                        str(r["variant"]),
                        str(r["verdict"]),
                        "–" if pd.isna(r["best_depth"]) else str(int(r["best_depth"])),
                        best,
                        _fmt_mean(r["baseline_auc"], AUC_METRIC),
                        fci_text,
                    ]
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


def summarize(
    metric_paths,
    margin: float,
    out_dir,
    n_boot: int = 2000,
    baseline_paths=(),
    baseline_margin: float = 0.0,
    bootstrap_seed: int = 0,
) -> dict:
    """Write metrics.csv, depth_needed.csv, best_networks.csv, baseline.csv, results_table.csv
    and results_table.md to ``out_dir``.

    ``baseline_paths``: the no-training baseline's metrics files (one per variant; may be empty,
    then depth needed ignores the baseline). ``n_boot`` and ``bootstrap_seed``: the config's
    ``summary.bootstrap``. Returns the paths written, keyed by file stem.
    """
    if not (0 <= float(margin) < 1):
        raise DatasetError(f"summary.auc_margin must be in [0, 1), got {margin!r}")
    df = read_metrics(metric_paths)
    baseline = read_metrics(baseline_paths) if len(baseline_paths) else None
    agg = aggregate_metrics(df)
    needed = depth_needed_table(
        df, float(margin), n_boot, baseline, float(baseline_margin), int(bootstrap_seed)
    )
    best = best_networks_table(df)
    table = results_table(df, agg)
    out_dir = Path(out_dir)
    out = {
        "metrics": out_dir / "metrics.csv",
        "depth_needed": out_dir / "depth_needed.csv",
        "best_networks": out_dir / "best_networks.csv",
        "baseline": out_dir / "baseline.csv",
        "results_table": out_dir / "results_table.csv",
        "results_table_md": out_dir / "results_table.md",
    }
    write_csv_atomic(agg, out["metrics"])
    write_csv_atomic(needed, out["depth_needed"])
    write_csv_atomic(best, out["best_networks"])
    write_csv_atomic(baseline_table(baseline), out["baseline"])
    write_csv_atomic(table, out["results_table"])
    write_text_atomic(out["results_table_md"], results_markdown(table, needed))
    return out
