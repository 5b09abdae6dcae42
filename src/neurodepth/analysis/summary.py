"""Summary stage: aggregate per-model evaluation tables into per (variant, depth) results.

Inputs are the tidy ``metrics.csv`` files written by ``neurodepth.learning.evaluate`` (one per
trained model, columns ``cell, variant, depth, seed, metric, subset, value`` plus model meta
columns).
Outputs (all written atomically into ``out_dir``):

- ``metrics.csv``: per (cell, variant, depth, metric) the mean, SD and count over seeds x test
  subsets, plus the mean over seeds of the whole-test-set value (``subset == "all"``).
- ``depth_needed.csv``: per (cell, variant) the smallest depth whose mean spike AUC is within
  ``margin`` of that variant's best depth, with a bootstrap 5-95 % interval.
- ``best_networks.csv``: per (cell, variant) the one network every figure shows as "the best":
  the depth with the highest mean spike AUC over seeds x test subsets (the ``best_depth`` that
  depth-needed is measured against), and at that depth the seed with the highest mean over its
  subsets (ties: the shallower depth, the lower seed).
- ``results_table.csv`` / ``results_table.md``: every (cell, variant, depth) with model size
  (parameters, receptive field, MACs per ms) and every metric as mean and SD.

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
    """Mean, SD (ddof=1) and n over seeds x subsets per (cell, variant, depth, metric)."""
    keys = ["cell", "variant", "depth", "metric"]
    parts = []
    for key, group in df.groupby(keys, sort=True):
        spread = _spread_rows(group)["value"].astype(float)
        whole = group[group["subset"] == "all"]["value"].astype(float)
        parts.append(
            dict(
                zip(keys, key),
                mean=spread.mean(),  # NaN values (e.g. AUC of a subset without spikes) skipped
                sd=spread.std(ddof=1) if spread.notna().sum() > 1 else np.nan,
                n=int(spread.notna().sum()),
                n_seeds=int(group["seed"].nunique()),
                all_mean=whole.mean() if not whole.empty else np.nan,
            )
        )
    return pd.DataFrame(parts)


def depth_needed_from_means(depths, mean_auc, margin: float) -> int:
    """Smallest depth whose mean AUC is within ``margin`` of the best depth's (NaN AUCs ignored)."""
    depths = np.asarray(depths)
    mean_auc = np.asarray(mean_auc, dtype=float)
    finite = np.isfinite(mean_auc)
    if not finite.any():
        raise ValueError("no depth has a finite spike AUC")
    ok = finite & (mean_auc >= np.max(mean_auc[finite]) - margin)
    return int(np.min(depths[ok]))


def _auc_matrix(group: pd.DataFrame):
    """(units x depths) spike-AUC matrix; units are (seed, subset) pairs, NaN where missing.

    A subset (or a whole test set) without output spikes has AUC NaN; it stays NaN here.
    """
    spread = _spread_rows(group)
    table = spread.groupby(["seed", "subset", "depth"])["value"].mean().unstack("depth")
    return table.columns.to_numpy(dtype=int), table.to_numpy(dtype=float)


def _nanmean_columns(a: np.ndarray) -> np.ndarray:
    n = np.isfinite(a).sum(axis=0)
    total = np.where(np.isfinite(a), a, 0.0).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def bootstrap_depth_needed(depths, auc, margin: float, n_boot: int = 2000, seed: int = 0):
    """Bootstrap distribution of depth-needed.

    ``auc`` is (units x depths).  The 12 test subsets (and seeds) are shared between depths, so
    whole rows are resampled (paired bootstrap); NaN entries (a subset without output spikes)
    are left out of their column's mean.
    """
    rng = np.random.default_rng(seed)
    depths = np.asarray(depths)
    auc = np.asarray(auc, dtype=float)
    n_units = auc.shape[0]
    out = np.empty(n_boot, dtype=float)
    for b in range(n_boot):
        means = _nanmean_columns(auc[rng.integers(0, n_units, n_units)])
        out[b] = (
            depth_needed_from_means(depths, means, margin) if np.isfinite(means).any() else np.nan
        )
    return out


def depth_needed_table(df: pd.DataFrame, margin: float, n_boot: int = 2000) -> pd.DataFrame:
    """Per (cell, variant): depth needed, its bootstrap 5-95 % interval, and the AUCs behind it.

    A variant whose spike AUC is undefined at every depth (no output spikes in its test set) gets
    a row of NaNs and a ``note``, so one silent ablation does not stop the summary.
    """
    auc_rows = df[df["metric"] == AUC_METRIC]
    if auc_rows.empty:
        raise DatasetError(f"no {AUC_METRIC!r} rows in the metrics files; cannot find depth needed")
    parts = []
    for (cell, variant), group in auc_rows.groupby(["cell", "variant"], sort=True):
        depths, auc = _auc_matrix(group)
        means = _nanmean_columns(auc)
        row = dict(
            cell=cell,
            variant=variant,
            margin=float(margin),
            depths_evaluated=" ".join(str(d) for d in depths),
            n_units=int(auc.shape[0]),
            n_bootstrap=int(n_boot),
            note="",
        )
        if not np.isfinite(means).any():
            row.update(
                depth_needed=np.nan,
                depth_needed_p05=np.nan,
                depth_needed_p95=np.nan,
                bootstrap_fraction_same=np.nan,
                best_depth=np.nan,
                best_auc=np.nan,
                auc_at_depth_needed=np.nan,
                note="spike AUC undefined at every depth (no output spikes in the test set)",
            )
            parts.append(row)
            continue
        needed = depth_needed_from_means(depths, means, margin)
        boot = bootstrap_depth_needed(depths, auc, margin, n_boot=n_boot)
        boot = boot[np.isfinite(boot)]
        row.update(
            depth_needed=needed,
            depth_needed_p05=float(np.percentile(boot, 5)),
            depth_needed_p95=float(np.percentile(boot, 95)),
            bootstrap_fraction_same=float(np.mean(boot == needed)),
            best_depth=int(depths[np.nanargmax(means)]),
            best_auc=float(np.nanmax(means)),
            auc_at_depth_needed=float(means[depths == needed][0]),
        )
        if not np.isfinite(means).all():
            row["note"] = (
                "depths "
                + " ".join(str(d) for d in depths[~np.isfinite(means)])
                + " have no finite AUC"
            )
        parts.append(row)
    cols = [
        "cell",
        "variant",
        "depth_needed",
        "depth_needed_p05",
        "depth_needed_p95",
        "bootstrap_fraction_same",
        "best_depth",
        "best_auc",
        "auc_at_depth_needed",
        "margin",
        "depths_evaluated",
        "n_units",
        "n_bootstrap",
        "note",
    ]
    out = pd.DataFrame(parts)[cols]
    out["depth_needed"] = out["depth_needed"].astype("Int64")
    out["best_depth"] = out["best_depth"].astype("Int64")
    return out


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
        means = _nanmean_columns(auc)
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
    """Wide table: one row per (cell, variant, depth), model size then ``<metric>_mean/_sd``."""
    keys = ["cell", "variant", "depth"]
    meta_cols = [c for c in META_COLUMNS if c in df.columns]
    base = df.groupby(keys, sort=True).agg(n_seeds=("seed", "nunique")).reset_index()
    if meta_cols:
        # Seeds of one architecture share the size, so the first value stands for all.
        meta = df.groupby(keys, sort=True)[meta_cols].first().reset_index()
        base = base.merge(meta, on=keys)
    metrics = sorted(agg["metric"].unique(), key=_metric_sort_key)
    wide = agg.set_index(keys + ["metric"])[["mean", "sd"]].unstack("metric")
    for m in metrics:
        base = base.merge(
            wide[[("mean", m), ("sd", m)]].set_axis([f"{m}_mean", f"{m}_sd"], axis=1).reset_index(),
            on=keys,
            how="left",
        )
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


def results_markdown(table: pd.DataFrame) -> str:
    """Markdown rendering of ``results_table``: metrics as ``mean ± SD``."""
    metric_names = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    headers = ["cell", "variant", "depth", "seeds"]
    labels = {
        "n_parameters": "parameters",
        "receptive_field_ms": "RF (ms)",
        "macs_per_ms": "MACs/ms",
    }
    meta = [c for c in labels if c in table.columns]
    headers += [labels[c] for c in meta] + metric_names
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for _, row in table.iterrows():
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
            mean, sd = row[f"{m}_mean"], row[f"{m}_sd"]
            # Round-off SDs (identical subsets give ~1e-16) read as 0.
            sd_text = "" if pd.isna(sd) else f" ± {0.0 if abs(sd) < 1e-12 else sd:.2g}"
            cells.append(_fmt_mean(mean, m) + sd_text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summarize(metric_paths, margin: float, out_dir, n_boot: int = 2000) -> dict:
    """Write metrics.csv, depth_needed.csv, best_networks.csv, results_table.csv and
    results_table.md to ``out_dir``.

    Returns the paths written, keyed by file stem.
    """
    if not (0 <= float(margin) < 1):
        raise DatasetError(f"summary.auc_margin must be in [0, 1), got {margin!r}")
    df = read_metrics(metric_paths)
    agg = aggregate_metrics(df)
    needed = depth_needed_table(df, float(margin), n_boot=n_boot)
    best = best_networks_table(df)
    table = results_table(df, agg)
    out_dir = Path(out_dir)
    out = {
        "metrics": out_dir / "metrics.csv",
        "depth_needed": out_dir / "depth_needed.csv",
        "best_networks": out_dir / "best_networks.csv",
        "results_table": out_dir / "results_table.csv",
        "results_table_md": out_dir / "results_table.md",
    }
    write_csv_atomic(agg, out["metrics"])
    write_csv_atomic(needed, out["depth_needed"])
    write_csv_atomic(best, out["best_networks"])
    write_csv_atomic(table, out["results_table"])
    write_text_atomic(out["results_table_md"], results_markdown(table))
    return out
