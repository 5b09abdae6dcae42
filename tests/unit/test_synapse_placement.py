"""Synapse placement (cell spec ``synapses.placement``): one site per segment as in the paper, or
a density per um with a cap; the sites flow through inputs, shards, reduction and figures."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import yaml

from neurodepth.cells.builder import synapse_sites
from neurodepth.cells.spec import EVERY_SEGMENT, SpecError, load_cell_spec, spec_path


def test_every_segment_is_one_site_per_segment():
    assert synapse_sites([3.0, 50.0, 0.5], EVERY_SEGMENT).tolist() == [0, 1, 2]


def test_density_deals_sites_along_the_dendrites_length():
    rng = np.random.default_rng(0)
    lengths = rng.uniform(0.5, 40.0, 300)
    density = 0.37
    sites = synapse_sites(lengths, {"per_um": density})
    assert sites.size == int(np.floor(lengths.sum() * density))
    assert np.all(np.diff(sites) >= 0)  # in segment order
    per_segment = np.bincount(sites, minlength=lengths.size)
    # each segment holds its length's share to within one site, short ones included
    assert np.all(np.abs(per_segment - lengths * density) < 1.0)
    assert (per_segment == 0).any()  # segments shorter than 1 / density may hold none


def test_the_cap_lowers_the_density_evenly():
    lengths = np.full(100, 10.0)  # 1000 um
    sites = synapse_sites(lengths, {"per_um": 2.0, "max_synapses": 250})
    assert sites.size == 250
    per_segment = np.bincount(sites, minlength=100)
    assert set(per_segment.tolist()) <= {2, 3}  # 2.5 per segment, dealt evenly
    # under the cap the density stands
    assert synapse_sites(lengths, {"per_um": 0.2, "max_synapses": 250}).size == 200


def _spec_file(tmp_path, placement) -> str:
    raw = yaml.safe_load(spec_path("stylized_l5pc").read_text())
    raw["synapses"]["placement"] = placement
    path = tmp_path / "stylized_dense.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


@pytest.mark.parametrize(
    "placement, key",
    [
        ({"per_um": -1.0}, "synapses.placement.per_um"),
        ({"per_um": 0.5, "max_synapses": 0}, "synapses.placement.max_synapses"),
        ({"per_um": 0.5, "spacing": 3}, "synapses.placement"),
        ("every_other_segment", "synapses.placement"),
    ],
)
def test_bad_placement_names_the_key(tmp_path, placement, key):
    with pytest.raises(SpecError, match=f"'{key}'"):
        load_cell_spec(_spec_file(tmp_path, placement))


@pytest.fixture(scope="module")
def dense_spec(tmp_path_factory):
    return _spec_file(tmp_path_factory.mktemp("spec"), {"per_um": 0.25, "max_synapses": 400})


@pytest.mark.neuron
def test_a_dense_cell_has_a_synapse_pair_per_site_on_its_segment(mechanisms, dense_spec):
    from neurodepth.cells.builder import build_cell

    cell = build_cell(load_cell_spec(dense_spec))
    table = cell.segment_table
    total_um = table["length_um"].sum()
    assert cell.n_sites == min(400, int(np.floor(total_um * 0.25)))
    assert cell.n_channels == 2 * cell.n_sites > 2 * len(table)
    for k in range(0, cell.n_sites, 7):
        seg = cell.segments[cell.site_segment[k]]
        for syn in (cell.synapse_for_channel(k), cell.synapse_for_channel(cell.n_sites + k)):
            here = syn.get_segment()
            assert (here.sec.name(), here.x) == (seg.sec.name(), seg.x)
    length, tree, channel_segment = cell.input_sites()
    # the sites share out the dendrite: per tree, their lengths add up to the tree's
    for name in ("basal", "apical"):
        assert length[tree == name].sum() == pytest.approx(
            table.loc[table["tree"] == name, "length_um"].sum()
        )
    assert channel_segment.tolist() == 2 * cell.site_segment.tolist()
    del cell
    gc.collect()


@pytest.mark.neuron
def test_dense_shards_map_each_channel_to_its_segment(mechanisms, dense_spec, tmp_path):
    from neurodepth.data.shards import read_shard
    from neurodepth.simulation.simulate import ShardJob, run_shard

    sim_cfg = {
        "duration_ms": 300,
        "simulations_per_shard": 1,
        "record_dendrites": True,
        "record_nexus": False,
        "integrator": "fixed",
        "dt_ms": 0.1,
    }
    inputs_cfg = {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]}
    job = ShardJob(dense_spec, "full", "train", 0, 3, sim_cfg, inputs_cfg, mechanisms)
    ds = read_shard(run_shard(job, tmp_path / "dense.nc", progress=False))
    n_sites = ds.sizes["channel"] // 2
    assert n_sites > ds.sizes["segment"]
    seg = ds["channel_segment"].values
    assert np.array_equal(seg[:n_sites], seg[n_sites:]) and np.all(np.diff(seg[:n_sites]) >= 0)
    assert ds["dendritic_voltage"].shape[1] == ds.sizes["segment"]  # recorded per segment


@pytest.mark.neuron
def test_the_reduced_cell_keeps_every_site(mechanisms, dense_spec):
    """no_branching on a dense cell: each site's synapses move with its segment."""
    from neurodepth.simulation.simulate import build_variant_cell

    reduced = build_variant_cell(dense_spec, "no_branching", mechanisms, None)
    assert reduced.n_channels == 2 * reduced.n_sites
    assert len(reduced.exc_synapses) == len(reduced.inh_synapses) == reduced.n_sites
    table = reduced.segment_table
    for k in range(0, reduced.n_sites, 11):
        row = table.iloc[reduced.site_segment[k]]
        here = reduced.exc_synapses[k].get_segment()
        assert here.sec.name().endswith(row["reduced_section"])
        assert here.x == pytest.approx(row["reduced_x"])
    del reduced
    gc.collect()


def test_check_cell_counts_sites_per_region_and_um():
    import pandas as pd

    from neurodepth.ops.check_cell import region_counts

    table = pd.DataFrame(
        {
            "segment": range(4),
            "tree": ["basal", "basal", "apical", "apical"],
            "region": ["basal", "basal", "tuft", "tuft"],
            "length_um": [10.0, 30.0, 20.0, 20.0],
        }
    )
    sites = synapse_sites(table["length_um"], {"per_um": 0.25})  # 2.5, 7.5, 5, 5 -> 20 sites
    counts = region_counts(table, sites).set_index("region")
    assert counts.loc["basal", "sites"] == 10 and counts.loc["tuft", "sites"] == 10
    assert counts.loc["basal", "synapses"] == 20  # one excitatory + one inhibitory per site
    assert counts["sites_per_um"].tolist() == pytest.approx([0.25, 0.25])
    assert counts.loc["basal", "segments"] == 2
