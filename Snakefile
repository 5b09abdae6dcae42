# neurodepth: how deep must an artificial network be to mimic a cortical neuron?
# Beniaguev, Segev & London (Neuron, 2021), as a resumable pipeline.


import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The workflow imports neurodepth from its own source tree beside this Snakefile (rule scripts do
# the same, through scripts/_workflow_src.py), so a module deployment from another directory and
# a conda env without the project installed both run this checkout's code.
if not workflow.current_basedir.is_local:
    raise WorkflowError(
        "neurodepth runs from a local clone: point the module's snakefile at the Snakefile of "
        "a `git clone` of the repository (its rules import the clone's src/)"
    )
sys.path.insert(0, str(Path(workflow.current_basedir) / "src"))


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
    # a rule's own directive, not `localrules:`, which a module's `use rule ... as` does not rename
    localrule: True
