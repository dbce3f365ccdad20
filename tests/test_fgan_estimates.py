"""Each f-GAN critic, maximising F on samples of two known 1-D Gaussians, estimates its divergence.

P = N(0, 1), Q = N(1, 1): KL(P‖Q) = KL(Q‖P) = 1/2, Pearson χ² = Neyman χ² = e − 1,
squared Hellinger ∫(√p − √q)² = 2(1 − e^(−1/8)); for the JS row the conjugate of THEORY.md §6 bounds
∫ p log(2p/(p+q)) + q log(2q/(p+q)) = 2·JS, computed by numerical integration.
"""

from __future__ import annotations

import math

import pytest
import torch

from ganmods.losses import LOSSES


def _two_js() -> float:
    x = torch.linspace(-12, 13, 200_001, dtype=torch.float64)
    p = torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)
    q = torch.exp(-(x - 1) ** 2 / 2) / math.sqrt(2 * math.pi)
    m = (p + q) / 2
    integrand = p * torch.log(p / m) + q * torch.log(q / m)
    return float(torch.trapezoid(integrand, x))


CLOSED_FORM = {
    "kl": 0.5,
    "reverse_kl": 0.5,
    "pearson": math.e - 1,
    "neyman": math.e - 1,
    "hellinger": 2 * (1 - math.exp(-1 / 8)),
    "js": _two_js(),
}


def _estimate(kind: str, steps: int = 700, batch: int = 2048) -> float:
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                 torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss = LOSSES[f"fgan_{kind}"]()
    for _ in range(steps):
        p, q = torch.randn(batch, 1), torch.randn(batch, 1) + 1
        d = loss.discriminator_loss(critic(p), critic(q))
        opt.zero_grad()
        d.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        p, q = torch.randn(200_000, 1), torch.randn(200_000, 1) + 1
        d = loss.discriminator_loss(critic(p), critic(q))
        return float(loss.divergence(critic(p), critic(q), d))


@pytest.mark.parametrize("kind", sorted(CLOSED_FORM))
def test_maximised_bound_is_within_10_percent_of_the_divergence(kind):
    estimate = _estimate(kind)
    assert estimate == pytest.approx(CLOSED_FORM[kind], rel=0.10)
