"""Imported first by every rule script: puts this workflow's own ``src/`` (beside ``scripts/``)
at the front of ``sys.path``, so the job imports the workflow's neurodepth even when another
neurodepth is installed in the job's interpreter, or none is (a conda env of ``envs/``).

Snakemake's script preamble appends the script's directory to ``sys.path``, which is how the
scripts find this module.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
