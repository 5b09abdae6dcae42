"""Rule evaluate_baseline: fit the no-training baseline on the training split, score it on the
test split with the networks' protocol (same metrics.csv and predictions.nc layout)."""

from neurodepth.analysis.baseline import fit_baseline, predict, read_counts
from neurodepth.core.job import rule_job
from neurodepth.data.reader import DatasetReader
from neurodepth.learning.datamodule import spike_rate_per_bin
from neurodepth.learning.evaluate import evaluate_arrays, write_evaluation

with rule_job(snakemake):
    cfg = snakemake.params.evaluation
    options = snakemake.params.baseline
    train = read_counts(snakemake.input.train, options["max_train_simulations"])
    fit = fit_baseline(train, options["tau_grid_ms"], cfg["drop_first_ms"])
    test = read_counts(snakemake.input.test)
    prob, soma_pred = predict(fit, test.counts)
    # the constant-rate predictor the networks' spike BCE is compared with, counted the same way
    with DatasetReader(snakemake.input.train) as reader:
        train_rate = spike_rate_per_bin(reader, cfg["drop_first_ms"])
    rows, extras = evaluate_arrays(
        test.spike_target,
        prob,
        test.soma_truth,
        soma_pred,
        test.spike_count,
        cfg,
        train_rate=train_rate,
    )
    write_evaluation(
        rows,
        extras,
        dict(
            spike_probability=prob,
            soma_prediction=soma_pred,
            spike_target=test.spike_target,
            soma_truth=test.soma_truth,
        ),
        test.spike_count,
        cfg,
        snakemake.params.meta,
        dict(
            train_path=str(snakemake.input.train),
            test_path=str(snakemake.input.test),
            model_family="no_training_baseline",
            model_n_parameters=6,  # (b, w_exc, w_inh) for the spike and for the soma readout
            **fit.to_attrs(),
        ),
        snakemake.output.metrics,
        snakemake.output.predictions,
    )
