"""Construction records (to_spec / from_spec) and the MLP networks."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from ganmods.errors import ConfigurationError
from ganmods.losses import LOSSES, RaSGAN, get_loss
from ganmods.nets.mlp import NORMS, MLPCritic, MLPGenerator
from ganmods.regularizers import GradientPenalty, WeightClipping
from ganmods.spec import NotRecordable, from_spec, import_class, to_spec


def _roundtrip_plain(spec):
    """Store and reload as torch does in checkpoints, with weights_only=True."""
    buf = io.BytesIO()
    torch.save({"spec": spec}, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)["spec"]


def _param_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {n: tuple(p.shape) for n, p in module.named_parameters()}


def test_generator_roundtrip():
    g = MLPGenerator(latent_dim=3, out_dim=2, hidden=16, depth=2)
    spec = to_spec(g)
    assert spec == {
        "class_path": "ganmods.nets.mlp.MLPGenerator",
        "init_args": {"latent_dim": 3, "out_dim": 2, "hidden": 16, "depth": 2},
    }
    rebuilt = from_spec(_roundtrip_plain(spec))
    assert isinstance(rebuilt, MLPGenerator)
    assert rebuilt is not g
    assert _param_shapes(rebuilt) == _param_shapes(g)
    assert to_spec(rebuilt) == spec
    # Same architecture: the state dict loads strictly and gives the same outputs.
    rebuilt.load_state_dict(g.state_dict())
    z = torch.randn(4, 3)
    assert torch.equal(rebuilt(z), g(z))


def test_generator_positional_args_are_recorded_by_name():
    g = MLPGenerator(5, 2, 8, 1)
    spec = to_spec(g)
    assert spec["init_args"] == {"latent_dim": 5, "out_dim": 2, "hidden": 8, "depth": 1}
    assert _param_shapes(from_spec(spec)) == _param_shapes(g)


@pytest.mark.parametrize("norm", ["none", "layer", "spectral"])
def test_critic_roundtrip(norm):
    c = MLPCritic(in_dim=2, hidden=8, depth=2, norm=norm)
    spec = to_spec(c)
    assert spec["class_path"] == "ganmods.nets.mlp.MLPCritic"
    assert spec["init_args"]["norm"] == norm
    rebuilt = from_spec(_roundtrip_plain(spec))
    assert isinstance(rebuilt, MLPCritic)
    assert to_spec(rebuilt) == spec
    assert _param_shapes(rebuilt) == _param_shapes(c)
    rebuilt.load_state_dict(c.state_dict())


def test_gradient_penalty_roundtrip():
    gp = GradientPenalty(weight=0.1, one_sided=True, target=2.0)
    spec = to_spec(gp)
    assert spec == {
        "class_path": "ganmods.regularizers.GradientPenalty",
        "init_args": {"weight": 0.1, "one_sided": True, "target": 2.0, "every": 1},
    }
    rebuilt = from_spec(_roundtrip_plain(spec))
    assert isinstance(rebuilt, GradientPenalty)
    assert (rebuilt.weight, rebuilt.one_sided, rebuilt.target) == (0.1, True, 2.0)


def test_from_spec_overrides():
    spec = to_spec(GradientPenalty(weight=0.1))
    rebuilt = from_spec(spec, weight=5.0)
    assert rebuilt.weight == 5.0
    assert spec["init_args"]["weight"] == 0.1  # the spec is not mutated


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_roundtrip(name):
    loss = get_loss(name)
    spec = to_spec(loss)
    assert spec["class_path"] == f"{type(loss).__module__}.{type(loss).__qualname__}"
    assert spec["class_path"].startswith("ganmods.losses.")
    assert spec["init_args"] == ({"saturating": False} if name.startswith("fgan_") else {})
    rebuilt = from_spec(_roundtrip_plain(spec))
    assert type(rebuilt) is type(loss)
    r, f = torch.tensor([0.5, -1.0]), torch.tensor([0.25, 2.0])
    assert float(rebuilt.discriminator_loss(r, f)) == float(loss.discriminator_loss(r, f))


def test_nested_containers_roundtrip():
    value = {"regs": [GradientPenalty(weight=1.0), WeightClipping(clip=0.05)], "loss": RaSGAN(), "n": 3}
    spec = to_spec(value)
    rebuilt = from_spec(_roundtrip_plain(spec))
    assert rebuilt["n"] == 3
    assert isinstance(rebuilt["loss"], RaSGAN)
    assert isinstance(rebuilt["regs"][0], GradientPenalty) and rebuilt["regs"][0].weight == 1.0
    assert isinstance(rebuilt["regs"][1], WeightClipping) and rebuilt["regs"][1].clip == 0.05


def test_plain_module_is_not_recordable():
    with pytest.raises(NotRecordable) as info:
        to_spec(nn.Linear(2, 2))
    assert "Linear" in str(info.value)
    with pytest.raises(NotRecordable):
        to_spec([GradientPenalty(), nn.Linear(2, 2)])
    with pytest.raises(NotRecordable):
        to_spec(torch.zeros(2))


def test_import_class():
    assert import_class("ganmods.nets.mlp.MLPCritic") is MLPCritic
    with pytest.raises(ImportError):
        import_class("ganmods.nets.mlp.NoSuchClass")


# ---------------------------------------------------------------------------------------------------------
# MLP networks
# ---------------------------------------------------------------------------------------------------------


def test_critic_bad_norm():
    with pytest.raises(ConfigurationError) as info:
        MLPCritic(norm="bogus")
    msg = str(info.value)
    assert "norm" in msg and "bogus" in msg


@pytest.mark.parametrize("kw", [{"hidden": 0}, {"depth": 0}, {"in_dim": -1}, {"hidden": 2.5}])
def test_critic_bad_sizes(kw):
    with pytest.raises(ConfigurationError):
        MLPCritic(**kw)


@pytest.mark.parametrize("kw", [{"latent_dim": 0}, {"out_dim": 0}, {"hidden": 0}, {"depth": True}])
def test_generator_bad_sizes(kw):
    with pytest.raises(ConfigurationError):
        MLPGenerator(**kw)


@pytest.mark.parametrize("latent", [2, 5])
def test_generator_shapes(latent):
    g = MLPGenerator(latent_dim=latent, hidden=16, depth=3)
    out = g(torch.randn(7, latent))
    assert out.shape == (7, 2)
    assert g.latent_dim == latent
    linears = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4
    assert linears[0].in_features == latent and linears[-1].out_features == 2


@pytest.mark.parametrize("norm", NORMS)
def test_critic_shapes(norm):
    c = MLPCritic(in_dim=2, hidden=16, depth=3, norm=norm)
    out = c(torch.randn(7, 2))
    assert out.shape == (7,)
    linears = [m for m in c.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4
    assert linears[-1].out_features == 1


def test_critic_norm_layers():
    assert any(isinstance(m, nn.LayerNorm) for m in MLPCritic(hidden=8, norm="layer").modules())
    assert any(isinstance(m, nn.BatchNorm1d) for m in MLPCritic(hidden=8, norm="batch").modules())
    plain = MLPCritic(hidden=8, norm="none")
    assert not any(isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)) for m in plain.modules())
    spec = MLPCritic(hidden=8, norm="spectral")
    assert any(nn.utils.parametrize.is_parametrized(m) for m in spec.modules())
    assert set(NORMS) == {"none", "layer", "batch", "spectral"}


def test_generator_output_is_unbounded_linear():
    g = MLPGenerator(latent_dim=2, hidden=8, depth=1)
    assert isinstance(g.net[-1], nn.Linear)
    with torch.no_grad():
        g.net[-1].bias.fill_(100.0)
        assert float(g(torch.zeros(1, 2)).min()) > 50.0
