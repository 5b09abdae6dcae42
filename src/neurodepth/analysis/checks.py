"""Is the study's answer to be trusted? The checks a result must pass, computed from its files.

A depth-needed table means something only when the networks behind it learned and the variants
were compared at comparable output rates. Per network (``network_checks``):

- ``bce_ratio``: held-out spike BCE over the constant-rate predictor's (the training set's mean
  rate); a network that does not beat it by ``evaluation.max_bce_ratio`` has not learned when
  spikes come. The verdict, ``fails_bce_check``, is the evaluation's own (``learning.evaluate``
  writes it beside the metrics), so the rule lives in one place: unknown (empty) when the test
  set has no output spike to judge by.
- ``memorisation_suspect``: the selected step lies in the first fifth of training while the
  validation curve was not flat (from ``training_summary.json``): the network got worse with
  training, the sign of a training set too small for it.
- ``capped``: still improving when the step cap ended training.

Per variant (``variant_checks``): the variant's output rate over all its datasets against
``target_rate_hz`` (within ``rate_tolerance``, relative), each split's rate beside it, and how many
networks fail each network check (``bce_check_unknown``: networks the BCE check could not judge).
``passes`` says whether the variant passes all of them; an unjudged network does not pass.

The rate is judged over the datasets pooled, not split by split: one 3 s simulation's rate varies
by about its own mean between draws, so a 16-simulation test split alone is ~25 % off a perfectly
calibrated target by chance; the pooled rate (104 simulations in the default) is the variant's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import network_of
from neurodepth.data.shards import dataset_spike_summary, open_dataset

NETWORK_COLUMNS = [
    "cell",
    "variant",
    "depth",
    "seed",
    "bce_ratio",
    "fails_bce_check",
    "selected_step",
    "stopped_step",
    "max_steps",
    "capped",
    "memorisation_suspect",
]


def network_checks(metrics: pd.DataFrame, summaries: dict) -> pd.DataFrame:
    """One row per network.

    ``metrics``: the networks' tidy metrics (``analysis.summary.read_metrics``), with the
    ``spike_bce_ratio`` row of subset ``all`` and the evaluation's ``fails_bce_check`` column.
    ``summaries``: (variant, depth, seed) -> the network's ``training_summary.json`` as a dict.
    """
    if "fails_bce_check" not in metrics.columns:
        raise DatasetError(
            "the metrics lack the evaluation's fails_bce_check column (written by an older "
            "neurodepth): evaluate the networks again"
        )
    ratio = metrics.query("metric == 'spike_bce_ratio' and subset == 'all'")
    rows = []
    for (variant, depth, seed), summary in sorted(summaries.items()):
        match = ratio[
            (ratio["variant"] == variant) & (ratio["depth"] == depth) & (ratio["seed"] == seed)
        ]
        if len(match) != 1:
            raise DatasetError(
                f"metrics hold {len(match)} spike_bce_ratio rows for {variant} depth {depth} "
                f"seed {seed}; expected 1 (evaluate it again)"
            )
        value = float(match["value"].iloc[0])
        verdict = match["fails_bce_check"].iloc[0]
        rows.append(
            {
                "cell": match["cell"].iloc[0],
                "variant": variant,
                "depth": int(depth),
                "seed": int(seed),
                "bce_ratio": value,
                "fails_bce_check": None if pd.isna(verdict) else bool(verdict),
                "selected_step": int(summary["selected_step"]),
                "stopped_step": int(summary["stopped_step"]),
                "max_steps": int(summary["max_steps"]),
                "capped": bool(summary["capped"]),
                "memorisation_suspect": bool(summary["memorisation_suspect"]),
            }
        )
    table = pd.DataFrame(rows, columns=NETWORK_COLUMNS)
    table["fails_bce_check"] = table["fails_bce_check"].astype("boolean")
    return table


def dataset_rate_hz(path) -> float:
    """Output spikes per second over every simulated millisecond of a split (the dataset
    summary's ``output_rate_hz``)."""
    return dataset_rate(path)[0]


def dataset_rate(path) -> tuple[float, float]:
    """(output rate in Hz, simulated seconds) of a split."""
    with open_dataset(path, load=False) as ds:
        summary = dataset_spike_summary(ds)
    return summary["output_rate_hz"], summary["simulations"] * summary["duration_ms"] / 1000.0


def variant_checks(
    networks: pd.DataFrame, rates: pd.DataFrame, targets: dict, rate_tolerance: float
) -> pd.DataFrame:
    """One row per variant. ``rates``: columns variant, split, rate_hz, simulated_s.
    ``targets``: variant -> target_rate_hz or None (explicit rates: no rate check). The pooled
    ``rate_hz`` (every split's spikes over every split's time) is checked against the target."""
    rows = []
    for variant, nets in networks.groupby("variant", sort=False):
        target = targets.get(variant)
        row = {"variant": variant, "target_rate_hz": target}
        mine = rates[rates["variant"] == variant]
        for split, r in mine.groupby("split"):
            row[f"{split}_rate_hz"] = float(r["rate_hz"].iloc[0])
        seconds = mine["simulated_s"].sum()
        row["rate_hz"] = float((mine["rate_hz"] * mine["simulated_s"]).sum() / seconds)
        rates_ok = True
        if target is not None:
            rates_ok = abs(row["rate_hz"] / target - 1.0) <= rate_tolerance
            row["rate_within_tolerance"] = rates_ok
        row.update(
            networks=len(nets),
            fail_bce_check=int(nets["fails_bce_check"].sum()),
            bce_check_unknown=int(nets["fails_bce_check"].isna().sum()),
            memorisation_suspects=int(nets["memorisation_suspect"].sum()),
            capped=int(nets["capped"].sum()),
        )
        row["passes"] = bool(
            rates_ok
            and row["fail_bce_check"] == 0
            and row["bce_check_unknown"] == 0
            and row["memorisation_suspects"] == 0
        )
        rows.append(row)
    return pd.DataFrame(rows)


def read_training_summaries(paths) -> dict:
    """(variant, depth, seed) -> the dict of each ``{variant}/d{depth}_s{seed}/`` summary file."""
    out = {}
    for path in paths:
        network = network_of(path)
        if network is None:
            raise DatasetError(f"{path}: not in a <variant>/d<depth>_s<seed> folder")
        out[network] = json.loads(Path(path).read_text())
    return out


def study_checks(
    metric_paths,
    summary_paths,
    datasets: dict,
    targets: dict,
    rate_tolerance: float,
    out_networks,
    out_variants,
) -> pd.DataFrame:
    """Write network_checks.csv and checks.csv (atomic). ``datasets``: (variant, split) -> path."""
    from neurodepth.analysis.summary import read_metrics
    from neurodepth.core.atomic import write_csv_atomic

    networks = network_checks(read_metrics(metric_paths), read_training_summaries(summary_paths))
    rates = pd.DataFrame(
        [
            dict(
                zip(("variant", "split", "rate_hz", "simulated_s"), (v, split, *dataset_rate(path)))
            )
            for (v, split), path in datasets.items()
        ]
    )
    variants = variant_checks(networks, rates, targets, rate_tolerance)
    write_csv_atomic(networks, out_networks)
    write_csv_atomic(variants, out_variants)
    return variants
