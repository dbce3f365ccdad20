"""The training loop: step counts, budgets, resume, clipping, gradient isolation, schedulers, sampling."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from ganmods import SGAN, WGAN, WGANGP, GANDataModule, GANModule, RaGAN
from ganmods.errors import ConfigurationError
from tests.conftest import fast_trainer, tiny_nets


def _dm(**kw) -> GANDataModule:
    kw.setdefault("batch_size", 32)
    kw.setdefault("batches_per_epoch", 64)
    return GANDataModule("ring8", **kw)


def test_n_critic_5_budget_100_gives_500_critic_and_100_generator_steps(nets, tmp_path):
    model = WGANGP(**nets, gp_weight=0.1, n_critic=5, max_generator_steps=100)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=_dm())
    assert (model.critic_steps, model.generator_steps) == (500, 100)
    assert model.images_seen == 500 * 32
    # Lightning's global_step counts both optimizers (pitfall 1): the budget must not follow it.
    assert trainer.global_step == 600


def test_budget_holds_across_resume(nets, tmp_path):
    model = WGANGP(**nets, gp_weight=0.1, n_critic=5, max_generator_steps=50)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=_dm())
    ckpt = tmp_path / "half.ckpt"
    trainer.save_checkpoint(ckpt)
    assert (model.critic_steps, model.generator_steps) == (250, 50)

    torch.manual_seed(1)
    resumed = WGANGP(**tiny_nets(), gp_weight=0.1, n_critic=5, max_generator_steps=100)
    trainer2 = fast_trainer(tmp_path)
    trainer2.fit(resumed, datamodule=_dm(), ckpt_path=str(ckpt))
    assert (resumed.critic_steps, resumed.generator_steps) == (500, 100)


class _ClipWatcher(Callback):
    def __init__(self) -> None:
        self.max_abs: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.max_abs.append(max(p.abs().max().item() for p in pl_module.discriminator.parameters()))


def test_weight_clipping_after_every_critic_step(nets, tmp_path):
    model = WGAN(**nets, clip=0.01, max_generator_steps=10)
    watcher = _ClipWatcher()
    fast_trainer(tmp_path, callbacks=[watcher]).fit(model, datamodule=_dm())
    assert len(watcher.max_abs) == 50
    assert max(watcher.max_abs) <= 0.01 + 1e-8
    assert min(watcher.max_abs) > 0.005  # the critic's weights really were at the bound, not tiny anyway


def test_wgan_reference_warmup_uses_100_critic_steps_first(nets, tmp_path):
    model = WGAN(**nets, reference_warmup=True, max_generator_steps=2)
    fast_trainer(tmp_path).fit(model, datamodule=_dm(batches_per_epoch=300))
    assert model.critic_steps == 200


class _Recorder(torch.optim.SGD):
    """SGD that remembers the gradients it stepped with."""

    def step(self, closure=None):  # type: ignore[override]
        self.seen = [p.grad.clone() for g in self.param_groups for p in g["params"]]
        return super().step(closure)


def test_generator_step_writes_no_gradient_into_critic_and_critic_step_none_into_generator(tmp_path):
    torch.manual_seed(0)
    model = RaGAN(**tiny_nets(), kind="rasgan", n_critic=2, max_generator_steps=1,
                  optimizer_d=lambda p: _Recorder(p, lr=0.0), optimizer_g=lambda p: torch.optim.SGD(p, lr=0.0))

    class Check(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            opt_d = pl_module.optimizers()[1].optimizer
            grads = [p.grad for p in pl_module.discriminator.parameters()]
            for seen, now in zip(opt_d.seen, grads):
                assert torch.equal(seen, now), "the generator step changed the critic's gradients"
            if batch_idx == 0:  # critic step only: no graph to G
                assert all(p.grad is None for p in pl_module.generator.parameters())
            else:
                assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in pl_module.generator.parameters())

    fast_trainer(tmp_path, callbacks=[Check()]).fit(model, datamodule=_dm())
    assert model.generator_steps == 1


def test_schedulers_step_with_their_own_optimizer(nets, tmp_path):
    def lin(total):
        return lambda opt: torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.0, total_iters=total)

    model = WGANGP(**nets, gp_weight=0.1, n_critic=5, max_generator_steps=10,
                   scheduler_g=lin(20), scheduler_d=lin(100))
    fast_trainer(tmp_path).fit(model, datamodule=_dm())
    opt_g, opt_d = model.optimizers()
    assert opt_g.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5)  # 10 of 20 steps
    assert opt_d.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5)  # 50 of 100 steps


def test_variant_defaults_follow_the_papers(nets):
    assert SGAN(**nets).loss.name == "non_saturating"
    assert SGAN(**tiny_nets(), saturating=True).loss.name == "saturating"
    wgan = WGAN(**tiny_nets())
    assert (wgan.loss.name, wgan.n_critic, wgan.regularizers[0].clip) == ("wasserstein", 5, 0.01)
    assert type(wgan.configure_optimizers()[1]).__name__ == "RMSprop"
    gp = WGANGP(**tiny_nets())
    assert (gp.loss.name, gp.n_critic, gp.regularizers[0].weight) == ("wasserstein", 5, 10.0)
    opt = gp.configure_optimizers()[1]
    assert opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.0, 0.9)
    ra = RaGAN(**tiny_nets(), kind="ralsgan", gp_weight=10.0)
    assert ra.loss.name == "ralsgan" and ra.regularizers[0].name == "gp"


def test_sample_is_seeded_shaped_and_uses_ema(nets):
    model = SGAN(**nets, ema_decay=0.5)
    a, b = model.sample(10, seed=3), model.sample(10, seed=3)
    assert a.shape == (10, 2) and torch.equal(a, b)
    assert not torch.equal(a, model.sample(10, seed=4))
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)  # only the training generator moves: samples come from the EMA copy
    assert torch.equal(a, model.sample(10, seed=3))


def test_ema_updates_once_per_generator_step_and_averages_buffers(tmp_path):
    torch.manual_seed(0)
    gen = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    gen.latent_dim = 2
    model = SGAN(gen, tiny_nets()["discriminator"], ema_decay=0.9, n_critic=2, max_generator_steps=3)
    fast_trainer(tmp_path).fit(model, datamodule=_dm())
    assert int(model.ema_generator.n_averaged) == 3
    ema_bn = model.ema_generator.module[1]
    assert not torch.equal(ema_bn.running_mean, torch.zeros(8))  # buffers are averaged too
    assert not torch.equal(ema_bn.running_mean, gen[1].running_mean)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(n_critic=0), "n_critic must be an integer >= 1; got 0"),
        (dict(gp_weight=-1.0), "got -1.0"),
        (dict(clip=-0.01), "clip must be a finite number >= 0; got -0.01"),
        (dict(loss="bogus"), "'saturating'"),
        (dict(latent_distribution="cauchy"), "latent_distribution must be one of ['normal', 'uniform']"),
        (dict(ema_decay=1.5), "ema_decay must be"),
        (dict(max_generator_steps=0), "max_generator_steps must be an integer >= 1; got 0"),
    ],
)
def test_bad_arguments_raise_before_training(nets, kwargs, fragment):
    with pytest.raises(ConfigurationError) as err:
        GANModule(**nets, **kwargs)
    assert fragment in str(err.value)


def test_unknown_loss_lists_valid_names(nets):
    with pytest.raises(ConfigurationError, match="rahinge.*got 'bogus'"):
        GANModule(**nets, loss="bogus")


def test_batchnorm_critic_with_penalty_is_refused():
    with pytest.raises(ConfigurationError, match="BatchNorm"):
        WGANGP(**tiny_nets(norm="batch"))
    SGAN(**tiny_nets(norm="batch"))  # fine without a penalty


def test_generator_shape_mismatch_names_both_shapes(tmp_path):
    from ganmods.nets import MLPCritic, MLPGenerator

    model = SGAN(MLPGenerator(out_dim=3, hidden=8), MLPCritic(in_dim=3, hidden=8))
    with pytest.raises(ConfigurationError, match=r"data shape \(2,\).*got \(3,\)"):
        fast_trainer(tmp_path).fit(model, datamodule=_dm())
    assert model.critic_steps == 0


def test_critic_output_shape_is_checked(tmp_path):
    from ganmods.nets import MLPGenerator

    critic = torch.nn.Linear(2, 2)
    model = SGAN(MLPGenerator(hidden=8), critic)
    with pytest.raises(ConfigurationError, match=r"\[B\] or \[B, 1\]; got \[2, 2\]"):
        fast_trainer(tmp_path).fit(model, datamodule=_dm())


def test_latent_dim_required_without_generator_attribute():
    with pytest.raises(ConfigurationError, match="latent_dim"):
        GANModule(torch.nn.Linear(2, 2), tiny_nets()["discriminator"])
    assert GANModule(torch.nn.Linear(3, 2), tiny_nets()["discriminator"], latent_dim=3).latent_dim == 3


def test_training_moves_toward_the_data(tmp_path):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(hidden=64), max_generator_steps=400)
    dm = _dm(batch_size=128)
    before = dm.distribution.evaluate(model.sample(1000, seed=0))
    pl.seed_everything(0)
    fast_trainer(tmp_path).fit(model, datamodule=dm)
    radius = model.sample(1000, seed=0).norm(dim=1)
    assert abs(radius.median().item() - 1.0) < 0.2  # the ring has radius 1
    assert before["modes"] <= dm.distribution.evaluate(model.sample(1000, seed=0))["modes"]


def test_validation_logs_divergence_estimate_toy_metrics_and_critic_gap(tmp_path):
    from lightning.pytorch.loggers import CSVLogger
    import csv, glob

    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=20, grad_norm_interval=10)
    dm = _dm(batches_per_epoch=50, val_size=100, eval_samples=300)
    trainer = fast_trainer(tmp_path, logger=CSVLogger(str(tmp_path)), limit_val_batches=None, log_every_n_steps=25)
    trainer.fit(model, datamodule=dm)
    (path,) = glob.glob(str(tmp_path / "lightning_logs" / "*" / "metrics.csv"))
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    keys = {k for r in rows for k, v in r.items() if v not in ("", None)}
    for key in ("train/d_loss", "train/g_loss", "train/d_adv", "train/gp", "train/gp_grad_norm", "train/w_estimate",
                "train/grad_norm_d", "train/grad_norm_g", "val/modes", "val/hq", "val/reverse_kl", "val/w_estimate",
                "val/critic_gap", "counters/images_seen", "counters/critic_steps"):
        assert key in keys, key
    # n_critic 5: 100 Lightning batches for 20 generator steps; values logged whenever the trainer writes logs
    train = [(int(r["step"]), int(float(r["counters/generator_steps"]))) for r in rows if r.get("train/g_loss")]
    assert train == [(24, 5), (49, 10), (74, 15), (99, 20)]
    # the logged gap is the critic's mean on training data minus its mean on the held-out set, recomputed here
    # from the final networks (the last validation ran after the last step)
    val = [r for r in rows if r.get("val/critic_gap")]
    assert int(float(val[-1]["counters/generator_steps"])) == 20
    with torch.no_grad():
        held = torch.cat([b for b in dm.val_dataloader()])
        heldout_mean = model.discriminator(held).float().mean().item()
        train_mean = model.discriminator(dm.train_reference(held.shape[0])).float().mean().item()
    assert float(val[-1]["val/critic_real_heldout"]) == pytest.approx(heldout_mean, abs=1e-5)
    assert float(val[-1]["val/critic_real_train"]) == pytest.approx(train_mean, abs=1e-5)
    assert float(val[-1]["val/critic_gap"]) == pytest.approx(train_mean - heldout_mean, abs=1e-5)


class _NaNAfter(torch.nn.Module):
    """A critic that starts returning NaN after `k` training forward calls on full batches."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.inner = tiny_nets()["discriminator"]
        self.k, self.calls = k, 0

    def forward(self, x):
        out = self.inner(x)
        if self.training and x.shape[0] == 32:
            self.calls += 1
            if self.calls > self.k:
                return out * float("nan")
        return out


def test_nan_mid_run_stops_at_the_next_check_and_last_checkpoint_is_finite(tmp_path):
    import glob

    import ganmods
    from ganmods.callbacks import GANCheckpoint

    torch.manual_seed(0)
    critic = _NaNAfter(k=40)
    model = SGAN(tiny_nets()["generator"], critic, max_generator_steps=1000)
    ckpt = GANCheckpoint(dirpath=str(tmp_path / "ck"), monitor=None, every_n_train_steps=5)
    trainer = fast_trainer(tmp_path, callbacks=[ckpt], enable_checkpointing=True, log_every_n_steps=5)
    with pytest.warns(UserWarning, match="non-finite critic loss between critic steps 10 and 15"):
        trainer.fit(model, datamodule=_dm())
    # 2 critic forwards per critic step + 1 per generator step: the 41st call is in critic step 13 (0-based);
    # the flags are read when the trainer writes logs (every 5 batches): after critic step 14
    assert model.critic_steps == 15 and model.generator_steps == 15
    assert "non-finite critic loss" in model.nonfinite_message
    assert not all(torch.isfinite(p).all() for p in model.parameters())  # the steps in between were applied
    (last,) = glob.glob(str(tmp_path / "ck" / "last.ckpt"))
    loaded = ganmods.load_checkpoint(last, discriminator=_NaNAfter(k=10**9))
    assert loaded.generator_steps == 10  # the last finite state saved; the non-finite one was refused
    assert all(torch.isfinite(p).all() for p in loaded.parameters())


def test_nan_check_can_be_switched_off(nets):
    assert GANModule(**nets, stop_on_nonfinite=False).stop_on_nonfinite is False
    with pytest.raises(ConfigurationError, match="stop_on_nonfinite must be true or false"):
        GANModule(**tiny_nets(), stop_on_nonfinite="yes")


def test_mismatched_networks_are_named_before_training(tmp_path):
    from ganmods.nets import MLPCritic, MLPGenerator

    with pytest.raises(ConfigurationError, match=r"latent_dim must equal the generator's latent_dim \(2\); got 5"):
        SGAN(MLPGenerator(hidden=8), MLPCritic(hidden=8), latent_dim=5)
    model = SGAN(MLPGenerator(hidden=8, out_dim=2), MLPCritic(in_dim=3, hidden=8))
    with pytest.raises(ConfigurationError, match=r"discriminator must accept the generator's output of shape \[2, 2\]"):
        model.check_networks()
    model = SGAN(torch.nn.Linear(4, 2), MLPCritic(hidden=8), latent_dim=3)
    with pytest.raises(ConfigurationError, match=r"generator must accept latents of shape \[B, latent_dim\] = \[2, 3\]"):
        model.check_networks()


def test_seeded_sampling_and_evaluation_leave_the_training_random_stream_alone(nets):
    model = SGAN(**nets, ema_decay=0.9)
    dm = _dm()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    model.sample(100, seed=5)
    dm.evaluate(model)
    dm.train_reference(64)
    assert torch.equal(torch.get_rng_state(), state)
