"""CycleGAN benchmark on the digits / inverted-digits pair: train the shipped config over several seeds, one after
another, and score each final model on the held-out digits (the test half: only reported; and the validation
half).

Each run is ``ganmods fit -c cyclegan/digits_inverted`` with only the seeds (``seed_everything``, ``data.seed``), the
output folder and the metric cache overridden, on ``--threads`` CPU threads. After training, the final model (the
state ``last.ckpt`` holds) is scored by the data module's protocol (:mod:`ganmods.data.two_domain`):
``ab_label_preserved`` (the shipped digit classifier labels the A -> B translation, inverted back, as the source
digit), ``ab_mse`` (mean squared error to the true inversion, per pixel in [-1, 1] units), ``ab_fid_148`` (digit-space
FID against held-out B) and their B -> A counterparts. Two reference rows are scored by the same protocol: the true
mapping (x -> -x: the classifier's own accuracy bounds ``label_preserved``) and the identity (no translation).

Writes ``<out>/seed_<s>.json`` per run, ``<out>/references.json``, ``<out>/summary.json`` and, for the first seed,
``--grid`` (held-out test digits: A, A -> B, A -> B -> A, one row each).

Usage:
    python benchmarks/cyclegan.py --seeds 0 1 2 --threads 1 --out benchmarks/results/cyclegan \
        --grid docs/images/cyclegan_digits.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any

import torch


class _Mapping:
    """A fixed translation (the true one, or none), scored by the same protocol as a trained model."""

    def __init__(self, invert: bool) -> None:
        self.invert = invert

    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        return -images if self.invert else images.clone()


def run_one(config: str, seed: int, root: str) -> tuple[dict[str, Any], Any]:
    """Train one seed; return its record and the trained CLI (model and data module)."""
    from ganmods.cli import GANCLI

    args = ["fit", "-c", config, f"--seed_everything={seed}", f"--data.seed={seed}",
            f"--trainer.logger.init_args.save_dir={root}", f"--trainer.logger.init_args.name=s{seed}",
            f"--data.metric.init_args.cache_dir={os.path.join(root, 'metric_cache')}",
            "--trainer.enable_progress_bar=false"]
    load_before = os.getloadavg()
    start = time.perf_counter()
    cli = GANCLI(args=args)
    seconds = time.perf_counter() - start
    model, dm = cli.model.eval(), cli.datamodule
    record = {
        "config": config, "seed": seed, "seconds": round(seconds, 1), "threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "generator_steps": model.generator_steps, "images_seen": model.images_seen,
        "command": "ganmods " + " ".join(args),
        "test": dm.evaluate(model, split="test"), "val": dm.evaluate(model, split="val"),
    }
    return record, cli


def write_grid(cli: Any, path: str, count: int = 10) -> None:
    """Held-out test digits (row 1), their translations to B (row 2) and back to A (row 3)."""
    from ganmods.data.two_domain import unpair
    from ganmods.images import image_grid, write_png

    a, _ = unpair(cli.datamodule.eval_reference("test"))
    a = a[:count]
    fake_b = cli.model.translate(a, "AB")
    rec_a = cli.model.translate(fake_b, "BA")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_png(image_grid(torch.cat([a, fake_b.cpu(), rec_a.cpu()]), nrow=count, padding=2), path)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, min and max over seeds of every test value, and the longest run."""
    names = list(rows[0]["test"])
    out: dict[str, Any] = {"seeds": [r["seed"] for r in rows], "max_seconds": max(r["seconds"] for r in rows)}
    for name in names:
        values = [r["test"][name] for r in rows]
        out[name] = {"mean": statistics.mean(values), "min": min(values), "max": max(values)}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cyclegan/digits_inverted")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--out", default="benchmarks/results/cyclegan")
    parser.add_argument("--grid", default=None, help="PNG of A -> B -> A translations (first seed)")
    parser.add_argument("--runs", default=None, help="where the runs' logs and checkpoints go (default: a temp dir)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("WANDB_MODE", "disabled")
    torch.set_num_threads(args.threads)
    root = args.runs or tempfile.mkdtemp(prefix="cyclegan_bench_")
    os.makedirs(args.out, exist_ok=True)
    machine = {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
               "python": sys.version.split()[0], "torch": torch.__version__}
    rows = []
    for i, seed in enumerate(args.seeds):
        record, cli = run_one(args.config, seed, root)
        record["machine"] = machine
        rows.append(record)
        with open(os.path.join(args.out, f"seed_{seed}.json"), "w") as fh:
            json.dump(record, fh, indent=2)
        print(json.dumps({"seed": seed, "seconds": record["seconds"], **record["test"]}), flush=True)
        if i == 0:
            references = {name: {split: cli.datamodule.evaluate(_Mapping(invert), split=split)
                                 for split in ("test", "val")}
                          for name, invert in (("true_mapping", True), ("identity", False))}
            with open(os.path.join(args.out, "references.json"), "w") as fh:
                json.dump(references, fh, indent=2)
            if args.grid:
                write_grid(cli, args.grid)
    summary = summarize(rows)
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
