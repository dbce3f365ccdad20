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


# The same table in float64 torch, to compare the float32 closed forms against over a range of outputs.
TEXTBOOK = {
    "kl": (lambda v: v, lambda t: torch.exp(t - 1)),
    "reverse_kl": (lambda v: -torch.exp(-v), lambda t: -1 - torch.log(-t)),
    "pearson": (lambda v: v, lambda t: t * t / 4 + t),
    "neyman": (lambda v: 1 - torch.exp(-v), lambda t: 2 - 2 * torch.sqrt(1 - t)),
    "hellinger": (lambda v: 1 - torch.exp(-v), lambda t: t / (1 - t)),
    "js": (lambda v: math.log(2) - torch.log1p(torch.exp(-v)), lambda t: -torch.log(2 - torch.exp(t))),
    "gan": (lambda v: -torch.log1p(torch.exp(-v)), lambda t: -torch.log(1 - torch.exp(t))),
    "tv": (lambda v: 0.5 * torch.tanh(v), lambda t: t),
}
FMAX = torch.finfo(torch.float32).max
# the whole float32 range of critic outputs: a dense moderate range, a wide one, and the extremes
WIDE = torch.cat([torch.linspace(-1e4, 1e4, 20001), torch.logspace(0, 38, 400), -torch.logspace(0, 38, 400),
                  torch.tensor([3e38, -3e38, FMAX, -FMAX, 90.0, -178.0])])


@pytest.mark.parametrize("kind", sorted(TEXTBOOK))
def test_closed_forms_equal_the_textbook_formula_in_float64(kind):
    v = torch.cat([torch.linspace(-10, 10, 2001), torch.tensor([1e-6, -1e-6, 1e-3, -1e-3, -3.999])])
    g, fstar = TEXTBOOK[kind]
    act, conj = FGAN_DIVERGENCES[kind]
    t = g(v.double())  # the textbook at the same (float32) points, in float64
    torch.testing.assert_close(act(v).double(), t, rtol=1e-5, atol=0.0)
    torch.testing.assert_close(conj(v).double(), fstar(t), rtol=1e-5, atol=0.0)


@pytest.mark.parametrize("saturating", [False, True])
@pytest.mark.parametrize("kind", sorted(TEXTBOOK))
def test_finite_over_the_whole_float32_range(kind, saturating):
    loss = LOSSES[f"fgan_{kind}"](saturating=saturating)
    act, conj = FGAN_DIVERGENCES[kind]
    assert torch.isfinite(act(WIDE)).all() and torch.isfinite(conj(WIDE)).all()
    one = lambda x: torch.tensor([x])  # noqa: E731
    batches = [(WIDE, WIDE.flip(0)), (one(FMAX), one(-FMAX)), (one(-FMAX), one(FMAX)),
               (torch.full((64,), FMAX), torch.full((64,), FMAX)), (torch.full((64,), -FMAX), torch.full((64,), -FMAX))]
    for r, f in batches:
        real, fake = r.clone().requires_grad_(True), f.clone().requires_grad_(True)
        d = loss.discriminator_loss(real, fake)
        g = loss.generator_loss(fake)
        div = loss.divergence(real, fake, d)
        d_real, d_fake = torch.autograd.grad(d, (real, fake))
        (g_fake,) = torch.autograd.grad(g, fake)
        for value in (d, g, div, d_real, d_fake, g_fake):
            assert torch.isfinite(value).all()


def test_the_old_overflow_points_are_finite_and_still_push_the_critic_back():
    # KL's critic loss was inf at v = 90 (exp overflow) and Neyman's NaN at v = -178 (inf - inf)
    for kind, v in (("kl", 90.0), ("neyman", -178.0), ("hellinger", 100.0), ("reverse_kl", -100.0)):
        x = torch.tensor([v], requires_grad=True)
        d = LOSSES[f"fgan_{kind}"]().discriminator_loss(x, x)
        (grad,) = torch.autograd.grad(d, x)
        assert torch.isfinite(d) and torch.isfinite(grad).all() and grad.abs().item() > 0
    # beyond the exact range the conjugate keeps growing (monotone), so a fake scored high is still penalised
    v = torch.linspace(60, 1e4, 5000)
    conj = FGAN_DIVERGENCES["kl"][1](v)
    assert (conj[1:] >= conj[:-1]).all() and conj[-1] > conj[0]
    x = torch.tensor([1e4], requires_grad=True)
    (slope,) = torch.autograd.grad(FGAN_DIVERGENCES["kl"][1](x).sum(), x)
    assert slope.item() > 0


@pytest.mark.parametrize("kind, bound", [("kl", 70.0), ("hellinger", 69.0)])
def test_continuation_keeps_value_and_slope_at_the_bound(kind, bound):
    conj = FGAN_DIVERGENCES[kind][1]
    x = torch.tensor([bound - 1e-3, bound, bound + 1e-3], dtype=torch.float64, requires_grad=True)
    y = conj(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    exact = torch.exp(torch.tensor(bound - (1.0 if kind == "kl" else 0.0), dtype=torch.float64))
    torch.testing.assert_close(y.detach()[1], exact, rtol=1e-9, atol=0.0)
    torch.testing.assert_close(slope, torch.full_like(slope, float(exact)), rtol=2e-3, atol=0.0)


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
