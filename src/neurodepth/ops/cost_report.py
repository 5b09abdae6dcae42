"""``neurodepth cost --configfile F``: the estimate of ``ops.cost`` as a table, with the memory
each rule's jobs ask for (``ops.resources``) and every per-unit constant with its source."""

from __future__ import annotations

import yaml

from neurodepth.core.errors import ConfigError
from neurodepth.ops.cost import estimate_cost
from neurodepth.ops.resources import memory_gb_per_job


def format_cost(estimate: dict, config_name: str = "") -> str:
    table = estimate["per_rule"].copy()
    lines = [f"neurodepth cost estimate{(' for ' + config_name) if config_name else ''}", ""]
    lines.append(table.to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    lines += [
        "",
        f"simulations      {estimate['simulations']:>12,d}",
        f"simulated hours  {estimate['simulated_hours']:>12,.1f}",
        f"core-hours       {estimate['core_hours']:>12,.1f}",
        f"GPU-hours        {estimate['gpu_hours']:>12,.1f}",
        f"disk (GB)        {estimate['disk_gb']:>12,.1f}",
        f"Slurm jobs       {estimate['slurm_jobs']:>12,d}  (figures/summary run on the login node)",
        "",
        estimate["data_verdict"],
        "",
        "Per-unit costs (neurodepth.ops.cost.UNIT_COSTS):",
    ]
    units = estimate["units"]
    for row in units.itertuples(index=False):
        lines.append(f"  {row.constant:36s} {row.value:>10.4g}  {row.unit}  [{row.source}]")
    return "\n".join(lines)


def _group_components_from_profile(profile_dir) -> int:
    """``group-components: [simulation=N]`` from a Snakemake profile, 1 if absent."""
    from pathlib import Path

    path = Path(profile_dir) / "config.yaml"
    if not path.exists():
        raise ConfigError(f"profile {profile_dir}: no config.yaml")
    prof = yaml.safe_load(path.read_text()) or {}
    for item in prof.get("group-components", []) or []:
        name, _, n = str(item).partition("=")
        if name.strip() == "simulation":
            return int(n)
    return 1


def add_arguments(parser) -> None:
    parser.add_argument("--configfile", default="config/config.yaml", help="config YAML to cost")
    parser.add_argument(
        "--profile",
        default=None,
        help="Snakemake profile dir whose group-components count Slurm submissions "
        "(e.g. profiles/slurm)",
    )
    parser.add_argument("--csv", default=None, help="also write the per-rule table to this CSV")


def run(args) -> int:
    from pathlib import Path

    path = Path(args.configfile)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    from neurodepth.ops.study_config import load_study_config

    # the config's plugins are loaded first: their variants and families have costs too
    config = load_study_config(path)
    groups = _group_components_from_profile(args.profile) if args.profile else 1
    estimate = estimate_cost(config, group_components=groups)
    per_rule = estimate["per_rule"]
    per_rule["mem_gb_per_job"] = [memory_gb_per_job(config, r) for r in per_rule["rule"]]
    print(format_cost(estimate, str(path)))
    if args.csv:
        from neurodepth.core.atomic import write_csv_atomic

        write_csv_atomic(estimate["per_rule"], args.csv)
    return 0
