"""Gradient penalty (WGAN-GP, THEORY §3) and weight clipping (WGAN, THEORY §2)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganmods.errors import ConfigurationError
from ganmods.nets.mlp import MLPCritic
from ganmods.regularizers import GradientPenalty, Regularizer, WeightClipping, gradient_penalty

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _linear_critic(w: list[float]) -> nn.Linear:
    lin = nn.Linear(len(w), 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w]))
    return lin


def _norm(w: list[float]) -> float:
    return math.sqrt(sum(v * v for v in w))


def _nonlinear_critic() -> nn.Module:
    torch.manual_seed(123)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))


# ---------------------------------------------------------------------------------------------------------
# Exact values for linear critics
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.3, -0.4], [1.5, 0.0]])
def test_gp_of_linear_critic_2d(w):
    critic = _linear_critic(w)
    torch.manual_seed(0)
    real, fake = torch.randn(7, 2), torch.randn(7, 2)
    gp, norms = gradient_penalty(critic, real, fake)
    expected = (_norm(w) - 1.0) ** 2
    assert gp.dim() == 0
    assert float(gp.detach()) == pytest.approx(expected, rel=1e-5, abs=1e-8)
    assert norms.shape == (7,)
    assert torch.allclose(norms, torch.full((7,), _norm(w)), rtol=1e-5)


def test_gp_of_linear_critic_2d_with_1d_output():
    w = [3.0, 4.0]
    wt = torch.tensor(w)
    torch.manual_seed(1)
    gp, _ = gradient_penalty(lambda x: x @ wt, torch.randn(5, 2), torch.randn(5, 2))
    assert float(gp) == pytest.approx(16.0, rel=1e-6)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (3, 1, 2, 4)])
def test_gp_of_linear_critic_4d_norm_over_all_non_batch_dims(shape):
    b = shape[0]
    d = math.prod(shape[1:])
    g = torch.Generator().manual_seed(42)
    w = (torch.randn(d, generator=g) * 0.7).tolist()
    wt = torch.tensor(w)
    w_norm = _norm(w)
    assert abs(w_norm - 1.0) > 0.1

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ wt

    real = torch.randn(shape, generator=g)
    fake = torch.randn(shape, generator=g)
    gp, norms = gradient_penalty(critic, real, fake)
    assert norms.shape == (b,)
    assert torch.allclose(norms, torch.full((b,), w_norm), rtol=1e-5)
    assert float(gp) == pytest.approx((w_norm - 1.0) ** 2, rel=1e-5)


def test_gp_4d_with_conv_linear_critic():
    """A linear critic expressed as a conv + sum: the input gradient is a full [C, H, W] map."""
    conv = nn.Conv2d(2, 1, kernel_size=3, padding=1, bias=False)
    torch.manual_seed(3)
    real, fake = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)

    def critic(x):
        return conv(x).flatten(1).sum(1)

    # The gradient w.r.t. the input does not depend on x: compute it once, by hand, with ones as upstream.
    x = torch.zeros(1, 2, 4, 4, requires_grad=True)
    (gx,) = torch.autograd.grad(critic(x).sum(), x)
    expected_norm = math.sqrt(sum(v * v for v in gx.flatten().tolist()))
    gp, norms = gradient_penalty(critic, real, fake)
    assert torch.allclose(norms, torch.full((3,), expected_norm), rtol=1e-5)
    assert float(gp) == pytest.approx((expected_norm - 1.0) ** 2, rel=1e-5)


def test_gp_target():
    critic = _linear_critic([3.0, 4.0])
    gp, _ = gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2), target=2.0)
    assert float(gp) == pytest.approx(9.0, rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Per-sample epsilon, batch mean
# ---------------------------------------------------------------------------------------------------------


def test_gp_batch_equals_mean_of_per_sample_penalties():
    critic = _nonlinear_critic()
    torch.manual_seed(7)
    real, fake = torch.randn(6, 2), torch.randn(6, 2) * 2
    gp, norms = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(99))

    # The same epsilons, drawn per sample from an identically seeded generator.
    eps = torch.rand((6, 1), generator=torch.Generator().manual_seed(99))
    x_hat = eps * real + (1 - eps) * fake
    per_sample = []
    per_norm = []
    for i in range(6):
        # real == fake == x̂_i makes the interpolation ε-independent.
        xi = x_hat[i : i + 1]
        p, n = gradient_penalty(critic, xi, xi)
        per_sample.append(float(p))
        per_norm.append(float(n[0]))
    assert float(gp) == pytest.approx(sum(per_sample) / 6, rel=1e-5)
    assert norms.tolist() == pytest.approx(per_norm, rel=1e-5)
    # Not all the same: the critic is nonlinear, so a single ε per batch would give other numbers.
    assert max(per_sample) - min(per_sample) > 1e-4


def test_gp_uses_one_epsilon_per_sample_not_per_batch():
    critic = _nonlinear_critic()
    torch.manual_seed(8)
    real, fake = torch.randn(5, 2), torch.randn(5, 2) * 2
    gp, _ = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    eps0 = float(torch.rand((5, 1), generator=torch.Generator().manual_seed(5))[0])
    x_hat = eps0 * real + (1 - eps0) * fake  # a single shared ε
    shared, _ = gradient_penalty(critic, x_hat, x_hat)
    assert abs(float(gp) - float(shared)) > 1e-6


def test_gp_seeded_by_global_rng_is_reproducible():
    critic = _nonlinear_critic()
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    torch.manual_seed(11)
    a, _ = gradient_penalty(critic, real, fake)
    torch.manual_seed(11)
    b, _ = gradient_penalty(critic, real, fake)
    torch.manual_seed(12)
    c, _ = gradient_penalty(critic, real, fake)
    assert float(a) == float(b)
    assert float(a) != float(c)


def test_gp_does_not_backpropagate_into_real_or_fake():
    gen_param = torch.tensor(2.0, requires_grad=True)
    fake = torch.randn(4, 2) * gen_param
    real = torch.randn(4, 2).requires_grad_(True)
    critic = _nonlinear_critic()
    gp, _ = gradient_penalty(critic, real, fake)
    gp.backward()
    assert gen_param.grad is None
    assert real.grad is None


# ---------------------------------------------------------------------------------------------------------
# One-sided, zero gradient, create_graph
# ---------------------------------------------------------------------------------------------------------


def test_one_sided_ignores_norms_below_target():
    critic = _linear_critic([0.3, 0.4])  # ‖w‖ = 0.5
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    two, _ = gradient_penalty(critic, real, fake)
    one, _ = gradient_penalty(critic, real, fake, one_sided=True)
    assert float(two) == pytest.approx(0.25, rel=1e-5)
    assert float(one) == 0.0


def test_one_sided_equals_two_sided_above_target():
    critic = _linear_critic([3.0, 4.0])
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    one, _ = gradient_penalty(critic, real, fake, one_sided=True)
    assert float(one) == pytest.approx(16.0, rel=1e-6)


def test_gradient_penalty_module_one_sided_option():
    critic = _linear_critic([0.3, 0.4])
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    term, logs = GradientPenalty(weight=2.0, one_sided=True).penalty(critic, real, fake)
    assert float(term) == 0.0
    term, logs = GradientPenalty(weight=2.0).penalty(critic, real, fake)
    assert float(term) == pytest.approx(0.5, rel=1e-5)


def test_zero_gradient_critic_gives_finite_penalty_equal_to_target_squared():
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.zero_()
        critic.bias.fill_(0.7)  # constant output
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    gp, norms = gradient_penalty(critic, real, fake)
    assert torch.isfinite(gp)
    assert float(gp) == pytest.approx(1.0, abs=1e-5)
    assert torch.all(norms < 1e-5)
    gp.backward()
    assert torch.isfinite(critic.weight.grad).all()

    gp2, _ = gradient_penalty(critic, real, fake, target=3.0)
    assert float(gp2) == pytest.approx(9.0, abs=1e-4)


def test_zero_gradient_critic_through_module_is_finite():
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.zero_()
    term, logs = GradientPenalty(weight=10.0).penalty(critic, torch.randn(3, 2), torch.randn(3, 2))
    assert torch.isfinite(term)
    assert float(term) == pytest.approx(10.0, abs=1e-4)
    assert float(logs["gp_grad_norm"]) < 1e-5


def test_gp_backpropagates_into_critic_parameters_exactly():
    """For C(x) = w·x, d/dw (‖w‖ − 1)² = 2(‖w‖ − 1)·w/‖w‖ = [4.8, 6.4] at w = (3, 4)."""
    critic = _linear_critic([3.0, 4.0])
    gp, _ = gradient_penalty(critic, torch.randn(5, 2), torch.randn(5, 2))
    gp.backward()
    assert critic.weight.grad is not None
    assert critic.weight.grad.flatten().tolist() == pytest.approx([4.8, 6.4], rel=1e-5)


def test_gp_backpropagates_into_nonlinear_critic():
    critic = _nonlinear_critic()
    term, _ = GradientPenalty(weight=10.0).penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    assert term.requires_grad
    term.backward()
    # The output bias does not affect ∇x C, so it alone gets no gradient from the penalty.
    for name, p in critic.named_parameters():
        if name == "4.bias":
            assert p.grad is None or float(p.grad.abs().max()) == 0.0
        else:
            assert p.grad is not None and float(p.grad.abs().max()) > 0, name
    # First-layer weights only reach the penalty through the double-backward path.
    assert float(critic[0].weight.grad.abs().max()) > 0


def test_gp_backprop_through_mlp_critic_with_layer_norm():
    torch.manual_seed(0)
    critic = MLPCritic(hidden=8, depth=2, norm="layer")
    term, _ = GradientPenalty().penalty(critic, torch.randn(6, 2), torch.randn(6, 2))
    term.backward()
    grads = {n: p.grad for n, p in critic.named_parameters() if not n.endswith(".bias")}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert all(float(g.abs().max()) > 0 for g in grads.values())


# ---------------------------------------------------------------------------------------------------------
# The GradientPenalty object
# ---------------------------------------------------------------------------------------------------------


def test_gradient_penalty_weight_and_logs():
    critic = _linear_critic([3.0, 4.0])
    reg = GradientPenalty(weight=0.1)
    term, logs = reg.penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
    assert float(term) == pytest.approx(1.6, rel=1e-5)
    assert float(logs["gp"]) == pytest.approx(16.0, rel=1e-5)
    assert float(logs["gp_grad_norm"]) == pytest.approx(5.0, rel=1e-5)
    assert not logs["gp"].requires_grad
    assert not logs["gp_grad_norm"].requires_grad
    assert reg.per_sample_gradients is True
    assert reg.name == "gp"


def test_gradient_penalty_defaults():
    reg = GradientPenalty()
    assert reg.weight == 10.0
    assert reg.target == 1.0
    assert reg.one_sided is False


def test_mismatched_shapes_raise():
    critic = _linear_critic([1.0, 2.0])
    with pytest.raises(ConfigurationError):
        gradient_penalty(critic, torch.randn(4, 2), torch.randn(3, 2))
    with pytest.raises(ConfigurationError):
        GradientPenalty().penalty(critic, torch.randn(4, 2), torch.randn(4, 1, 2))


@pytest.mark.parametrize("arg", ["weight", "target"])
@pytest.mark.parametrize("value", [-1.0, -0.001, float("nan"), float("inf")])
def test_bad_weight_or_target_raise_naming_argument(arg, value):
    with pytest.raises(ConfigurationError) as info:
        GradientPenalty(**{arg: value})
    assert arg in str(info.value)


def test_one_sided_must_be_bool():
    with pytest.raises(ConfigurationError) as info:
        GradientPenalty(one_sided="yes")  # type: ignore[arg-type]
    assert "one_sided" in str(info.value)


def test_zero_weight_is_allowed():
    critic = _linear_critic([3.0, 4.0])
    term, _ = GradientPenalty(weight=0.0).penalty(critic, torch.randn(2, 2), torch.randn(2, 2))
    assert float(term) == 0.0


# ---------------------------------------------------------------------------------------------------------
# Weight clipping and the base class
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.01, 0.5])
def test_weight_clipping_bounds_every_parameter(c):
    torch.manual_seed(0)
    critic = MLPCritic(hidden=16, depth=2)
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(50.0)
    before = [p.detach().clone() for p in critic.parameters()]
    assert max(float(p.abs().max()) for p in before) > c
    WeightClipping(clip=c).after_critic_step(critic)
    for b, p in zip(before, critic.parameters()):
        assert float(p.abs().max()) <= c
        # Values already inside [-c, c] are untouched; the rest sit on the boundary.
        inside = b.abs() <= c
        assert torch.equal(p[inside], b[inside])
        assert torch.allclose(p[~inside].abs(), torch.full_like(p[~inside], c))


def test_weight_clipping_follows_the_critic_it_is_given():
    clip = WeightClipping(clip=0.1)
    for seed in (0, 1):  # the parameter list kept for speed belongs to one critic, not to the regularizer
        torch.manual_seed(seed)
        critic = MLPCritic(hidden=8, depth=1)
        with torch.no_grad():
            for p in critic.parameters():
                p.fill_(3.0)
        clip.after_critic_step(critic)
        assert all(torch.equal(p, torch.full_like(p, 0.1)) for p in critic.parameters())


def test_weight_clipping_includes_layer_norm_parameters():
    critic = MLPCritic(hidden=8, depth=1, norm="layer")
    # LayerNorm weight is initialised to 1 > 0.01
    WeightClipping().after_critic_step(critic)
    assert all(float(p.abs().max()) <= 0.01 for p in critic.parameters())


def test_weight_clipping_negative_raises():
    with pytest.raises(ConfigurationError) as info:
        WeightClipping(clip=-0.1)
    assert "clip" in str(info.value)


def test_weight_clipping_defaults_and_no_penalty():
    reg = WeightClipping()
    assert reg.clip == 0.01
    assert reg.penalty(nn.Linear(2, 1), torch.randn(2, 2), torch.randn(2, 2)) is None


def test_base_regularizer_is_noop():
    reg = Regularizer()
    x = torch.randn(3, 2)
    assert reg.transform(x, 5) is x
    assert reg.penalty(nn.Linear(2, 1), x, x) is None
    lin = nn.Linear(2, 1)
    before = lin.weight.detach().clone()
    reg.after_critic_step(lin)
    assert torch.equal(lin.weight, before)


def test_critic_ignoring_its_input_gives_target_squared_not_an_error():
    from ganmods.regularizers import gradient_penalty

    value, norms = gradient_penalty(lambda x: torch.ones(x.shape[0]), torch.randn(4, 2), torch.randn(4, 2))
    assert torch.isfinite(value) and float(value) == pytest.approx(1.0, rel=1e-5)
    assert torch.all(norms < 1e-5)


def test_package_keeps_every_public_name_and_records_the_public_path():
    import ganmods.regularizers as regs
    from ganmods.spec import to_spec

    old_names = ["NOISE_SCHEDULES", "GradientPenalty", "InstanceNoise", "Regularizer", "WeightClipping", "gradient_penalty"]
    assert set(old_names) <= set(regs.__all__)
    assert regs.NOISE_SCHEDULES == ("constant", "linear", "exponential")
    for reg in (GradientPenalty(), WeightClipping(), regs.InstanceNoise()):
        assert to_spec(reg)["class_path"] == f"ganmods.regularizers.{type(reg).__name__}"
