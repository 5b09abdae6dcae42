"""One module per figure; each draws from files and registers itself in ``FIGURES``.

Importing this package registers the built-in figures (in the order the report lists them);
plugin modules register theirs when the config's ``plugins`` are loaded.
"""

# Registration order is the order of rule all's targets and of the report: keep it, not sorted.
# isort: off
from neurodepth.figures import accuracy_vs_depth  # noqa: F401
from neurodepth.figures import example_predictions  # noqa: F401
from neurodepth.figures import roc_timing  # noqa: F401
from neurodepth.figures import first_layer_weights  # noqa: F401
from neurodepth.figures import cell_morphology  # noqa: F401
from neurodepth.figures import dataset_overview  # noqa: F401
from neurodepth.figures import lif_check  # noqa: F401
from neurodepth.figures import auc_vs_parameters  # noqa: F401

# isort: on
from neurodepth.figures.registry import (
    FIGURES,
    Figure,
    Input,
    figures_for,
    input_paths,
    main_variant,
    register,
)

__all__ = [
    "FIGURES",
    "Figure",
    "Input",
    "figures_for",
    "input_paths",
    "main_variant",
    "register",
]
