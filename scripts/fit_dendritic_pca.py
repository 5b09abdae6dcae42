"""Rule fit_dendritic_pca: the whitened PCA of one variant's training dendritic voltages."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.data.dendritic_pca import fit_dendritic_pca, write_dendritic_pca

with rule_job(snakemake):
    pca = fit_dendritic_pca(snakemake.input[0], int(snakemake.params.components))
    print(
        f"{pca.n_components} components explain {100 * pca.explained.sum():.1f} % of the "
        "clipped dendritic voltages' variance"
    )
    write_dendritic_pca(pca, snakemake.output[0], source=snakemake.input[0])
