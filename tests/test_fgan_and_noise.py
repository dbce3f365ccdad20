"""f-GAN losses (THEORY.md §6) and instance noise."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganmods import FGAN
from ganmods.errors import ConfigurationError
from ganmods.losses import FGAN_DIVERGENCES, LOSSES, FGANLoss
from ganmods.regularizers import InstanceNoise
from tests.conftest import tiny_nets

V = torch.tensor([-3.0, -0.5, 0.0, 0.7, 2.5])

# The table of THEORY.md §6 written literally: (g_f(v), f*(t)); composed below as f*(g_f(v)).
LITERAL = {
    "kl": (lambda v: v, lambda t: math.exp(t - 1)),
    "reverse_kl": (lambda v: -math.exp(-v), lambda t: -1 - math.log(-t)),
    "pearson": (lambda v: v, lambda t: t * t / 4 + t),
    "neyman": (lambda v: 1 - math.exp(-v), lambda t: 2 - 2 * math.sqrt(1 - t)),
    "hellinger": (lambda v: 1 - math.exp(-v), lambda t: t / (1 - t)),
    "js": (lambda v: math.log(2) - math.log1p(math.exp(-v)), lambda t: -math.log(2 - math.exp(t))),
    "gan": (lambda v: -math.log1p(math.exp(-v)), lambda t: -math.log(1 - math.exp(t))),
    "tv": (lambda v: 0.5 * math.tanh(v), lambda t: t),
}


@pytest.mark.parametrize("kind", sorted(LITERAL))
def test_closed_forms_equal_the_literal_table(kind):
    g, fstar = LITERAL[kind]
    act, conj = FGAN_DIVERGENCES[kind]
    for v in V.tolist():
        assert float(act(torch.tensor(v))) == pytest.approx(g(v), rel=1e-5, abs=1e-6)
        assert float(conj(torch.tensor(v))) == pytest.approx(fstar(g(v)), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind", sorted(LITERAL))
def test_losses_match_the_variational_bound_by_hand(kind):
    g, fstar = LITERAL[kind]
    real, fake = V, V.flip(0) * 0.5
    bound = sum(g(v) for v in real.tolist()) / 5 - sum(fstar(g(v)) for v in fake.tolist()) / 5
    loss = LOSSES[f"fgan_{kind}"]()
    d = loss.discriminator_loss(real, fake)
    assert float(d) == pytest.approx(-bound, rel=1e-5, abs=1e-6)
    assert float(loss.divergence(real, fake, d)) == pytest.approx(bound, rel=1e-5, abs=1e-6)
    assert float(loss.generator_loss(fake)) == pytest.approx(-sum(g(v) for v in fake.tolist()) / 5, rel=1e-5, abs=1e-6)
    sat = LOSSES[f"fgan_{kind}"](saturating=True)
    assert float(sat.generator_loss(fake)) == pytest.approx(-sum(fstar(g(v)) for v in fake.tolist()) / 5, rel=1e-5, abs=1e-6)


def test_fgan_gan_discriminator_loss_is_the_sgan_loss():
    real, fake = torch.randn(64), torch.randn(64, 1)
    assert torch.allclose(LOSSES["fgan_gan"]().discriminator_loss(real, fake), LOSSES["saturating"]().discriminator_loss(real, fake))


@pytest.mark.parametrize("kind", sorted(LITERAL))
def test_finite_for_extreme_critic_outputs(kind):
    v = torch.tensor([-30.0, -5.0, 5.0, 30.0], requires_grad=True)
    loss = LOSSES[f"fgan_{kind}"]()
    total = loss.discriminator_loss(v, v.clamp(-15, 15)) + loss.generator_loss(v.clamp(-15, 15))
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(v.grad).all()


def test_fgan_variant_and_bad_divergence():
    model = FGAN(**tiny_nets(), divergence="pearson")
    assert model.loss.name == "fgan_pearson" and isinstance(model.loss, FGANLoss)
    with pytest.raises(ConfigurationError, match=r"divergence must be one of \[.*'tv'\]; got 'chi'"):
        FGAN(**tiny_nets(), divergence="chi")


def test_instance_noise_schedules():
    lin = InstanceNoise(sigma=0.2, schedule="linear", anneal_steps=100)
    assert [lin.sigma_at(t) for t in (0, 50, 100, 500)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    exp = InstanceNoise(sigma=0.2, schedule="exponential", anneal_steps=100)
    assert exp.sigma_at(0) == pytest.approx(0.2) and exp.sigma_at(50) == pytest.approx(0.02)
    assert exp.sigma_at(100) == 0.0
    const = InstanceNoise(sigma=0.3, schedule="constant")
    assert const.sigma_at(10**6) == 0.3


def test_instance_noise_adds_noise_of_the_scheduled_size_and_none_at_zero():
    torch.manual_seed(0)
    noise = InstanceNoise(sigma=0.5, schedule="linear", anneal_steps=10)
    x = torch.zeros(20000, 2)
    assert noise.transform(x, 0).std().item() == pytest.approx(0.5, rel=0.03)
    assert noise.transform(x, 5).std().item() == pytest.approx(0.25, rel=0.03)
    assert torch.equal(noise.transform(x, 10), x)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(sigma=-0.1), "sigma must be a finite number >= 0; got -0.1"),
        (dict(schedule="cosine"), "schedule must be one of ['constant', 'linear', 'exponential']; got 'cosine'"),
        (dict(anneal_steps=0), "anneal_steps must be an integer >= 1; got 0"),
    ],
)
def test_instance_noise_bad_input(kwargs, fragment):
    with pytest.raises(ConfigurationError) as err:
        InstanceNoise(**kwargs)
    assert fragment in str(err.value)


def test_instance_noise_reaches_the_critic_in_both_steps(tmp_path):
    from ganmods import SGAN, GANDataModule
    from tests.conftest import fast_trainer

    seen = []

    class Spy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = tiny_nets()["discriminator"]

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.inner(x)

    model = SGAN(tiny_nets()["generator"], Spy(), regularizers=[InstanceNoise(sigma=100.0, schedule="constant")],
                 max_generator_steps=1)
    fast_trainer(tmp_path).fit(model, datamodule=GANDataModule(batch_size=64, batches_per_epoch=5))
    # check_networks' dry run (2 samples) is clean; the critic step's real/fake and the G step's fake are noised
    noised = [x for x in seen if x.shape[0] == 64]
    assert len(noised) == 3 and all(x.std() > 50 for x in noised)
    assert F.mse_loss(noised[0], torch.zeros_like(noised[0])) > 1000
