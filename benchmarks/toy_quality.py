"""Quality benchmark: train shipped configs over several seeds and record their scores (toy: mode coverage;
images: the datamodule's FID/KID).

Each run is ``ganmods fit -c CONFIG`` with only the seed (``seed_everything`` and ``data.seed``), the
dataset (``--data.dataset``) and the output folder overridden. After training, the final generator
is scored by the datamodule's protocol (2500 samples, fixed latents): modes captured, fraction of
high-quality samples (within 3 sigma of the nearest centre), reverse KL over modes.

Usage:
    python benchmarks/toy_quality.py --configs configs/toy/*.yaml --seeds 0 1 2 3 4 --dataset ring8 \
        --jobs 2 --out benchmarks/results/toy_ring8.json

With ``--jobs 2`` two runs go at once, each on one thread (one core each on a 2-core machine); the
seconds recorded per run are that run's own wall-clock.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import warnings
from typing import Optional
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch


def run_one(config: str, seed: int, dataset: Optional[str], root: str, threads: int = 0) -> dict:
    """Train one config with one seed; return its final metrics and wall-clock."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("WANDB_MODE", "disabled")
    if threads:
        torch.set_num_threads(threads)
    from ganmods.cli import GANCLI

    name = os.path.splitext(os.path.basename(config))[0]
    args = [
        "fit", "-c", config, f"--seed_everything={seed}", f"--data.seed={seed}",
        f"--trainer.logger.init_args.save_dir={root}", f"--trainer.logger.init_args.name={name}_{dataset}_s{seed}",
        "--trainer.enable_progress_bar=false",
    ] + ([f"--data.dataset={dataset}"] if dataset else [])
    start = time.perf_counter()
    cli = GANCLI(args=args)
    seconds = time.perf_counter() - start
    metrics = cli.datamodule.evaluate(cli.model)
    return {
        "config": config, "dataset": cli.datamodule.dataset, "seed": seed, "seconds": round(seconds, 1),
        "generator_steps": cli.model.generator_steps, "critic_steps": cli.model.critic_steps, **metrics,
    }


def summarize(rows: list[dict]) -> str:
    """A Markdown table: per config, seeds run, mean (min-max) modes and HQ%, mean reverse KL, max seconds
    (image data: mean (min-max) of every FID/KID value instead)."""
    if rows and "modes" not in rows[0]:
        return summarize_images(rows)
    lines = ["| config | seeds | modes (mean, min–max) | HQ % (mean, min–max) | reverse KL | max s/run |",
             "|---|---|---|---|---|---|"]
    for config in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == config]
        modes = [r["modes"] for r in rs]
        hq = [100 * r["hq"] for r in rs]
        rkl = [r["reverse_kl"] for r in rs]
        lines.append(
            f"| {os.path.basename(config)} | {len(rs)} | {statistics.mean(modes):.1f} ({min(modes):.0f}–{max(modes):.0f}) "
            f"| {statistics.mean(hq):.1f} ({min(hq):.1f}–{max(hq):.1f}) | {statistics.mean(rkl):.3f} "
            f"| {max(r['seconds'] for r in rs):.0f} |"
        )
    return "\n".join(lines)


def summarize_images(rows: list[dict]) -> str:
    """A Markdown table for image runs: per config, seeds run, mean (min-max) of each FID/KID value."""
    keys = [k for k in rows[0] if k.startswith(("fid_", "kid_")) and not k.endswith("_std")]
    lines = ["| config | seeds | " + " | ".join(f"{k} (mean, min–max)" for k in keys) + " | max s/run |",
             "|---|---|" + "---|" * len(keys) + "---|"]
    for config in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == config]
        cells = [f"{statistics.mean(v):.2f} ({min(v):.2f}–{max(v):.2f})" for v in ([r[k] for r in rs] for k in keys)]
        lines.append(f"| {os.path.basename(config)} | {len(rs)} | " + " | ".join(cells)
                     + f" | {max(r['seconds'] for r in rs):.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+")
    parser.add_argument("--report", nargs="+", metavar="JSON", help="print the tables of recorded results and exit")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--dataset", default=None, help="override the configs' dataset (e.g. grid25)")
    parser.add_argument("--out", default=None, help="JSON file for the rows (rewritten after every run)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each on one thread when > 1)")
    args = parser.parse_args()
    if args.report:
        for path in args.report:
            with open(path) as fh:
                recorded = json.load(fh)
            print(f"`{recorded['command']}`\n")
            print(summarize(recorded["rows"]) + "\n")
        return
    if not args.configs:
        parser.error("--configs is required unless --report is given")
    tasks = [(c, s) for s in args.seeds for c in args.configs]  # seed-major: partial results cover every config
    threads = 1 if args.jobs > 1 else 0
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as root, ProcessPoolExecutor(
        max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1
    ) as pool:
        futures = [pool.submit(run_one, c, s, args.dataset, root, threads) for c, s in tasks]
        for future in as_completed(futures):
            row = future.result()
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.sort(key=lambda r: (args.configs.index(r["config"]), r["seed"]))
            if args.out:
                os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
                with open(args.out, "w") as fh:
                    json.dump({"jobs": args.jobs, "threads_per_run": threads or torch.get_num_threads(),
                               "cpu_count": os.cpu_count(), "command": " ".join(sys.argv), "rows": rows}, fh, indent=1)
    print(summarize(rows))


if __name__ == "__main__":
    main()
