"""Host synchronisations per critic step on the default ``ganmods fit`` path (GANCheckpoint + HealthMonitor).

Counts, under a ``TorchDispatchMode``, the reads of a device scalar into Python (``aten._local_scalar_dense``:
``.item()``, ``bool(t)``, ``float(t)``) during a fit, with SGD optimizers (whose step counters stay on the device).

    python benchmarks/host_syncs.py --steps 200
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ganmods import SGAN, GANDataModule
from ganmods.callbacks import GANCheckpoint, HealthMonitor
from ganmods.nets import MLPCritic, MLPGenerator


class ScalarReads(TorchDispatchMode):
    """Counts ``aten._local_scalar_dense`` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        return func(*args, **(kwargs or {}))


def main() -> None:
    """Fit, count and print the reads per critic step."""
    import lightning.pytorch as pl

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.manual_seed(0)
    sgd = lambda params: torch.optim.SGD(params, lr=1e-3)  # noqa: E731
    model = SGAN(MLPGenerator(hidden=16, depth=2), MLPCritic(hidden=16, depth=2), max_generator_steps=args.steps,
                 optimizer_g=sgd, optimizer_d=sgd)
    folder = tempfile.mkdtemp(prefix="host_syncs_")
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=folder, log_every_n_steps=50,
                         callbacks=[GANCheckpoint(dirpath=f"{folder}/ck"), HealthMonitor()])
    data = GANDataModule("ring8", batch_size=16, batches_per_epoch=args.steps // 2, val_size=32, eval_samples=64)
    with ScalarReads() as counting:
        trainer.fit(model, datamodule=data)
    print(f"critic_steps={model.critic_steps} scalar_reads={counting.reads} "
          f"per_critic_step={counting.reads / model.critic_steps:.3f}")


if __name__ == "__main__":
    main()
