"""``neurodepth import-authors``: the authors' released pickles as one of our datasets, outside
the workflow (which does the same with ``dataset.source: authors``, one job per file)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from neurodepth.data.authors_data import authors_files, import_authors_file
from neurodepth.data.shards import merge_shards


def import_authors(
    source,
    out,
    pattern: str = "*.p",
    cell: str = "hay2011_l5pc",
    variant: str = "full",
    split: str = "test",
    include_dendritic: bool = False,
) -> Path:
    """Write ``out``: one pickle converted, or every pickle of a split folder converted and merged
    (the dataset a training reads). Files are numbered in name order, as in the workflow."""
    source, out = Path(source), Path(out)
    files = authors_files(source, pattern) if source.is_dir() else [source]
    options = {
        "cell": cell,
        "variant": variant,
        "split": split,
        "include_dendritic": include_dendritic,
    }
    if len(files) == 1:
        return import_authors_file(files[0], out, shard=0, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    # the converted files are only the merge's input: beside the output, gone afterwards
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        parts = [
            import_authors_file(path, Path(tmp) / f"file_{i:04d}.nc", shard=i, **options)
            for i, path in enumerate(files)
        ]
        merge_shards(parts, out)
    return out


def add_arguments(parser) -> None:
    parser.add_argument(
        "source", help="one authors' pickle, or a folder of them (one split of the release)"
    )
    parser.add_argument("out", help="dataset netCDF to write")
    parser.add_argument("--pattern", default="*.p", help="files of a folder (default: *.p)")
    parser.add_argument("--cell", default="hay2011_l5pc", help="recorded cell name")
    parser.add_argument(
        "--variant", default="full", help="recorded variant (full: NMDA; no_nmda: AMPA only)"
    )
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument(
        "--include-dendritic",
        action="store_true",
        help="also keep every segment's voltage (large)",
    )


def run(args) -> int:
    out = import_authors(
        args.source,
        args.out,
        pattern=args.pattern,
        cell=args.cell,
        variant=args.variant,
        split=args.split,
        include_dendritic=args.include_dendritic,
    )
    print(f"wrote {out}")
    return 0
