"""Complexity in more than one currency: every network family's accuracy against its size.

Inputs: the tidy ``metrics.csv`` of every trained network, those of the depth sweep (family
``network.family``, size = depth) and those of the families compared beside it (config key
``families``), plus the no-training baseline's. A network's family is read from its
``predictions.nc`` (``model_family``), its size from the ``depth`` column.

Outputs (atomic):

- ``family_comparison.csv``: per (cell, variant, family, size) the parameters, MACs per ms, the
  mean spike AUC over seeds x test subsets with its SD over seeds and a bootstrap 5-95 % interval
  of the mean (seeds and subsets resampled, as for depth needed).
- ``smallest_models.csv``: per (cell, variant, family) the smallest model, by parameters and by
  MACs per ms, whose mean AUC is within ``margin`` of the best model of *any* family and beats
  the no-training baseline by more than ``baseline_margin``; with bootstrap 5-95 % intervals of
  that size (the resample crosses seeds and test subsets; the subsets are the same simulations
  for every network, so the comparison stays paired), and the fraction of resamples in which the
  family reaches the margin at all. A family that never reaches it says so in ``verdict``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.analysis.summary import (
    AUC_METRIC,
    PREDICTIONS_NAME,
    _auc_grid,
    _baseline_auc_by_subset,
    _nanmean_columns,
    _percentiles,
    read_metrics,
)
from neurodepth.core.atomic import write_csv_atomic
from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import read_prediction_attrs

SIZE_COLUMNS = ("n_parameters", "macs_per_ms")


def read_family_metrics(metric_paths) -> pd.DataFrame:
    """Metrics of every network with ``family`` (from its predictions.nc) and ``size``."""
    df = read_metrics(metric_paths)
    families = {}
    for source in df["source"].unique():
        attrs = read_prediction_attrs(Path(source).parent / PREDICTIONS_NAME)
        if "model_family" not in attrs:
            raise DatasetError(
                f"{Path(source).parent / PREDICTIONS_NAME} does not say which network family "
                "made it (attribute model_family); re-run its evaluation"
            )
        families[source] = str(attrs["model_family"])
    df["family"] = df["source"].map(families)
    df["size"] = df["depth"].astype(int)
    missing = [c for c in SIZE_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"metrics files lack the model-size columns {missing}")
    return df


def _models(group: pd.DataFrame) -> pd.DataFrame:
    """One row per (family, size) of a variant: its index in the AUC grid and its size."""
    models = (
        group.groupby(["family", "size"], sort=True)[list(SIZE_COLUMNS)]
        .first()
        .reset_index()
        .astype({"n_parameters": float, "macs_per_ms": float})
    )
    models["model"] = np.arange(len(models))
    return models


def _smallest(models: pd.DataFrame, means, margin, base_auc, baseline_margin, by: str):
    """Per family: index of its smallest model (by ``by``) within ``margin`` of the best model
    of any family and above the baseline, or -1."""
    means = np.asarray(means, dtype=float)
    finite = np.isfinite(means)
    ok = finite & (means >= np.max(means[finite]) - margin)
    if base_auc is not None and np.isfinite(base_auc):
        ok &= means > base_auc + baseline_margin
    out = {}
    for family, rows in models.groupby("family", sort=False):
        eligible = rows[ok[rows["model"].to_numpy()]]
        out[family] = -1 if eligible.empty else int(eligible.sort_values(by)["model"].iloc[0])
    return out


def compare_families(
    df: pd.DataFrame,
    margin: float,
    baseline: pd.DataFrame | None = None,
    baseline_margin: float = 0.0,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(family_comparison, smallest_models)`` tables (module docstring) from
    :func:`read_family_metrics`' frame and the baseline's tidy metrics (or None)."""
    auc_rows = df[df["metric"] == AUC_METRIC]
    if auc_rows.empty:
        raise DatasetError(f"no {AUC_METRIC!r} rows in the metrics files; cannot compare families")
    per_model, smallest = [], []
    rng = np.random.default_rng(seed)
    for (cell, variant), group in auc_rows.groupby(["cell", "variant"], sort=True):
        models = _models(group)
        index = {(f, s): m for f, s, m in zip(models["family"], models["size"], models["model"])}
        group = group.assign(model=[index[k] for k in zip(group["family"], group["size"])])
        columns, subsets, grid = _auc_grid(group, by="model")
        grid_full = np.full(grid.shape[:2] + (len(models),), np.nan)
        grid_full[..., columns] = grid
        n_seeds, n_subsets, _ = grid_full.shape
        base = _baseline_auc_by_subset(baseline, cell, variant, subsets)
        means = _nanmean_columns(grid_full.reshape(-1, len(models)))
        per_seed = np.array([_nanmean_columns(grid_full[s]) for s in range(n_seeds)])
        boot_means = np.empty((n_boot, len(models)))
        boot_pick = {by: [] for by in SIZE_COLUMNS}
        for b in range(n_boot):
            si = rng.integers(0, n_seeds, n_seeds)
            ki = rng.integers(0, n_subsets, n_subsets)
            boot_means[b] = _nanmean_columns(grid_full[si][:, ki].reshape(-1, len(models)))
            if not np.isfinite(boot_means[b]).any():
                continue
            base_b = None if base is None else float(np.nanmean(base[ki]))
            for by in SIZE_COLUMNS:
                boot_pick[by].append(
                    _smallest(models, boot_means[b], margin, base_b, baseline_margin, by)
                )
        base_auc = None if base is None else float(np.nanmean(base))
        for m, row in models.iterrows():
            lo, hi = _percentiles(boot_means[:, m])
            seeds_finite = per_seed[:, m][np.isfinite(per_seed[:, m])]
            per_model.append(
                dict(
                    cell=cell,
                    variant=variant,
                    family=row["family"],
                    size=int(row["size"]),
                    n_parameters=int(row["n_parameters"]),
                    macs_per_ms=int(row["macs_per_ms"]),
                    spike_auc=means[m],
                    spike_auc_sd_seeds=(
                        float(np.std(seeds_finite, ddof=1)) if seeds_finite.size > 1 else np.nan
                    ),
                    spike_auc_p05=lo,
                    spike_auc_p95=hi,
                    n_seeds=int(np.isfinite(per_seed[:, m]).sum()),
                )
            )
        if not np.isfinite(means).any():
            continue
        best = int(np.nanargmax(means))
        picks = {
            by: _smallest(models, means, margin, base_auc, baseline_margin, by)
            for by in SIZE_COLUMNS
        }
        for family, rows in models.groupby("family", sort=False):
            fam_means = means[rows["model"].to_numpy()]
            fam_best = int(rows["model"].to_numpy()[np.nanargmax(fam_means)])
            row = dict(
                cell=cell,
                variant=variant,
                family=family,
                best_auc=float(means[best]),
                best_family=models.loc[best, "family"],
                best_size=int(models.loc[best, "size"]),
                family_best_auc=float(means[fam_best]),
                family_best_size=int(models.loc[fam_best, "size"]),
                baseline_auc=np.nan if base_auc is None else base_auc,
                margin=float(margin),
                sizes_evaluated=" ".join(str(int(s)) for s in rows["size"]),
                n_seeds=int(n_seeds),
                n_subsets=int(n_subsets),
                n_bootstrap=int(n_boot),
            )
            for by in SIZE_COLUMNS:
                chosen = picks[by][family]
                drawn = np.array(
                    [np.inf if p[family] < 0 else models.loc[p[family], by] for p in boot_pick[by]]
                )
                lo, hi = _percentiles(drawn)
                row[f"smallest_size_by_{by}"] = (
                    np.nan if chosen < 0 else int(models.loc[chosen, "size"])
                )
                row[by] = np.nan if chosen < 0 else float(models.loc[chosen, by])
                row[f"{by}_p05"] = lo
                row[f"{by}_p95"] = hi
            chosen = picks["n_parameters"][family]
            row["auc_of_smallest"] = np.nan if chosen < 0 else float(means[chosen])
            row["fraction_within_margin"] = float(
                np.mean([p[family] >= 0 for p in boot_pick["n_parameters"]])
            )
            row["verdict"] = (
                f"none: best {family} ({row['family_best_auc']:.4f}) is not within "
                f"{margin:g} of the best model ({row['best_family']} size {row['best_size']}: "
                f"{row['best_auc']:.4f}) above the baseline"
                if chosen < 0
                else f"size {row['smallest_size_by_n_parameters']}: "
                f"{int(row['n_parameters']):,} parameters "
                f"[{_fmt_count(row['n_parameters_p05'])}–{_fmt_count(row['n_parameters_p95'])}]"
            )
            smallest.append(row)
    return pd.DataFrame(per_model), pd.DataFrame(smallest)


def _fmt_count(value) -> str:
    if value is None or np.isnan(value):
        return "–"
    return "none" if np.isinf(value) else f"{int(value):,}"


def write_family_comparison(
    metric_paths,
    out_comparison,
    out_smallest,
    margin: float,
    baseline_paths=(),
    baseline_margin: float = 0.0,
    n_boot: int = 2000,
    bootstrap_seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every network's metrics (all families) and the baseline's; write both tables."""
    df = read_family_metrics(metric_paths)
    baseline = read_metrics(baseline_paths) if len(baseline_paths) else None
    comparison, smallest = compare_families(
        df, float(margin), baseline, float(baseline_margin), int(n_boot), int(bootstrap_seed)
    )
    write_csv_atomic(comparison, out_comparison)
    write_csv_atomic(smallest, out_smallest)
    return comparison, smallest
