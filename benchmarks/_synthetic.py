"""What the benchmarks' synthetic datasets share: the provenance attributes of a shard that no
simulation made."""


def synthetic_attrs(seed: int, duration_ms: int) -> dict:
    return {
        "cell": "bench",
        "variant": "full",
        "split": "train",
        "seed": seed,
        "config_hash": "bench",
        "duration_ms": duration_ms,
        "integrator": "none",
        "dt_ms": 1.0,
    }
