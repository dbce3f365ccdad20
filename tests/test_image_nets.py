"""Image networks: shapes for every size and channel count, critic normalisations, DCGAN initialisation,
bad arguments, and a few training steps of each pair inside GANModule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganmods import SGAN, WGANGP
from ganmods.errors import ConfigurationError
from ganmods.nets import (
    CNN_SIZES, CRITIC_NORMS, DCGAN_SIZES, RESNET_SIZES, DCGANCritic, DCGANGenerator, ResNetCritic, ResNetGenerator,
    StandardCNNCritic, StandardCNNGenerator, apply_spectral_norm, dcgan_init_, norm_layer,
)
from ganmods.spec import from_spec, to_spec
from tests.conftest import fast_trainer

FAMILIES = {
    "dcgan": (DCGANGenerator, DCGANCritic, DCGAN_SIZES),
    "cnn": (StandardCNNGenerator, StandardCNNCritic, CNN_SIZES),
    "resnet": (ResNetGenerator, ResNetCritic, RESNET_SIZES),
}
SHAPE_CASES = [(f, s, c) for f, (_, _, sizes) in FAMILIES.items() for s in sizes for c in (1, 3)]


def _pair(family: str, size: int = 16, channels: int = 1, width: int = 2, norm: str = "none", latent_dim: int = 8):
    gen_cls, critic_cls, _ = FAMILIES[family]
    return (gen_cls(latent_dim=latent_dim, image_size=size, channels=channels, width=width),
            critic_cls(image_size=size, channels=channels, width=width, norm=norm))


@pytest.mark.parametrize("family, size, channels", SHAPE_CASES, ids=[f"{f}-{s}px-{c}ch" for f, s, c in SHAPE_CASES])
def test_generator_and_critic_shapes_and_generator_range(family, size, channels):
    torch.manual_seed(0)
    gen, critic = _pair(family, size, channels)
    assert gen.latent_dim == 8
    x = gen(torch.randn(3, 8))
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert critic(x).shape == (3,)
    # the output is bounded by a tanh, not by the weights: scaled-up output weights saturate it at ±1
    with torch.no_grad():
        _weighted(gen)[-1].weight.mul_(1e4)
    big = gen(torch.randn(3, 8))
    assert big.abs().max() <= 1.0 and big.abs().max() > 0.99


def _norm_modules(net: nn.Module) -> dict[str, int]:
    return {
        "layer": sum(isinstance(m, nn.GroupNorm) and m.num_groups == 1 for m in net.modules()),
        "instance": sum(isinstance(m, nn.InstanceNorm2d) and m.affine for m in net.modules()),
        "batch": sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()),
    }


def _weighted(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


@pytest.mark.parametrize("norm", CRITIC_NORMS)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_critic_norm_builds_runs_and_is_what_it_says(family, norm):
    torch.manual_seed(0)
    _, critic = _pair(family, 32, 3, width=2, norm=norm)
    counts = _norm_modules(critic)
    for kind, count in counts.items():
        assert (count > 0) == (kind == norm), (kind, counts)
    spectral = [nn.utils.parametrize.is_parametrized(m, "weight") for m in _weighted(critic)]
    assert all(spectral) if norm == "spectral" else not any(spectral)
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    out = critic(x)
    assert out.shape == (4,) and torch.isfinite(out).all()
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)  # the gradient penalty's double backward
    (out.mean() + grad.pow(2).sum()).backward()
    assert all(p.grad is not None for p in critic.parameters() if p.requires_grad)


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    critic = DCGANCritic(image_size=16, channels=1, width=4, norm="spectral")
    for _ in range(20):  # power iterations run in training mode
        critic(torch.randn(2, 1, 16, 16))
    for layer in _weighted(critic):
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.05)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Linear(2, 2))
    assert apply_spectral_norm(net) is net
    assert [nn.utils.parametrize.is_parametrized(m) for m in net] == [True, False, True]


def test_layer_norm_normalises_each_sample_over_channels_and_positions():
    torch.manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(4, 6, 5, 5)
    layer = norm_layer("layer", 6)
    expected = F.layer_norm(x, (6, 5, 5), eps=layer.eps)
    torch.testing.assert_close(layer(x), expected)
    # the affine part is per channel (independent of the image size)
    assert layer.weight.shape == (6,)
    assert isinstance(norm_layer("none", 6), nn.Identity) and isinstance(norm_layer("spectral", 6), nn.Identity)
    with pytest.raises(ConfigurationError, match=r"norm must be one of \['none', 'layer', 'instance', 'batch', "
                                                 r"'spectral'\]; got 'group'"):
        norm_layer("group", 6)


def _weights(net: nn.Module, kinds: tuple[type, ...]) -> torch.Tensor:
    return torch.cat([m.weight.detach().reshape(-1) for m in net.modules() if isinstance(m, kinds)])


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=64, image_size=32, channels=3, width=16)
    conv = _weights(gen, (nn.ConvTranspose2d,))
    assert conv.std().item() == pytest.approx(0.02, rel=0.05) and abs(conv.mean().item()) < 1e-3
    bn = _weights(gen, (nn.BatchNorm2d,))
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01) and bn.std().item() == pytest.approx(0.02, rel=0.3)
    assert all((m.bias == 0).all() for m in gen.modules() if getattr(m, "bias", None) is not None)

    critic = DCGANCritic(image_size=32, channels=3, width=16, norm="layer")
    assert _weights(critic, (nn.Conv2d,)).std().item() == pytest.approx(0.02, rel=0.05)
    assert _weights(critic, (nn.GroupNorm,)).mean().item() == pytest.approx(1.0, abs=0.01)
    # with spectral normalisation the initialisation reaches the unnormalised weights
    sn = DCGANCritic(image_size=32, channels=3, width=16, norm="spectral")
    originals = torch.cat([m.parametrizations.weight.original.detach().reshape(-1) for m in _weighted(sn)])
    assert originals.std().item() == pytest.approx(0.02, rel=0.05)


def _within_pytorch_bound(net: nn.Module) -> bool:
    """PyTorch initialises conv weights uniformly in ±1/sqrt(fan_in); N(0, 0.02) leaves that bound."""
    layers = [m for m in net.modules() if isinstance(m, nn.ConvTranspose2d)]
    return all(m.weight.abs().max() <= nn.init._calculate_fan_in_and_fan_out(m.weight)[0] ** -0.5 for m in layers)


def test_default_init_keeps_pytorch_initialisation():
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=64, image_size=32, channels=3, width=16, init="default")
    assert _within_pytorch_bound(gen)
    assert (_weights(gen, (nn.BatchNorm2d,)) == 1).all()  # PyTorch's BatchNorm scale
    assert dcgan_init_(gen) is gen
    assert not _within_pytorch_bound(gen)
    assert _weights(gen, (nn.ConvTranspose2d,)).std().item() == pytest.approx(0.02, rel=0.05)


BAD = [
    (DCGANGenerator, {"image_size": 24}, r"image_size must be one of \[16, 32, 64, 128\]; got 24"),
    (DCGANCritic, {"image_size": 8}, r"image_size must be one of \[16, 32, 64, 128\]; got 8"),
    (StandardCNNGenerator, {"image_size": 40}, r"image_size must be one of \[16, 32, 48, 64\]; got 40"),
    (StandardCNNCritic, {"image_size": "32"}, r"image_size must be one of \[16, 32, 48, 64\]; got '32'"),
    (ResNetGenerator, {"image_size": 48}, r"image_size must be one of \[16, 32, 64\]; got 48"),
    (ResNetCritic, {"image_size": 32.0}, r"image_size must be one of \[16, 32, 64\]; got 32.0"),
    (DCGANGenerator, {"channels": 0}, r"channels must be an integer >= 1; got 0"),
    (StandardCNNCritic, {"channels": 2.0}, r"channels must be an integer >= 1; got 2.0"),
    (ResNetGenerator, {"width": 0}, r"width must be an integer >= 1; got 0"),
    (DCGANCritic, {"width": True}, r"width must be an integer >= 1; got True"),
    (StandardCNNGenerator, {"latent_dim": -3}, r"latent_dim must be an integer >= 1; got -3"),
    (ResNetGenerator, {"latent_dim": 1.5}, r"latent_dim must be an integer >= 1; got 1.5"),
    (DCGANCritic, {"norm": "group"}, r"norm must be one of \['none', 'layer', 'instance', 'batch', 'spectral'\]"),
    (StandardCNNCritic, {"norm": None}, r"norm must be one of \[.*\]; got None"),
    (ResNetCritic, {"norm": "Layer"}, r"norm must be one of \[.*\]; got 'Layer'"),
    (DCGANGenerator, {"init": "xavier"}, r"init must be one of \['dcgan', 'default'\]; got 'xavier'"),
    (DCGANCritic, {"init": "orthogonal"}, r"init must be one of \['dcgan', 'default'\]; got 'orthogonal'"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD, ids=[f"{c.__name__}-{next(iter(k))}" for c, k, _ in BAD])
def test_bad_arguments_are_refused_with_a_clear_message(cls, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("family", FAMILIES)
def test_critic_names_a_wrong_input_shape(family):
    _, critic = _pair(family, 16, 1)
    with pytest.raises(ConfigurationError, match=r"discriminator input must have shape \[B, 1, 16, 16\]; "
                                                 r"got \[2, 3, 16, 16\]"):
        critic(torch.randn(2, 3, 16, 16))


@pytest.mark.parametrize("family", FAMILIES)
def test_networks_rebuild_from_their_construction_record(family):
    gen, critic = _pair(family, 32, 3, norm="spectral")
    for net in (gen, critic):
        rebuilt = from_spec(to_spec(net))
        assert type(rebuilt) is type(net)
        shapes = {k: v.shape for k, v in net.state_dict().items()}
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
        rebuilt.load_state_dict(net.state_dict())


def _images(n: int = 32, channels: int = 1, size: int = 16) -> DataLoader:
    torch.manual_seed(0)
    data = torch.rand(n, channels, size, size) * 2 - 1
    return DataLoader(TensorDataset(data), batch_size=8, shuffle=False)


@pytest.mark.filterwarnings("ignore:.*no `val_dataloader`")
@pytest.mark.parametrize("family, norm", [("dcgan", "layer"), ("cnn", "spectral"), ("resnet", "instance")])
def test_each_pair_trains_inside_ganmodule_with_a_gradient_penalty(family, norm, tmp_path):
    torch.manual_seed(0)
    gen, critic = _pair(family, 16, 1, width=2, norm=norm)
    model = WGANGP(generator=gen, discriminator=critic, gp_weight=10.0, n_critic=1, max_generator_steps=3)
    before = [p.detach().clone() for p in model.parameters()]
    fast_trainer(tmp_path).fit(model, train_dataloaders=_images())
    assert (model.critic_steps, model.generator_steps) == (3, 3)
    after = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
    assert model.sample(4, seed=0).shape == (4, 1, 16, 16)


@pytest.mark.filterwarnings("ignore:.*no `val_dataloader`")
def test_batchnorm_critic_trains_without_penalty_and_is_refused_with_one():
    gen, critic = _pair("dcgan", 16, 1, norm="batch")
    with pytest.raises(ConfigurationError, match="must not contain BatchNorm when a gradient penalty is used"):
        WGANGP(generator=gen, discriminator=critic, gp_weight=10.0)
    model = SGAN(generator=gen, discriminator=critic, max_generator_steps=2)
    fast_trainer().fit(model, train_dataloaders=_images())
    assert model.generator_steps == 2
