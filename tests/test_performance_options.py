"""GPU options, checked on the CPU: compiled networks, channels-last, pinned memory and data served from the
device change how training runs, never the numbers it produces."""

from __future__ import annotations

import functools
import warnings
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch

from ganmods import SGAN, WGANGP, GANDataModule, GANModule
from ganmods.callbacks import ChannelsLast, CompileNetworks
from ganmods.callbacks.performance import double_backward_regularizers
from ganmods.data.stream import CriticBatches, ImageBatches
from ganmods.errors import ConfigurationError
from ganmods.nets import DCGANCritic, DCGANGenerator
from ganmods.regularizers import gradient_penalty
from tests.conftest import fast_trainer, tiny_nets

pytestmark = pytest.mark.filterwarnings("ignore:.*pin_memory.*:UserWarning")


@functools.lru_cache(maxsize=1)
def _compile_problem() -> str:
    """Why torch.compile cannot run here ('' when it can)."""
    try:
        torch.compile(lambda x: x * 2 + 1, backend="aot_eager")(torch.ones(3))
    except Exception as err:  # noqa: BLE001 - any failure means: no compiler on this machine
        return f"torch.compile does not run on this machine: {type(err).__name__}: {str(err)[:200]}"
    return ""


def _sgd(params):
    return torch.optim.SGD(params, lr=0.05)


def _fit(model: GANModule, data: GANDataModule, callbacks: list, tmp_path, steps: int, **kw) -> list[float]:
    """Fit for ``steps`` critic steps; the critic loss of every step, in order."""
    losses: list[float] = []
    model.add_listener(lambda values, module: losses.append(float(values["train/d_loss"])) or None)
    trainer = fast_trainer(tmp_path, max_steps=-1, log_every_n_steps=1, callbacks=callbacks, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, datamodule=data)
    assert model.critic_steps == steps
    return losses


# ---------------------------------------------------------------------------------------------- compile
@pytest.mark.parametrize("kwargs, name, allowed", [
    ({"generator": "yes"}, "generator", "'auto', true or false"),
    ({"discriminator": 1}, "discriminator", "'auto', true or false"),
    ({"backend": ""}, "backend", "a torch.compile backend name"),
    ({"mode": 3}, "mode", "a torch.compile mode name or null"),
    ({"fullgraph": "no"}, "fullgraph", "true or false"),
    ({"dynamic": 0}, "dynamic", "true, false or null"),
])
def test_compile_choices_are_validated(kwargs, name, allowed):
    with pytest.raises(ConfigurationError, match=rf"^{name} must be {allowed}.*got"):
        CompileNetworks(**kwargs)


def test_compiled_run_equals_uncompiled_and_its_checkpoint_loads_uncompiled(tmp_path):
    if _compile_problem():
        pytest.skip(_compile_problem())
    runs = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        model = SGAN(**tiny_nets(), optimizer_g=_sgd, optimizer_d=_sgd, max_generator_steps=4)
        callback = CompileNetworks(backend="aot_eager")
        data = GANDataModule("ring8", batch_size=16, batches_per_epoch=4)
        losses = _fit(model, data, [callback] if compiled else [], tmp_path / str(compiled), 4)
        runs[compiled] = (model, losses, callback)
    (plain, plain_losses, _), (fast, fast_losses, callback) = runs[False], runs[True]
    assert callback.compiled == ["generator", "discriminator"] and callback.skipped == {}
    assert len(fast_losses) == 4 and fast_losses == pytest.approx(plain_losses, rel=1e-5, abs=1e-6)
    assert plain_losses[0] != plain_losses[-1]  # the networks trained: the comparison is not trivial
    # in-place compilation keeps the state dict keys, so a checkpoint loads into an uncompiled module
    assert list(fast.state_dict()) == list(plain.state_dict())
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(fast.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    path = tmp_path / "compiled.ckpt"
    fast.trainer.save_checkpoint(path)
    loaded = GANModule.load_from_checkpoint(path)
    assert type(loaded) is SGAN and loaded.critic_steps == 4
    for key, value in fast.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_a_penalised_critic_stays_uncompiled_with_the_reason(tmp_path):
    if _compile_problem():
        pytest.skip(_compile_problem())
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=1.0, n_critic=2, optimizer_g=_sgd, optimizer_d=_sgd,
                   max_generator_steps=2)
    callback = CompileNetworks(backend="aot_eager")
    losses = _fit(model, GANDataModule("ring8", batch_size=16, batches_per_epoch=4), [callback], tmp_path, 4)
    assert callback.compiled == ["generator"]
    assert "double backward" in callback.skipped["discriminator"] and "gp" in callback.skipped["discriminator"]
    assert all(torch.isfinite(torch.tensor(losses)))


def test_which_regularizers_need_a_double_backward():
    from ganmods.regularizers import R1, InstanceNoise

    assert double_backward_regularizers(WGANGP(**tiny_nets(), gp_weight=1.0)) == ["gp"]
    assert double_backward_regularizers(SGAN(**tiny_nets(), regularizers=[InstanceNoise(), R1(gamma=1.0)])) == ["r1"]
    assert double_backward_regularizers(SGAN(**tiny_nets())) == []


def test_the_reason_holds_a_compiled_critic_has_no_double_backward():
    """Why the penalised critic stays uncompiled; fails (and the rule can go) once torch.compile supports it."""
    if _compile_problem():
        pytest.skip(_compile_problem())
    torch.manual_seed(0)
    critic = tiny_nets()["discriminator"]
    critic.compile(backend="aot_eager")
    # refused at the penalty's create_graph=True (a graph compiled earlier donates its buffers) or at its backward
    with pytest.raises(RuntimeError, match="double backward|create_graph=False"):
        gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))[0].backward()


def test_forcing_a_penalised_critic_to_compile_is_refused_before_training(tmp_path):
    model = WGANGP(**tiny_nets(), gp_weight=1.0, max_generator_steps=2)
    trainer = fast_trainer(tmp_path, callbacks=[CompileNetworks(discriminator=True)])
    with pytest.raises(ConfigurationError, match="discriminator must not be compiled .*double backward.*gp"):
        trainer.fit(model, datamodule=GANDataModule("ring8", batch_size=16, batches_per_epoch=4))
    assert model.critic_steps == 0


# ---------------------------------------------------------------------------------------------- channels last
def _dcgan_run(tmp_path, callbacks: list) -> tuple[GANModule, list[float], list[bool]]:
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=8, image_size=16, channels=3, width=4)  # 1 channel: both formats alike
    critic = DCGANCritic(image_size=16, channels=3, width=4, norm="layer")
    seen: list[bool] = []  # whether each critic input arrived channels-last (after any conversion)
    critic.register_forward_hook(
        lambda m, args, out: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    model = WGANGP(gen, critic, gp_weight=10.0, n_critic=2, optimizer_g=_sgd, optimizer_d=_sgd, max_generator_steps=2)
    data = GANDataModule("digits", image_size=16, channels=3, batch_size=8, batches_per_epoch=4)
    return model, _fit(model, data, callbacks, tmp_path, 4), seen


def test_channels_last_gives_the_same_numbers_in_the_other_format(tmp_path):
    plain, plain_losses, plain_seen = _dcgan_run(tmp_path / "a", [])
    callback = ChannelsLast()
    fast, fast_losses, fast_seen = _dcgan_run(tmp_path / "b", [callback])
    assert not any(plain_seen) and fast_seen and all(fast_seen)
    for net in (fast.generator, fast.discriminator):
        weights = [p for p in net.parameters() if p.dim() == 4]
        assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert fast_losses == pytest.approx(plain_losses, rel=1e-4, abs=1e-5)
    assert plain_losses[0] != plain_losses[-1]
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(fast.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    assert not callback.active  # the input conversion ends with the fit
    fast.discriminator(torch.randn(2, 3, 16, 16))
    assert fast_seen[-1] is False


# ---------------------------------------------------------------------------------------------- data options
def _attach(dm: GANDataModule, device: str = "cpu") -> None:
    dm.trainer = SimpleNamespace(global_rank=0, world_size=1, lightning_module=SimpleNamespace(critic_steps=0),
                                 strategy=SimpleNamespace(root_device=torch.device(device)))


def _batches(dm: GANDataModule) -> list[torch.Tensor]:
    out = []
    for batch in dm.train_dataloader():
        out.extend(batch.reals if isinstance(batch, CriticBatches) else [batch])
    return out


@pytest.mark.parametrize("kwargs, name, allowed", [
    ({"pin_memory": "yes"}, "pin_memory", "true or false"),
    ({"data_on_device": "gpu"}, "data_on_device", "one of \\['auto', 'never', 'always'\\]"),
    ({"data_on_device": None}, "data_on_device", "one of"),
])
def test_data_options_are_validated(kwargs, name, allowed):
    with pytest.raises(ConfigurationError, match=rf"^{name} must be {allowed}.*got"):
        GANDataModule("digits", image_size=8, **kwargs)


def test_toy_data_cannot_be_forced_onto_the_device():
    with pytest.raises(ConfigurationError, match="^data_on_device must be 'auto' or 'never' for the toy.*'always'"):
        GANDataModule("ring8", data_on_device="always")
    assert GANDataModule("ring8", data_on_device="never", pin_memory=True).pin_memory is True


@pytest.mark.parametrize("steps_per_batch", [1, 2])
def test_pinned_and_device_served_batches_equal_the_default_ones(steps_per_batch):
    def batches(**kw):
        dm = GANDataModule("digits", image_size=8, batch_size=300, batches_per_epoch=12, seed=3,
                           steps_per_batch=steps_per_batch, **kw)
        _attach(dm)
        return dm, _batches(dm)

    _, default = batches()
    assert len(default) == 12  # 1797 // 300 = 5 batches per data epoch: the pass crosses two data epochs
    for kw in ({"pin_memory": True}, {"data_on_device": "always"}, {"data_on_device": "never", "pin_memory": True}):
        dm, got = batches(**kw)
        assert len(got) == len(default)
        assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(got, default)), kw


def test_where_the_images_are_served_from():
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    dm = GANDataModule("digits", image_size=8)
    assert dm.data_device(images) is None  # no trainer: the host
    _attach(dm)
    assert dm.data_device(images) is None  # "auto" only moves to a CUDA device
    dm.data_on_device = "always"
    assert dm.data_device(images) == torch.device("cpu")
    dm.data_on_device = "never"
    assert dm.data_device(images) is None


def test_loader_pins_only_host_batches():
    dm = GANDataModule("digits", image_size=8, batch_size=64, batches_per_epoch=2, pin_memory=True)
    _attach(dm)
    assert dm.train_dataloader().pin_memory is True
    dm.data_on_device = "always"  # served from the device: nothing to pin
    assert dm.train_dataloader().pin_memory is False
    copy = dm._device_copy
    dm.train_dataloader()
    assert dm._device_copy is copy  # one copy per fit, not one per pass


def test_serve_from_checks_the_copy():
    images = torch.arange(40, dtype=torch.uint8).view(10, 1, 2, 2)
    stream = ImageBatches(images, batch_size=5, num_batches=4, seed=0)
    expected = list(stream)
    stream.serve_from(images.clone())
    assert all(torch.equal(a, b) for a, b in zip(stream, expected))
    with pytest.raises(ConfigurationError, match=r"^images must be a copy of the \(10, 1, 2, 2\) torch.uint8"):
        stream.serve_from(images[:5].clone())
    with pytest.raises(ConfigurationError, match="^images must be"):
        stream.serve_from(images.float())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinning needs CUDA")
def test_critic_batches_pin_every_batch():
    pinned = CriticBatches([torch.ones(2), torch.zeros(3)]).pin_memory()
    assert all(t.is_pinned() for t in pinned.reals)
