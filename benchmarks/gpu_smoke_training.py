"""GPU smoke check of the training path: train_model with accelerator=auto (bf16-mixed on a GPU),
resume, load_model and evaluate_checkpoint on the toy dataset. Prints the metrics.

    python benchmarks/gpu_smoke_training.py OUT_DIR
"""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from toy_data import write_toy_dataset  # noqa: E402  (the tests' synthetic dataset)

from neurodepth.core.config import section_defaults  # noqa: E402
from neurodepth.learning.checkpoints import load_model  # noqa: E402
from neurodepth.learning.evaluate import evaluate_checkpoint  # noqa: E402
from neurodepth.learning.train import train_model  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else "gpu_smoke")
out.mkdir(parents=True, exist_ok=True)
write_toy_dataset(out / "toy.nc", n_simulations=8, duration_ms=1000, n_channels=16, seed=5)
cfg = section_defaults("training") | {
    "window_ms": 200,
    "min_window_end_ms": 500,
    "batch_size": 8,
    "num_workers": 2,
    "accelerator": "auto",
    "progress_bar": False,
    "val_every_steps": 50,
    "phases": [
        {"steps": 150, "lr": 0.01, "spike_weight": 1.0, "soma_weight": 0.02},
        {"steps": 100, "lr": 0.003, "spike_weight": 2.0, "soma_weight": 0.01},
    ],
}
arch = {"depth": 2, "kernels": [31, 9], "width": 16}
t = time.time()
train_model(out / "toy.nc", out / "toy.nc", out / "run", arch, cfg, seed=0, max_steps=100)
ckpt = train_model(out / "toy.nc", out / "toy.nc", out / "run", arch, cfg, seed=0)  # resumes at 100
print(f"cuda={torch.cuda.is_available()} trained in {time.time() - t:.1f} s")
model, meta = load_model(ckpt)
print("meta", meta)
df = evaluate_checkpoint(
    ckpt,
    out / "toy.nc",
    section_defaults("evaluation") | {"max_output_spikes": 100},
    out / "metrics.csv",
    out / "pred.nc",
    {"cell": "toy", "variant": "full", "depth": 2, "seed": 0},
)
print(df[df.subset == "all"].to_string())
