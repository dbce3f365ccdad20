"""Several critic steps per Lightning batch (``GANDataModule(steps_per_batch=K)``) and the direct backward
path: same data, same math, same checkpoints as one step per batch; only the framework's work differs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from ganmods import SGAN, WGANGP, GANDataModule, RaGAN
from ganmods.callbacks import GANCheckpoint, HealthMonitor
from ganmods.data import CriticBatches, SampleBatches, StepChunks, make_toy
from ganmods.errors import ConfigurationError
from ganmods.module import COUNTERS
from ganmods.precision import direct_backward_ok
from tests.conftest import fast_trainer, tiny_nets
from tests.test_compare import _config, _run
from tests.test_health_monitor import BATCH, _Poisoned

VARIANTS: dict[str, Callable[..., Any]] = {
    "sgan": lambda **kw: SGAN(**kw),
    "wgan_gp": lambda **kw: WGANGP(**kw, n_critic=3, gp_weight=1.0),
    "rasgan": lambda **kw: RaGAN(**kw, kind="rasgan"),
}


def _fit(make: Callable[..., Any], steps: int, k: int, root: Path, ckpt: Any = None, callbacks: Any = ()):
    pl.seed_everything(0, verbose=False)
    torch.manual_seed(0)
    model = make(**tiny_nets(), max_generator_steps=steps, ema_decay=0.9,
                 scheduler_d=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.9))
    data = GANDataModule(batch_size=16, batches_per_epoch=8, steps_per_batch=k, val_size=32, eval_samples=64)
    trainer = fast_trainer(root, enable_checkpointing=True, limit_val_batches=None,
                           callbacks=[ModelCheckpoint(dirpath=root, save_last=True, save_top_k=0), *callbacks])
    trainer.fit(model, datamodule=data, ckpt_path=ckpt)
    return model, trainer


def _assert_same(a: Any, b: Any) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    assert [getattr(a, c) for c in COUNTERS] == [getattr(b, c) for c in COUNTERS]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grouped_critic_steps_train_exactly_like_single_steps(variant, tmp_path):
    # budget 7 generator steps: the run ends inside a group of 4 (critic step 7 or 21)
    single, _ = _fit(VARIANTS[variant], 7, 1, tmp_path / "k1")
    grouped, trainer = _fit(VARIANTS[variant], 7, 4, tmp_path / "k4")
    assert grouped.generator_steps == 7
    assert grouped.critic_steps == 7 * grouped.n_critic
    _assert_same(single, grouped)
    assert trainer.global_step == single.trainer.global_step  # every optimizer step counted by Lightning


def test_a_grouped_run_resumes_exactly_from_a_stop_inside_a_group(tmp_path):
    straight, _ = _fit(VARIANTS["sgan"], 9, 1, tmp_path / "straight")
    _fit(VARIANTS["sgan"], 5, 4, tmp_path / "half")  # stops after critic step 5, inside the group 4..7
    resumed, _ = _fit(VARIANTS["sgan"], 9, 4, tmp_path / "resumed", ckpt=tmp_path / "half" / "last.ckpt")
    _assert_same(straight, resumed)


def test_step_chunks_carry_the_stream_batches_in_order():
    stream = SampleBatches(make_toy("ring8"), 8, num_batches=6, seed=3, step_fn=lambda: 10)
    chunks = list(StepChunks(stream, 3))
    assert len(chunks) == len(StepChunks(stream, 3)) == 2
    flat = [real for chunk in chunks for real in chunk.reals]
    for step, real in zip(range(10, 16), flat):
        assert torch.equal(real, stream.batch(step, 0))
    dm = GANDataModule("ring8", batch_size=8, batches_per_epoch=6, steps_per_batch=3)
    first = next(iter(dm.train_dataloader()))
    assert isinstance(first, CriticBatches) and len(first.reals) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"steps_per_batch": 0}, "steps_per_batch must be an integer >= 1; got 0"),
    ({"steps_per_batch": 3}, r"steps_per_batch must be a divisor of batches_per_epoch = 8; got 3"),
])
def test_bad_steps_per_batch(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        GANDataModule("ring8", batches_per_epoch=8, **kwargs)
    with pytest.raises(ConfigurationError, match="steps_per_batch must be a positive divisor of the stream's 8"):
        StepChunks(SampleBatches(make_toy("ring8"), 8, num_batches=8, seed=0), 5)


class _CountBackward(Callback):
    def __init__(self) -> None:
        self.calls = 0

    def on_after_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.calls += 1


def test_backward_hooks_run_whenever_someone_listens_and_change_nothing(tmp_path):
    direct, _ = _fit(VARIANTS["wgan_gp"], 4, 4, tmp_path / "direct")
    counter = _CountBackward()
    hooked, _ = _fit(VARIANTS["wgan_gp"], 4, 4, tmp_path / "hooked", callbacks=[counter])
    assert counter.calls == hooked.critic_steps + hooked.generator_steps == 16
    _assert_same(direct, hooked)


def test_direct_backward_only_for_plain_single_process_runs():
    model = SGAN(**tiny_nets())
    assert direct_backward_ok(fast_trainer(), model)
    assert not direct_backward_ok(fast_trainer(precision="bf16-mixed"), model)
    assert not direct_backward_ok(fast_trainer(profiler="simple"), model)
    assert not direct_backward_ok(fast_trainer(callbacks=[_CountBackward()]), model)

    class Hooked(SGAN):
        def on_before_backward(self, loss: torch.Tensor) -> None:
            pass

    assert not direct_backward_ok(fast_trainer(), Hooked(**tiny_nets()))


class _CountSteps(Callback):
    def __init__(self) -> None:
        self.calls = 0

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self.calls += 1


def test_optimizer_step_hooks_run_for_every_step_and_change_nothing(tmp_path):
    plain, trainer = _fit(VARIANTS["wgan_gp"], 4, 4, tmp_path / "plain")
    counter = _CountSteps()
    hooked, hooked_trainer = _fit(VARIANTS["wgan_gp"], 4, 4, tmp_path / "hooked", callbacks=[counter])
    assert counter.calls == hooked.critic_steps + hooked.generator_steps == 16
    _assert_same(plain, hooked)
    # Lightning counts every optimizer step (both networks'), through its own optimizer step
    assert trainer.global_step == hooked_trainer.global_step == 16


def test_a_non_finite_gradient_inside_a_group_stops_at_the_batch_end_and_the_checkpoint_stays_finite(tmp_path):
    from tests.test_health_monitor import _Poisoned

    torch.manual_seed(0)
    model = SGAN(tiny_nets()["generator"], _Poisoned(k=30, mode="grad"), max_generator_steps=1000)
    trainer = fast_trainer(tmp_path, enable_checkpointing=True, log_every_n_steps=1,
                           callbacks=[GANCheckpoint(dirpath=str(tmp_path / "ck"), monitor=None, every_n_train_steps=1),
                                      HealthMonitor()])
    data = GANDataModule("ring8", batch_size=BATCH, batches_per_epoch=8, steps_per_batch=4)
    # the 31st gradient-taking critic call is in critic step 10, the third of the group 8..11: the whole group
    # runs (no step waits for the device), and the check at the end of the batch names the parameter
    with pytest.warns(UserWarning, match=r"non-finite (critic loss|parameter discriminator\.inner\.\S+) between critic steps 8 and 12"):
        trainer.fit(model, datamodule=data)
    assert (model.critic_steps, model.generator_steps) == (12, 12)
    raw = torch.load(tmp_path / "ck" / "last.ckpt", map_location="cpu", weights_only=True)
    assert raw["ganmods"]["counters"]["critic_steps"] == 8  # the last finite state: the group before


def test_comparisons_group_steps_only_under_a_generator_step_budget(tmp_path):
    config = yaml.safe_load(open(_config(tmp_path)))
    config["shared"]["data"]["steps_per_batch"] = 2
    (tmp_path / "images.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigurationError, match="shared.data.steps_per_batch must be 1 under a budget in images"):
        _run(str(tmp_path / "images.yaml"), tmp_path / "never")
    config["budget"], config["seeds"] = {"generator_steps": 4}, [0]
    (tmp_path / "steps.yaml").write_text(yaml.safe_dump(config))
    _run(str(tmp_path / "steps.yaml"), tmp_path / "grouped", variants=["wgan_gp"])
    config["shared"]["data"]["steps_per_batch"] = 1
    (tmp_path / "single.yaml").write_text(yaml.safe_dump(config))
    _run(str(tmp_path / "single.yaml"), tmp_path / "single", variants=["wgan_gp"])
    runs = [tmp_path / out / "runs" / "wgan_gp" / "s0" for out in ("grouped", "single")]
    hashes = [(run / "batches.txt").read_text().split() for run in runs]
    assert len(hashes[0]) == 8 and hashes[0] == hashes[1]  # one fingerprint per critic step, the same batches
    results = [json.loads((run / "result.json").read_text()) for run in runs]
    assert results[0]["critic_steps"] == results[1]["critic_steps"] == 8


def test_plain_attribute_updates_keep_module_registration_intact():
    model = SGAN(**tiny_nets())
    model.extra = 3
    model.extra = 4  # the fast path: a plain value for a plain attribute
    assert model.extra == 4 and "extra" in vars(model)
    model.extra = torch.nn.Linear(2, 2)  # a module replaces it: registered as a child, as nn.Module does
    assert "extra" in dict(model.named_children()) and "extra" not in vars(model)
    model.extra = torch.nn.Linear(2, 3)
    assert model.extra.out_features == 3 and any(n.startswith("extra.") for n, _ in model.named_parameters())
    model.scale = 1.0
    model.scale = torch.nn.Parameter(torch.ones(1))
    assert "scale" in dict(model.named_parameters())
