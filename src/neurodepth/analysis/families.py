"""Complexity in more than one currency: every network family's accuracy against its size.

Inputs: the tidy ``metrics.csv`` of every trained network, those of the depth sweep (family
``network.family``, size = depth) and those of the families compared beside it (config key
``families``), plus the no-training baseline's. A network's family is read from its
``predictions.nc`` (``model_family``), its size from the ``depth`` column.

Outputs (atomic):

- ``family_comparison.csv``: per (cell, variant, family, size) the parameters, MACs per ms, the
  mean spike AUC over seeds x test subsets with its SD over seeds and a bootstrap 5-95 % interval
  of the mean (seeds and subsets resampled, as for depth needed), and how many of its seeds fail
  the held-out BCE check (``seeds_failing_bce_check``: spike BCE not below
  ``evaluation.max_bce_ratio`` x the constant-rate predictor's; ``learned`` is False when more
  than half of its seeds fail: such a network did not learn to predict spikes, whatever its
  AUC, and it is left out of the search below).
- ``smallest_models.csv``: per (cell, variant, family) the smallest model, by parameters and by
  MACs per ms, whose mean AUC is within ``margin`` of the best model of *any* family and beats
  the no-training baseline by more than ``baseline_margin``, among the models that learned; with
  bootstrap 5-95 % intervals of that size (the resample crosses seeds and test subsets; the
  subsets are the same simulations for every network, so the comparison stays paired), and the
  fraction of resamples in which the family reaches the margin at all. A family that never
  reaches it says so in ``verdict``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.analysis.summary import (
    AUC_METRIC,
    PREDICTIONS_NAME,
    auc_grid,
    baseline_auc_by_subset,
    nanmean_columns,
    percentiles,
    read_metrics,
)
from neurodepth.core.atomic import write_csv_atomic
from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import read_prediction_attrs

SIZE_COLUMNS = ("n_parameters", "macs_per_ms")


def read_family_metrics(metric_paths) -> pd.DataFrame:
    """Metrics of every network with ``family`` (from its predictions.nc) and ``size``.

    Networks of different families may share a size index (a depth-4 TCN, an ELM of 4 units),
    so each file is read on its own and a network is identified with its family."""
    frames = []
    for path in metric_paths:
        frame = read_metrics([path])
        predictions = Path(path).parent / PREDICTIONS_NAME
        attrs = read_prediction_attrs(predictions)
        if "model_family" not in attrs:
            raise DatasetError(
                f"{predictions} does not say which network family made it (attribute "
                "model_family); re-run its evaluation"
            )
        frames.append(frame.assign(family=str(attrs["model_family"])))
    if not frames:
        raise DatasetError("the family comparison needs at least one metrics file, got none")
    df = pd.concat(frames, ignore_index=True)
    df["size"] = df["depth"].astype(int)
    keys = ["cell", "variant", "family", "size", "seed", "metric", "subset"]
    duplicated = df.duplicated(keys)
    if duplicated.any():
        row = df[duplicated].iloc[0]
        raise DatasetError(
            f"two metrics files for {row['cell']}/{row['variant']} {row['family']} size "
            f"{row['size']} seed {row['seed']} (one is {row['source']})"
        )
    missing = [c for c in SIZE_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"metrics files lack the model-size columns {missing}")
    return df


def _models(group: pd.DataFrame) -> pd.DataFrame:
    """One row per (family, size) of a variant: its index in the AUC grid, its size, and how
    many of its seeds fail the held-out BCE check."""
    models = (
        group.groupby(["family", "size"], sort=True)[list(SIZE_COLUMNS)]
        .first()
        .reset_index()
        .astype({"n_parameters": float, "macs_per_ms": float})
    )
    if "fails_bce_check" in group:
        failing = (
            group.groupby(["family", "size", "seed"])["fails_bce_check"]
            .first()
            # unknown (no spike in the test set, no training rate): not shown to have learned
            .fillna(True)
            .astype(bool)
            .groupby(["family", "size"])
            .sum()
        )
        models["seeds_failing_bce_check"] = [
            int(failing.get((f, s), 0)) for f, s in zip(models["family"], models["size"])
        ]
    else:
        models["seeds_failing_bce_check"] = 0
    seeds = group.groupby(["family", "size"])["seed"].nunique()
    n_seeds = np.array([seeds[(f, s)] for f, s in zip(models["family"], models["size"])])
    # most seeds must pass: one failing seed of a network that otherwise learned is the
    # training's noise, not the architecture's verdict
    models["learned"] = 2 * models["seeds_failing_bce_check"] <= n_seeds
    models["model"] = np.arange(len(models))
    return models


def _smallest(models: pd.DataFrame, means, margin, base_auc, baseline_margin, by: str):
    """Per family: index of its smallest model (by ``by``) that learned, within ``margin`` of
    the best model of any family and above the baseline, or -1."""
    means = np.where(models["learned"].to_numpy(), np.asarray(means, dtype=float), np.nan)
    finite = np.isfinite(means)
    if not finite.any():
        return dict.fromkeys(models["family"].unique(), -1)
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
        columns, subsets, grid = auc_grid(group, by="model")
        grid_full = np.full(grid.shape[:2] + (len(models),), np.nan)
        grid_full[..., columns] = grid
        n_seeds, n_subsets, _ = grid_full.shape
        base = baseline_auc_by_subset(baseline, cell, variant, subsets)
        means = nanmean_columns(grid_full.reshape(-1, len(models)))
        per_seed = np.array([nanmean_columns(grid_full[s]) for s in range(n_seeds)])
        boot_means = np.empty((n_boot, len(models)))
        boot_pick = {by: [] for by in SIZE_COLUMNS}
        for b in range(n_boot):
            si = rng.integers(0, n_seeds, n_seeds)
            ki = rng.integers(0, n_subsets, n_subsets)
            boot_means[b] = nanmean_columns(grid_full[si][:, ki].reshape(-1, len(models)))
            if not np.isfinite(boot_means[b]).any():
                continue
            base_b = None if base is None else float(np.nanmean(base[ki]))
            for by in SIZE_COLUMNS:
                boot_pick[by].append(
                    _smallest(models, boot_means[b], margin, base_b, baseline_margin, by)
                )
        base_auc = None if base is None else float(np.nanmean(base))
        for m, row in models.iterrows():
            lo, hi = percentiles(boot_means[:, m])
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
                    seeds_failing_bce_check=int(row["seeds_failing_bce_check"]),
                    learned=bool(row["learned"]),
                )
            )
        # only networks that learned compete: a network failing the BCE check is not a model
        learned = np.where(models["learned"].to_numpy(), means, np.nan)
        best = int(np.nanargmax(learned)) if np.isfinite(learned).any() else None
        picks = {
            by: _smallest(models, means, margin, base_auc, baseline_margin, by)
            for by in SIZE_COLUMNS
        }
        for family, rows in models.groupby("family", sort=False):
            fam_means = learned[rows["model"].to_numpy()]
            fam_best = (
                int(rows["model"].to_numpy()[np.nanargmax(fam_means)])
                if np.isfinite(fam_means).any()
                else None
            )
            row = dict(
                cell=cell,
                variant=variant,
                family=family,
                best_auc=np.nan if best is None else float(means[best]),
                best_family=None if best is None else models.loc[best, "family"],
                best_size=np.nan if best is None else int(models.loc[best, "size"]),
                family_best_auc=np.nan if fam_best is None else float(means[fam_best]),
                family_best_size=np.nan if fam_best is None else int(models.loc[fam_best, "size"]),
                baseline_auc=np.nan if base_auc is None else base_auc,
                margin=float(margin),
                sizes_evaluated=" ".join(str(int(s)) for s in rows["size"]),
                sizes_not_learned=" ".join(
                    str(int(s)) for s, ok in zip(rows["size"], rows["learned"]) if not ok
                ),
                n_seeds=int(n_seeds),
                n_subsets=int(n_subsets),
                n_bootstrap=int(n_boot),
            )
            for by in SIZE_COLUMNS:
                chosen = picks[by][family]
                drawn = np.array(
                    [np.inf if p[family] < 0 else models.loc[p[family], by] for p in boot_pick[by]]
                )
                lo, hi = percentiles(drawn)
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
            best_text = (
                f"the best model ({row['best_family']} size {row['best_size']}: "
                f"{row['best_auc']:.4f})"
            )
            if best is None:
                row["verdict"] = (
                    "none: no network of any family learned (most seeds fail the held-out "
                    "BCE check)"
                )
            elif fam_best is None:
                row["verdict"] = (
                    f"none: no {family} size learned (most seeds fail the held-out BCE check)"
                )
            elif chosen < 0:
                row["verdict"] = (
                    f"none: best {family} ({row['family_best_auc']:.4f}) is not within "
                    f"{margin:g} of {best_text} above the baseline"
                )
            else:
                row["verdict"] = (
                    f"size {row['smallest_size_by_n_parameters']}: "
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
