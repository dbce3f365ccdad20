"""R1 / R2 penalties (Mescheder et al. 2018), the lazy interval ``every`` and the generator-side hook."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import Tensor, nn

from ganmods.errors import ConfigurationError
from ganmods.regularizers import (
    R1,
    R2,
    GradientPenalty,
    InstanceNoise,
    Regularizer,
    WeightClipping,
    squared_gradient_penalty,
)
from ganmods.spec import from_spec, import_class, to_spec

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


class Quadratic(nn.Module):
    """``C(x) = Σ w ⊙ x²`` over all non-batch dims: ``∇x C = 2 w ⊙ x``, so ``‖∇x C‖² = 4 Σ w² x²``."""

    def __init__(self, w: Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: Tensor) -> Tensor:
        return (self.w * x.pow(2)).flatten(1).sum(1)


def _linear(w: list[float]) -> nn.Linear:
    lin = nn.Linear(len(w), 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w]))
    return lin


# ---------------------------------------------------------------------------------------------------------
# Values against hand-computed ones
# ---------------------------------------------------------------------------------------------------------


def test_r1_on_2d_points_by_hand():
    critic = Quadratic(torch.tensor([1.0, 2.0]))
    real = torch.tensor([[1.0, 1.0], [0.5, -1.0]])
    # ∇ = (2·1·1, 2·2·1) = (2, 4) -> 20;  (2·1·0.5, 2·2·(−1)) = (1, −4) -> 17;  mean 18.5;  γ/2 = 2
    term, logs = R1(gamma=4.0).penalty(critic, real, torch.full((2, 2), 9.0))
    assert float(term) == pytest.approx(37.0, rel=1e-6)
    assert float(logs["r1/grad_norm_sq"]) == pytest.approx(18.5, rel=1e-6)
    assert not logs["r1/grad_norm_sq"].requires_grad


def test_r2_on_2d_points_uses_the_fake_batch_by_hand():
    critic = Quadratic(torch.tensor([1.0, 2.0]))
    fake = torch.tensor([[0.0, 0.5], [2.0, 0.0]])
    # ∇ = (0, 2) -> 4;  (4, 0) -> 16;  mean 10;  γ/2 = 0.5
    term, logs = R2(gamma=1.0).penalty(critic, torch.full((2, 2), 9.0), fake)
    assert float(term) == pytest.approx(5.0, rel=1e-6)
    assert float(logs["r2/grad_norm_sq"]) == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("channels, expected_mean", [(1, 10.0), (3, 30.0)])
def test_r1_and_r2_on_images_norm_over_all_non_batch_dims(channels, expected_mean):
    # C(x) = Σ x² over [C, 2, 2]; sample k is filled with v_k: ‖∇‖² = 4 · (4C) · v_k²
    # v = (0.5, 1): C = 1 -> 4, 16 (mean 10);  C = 3 -> 12, 48 (mean 30)
    critic = Quadratic(torch.ones(channels, 2, 2))
    x = torch.stack([torch.full((channels, 2, 2), 0.5), torch.full((channels, 2, 2), 1.0)])
    other = torch.zeros_like(x)
    r1, logs1 = R1(gamma=2.0).penalty(critic, x, other)
    r2, logs2 = R2(gamma=2.0).penalty(critic, other, x)
    assert float(r1) == pytest.approx(expected_mean, rel=1e-6)
    assert float(r2) == pytest.approx(expected_mean, rel=1e-6)
    assert float(logs1["r1/grad_norm_sq"]) == float(logs2["r2/grad_norm_sq"])
    # the other batch gives exactly zero: ∇ = 2x = 0 there
    assert float(R2(gamma=2.0).penalty(critic, x, other)[0]) == 0.0


def test_squared_gradient_penalty_per_sample_values():
    critic = Quadratic(torch.tensor([1.0, 2.0]))
    value, sq = squared_gradient_penalty(critic, torch.tensor([[1.0, 1.0], [0.5, -1.0]]))
    assert sq.tolist() == pytest.approx([20.0, 17.0])
    assert float(value) == pytest.approx(18.5)
    assert value.dtype == torch.float32


def test_squared_gradient_penalty_of_a_conv_critic_matches_autograd():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 1, kernel_size=3, padding=1, bias=False)

    def critic(x: Tensor) -> Tensor:
        return conv(x).flatten(1).sum(1)

    x = torch.randn(2, 3, 4, 4)
    # linear critic: the input gradient is the same map for every sample
    probe = torch.zeros(1, 3, 4, 4, requires_grad=True)
    (g,) = torch.autograd.grad(critic(probe).sum(), probe)
    want = float(g.pow(2).sum())
    _, sq = squared_gradient_penalty(critic, x)
    assert sq.tolist() == pytest.approx([want, want], rel=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Gradients: into the critic (create_graph), not into the batches
# ---------------------------------------------------------------------------------------------------------


def test_r1_backpropagates_into_a_linear_critic_exactly():
    """C(x) = w·x: R1 = γ/2 ‖w‖², so dR1/dw = γ w = (6, 8) at w = (3, 4), γ = 2."""
    critic = _linear([3.0, 4.0])
    term, _ = R1(gamma=2.0).penalty(critic, torch.randn(5, 2), torch.randn(5, 2))
    assert float(term) == pytest.approx(25.0, rel=1e-6)
    term.backward()
    assert critic.weight.grad.flatten().tolist() == pytest.approx([6.0, 8.0], rel=1e-6)


def test_r2_backpropagates_into_the_critic_but_not_into_the_batches():
    """C(x) = Σ w x²: R2 = γ/2 · mean(4 Σ w_i² x_i²), so dR2/dw_i = 4 γ w_i mean(x_i²)."""
    critic = Quadratic(torch.tensor([1.0, -2.0]))
    gen_param = torch.tensor(1.0, requires_grad=True)
    fake = torch.tensor([[1.0, 2.0], [3.0, 0.0]]) * gen_param
    real = torch.randn(2, 2, requires_grad=True)
    term, _ = R2(gamma=0.5).penalty(critic, real, fake)
    term.backward()
    # mean(x_1²) = (1 + 9)/2 = 5, mean(x_2²) = (4 + 0)/2 = 2
    assert critic.w.grad.tolist() == pytest.approx([4 * 0.5 * 1.0 * 5, 4 * 0.5 * -2.0 * 2])
    assert gen_param.grad is None and real.grad is None


# ---------------------------------------------------------------------------------------------------------
# Zero gradient, mixed precision
# ---------------------------------------------------------------------------------------------------------


def test_critic_ignoring_its_input_gives_zero_not_an_error():
    x = torch.randn(4, 3, 2, 2)
    term, logs = R1().penalty(lambda b: torch.ones(b.shape[0]), x, x)
    assert float(term) == 0.0 and float(logs["r1/grad_norm_sq"]) == 0.0
    bias = nn.Parameter(torch.tensor(0.3))  # output depends on a parameter but not on the input
    term, _ = R2().penalty(lambda b: bias.expand(b.shape[0]), x, x)
    assert float(term) == 0.0


def test_zero_weight_linear_critic_gives_zero_with_finite_gradients():
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.zero_()
    term, _ = R1(gamma=10.0).penalty(critic, torch.randn(3, 2), torch.randn(3, 2))
    assert float(term) == 0.0
    term.backward()
    assert torch.isfinite(critic.weight.grad).all()


def test_scaled_r1_under_fp16_autocast_matches_fp32():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    real = torch.randn(64, 2)
    want, _ = R1(gamma=1.0).penalty(critic, real, real)
    reg = R1(gamma=1.0)
    reg.use_scaler(torch.amp.GradScaler("cpu", init_scale=2.0**10))
    with torch.autocast("cpu", dtype=torch.float16):
        got, logs = reg.penalty(critic, real, real)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(float(want), rel=2e-2)


def test_r1_overflow_under_a_scaler_gives_zero_and_an_infinite_backward():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    reg = R1()
    reg.use_scaler(torch.amp.GradScaler("cpu", init_scale=2.0**16))  # 2**16 per sample overflows fp16
    with torch.autocast("cpu", dtype=torch.float16):
        term, _ = reg.penalty(critic, torch.randn(32, 2), torch.randn(32, 2))
    assert float(term) == 0.0
    term.backward()
    assert not all(torch.isfinite(p.grad).all() for p in critic.parameters() if p.grad is not None)


# ---------------------------------------------------------------------------------------------------------
# Arguments, attributes, the lazy interval
# ---------------------------------------------------------------------------------------------------------


def test_defaults_and_attributes():
    for cls, name in ((R1, "r1"), (R2, "r2")):
        reg = cls()
        assert (reg.gamma, reg.every, reg.name, reg.per_sample_gradients) == (10.0, 1, name, True)
    assert isinstance(R1(gamma=3).gamma, float)


@pytest.mark.parametrize("cls", [R1, R2])
@pytest.mark.parametrize("gamma", [0, 0.0, -1.0, float("nan"), float("inf"), True, "10", None])
def test_bad_gamma_raises_naming_the_argument(cls, gamma):
    with pytest.raises(ConfigurationError) as info:
        cls(gamma=gamma)
    message = str(info.value)
    assert "gamma" in message and "> 0" in message and repr(gamma) in message


@pytest.mark.parametrize("cls", [Regularizer, GradientPenalty, R1, R2])
@pytest.mark.parametrize("every", [0, -3, 1.5, True, "4", None])
def test_bad_every_raises_naming_the_argument(cls, every):
    with pytest.raises(ConfigurationError) as info:
        cls(every=every)
    message = str(info.value)
    assert "every" in message and ">= 1" in message and repr(every) in message


def test_every_is_stored_and_due_follows_it():
    reg = R1(gamma=1.0, every=4)
    assert reg.every == 4
    assert [s for s in range(13) if reg.due(s)] == [0, 4, 8, 12]
    assert GradientPenalty(every=3).every == 3 and R2(every=2).due(3) is False
    assert all(Regularizer().due(s) for s in range(5))


def test_subclasses_with_their_own_init_keep_every_one():
    for reg in (WeightClipping(), InstanceNoise()):
        assert reg.every == 1 and reg.due(0) and reg.due(7)

    class Custom(Regularizer):
        def __init__(self, scale: float = 1.0) -> None:  # no super().__init__()
            self.scale = scale

    assert Custom().every == 1 and Custom().due(3)


def test_penalty_does_not_depend_on_every():
    critic = _linear([3.0, 4.0])
    x = torch.randn(4, 2)
    lazy, _ = R1(gamma=2.0, every=16).penalty(critic, x, x)
    assert float(lazy) == pytest.approx(25.0, rel=1e-6)  # the loop, not the regularizer, multiplies by every


# ---------------------------------------------------------------------------------------------------------
# The generator-side hook
# ---------------------------------------------------------------------------------------------------------


def test_generator_penalty_is_none_by_default():
    critic, fake, z = nn.Linear(2, 1), torch.randn(3, 2), torch.randn(3, 4)
    for reg in (Regularizer(), R1(), R2(), GradientPenalty(), WeightClipping(), InstanceNoise()):
        assert reg.generator_penalty(critic, fake, z) is None


def test_generator_penalty_hook_reaches_the_generator_through_a_frozen_critic():
    class CriticMeanSquare(Regularizer):
        """λ · mean(C(G(z))²): a small generator-side term."""

        name = "cms"

        def __init__(self, weight: float = 1.0, every: int = 1) -> None:
            super().__init__(every=every)
            self.weight = weight

        def generator_penalty(self, critic, fake, latents):
            value = critic(fake).pow(2).mean()
            return self.weight * value, {"cms": value.detach()}

    generator = _linear([1.0, 0.0, 0.0])  # G(z) = z_0, one-dimensional outputs [B, 1]
    critic = _linear([2.0])  # C(x) = 2x
    for p in critic.parameters():
        p.requires_grad_(False)  # as the loop does in the generator step
    z = torch.tensor([[1.0, 5.0, 5.0], [3.0, 5.0, 5.0]])
    reg = CriticMeanSquare(weight=0.5, every=2)
    assert reg.due(0) and not reg.due(1)
    term, logs = reg.generator_penalty(critic, generator(z), z)
    # C(G(z)) = (2, 6): mean square 20; weighted 10
    assert float(term) == pytest.approx(10.0) and float(logs["cms"]) == pytest.approx(20.0)
    (term * reg.every).backward()
    # d/dg_j of every·λ·mean((2 g·z)²) = 2 · 0.5 · mean(8 (g·z) z_j), with g·z = z_0 = (1, 3):
    # j = 0: 8 · (1 + 9)/2 = 40;  j = 1, 2: 8 · (5 + 15)/2 = 80
    assert generator.weight.grad.flatten().tolist() == pytest.approx([40.0, 80.0, 80.0])
    assert critic.weight.grad is None


# ---------------------------------------------------------------------------------------------------------
# Construction records and YAML
# ---------------------------------------------------------------------------------------------------------


def test_spec_roundtrip_keeps_the_configuration():
    spec = to_spec(R1(gamma=3.0, every=4))
    assert spec == {"class_path": "ganmods.regularizers.R1", "init_args": {"gamma": 3.0, "every": 4}}
    rebuilt = from_spec(spec)
    assert type(rebuilt) is R1 and (rebuilt.gamma, rebuilt.every) == (3.0, 4)
    assert to_spec(rebuilt) == spec
    r2 = from_spec(to_spec(R2(gamma=0.5, every=2)))
    assert type(r2) is R2 and (r2.gamma, r2.every) == (0.5, 2)
    gp = from_spec(to_spec(GradientPenalty(weight=1.0, every=8)))
    assert (gp.weight, gp.every) == (1.0, 8)


_CONFIG = """
model:
  init_args:
    regularizers:
      - class_path: ganmods.regularizers.R1
        init_args: {gamma: 10, every: 16}
      - class_path: ganmods.regularizers.R2
        init_args: {gamma: 0.1}
"""


def test_yaml_config_builds_the_regularizers_by_dotted_path():
    entries = yaml.safe_load(_CONFIG)["model"]["init_args"]["regularizers"]
    assert import_class(entries[0]["class_path"]) is R1
    r1, r2 = (from_spec(e) for e in entries)
    assert type(r1) is R1 and (r1.gamma, r1.every) == (10.0, 16)
    assert type(r2) is R2 and (r2.gamma, r2.every) == (0.1, 1)


def test_yaml_config_parses_as_a_list_of_regularizers():
    jsonargparse = pytest.importorskip("jsonargparse")
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--regularizers", type=list[Regularizer])
    text = yaml.safe_dump({"regularizers": yaml.safe_load(_CONFIG)["model"]["init_args"]["regularizers"]})
    cfg = parser.parse_string(text)
    r1, r2 = parser.instantiate_classes(cfg).regularizers
    assert type(r1) is R1 and (r1.gamma, r1.every) == (10.0, 16)
    assert type(r2) is R2 and r2.gamma == 0.1
