"""Seeds derived from names, identical on every machine and Python process."""

from __future__ import annotations

import hashlib

SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}


def derive_seed(*parts) -> int:
    """A 63-bit seed from any sequence of str/int parts (stable, unlike ``hash``)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def shard_seed(global_seed: int, cell: str, variant: str, split: str, shard: int) -> int:
    return derive_seed("shard", global_seed, cell, variant, split, shard)
