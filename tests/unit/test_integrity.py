"""Integrity: stages refuse inputs made with another config, naming the files."""

from __future__ import annotations

import pytest
from toy_data import toy_dataset

from neurodepth.core.config import section_defaults
from neurodepth.core.errors import DatasetError
from neurodepth.data.shards import write_shard
from neurodepth.learning.datamodule import NeuronDataModule, check_compatible

TRAINING = section_defaults("training") | {
    "window_ms": 200,
    "min_window_end_ms": 500,
    "batch_size": 2,
    "validation_min_spikes": 4,
    "num_workers": 0,
}


def _write(path, config_hash="toy", variant="full", split="train", seed=0):
    ds = toy_dataset(seed=seed, split=split)
    ds.attrs.update(config_hash=config_hash, variant=variant)
    write_shard(ds, path)
    return path


def test_matching_datasets_give_their_identity(tmp_path):
    train = _write(tmp_path / "train.nc")
    valid = _write(tmp_path / "valid.nc", split="valid", seed=1)
    dm = NeuronDataModule(train, valid, TRAINING)
    assert dm.data_identity is None  # files are opened in setup(), not on construction
    dm.setup("fit")
    assert dm.data_identity == {"cell": "toy", "variant": "full", "config_hash": "toy"}


@pytest.mark.parametrize("key,value", [("config_hash", "other"), ("variant", "no_nmda")])
def test_training_refuses_a_validation_set_of_another_config(tmp_path, key, value):
    train = _write(tmp_path / "train.nc")
    valid = _write(tmp_path / "valid.nc", split="valid", **{key: value})
    dm = NeuronDataModule(train, valid, TRAINING)
    with pytest.raises(DatasetError) as info:
        dm.setup("fit")
    message = str(info.value)
    assert "valid.nc" in message and "train.nc" in message and key in message


def test_check_compatible_names_the_disagreeing_key():
    with pytest.raises(DatasetError, match="cell='other'"):
        check_compatible(
            {
                "a": ("a.nc", {"cell": "x", "variant": "full", "config_hash": "1"}),
                "b": ("b.nc", {"cell": "other", "variant": "full", "config_hash": "1"}),
            }
        )


def test_evaluation_refuses_a_test_set_of_another_config(tmp_path):
    from neurodepth.learning.evaluate import evaluate_checkpoint
    from neurodepth.learning.train import train_model

    train = _write(tmp_path / "train.nc")
    valid = _write(tmp_path / "valid.nc", split="valid", seed=1)
    test = _write(tmp_path / "test.nc", split="test", seed=2, config_hash="changed")
    cfg = dict(
        TRAINING,
        val_every_steps=5,
        progress_bar=False,
        phases=[{"steps": 5, "lr": 0.001, "spike_weight": 1.0, "soma_weight": 0.02}],
    )
    ckpt = train_model(
        train, valid, tmp_path / "model", {"depth": 1, "kernels": [5], "width": 4}, cfg, seed=0
    )
    evaluation = section_defaults("evaluation") | {"subsets": 2}
    with pytest.raises(DatasetError, match="config_hash='changed'"):
        evaluate_checkpoint(ckpt, test, evaluation, tmp_path / "m.csv", tmp_path / "p.nc", {})
    assert not (tmp_path / "m.csv").exists()
