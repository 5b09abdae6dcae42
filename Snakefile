# neurodepth: how deep must an artificial network be to mimic a cortical neuron?
# Beniaguev, Segev & London (Neuron, 2021), as a resumable pipeline.


from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless the user names their own: Snakemake would otherwise merge a
# --configfile over it, and keys the user left out would silently come from the default.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/cells.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/families.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),
