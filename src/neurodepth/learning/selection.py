"""Model selection: the validation criterion, its standard error, the per-network training summary
and the choice among architecture candidates.

Criterion (lower is better): validation spike BCE per 1 ms bin, plus
``training.selection_soma_weight`` x soma MSE (mV^2; 0 by default). Why BCE and not the paper's
validation spike AUC: with tens of output spikes in the validation set, AUC moves by a few
hundredths between validations (its Hanley-McNeil SE is ~0.03 at 50 spikes), so the "best" AUC step
is mostly noise, and a network that has started to memorise its training windows can keep a high AUC
while its probabilities are no longer calibrated. BCE is a proper scoring rule over every bin: it
rewards calibration, rises as soon as a network memorises, and its SE (over independent validation
simulations) is small enough to rank steps and candidates. The soma term defaults to 0 because its
scale (mV^2) would swamp the spike term (~0.01 nats per bin) and the study asks about spikes.

Files of one trained network (``out_dir``): ``training_summary.json`` (:func:`training_summary`).
Files of a selection: ``model.ckpt``, ``training_log.csv`` and ``training_summary.json`` of the
winning candidate, and ``selection.json`` (the winner and every candidate's score).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from neurodepth.core.atomic import atomic_path
from neurodepth.core.errors import DatasetError

CRITERION = "val_criterion"
SUMMARY_FILE = "training_summary.json"
SELECTION_FILE = "selection.json"
# A selected step within this fraction of the steps run is suspicious (memorisation collapse)
# unless the criterion curve after it is flat.
EARLY_FRACTION = 0.2
# "Flat": the last validation is within this many standard errors of the best.
FLAT_SE = 2.0


def mean_and_se(values) -> tuple[float, float]:
    """Mean and its standard error (SD ddof=1 / sqrt(n); NaN for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else float("nan")
    return mean, se


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of a ROC AUC (Hanley & McNeil 1982) from ``n_pos`` positives (spikes) and
    ``n_neg`` negatives (bins without a spike)."""
    if n_pos < 1 or n_neg < 1 or not math.isfinite(auc):
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return float(math.sqrt(max(var, 0.0)))


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def training_summary(progress: dict, *, max_steps: int, stopped_step: int, **extra) -> dict:
    """What one training run selected and why; ``progress`` is the ``TrainingProgress`` state.

    ``capped``: the step cap (sum of the phases' steps) ended the run before the criterion had
    stopped improving for ``patience_validations`` validations, so a longer run might have done
    better. ``memorisation_suspect``: the selected step lies in the first fifth of the steps run
    and the criterion rose significantly afterwards (last validation > best + 2 SE).
    """
    history = progress.get("history") or []
    best, se = _finite(progress.get("best")), _finite(progress.get("best_se"))
    selected = progress.get("best_step")
    final = _finite(history[-1][1]) if history else None
    flat = best is None or final is None or se is None or final - best <= FLAT_SE * se
    early = selected is not None and selected < EARLY_FRACTION * max(stopped_step, 1)
    return {
        "criterion": CRITERION,
        "selected_step": selected,
        "stopped_step": int(stopped_step),
        "max_steps": int(max_steps),
        "stopped_early": bool(progress.get("stopped")),
        "capped": bool(not progress.get("stopped") and stopped_step >= max_steps),
        "best_criterion": best,
        "best_criterion_se": se,
        "best_val_spike_auc": _finite(progress.get("best_auc")),
        "best_val_spike_auc_se": _finite(progress.get("best_auc_se")),
        "final_criterion": final,
        "n_validations": int(progress.get("n_validations", 0)),
        "selected_in_first_fifth": bool(early),
        "curve_flat": bool(flat),
        "memorisation_suspect": bool(early and not flat),
        **extra,
    }


def write_json_atomic(data: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_summary(model_dir) -> dict:
    path = Path(model_dir) / SUMMARY_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read the training summary {path} ({err})") from err


def select_candidate(candidates: dict[int, Path], out_dir) -> dict:
    """Copy the candidate with the lowest best validation criterion into ``out_dir``.

    ``candidates``: candidate index -> its training directory (holding ``model.ckpt``,
    ``training_log.csv``, ``training_summary.json``). Ties go to the lower index; a candidate
    without a finite criterion (no validation ran, or it diverged) loses to any that has one.
    Writes ``selection.json`` and returns it.
    """
    if not candidates:
        raise DatasetError("no architecture candidate to select from")
    rows = []
    for index in sorted(candidates):
        summary = read_summary(candidates[index])
        rows.append(
            {
                "candidate": int(index),
                "directory": str(candidates[index]),
                "criterion": _finite(summary.get("best_criterion")),
                "criterion_se": _finite(summary.get("best_criterion_se")),
                "val_spike_auc": _finite(summary.get("best_val_spike_auc")),
                "selected_step": summary.get("selected_step"),
                "capped": summary.get("capped"),
                "architecture": summary.get("architecture"),
            }
        )
    ranked = sorted(
        rows,
        key=lambda r: (r["criterion"] is None, r["criterion"] or 0.0, r["candidate"]),
    )
    winner = ranked[0]
    source, out_dir = Path(winner["directory"]), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("model.ckpt", "training_log.csv", SUMMARY_FILE):
        with atomic_path(out_dir / name) as tmp:
            shutil.copyfile(source / name, tmp)
    record = {
        "criterion": CRITERION,
        "selected_candidate": winner["candidate"],
        "selected_architecture": winner["architecture"],
        "candidates": rows,
    }
    write_json_atomic(record, out_dir / SELECTION_FILE)
    return record
