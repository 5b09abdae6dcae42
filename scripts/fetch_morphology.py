"""Rule fetch_morphology: download (or copy) the morphology and check its sha256."""

from neurodepth.cells.morphology import fetch_morphology
from neurodepth.core.logs import log_to

with log_to(snakemake.log[0]):
    fetch_morphology(
        url=snakemake.params.url,
        sha256=snakemake.params.sha256,
        local_path=snakemake.params.local_path or None,
        out_path=snakemake.output[0],
    )
