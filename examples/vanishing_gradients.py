"""Arjovsky & Bottou (2017), reproduced: the saturating generator cost's gradient vanishes as the
discriminator improves; the -log D cost's does not; instance noise keeps the gradient alive.

The generator is frozen (at initialisation); a discriminator is trained from scratch with the SGAN loss.
Every few discriminator iterations we measure the norm of the gradient, with respect to the generator's
parameters, of each generator cost: saturating ``-E[sp(C(G(z)))]`` and non-saturating ``E[sp(-C(G(z)))]``.
Run with and without instance noise (constant σ added to real and fake inputs), on the 2-D ring and on
scikit-learn's bundled 8x8 digits (1797 real images, as 64-d vectors in [-1, 1]).

Usage:
    python examples/vanishing_gradients.py --out benchmarks/results/vanishing_gradients
writes ``<out>.csv`` (one row per dataset, noise level and measured iteration) and ``<out>.png``.
"""

from __future__ import annotations

import argparse
import csv
import os
from typing import Callable

import torch
from torch import Tensor

from ganmods.data import make_toy
from ganmods.losses import LOSSES
from ganmods.nets import MLPCritic, MLPGenerator
from ganmods.regularizers import InstanceNoise


def digits() -> Tensor:
    """The 1797 scikit-learn digits as ``[1797, 64]`` floats in [-1, 1]."""
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().data, dtype=torch.float32)
    return x / 8.0 - 1.0


def run(
    name: str,
    real_sampler: Callable[[int, torch.Generator], Tensor],
    dim: int,
    sigma: float,
    iterations: int,
    every: int,
    seed: int = 0,
    batch: int = 256,
) -> list[dict]:
    """Train D from scratch against a frozen G; return the gradient norms of both G costs over time."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    gen = MLPGenerator(latent_dim=8, out_dim=dim, hidden=128, depth=3).requires_grad_(True)
    critic = MLPCritic(in_dim=dim, hidden=256, depth=3)
    opt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.999))
    sgan, sat, nonsat = LOSSES["saturating"](), LOSSES["saturating"](), LOSSES["non_saturating"]()
    noise = InstanceNoise(sigma=sigma, schedule="constant")
    z_eval = torch.randn(1024, 8, generator=rng)
    rows = []
    for it in range(iterations + 1):
        if it % every == 0:
            norms = {}
            for key, loss in (("saturating", sat), ("non_saturating", nonsat)):
                gen.zero_grad()
                torch.manual_seed(10_000 + it)  # same noise draw for both costs
                cost = loss.generator_loss(critic(noise.transform(gen(z_eval), 0)))
                cost.backward()
                norms[key] = float(torch.stack([p.grad.norm() for p in gen.parameters()]).norm())
            with torch.no_grad():
                real = real_sampler(1024, rng)
                acc = 0.5 * ((critic(real) > 0).float().mean() + (critic(gen(z_eval)) < 0).float().mean())
            rows.append({"dataset": name, "sigma": sigma, "d_iteration": it, "grad_norm_saturating": norms["saturating"],
                         "grad_norm_non_saturating": norms["non_saturating"], "d_accuracy": float(acc)})
        if it == iterations:
            break
        with torch.no_grad():
            fake = gen(torch.randn(batch, 8, generator=rng))
        real = real_sampler(batch, rng)
        d_loss = sgan.discriminator_loss(critic(noise.transform(real, 0)), critic(noise.transform(fake, 0)))
        opt.zero_grad()
        d_loss.backward()
        opt.step()
    return rows


def summarize(rows: list[dict]) -> dict:
    """Peak and final saturating gradient norm of one run and the fall between them in orders of magnitude."""
    import math

    sat = [r["grad_norm_saturating"] for r in rows]
    peak, final = max(sat), sat[-1]
    return {"peak": peak, "final": final, "drop_orders": math.log10(peak / final),
            "final_non_saturating": rows[-1]["grad_norm_non_saturating"], "d_accuracy": rows[-1]["d_accuracy"]}


def plot(rows: list[dict], path: str) -> None:
    """Gradient norm against discriminator iterations (log scale), one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for sigma in sorted({r["sigma"] for r in rows if r["dataset"] == ds}):
            rs = [r for r in rows if r["dataset"] == ds and r["sigma"] == sigma]
            its = [r["d_iteration"] for r in rs]
            tag = "no noise" if sigma == 0 else f"noise σ={sigma:g}"
            ls = "-" if sigma == 0 else "--"
            ax.plot(its, [r["grad_norm_saturating"] for r in rs], ls, color="tab:red", label=f"saturating, {tag}")
            ax.plot(its, [r["grad_norm_non_saturating"] for r in rs], ls, color="tab:blue", label=f"-log D, {tag}")
        ax.set_yscale("log")
        ax.set_xlabel("discriminator iterations (generator frozen)")
        ax.set_ylabel("‖∇θ G cost‖")
        ax.set_title(ds)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="vanishing_gradients", help="output path without extension")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--sigma-ring", type=float, default=0.5, help="instance noise σ for the noisy ring8 run")
    parser.add_argument("--sigma-digits", type=float, default=2.0, help="instance noise σ for the noisy digits run")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    ring = make_toy("ring8")
    data = digits()
    samplers = {
        "ring8 (2-D)": (lambda n, g: ring.sample(n, generator=g), 2, args.sigma_ring),
        "digits (64-d)": (lambda n, g: data[torch.randint(len(data), (n,), generator=g)], 64, args.sigma_digits),
    }
    rows: list[dict] = []
    for name, (sampler, dim, noisy) in samplers.items():
        for sigma in (0.0, noisy):
            rows += run(name, sampler, dim, sigma, args.iterations, args.every)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out + ".png")
    for name, (_, _, noisy) in samplers.items():
        for sigma in (0.0, noisy):
            s = summarize([r for r in rows if r["dataset"] == name and r["sigma"] == sigma])
            print(f"{name:14s} σ={sigma:<4g} saturating: peak {s['peak']:.3g} -> final {s['final']:.3g} "
                  f"(falls {s['drop_orders']:.2f} orders of magnitude); -log D final {s['final_non_saturating']:.3g}; "
                  f"D accuracy {s['d_accuracy']:.3f}")
    print(f"wrote {args.out}.csv and {args.out}.png")


if __name__ == "__main__":
    main()
