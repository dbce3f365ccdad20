"""Per-step cost of ganmods' training loop against a hand-written PyTorch loop doing identical math.

For every core loss (with its variant's regularizer and critic steps per generator step), both loops
train the same networks (identical initial weights) on the same real batches with the same loss objects
and the same gradient penalty / clipping; only the loop differs. The two are interleaved in one process
(ganmods, raw, ganmods, raw, ...) so that machine load affects both alike; the per-step time of each
is the median over rounds, measured after a warm-up, excluding Trainer set-up.

    python benchmarks/step_overhead.py                  # MLP, 64 hidden units, batch 256, 1 thread
    python benchmarks/step_overhead.py --losses sgan wgan_gp --rounds 3

The ratio of a loss is the median over rounds of each round's ganmods / raw time (the two runs of a round
are adjacent, so slow drifts of the machine cancel). ganmods runs twice per grouping: with a bare trainer
(no logger, no callback) and on the default ``ganmods fit`` path (``GANCheckpoint`` and ``HealthMonitor``,
a CSV logger writing every ``log_every_n_steps`` = 50 batches, as the command line sets them up). For each
the summary lines give the median over losses and the maximum; the last line printed is
``overhead_ratio_max=<x>``: the worst loss's ratio on the default path at the last ``--steps-per-batch`` value.
ganmods' own per-step work (step-keyed reseeding, the device-side non-finite flags, counters) is counted
against it.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import tempfile
import time
import warnings
from typing import Any, Callable, Iterator, Optional

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from lightning.pytorch.loggers import CSVLogger

from ganmods import GANDataModule, GANModule
from ganmods.callbacks import GANCheckpoint, HealthMonitor
from ganmods.data.datamodule import SampleBatches
from ganmods.losses import get_loss
from ganmods.nets import MLPCritic, MLPGenerator
from ganmods.regularizers import gradient_penalty

#: name -> (loss, n_critic, gp_weight, clip): each core variant's loss and regularizer.
CASES: dict[str, tuple[str, int, Optional[float], Optional[float]]] = {
    "sgan": ("non_saturating", 1, None, None),
    "sgan_saturating": ("saturating", 1, None, None),
    "wgan": ("wasserstein", 5, None, 0.01),
    "wgan_gp": ("wasserstein", 5, 10.0, None),
    "lsgan": ("least_squares", 1, None, None),
    "hinge": ("hinge", 1, None, None),
    "rsgan": ("rsgan", 1, None, None),
    "rasgan": ("rasgan", 1, None, None),
    "ralsgan": ("ralsgan", 1, None, None),
    "rahinge": ("rahinge", 1, None, None),
}


class _Clock(pl.Callback):
    """Wall time from the start of batch ``skip`` to the end of the last batch."""

    def __init__(self, skip: int) -> None:
        self.skip, self.start, self.end = skip, 0.0, 0.0

    def on_train_batch_start(self, trainer: pl.Trainer, module: Any, batch: Any, batch_idx: int) -> None:
        if batch_idx == self.skip:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.end = time.perf_counter()


def _nets(hidden: int, seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return MLPGenerator(latent_dim=2, out_dim=2, hidden=hidden, depth=3), MLPCritic(in_dim=2, hidden=hidden, depth=3)


def _adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.9))


def time_ganmods(case: str, nets: tuple[nn.Module, nn.Module], batch: int, warmup: int, steps: int,
                 steps_per_batch: int = 1, default_path: bool = False) -> float:
    """Seconds per critic step of ``trainer.fit`` on a GANModule (after ``warmup`` steps), with
    ``steps_per_batch`` critic steps per Lightning batch (both counts must be multiples of it); with
    ``default_path``, under the callbacks and logger ``ganmods fit`` uses by default."""
    loss, n_critic, gp, clip = CASES[case]
    g, d = (copy.deepcopy(n) for n in nets)
    model = GANModule(g, d, loss=loss, n_critic=n_critic, gp_weight=gp, clip=clip,
                      optimizer_g=_adam, optimizer_d=_adam, grad_norm_interval=0)
    clock = _Clock(warmup // steps_per_batch)
    callbacks: list[pl.Callback] = [clock]
    folder = tempfile.mkdtemp(prefix="step_overhead_")
    if default_path:
        callbacks += [GANCheckpoint(dirpath=os.path.join(folder, "ck")), HealthMonitor()]
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, logger=CSVLogger(folder) if default_path else False,
        enable_checkpointing=default_path, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, callbacks=callbacks, default_root_dir=folder,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, datamodule=GANDataModule("ring8", batch_size=batch, batches_per_epoch=warmup + steps,
                                                   steps_per_batch=steps_per_batch))
    shutil.rmtree(folder, ignore_errors=True)
    return (clock.end - clock.start) / steps


def _raw_batches(batch: int, n: int) -> Iterator[Tensor]:
    data = GANDataModule("ring8", batch_size=batch)
    return iter(SampleBatches(data.distribution, batch, n, data.seed))


def time_raw(case: str, nets: tuple[nn.Module, nn.Module], batch: int, warmup: int, steps: int) -> float:
    """Seconds per critic step of a plain PyTorch loop with the same math (after ``warmup`` steps)."""
    loss_name, n_critic, gp, clip = CASES[case]
    loss = get_loss(loss_name)
    g, d = (copy.deepcopy(n) for n in nets)
    opt_g, opt_d = _adam(g.parameters()), _adam(d.parameters())
    d_params = list(d.parameters())
    start = 0.0
    for step, real in enumerate(_raw_batches(batch, warmup + steps)):
        if step == warmup:
            start = time.perf_counter()
        with torch.no_grad():
            fake = g(torch.randn(batch, 2))
        d_loss = loss.discriminator_loss(d(real).squeeze(-1), d(fake).squeeze(-1))
        if gp is not None:
            d_loss = d_loss + gp * gradient_penalty(d, real, fake)[0]
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        if clip is not None:
            with torch.no_grad():
                for p in d_params:
                    p.clamp_(-clip, clip)
        if (step + 1) % n_critic:
            continue
        for p in d_params:
            p.requires_grad_(False)
        fake_logits = d(g(torch.randn(batch, 2))).squeeze(-1)
        real_logits = None
        if loss.needs_real_logits:
            with torch.no_grad():
                real_logits = d(real).squeeze(-1)
        g_loss = loss.generator_loss(fake_logits, real_logits)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)
    return (time.perf_counter() - start) / steps


def run(cases: list[str], hidden: int, batch: int, warmup: int, steps: int, rounds: int,
        groupings: tuple[int, ...] = (1,), echo: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    """Time every case (raw loop, and ganmods bare and on the default path with each ``steps_per_batch`` in
    ``groupings``) and print the table; returns, per ganmods column, the median and the maximum over the
    cases of the ganmods / raw ratio."""
    nets = _nets(hidden, 0)
    columns = [(f"k{k}", k, False) for k in groupings] + [(f"k{k}+fit", k, True) for k in groupings]
    names = ["raw", *[c[0] for c in columns]]
    times: dict[str, dict[str, list[float]]] = {c: {n: [] for n in names} for c in cases}
    for r in range(rounds):
        for case in cases:
            order: list[tuple[str, Callable[[], float]]] = [("raw", lambda: time_raw(case, nets, batch, warmup, steps))]
            order += [(name, lambda k=k, d=d: time_ganmods(case, nets, batch, warmup, steps, k, d))
                      for name, k, d in columns]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                times[case][name].append(fn())
    head = "".join(f" {name + ' ms':>12} {'ratio':>6}" for name, _, _ in columns)
    echo(f"{'loss':<16} {'raw ms/step':>12}{head}")
    ratios: dict[str, list[float]] = {name: [] for name, _, _ in columns}
    for case in cases:
        raw = statistics.median(times[case]["raw"])
        row = f"{case:<16} {raw * 1e3:>12.3f}"
        for name, _, _ in columns:
            ours = statistics.median(times[case][name])
            # the ratio of each round's adjacent pair (same machine state), then the median over rounds
            ratio = statistics.median(a / b for a, b in zip(times[case][name], times[case]["raw"]))
            ratios[name].append(ratio)
            row += f" {ours * 1e3:>12.3f} {ratio:>6.3f}"
        echo(row)
    return {name: {"median": statistics.median(v), "max": max(v)} for name, v in ratios.items()}


def main(argv: Optional[list[str]] = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--losses", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps-per-batch", type=int, nargs="+", default=[1, 10],
                        help="critic steps per Lightning batch (GANDataModule steps_per_batch); one column each, "
                             "the last line reports the last value")
    args = parser.parse_args(argv)
    for k in args.steps_per_batch:
        if k < 1 or args.warmup % k or args.steps % k:
            parser.error(f"--steps-per-batch must be positive divisors of --warmup and --steps; got {k}")
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, lightning {pl.__version__}, {args.threads} thread(s), MLP hidden "
          f"{args.hidden} x3, batch {args.batch}, {args.steps} timed steps x {args.rounds} rounds (median)")
    summary = run(args.losses, args.hidden, args.batch, args.warmup, args.steps, args.rounds,
                  tuple(args.steps_per_batch))
    for name, stats in summary.items():
        path = "default ganmods fit path" if name.endswith("+fit") else "bare trainer"
        print(f"steps_per_batch={name[1:].split('+')[0]} ({path}): ratio median over losses {stats['median']:.3f}, "
              f"max {stats['max']:.3f}")
    print(f"overhead_ratio_max={summary[f'k{args.steps_per_batch[-1]}+fit']['max']:.3f}")


if __name__ == "__main__":
    main()
