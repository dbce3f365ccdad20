"""BiGAN benchmark: train a shipped ``configs/bigan`` config over seeds, one run after another, and record the
generator's protocol scores with the encoder's (reconstruction, latent recovery, linear probe).

Each run is ``ganmods fit -c CONFIG`` with only the seed (``seed_everything`` and ``data.seed``) and the output
folder overridden. After training, the final EMA networks are scored on the data module's **test** reference
(disjoint from the validation reference the run logged; :mod:`ganmods.data.splits`):

* toy data (PacGAN protocol): 2500 samples from fixed latents, modes captured, high-quality share (within 3σ of the
  nearest centre), reverse KL over modes;
* digits: FID/KID in digit-classifier space (1500 samples against the 148 test-half digits) and the linear probe
  (logistic regression on ``E(x)`` of the 1500 training digits, scored on the test half) beside the same probe on
  a randomly initialised encoder and on raw pixels;
* both: ``reconstruction_mse`` (mean squared error per value of ``G(E(x))`` on the test reference's real points)
  and ``latent_mse`` (of ``E(G(z))`` on 2000 seeded test latents).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bigan.py --config configs/bigan/ring8.yaml --seeds 0 1 2 \\
        --out benchmarks/results/bigan/ring8.json --figure docs/images/bigan_ring8.png
    python benchmarks/bigan.py --report benchmarks/results/bigan/ring8.json

``--figure`` draws the first seed's samples and reconstructions. Rows are written after every run, so an
interrupted benchmark keeps the runs it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Optional

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

#: ALI as published in the PacGAN paper (Lin et al. 2018): modes captured and high-quality share.
ALI_PACGAN = {"ring8": {"modes": 6.6, "hq": 0.976}, "grid25": {"modes": 24.1, "hq": 0.957}}


def run_one(config: str, seed: int, root: str) -> tuple[dict[str, Any], Any, Any]:
    """Train ``config`` with ``seed``; return its row (test-reference scores, wall-clock), the module and the data
    module."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("WANDB_MODE", "disabled")
    from ganmods.cli import GANCLI

    name = os.path.splitext(os.path.basename(config))[0]
    args = ["fit", "-c", config, f"--seed_everything={seed}", f"--data.seed={seed}",
            f"--trainer.logger.init_args.save_dir={root}", f"--trainer.logger.init_args.name={name}_s{seed}",
            "--trainer.enable_progress_bar=false"]
    start = time.perf_counter()
    cli = GANCLI(args=args)
    seconds = time.perf_counter() - start
    model, dm = cli.model.eval(), cli.datamodule
    row = {"config": config, "dataset": dm.dataset, "seed": seed, "seconds": round(seconds, 1),
           "generator_steps": model.generator_steps, "critic_steps": model.critic_steps, **score(model, dm)}
    return row, model, dm


@torch.no_grad()
def score(model: Any, dm: Any, split: str = "test") -> dict[str, float]:
    """The protocol's scores of ``model`` on ``split`` and the encoder's errors (and probe on labelled data)."""
    out = {k: float(v) for k, v in dm.evaluate(model, split=split).items()}
    real = dm.eval_reference(split)
    out["reconstruction_mse"] = float((model.reconstruct(real).cpu() - real).pow(2).mean())
    out["latent_mse"] = float(model.latent_recovery_mse(split=split))
    out.update(model.probe_scores(dm, split))
    return out


@torch.no_grad()
def figure(model: Any, dm: Any, path: str, title: str) -> str:
    """Samples and reconstructions of the test reference's real points: a scatter pair for 2-D data, an image
    grid (samples, then rows of real digits each above its reconstruction) for images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganmods.images import image_grid

    real = dm.eval_reference("test")
    if not dm.is_image:
        fake = model.sample(2500, seed=0).cpu()
        held = real[:300]
        recon = model.reconstruct(held).cpu()
        fig, axes = plt.subplots(1, 2, figsize=(10, 5), dpi=100)
        bounds = dm.distribution.bounds()
        axes[0].scatter(real[:, 0], real[:, 1], s=2, c="black", label="real (test reference)")
        axes[0].scatter(fake[:, 0], fake[:, 1], s=2, c="orangered", alpha=0.5, label="G(z), 2500 fixed latents")
        axes[0].set_title("samples")
        for x, r in zip(held, recon):
            axes[1].plot([x[0], r[0]], [x[1], r[1]], c="grey", lw=0.4)
        axes[1].scatter(held[:, 0], held[:, 1], s=4, c="black", label="x (test reference)")
        axes[1].scatter(recon[:, 0], recon[:, 1], s=4, c="royalblue", label="G(E(x))")
        axes[1].set_title("reconstructions (lines join x and G(E(x)))")
        for ax in axes:
            ax.set_xlim(bounds[0], bounds[1])
            ax.set_ylim(bounds[2], bounds[3])
            ax.set_aspect("equal")
            ax.legend(loc="upper right", fontsize=7, markerscale=3)
    else:
        n = 16
        held = real[:3 * n]
        recon = model.reconstruct(held).cpu()
        pairs = torch.cat([torch.cat([held[i * n:(i + 1) * n], recon[i * n:(i + 1) * n]]) for i in range(3)])
        fig, axes = plt.subplots(2, 1, figsize=(8, 6.6), dpi=100, gridspec_kw={"height_ratios": [4, 6]})
        for ax, images, label in ((axes[0], model.sample(4 * n, seed=0).cpu(), "samples G(z)"),
                                  (axes[1], pairs, "test digits x (odd rows) and reconstructions G(E(x)) (even rows)")):
            ax.imshow(image_grid(images, nrow=n).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_title(label, fontsize=9)
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _mean_range(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    vs = [v * scale for v in values]
    return f"{statistics.mean(vs):.{digits}f} ({min(vs):.{digits}f}–{max(vs):.{digits}f})"


def summarize(rows: list[dict[str, Any]]) -> str:
    """A Markdown table per dataset: mean (min–max) over the seeds of every score, and the ALI row where the
    PacGAN paper has one."""
    lines: list[str] = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == dataset]
        seconds = f"{max(r['seconds'] for r in rs):.0f}"
        if "modes" in rs[0]:
            n_modes = 8 if dataset == "ring8" else 25
            lines += [f"| {dataset} | seeds | modes of {n_modes} | HQ % | reverse KL | reconstruction MSE | latent MSE "
                      "| max s/run |", "|---|---|---|---|---|---|---|---|"]
            lines.append(
                f"| BiGAN (ours) | {', '.join(str(r['seed']) for r in rs)} | {_mean_range([r['modes'] for r in rs])} "
                f"| {_mean_range([r['hq'] for r in rs], 100)} | {_mean_range([r['reverse_kl'] for r in rs], 1, 3)} "
                f"| {_mean_range([r['reconstruction_mse'] for r in rs], 1, 4)} "
                f"| {_mean_range([r['latent_mse'] for r in rs], 1, 3)} | {seconds} |")
            ali = ALI_PACGAN.get(dataset)
            if ali:
                lines.append(f"| ALI (published, PacGAN paper) | — | {ali['modes']} | {100 * ali['hq']:.1f} | — | — | — | — |")
        else:
            fid = next((k for k in rs[0] if k.startswith("fid_")), None)
            lines += [f"| {dataset} | seeds | probe acc. E(x) % | random encoder % | raw pixels % | {fid or 'FID'} "
                      "| reconstruction MSE | latent MSE | max s/run |", "|---|---|---|---|---|---|---|---|---|"]
            lines.append(
                f"| BiGAN (ours) | {', '.join(str(r['seed']) for r in rs)} "
                f"| {_mean_range([r['probe_accuracy'] for r in rs], 100)} "
                f"| {_mean_range([r['probe_accuracy_random_encoder'] for r in rs], 100)} "
                f"| {_mean_range([r['probe_accuracy_pixels'] for r in rs], 100)} "
                f"| {_mean_range([r[fid] for r in rs], 1, 2) if fid else '—'} "
                f"| {_mean_range([r['reconstruction_mse'] for r in rs], 1, 4)} "
                f"| {_mean_range([r['latent_mse'] for r in rs], 1, 3)} | {seconds} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the benchmark (or print the table of a results file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a configs/bigan/*.yaml file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="results JSON (rows appended run by run)")
    parser.add_argument("--figure", help="PNG of the first seed's samples and reconstructions")
    parser.add_argument("--report", help="print the table of a results JSON and exit")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as fh:
            print(summarize(json.load(fh)))
        return 0
    if not args.config or not args.out:
        parser.error("--config and --out are required (or --report)")
    rows: list[dict[str, Any]] = []
    if os.path.exists(args.out):
        with open(args.out) as fh:
            rows = [r for r in json.load(fh) if r["config"] != args.config or r["seed"] not in args.seeds]
    with tempfile.TemporaryDirectory() as root:
        for i, seed in enumerate(args.seeds):
            row, model, dm = run_one(args.config, seed, root)
            rows.append(row)
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as fh:
                json.dump(rows, fh, indent=1)
            print(json.dumps(row), flush=True)
            if i == 0 and args.figure:
                name = os.path.splitext(os.path.basename(args.config))[0]
                figure(model, dm, args.figure, f"BiGAN, configs/bigan/{name}.yaml, seed {seed}, "
                       f"{model.generator_steps} generator steps (EMA networks)")
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
