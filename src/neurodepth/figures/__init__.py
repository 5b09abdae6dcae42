"""One module per figure; each has make(...) -> Figure, save(fig, out_png) and from_files(...)."""
