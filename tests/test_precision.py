"""Mixed precision on CPU: bf16-mixed (the penalty stays in fp32 and matches fp32; training runs) and the
16-mixed recipe (scaled inner gradient of the penalty, skipped steps counted and logged)."""

from __future__ import annotations

import torch

import ganmods
from ganmods import WGANGP, GANDataModule
from ganmods.nets import MLPCritic
from ganmods.precision import grad_scaler_of
from ganmods.regularizers import GradientPenalty, gradient_penalty
from tests.conftest import fast_trainer, tiny_nets


def test_gradient_penalty_under_bf16_autocast_matches_fp32():
    torch.manual_seed(0)
    critic = MLPCritic(hidden=256)
    real, fake = torch.randn(256, 2), torch.randn(256, 2)
    p32, _ = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pbf, norms = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert pbf.dtype == torch.float32 and norms.dtype == torch.float32
    assert abs(float(pbf) / float(p32) - 1) < 1e-2


def test_bf16_mixed_training_runs_with_fp32_losses(tmp_path):
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=5)
    seen = []
    original = model.loss.discriminator_loss
    model.loss.discriminator_loss = lambda r, f: seen.append(original(r, f)) or seen[-1]
    fast_trainer(tmp_path, precision="bf16-mixed").fit(model, datamodule=GANDataModule(batch_size=16, batches_per_epoch=30))
    assert model.generator_steps == 5
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in seen)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


# ------------------------------------------------------------------ 16-mixed: the scaled penalty recipe
# fp16 autocast and torch.amp.GradScaler("cpu") both work on CPU, so the recipe runs here as it would on a
# GPU (Lightning refuses precision="16-mixed" on CPU, but accepts the MixedPrecision plugin itself).


def _tiny_gradient_critic() -> torch.nn.Module:
    """A linear critic whose inner gradients (≈1e-8 after the last two layers) underflow in fp16 while
    the input gradient (≈4e-4, after the large first layer) does not."""
    critic = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Linear(8, 8), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for layer, magnitude in zip(critic, (1e4, 5e-5, 5e-5)):
            layer.weight.copy_(torch.randn_like(layer.weight).sign() * magnitude)
            layer.bias.zero_()
    return critic


def test_scaled_penalty_keeps_fp16_gradients_that_underflow_unscaled():
    torch.manual_seed(0)
    critic = _tiny_gradient_critic()
    real, fake = torch.randn(64, 2).clamp(-1, 1), torch.randn(64, 2).clamp(-1, 1)
    _, n32 = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.float16):
        _, unscaled = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**15)
        _, scaled = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1), scaler=scaler)
    assert float(n32.min()) > 1e-4
    assert float(unscaled.max()) < 2e-6  # underflowed: only the 1e-12 inside the square root is left
    assert scaled.dtype == torch.float32 and float((scaled / n32 - 1).abs().max()) < 1e-2


def test_scaled_penalty_gradients_match_fp32_after_unscaling():
    torch.manual_seed(0)
    critic = MLPCritic(hidden=32, depth=2)
    real, fake = torch.randn(128, 2), torch.randn(128, 2)
    p32, _ = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    want = torch.autograd.grad(p32, list(critic.parameters()), allow_unused=True)  # the last bias: unused
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    with torch.autocast("cpu", dtype=torch.float16):
        p16, _ = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1), scaler=scaler)
    scaler.scale(p16).backward()
    scaler.unscale_(torch.optim.SGD(critic.parameters(), lr=0.0))
    assert abs(float(p16) / float(p32) - 1) < 1e-2
    for w, p in zip(want, critic.parameters(), strict=True):
        if w is None:
            assert p.grad is None
        else:
            assert float((p.grad - w).abs().max()) <= 2e-2 * float(w.abs().max())


def test_penalty_overflow_skips_the_step_instead_of_stopping_training():
    from ganmods.precision import SkippedSteps

    torch.manual_seed(0)
    critic = MLPCritic(hidden=16, depth=2)
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)  # 2**16 per sample overflows fp16 (max 65504)

    class Step:  # what Lightning's optimizer step does under 16-mixed
        def step(self) -> None:
            scaler.step(opt)
            scaler.update()

    before = [p.detach().clone() for p in critic.parameters()]
    counter = SkippedSteps()
    with torch.autocast("cpu", dtype=torch.float16):
        term, norms = gradient_penalty(critic, torch.randn(32, 2), torch.randn(32, 2), scaler=scaler)
    assert float(term) == 0.0 and not torch.isfinite(norms).all()  # finite loss, overflow visible in norms
    scaler.scale(term).backward()
    counter.step(Step(), scaler)
    assert counter.total() == 1 and scaler.get_scale() == 2.0**15
    assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters()))
    # at the lowered scale the next step goes through
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        term, _ = gradient_penalty(critic, torch.randn(32, 2), torch.randn(32, 2), scaler=scaler)
    assert float(term) > 0
    scaler.scale(term).backward()
    counter.step(Step(), scaler)
    assert counter.total() == 1 and not all(torch.equal(a, b) for a, b in zip(before, critic.parameters()))


def test_16_mixed_training_on_cpu_scales_the_penalty_and_logs_skipped_steps():
    from lightning.pytorch.plugins.precision import MixedPrecision

    torch.manual_seed(0)
    critic = _tiny_gradient_critic()  # linear: the same input gradient everywhere, ≈4e-4, lost unscaled in fp16
    want = float((critic[0].weight.t() @ critic[1].weight.t() @ critic[2].weight.t()).norm())
    frozen = lambda params: torch.optim.SGD(params, lr=0.0)  # noqa: E731 - keep the critic's gradient fixed
    model = WGANGP(tiny_nets()["generator"], critic, gp_weight=10.0, max_generator_steps=4,
                   optimizer_d=frozen)
    logged: list[dict] = []
    model.add_listener(lambda values, module: logged.append({k: float(v) for k, v in values.items()}))
    trainer = fast_trainer(tmp_path=None, plugins=[MixedPrecision("16-mixed", "cpu")], log_every_n_steps=5)
    trainer.fit(model, datamodule=GANDataModule(batch_size=64, batches_per_epoch=30))
    scaler = trainer.precision_plugin.scaler
    assert model.generator_steps == 4 and model.nonfinite_message is None
    assert model.regularizers[0].grad_scaler is scaler
    assert abs(logged[-1]["train/gp_grad_norm"] / want - 1) < 1e-2  # unscaled fp16 would give 1e-6
    skipped = [m["train/skipped_steps"] for m in logged]  # one report per generator step (n_critic 5)
    assert len(skipped) == 4 and skipped == sorted(skipped) and skipped[-1] >= 1
    # each skip halved the scale (no growth within 2000 steps)
    assert scaler.get_scale() == 2.0**16 / 2 ** skipped[-1]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_no_scaler_no_skipped_steps_logged(tmp_path):
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=2)
    logged: list[dict] = []
    model.add_listener(lambda values, module: logged.append(dict(values)))
    fast_trainer(tmp_path, precision="bf16-mixed", log_every_n_steps=1).fit(model, datamodule=GANDataModule(batch_size=16, batches_per_epoch=30))
    assert logged and all("train/skipped_steps" not in m for m in logged)
    assert model.regularizers[0].grad_scaler is None and "grad_scaler" not in vars(model.regularizers[0])
    assert grad_scaler_of(None) is None


def test_use_scaler_sets_and_clears():
    gp, scaler = GradientPenalty(weight=1.0), torch.amp.GradScaler("cpu")
    gp.use_scaler(scaler)
    assert gp.grad_scaler is scaler
    gp.use_scaler(None)
    assert gp.grad_scaler is None and "grad_scaler" not in vars(gp)


def test_skipped_steps_are_saved_and_continue_after_a_resume(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.plugins.precision import MixedPrecision

    def fit(steps: int, ckpt=None) -> WGANGP:
        torch.manual_seed(0)
        model = WGANGP(tiny_nets()["generator"], _tiny_gradient_critic(), gp_weight=10.0, max_generator_steps=steps,
                       optimizer_d=lambda params: torch.optim.SGD(params, lr=0.0))
        trainer = fast_trainer(tmp_path, plugins=[MixedPrecision("16-mixed", "cpu")], enable_checkpointing=True,
                               callbacks=[ModelCheckpoint(dirpath=tmp_path / str(steps), save_last=True, save_top_k=0)])
        trainer.fit(model, datamodule=GANDataModule(batch_size=64, batches_per_epoch=30), ckpt_path=ckpt)
        return model

    half = fit(2)
    saved = torch.load(tmp_path / "2" / "last.ckpt", map_location="cpu", weights_only=True)["ganmods"]["skipped_steps"]
    assert saved == half.skipped_steps.total() >= 1
    loaded = ganmods.load_checkpoint(tmp_path / "2" / "last.ckpt", discriminator=_tiny_gradient_critic())
    assert loaded.skipped_steps.total() == saved
    straight = fit(4)
    resumed = fit(4, ckpt=tmp_path / "2" / "last.ckpt")
    assert resumed.skipped_steps.total() == straight.skipped_steps.total() >= saved  # counted on, not from 0
