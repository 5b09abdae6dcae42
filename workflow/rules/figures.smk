# Figures: one rule figure_<name> per registered figure (neurodepth.figures.registry), each a file
# target that reads only already-computed files.


for _name in FIGURES:

    rule:
        name:
            f"figure_{_name}"
        input:
            **figure_inputs(_name),
        output:
            png=report(
                f"results/figures/{_name}.png",
                # a plugin's caption may be an absolute path, which replaces ../report here
                caption=str(Path("../report") / FIGURE_REGISTRY[_name].caption_file),
                category=FIGURE_REGISTRY[_name].category,
            ),
            pdf=f"results/figures/{_name}.pdf",
        log:
            f"logs/figures/{_name}.log",
        localrule: True
        conda:
            "../../envs/plot.yaml"
        params:
            figure=_name,
        script:
            "../../scripts/figure.py"
