"""Time per training step of 2-process data parallelism on CPU (gloo): ``gan_ddp`` against Lightning's
``ddp_find_unused_parameters_true`` (and one process for reference), on the toy MLP GAN.

Every run is a fresh ``python benchmarks/ddp_step_time.py --worker ...`` (Lightning starts the second
rank), one thread per process, timed from critic step ``--warmup`` to the last one on rank 0 (Trainer
set-up excluded). Runs are interleaved over rounds (strategy order alternating) so machine load affects
all alike; the table gives, in ms per critic step (a generator step follows every ``n_critic``-th one),
the median and the minimum over rounds of the wall-clock time and the median of rank 0's CPU time
(its own work, less sensitive than wall-clock to other load on the machine).

    python benchmarks/ddp_step_time.py                                    # defaults below
    python benchmarks/ddp_step_time.py --cases wgan_gp --hidden 512 --rounds 5

Plain ``"ddp"`` cannot run this loop (the critic step leaves the generator's parameters without
gradients); ``--strategies ddp`` records the first line of its error instead of a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any, Optional

#: name -> (loss, n_critic, gp_weight): the cases timed.
CASES: dict[str, tuple[str, int, Optional[float]]] = {
    "wgan_gp": ("wasserstein", 5, 10.0),
    "sgan": ("non_saturating", 1, None),
}


def worker(args: argparse.Namespace) -> None:
    """One timed fit (``--devices`` processes); rank 0 writes its seconds per step, wall-clock and CPU
    (``time.process_time``: this process's own work, without time spent waiting), to ``--out``."""
    import lightning.pytorch as pl
    import torch

    import ganmods.strategies  # noqa: F401 - registers "gan_ddp"
    from ganmods import GANDataModule, GANModule
    from ganmods.nets import MLPCritic, MLPGenerator

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    loss, n_critic, gp = CASES[args.case]
    torch.manual_seed(0)
    nets = MLPGenerator(latent_dim=2, out_dim=2, hidden=args.hidden, depth=3), MLPCritic(in_dim=2, hidden=args.hidden, depth=3)
    adam = lambda params: torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.9))  # noqa: E731
    model = GANModule(*nets, loss=loss, n_critic=n_critic, gp_weight=gp, optimizer_g=adam, optimizer_d=adam,
                      grad_norm_interval=0)
    times: dict[str, float] = {}

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == args.warmup:
                times["start"], times["cpu_start"] = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            times["end"], times["cpu_end"] = time.perf_counter(), time.process_time()

    strategy = "auto" if args.strategy == "single" else args.strategy
    devices = 1 if args.strategy == "single" else args.devices
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy=strategy, max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, callbacks=[Clock()])
    data = GANDataModule("ring8", batch_size=args.batch, batches_per_epoch=args.warmup + args.steps)
    trainer.fit(model, datamodule=data)
    if trainer.global_rank == 0:
        with open(args.out, "w") as f:
            json.dump({"wall": (times["end"] - times["start"]) / args.steps,
                       "cpu": (times["cpu_end"] - times["cpu_start"]) / args.steps}, f)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()  # rank 0 must not exit while rank 1 still runs


def run_one(args: argparse.Namespace, case: str, strategy: str) -> Any:
    """Run one worker; return ``{"wall": s, "cpu": s}`` per step, or the error's last line."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "time.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--case", case, "--strategy", strategy,
               "--out", out] + [f"--{k}={getattr(args, k)}" for k in ("hidden", "batch", "warmup", "steps", "devices")]
        env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled")
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env, cwd=tmp)
        except subprocess.TimeoutExpired:
            return "timed out"
        if done.returncode != 0 or not os.path.exists(out):
            lines = [ln for ln in done.stderr.splitlines() if "Error" in ln] or done.stderr.splitlines()[-1:]
            return lines[-1][:160] if lines else f"exit status {done.returncode}"
        with open(out) as f:
            return json.load(f)


def main(argv: Optional[list[str]] = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategies", nargs="+", default=["ddp_find_unused_parameters_true", "gan_ddp", "single"])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256, help="per process")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    import lightning
    import torch

    print(f"# torch {torch.__version__}, lightning {lightning.__version__}, {args.devices} processes x 1 thread, "
          f"gloo, MLP hidden {args.hidden} x3, batch {args.batch} per process, {args.steps} timed critic steps, "
          f"median of {args.rounds} rounds; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[tuple[str, str], list[Any]] = {}
    for r in range(args.rounds):
        for case in args.cases:
            order = args.strategies if r % 2 == 0 else args.strategies[::-1]
            for strategy in order:
                results.setdefault((case, strategy), []).append(run_one(args, case, strategy))
    print(f"{'case':<9} {'strategy':<32} {'wall median':>11} {'wall min':>9} {'CPU median':>10}  wall, all rounds (ms/step)")
    for (case, strategy), values in results.items():
        runs = [v for v in values if isinstance(v, dict)]
        if not runs:
            print(f"{case:<9} {strategy:<32} {'failed':>11}  {values[0]}")
            continue
        wall, cpu = [r["wall"] * 1e3 for r in runs], [r["cpu"] * 1e3 for r in runs]
        print(f"{case:<9} {strategy:<32} {statistics.median(wall):>11.2f} {min(wall):>9.2f} {statistics.median(cpu):>10.2f}  "
              + " ".join(f"{t:.1f}" for t in wall))


if __name__ == "__main__":
    main()
