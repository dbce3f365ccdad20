"""The loop's games seam (critic_games / generator_games), the EMA half-life in images and raw sampling."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ganmods import SGAN, GANDataModule, GANModule
from ganmods.errors import ConfigurationError
from ganmods.game import Game
from ganmods.module import critic_logits
from ganmods.nets import MLPCritic
from ganmods.regularizers import Regularizer
from tests.conftest import fast_trainer, tiny_nets


class _Critics(nn.Module):
    """Two critics in one module (so one optimizer trains both)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = MLPCritic(hidden=8), MLPCritic(hidden=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x)


class _TwoGames(GANModule):
    """Critic a on (x, G(z)) and critic b on (-x, -G(z)), plus a constant generator term; records its games."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.played: list[list[Game]] = []

    def critic_games(self, real):
        with torch.no_grad():
            fake = self.generator(self.sample_latent(real.shape[0]))
        games = [Game(self.discriminator.a, real, fake), Game(self.discriminator.b, -real, -fake)]
        self.played.append([Game(g.critic, g.real.clone(), g.fake.clone()) for g in games])
        return games

    def generator_games(self, real):
        z = self.sample_latent(real.shape[0])
        fake = self.generator(z)
        return ([Game(self.discriminator.a, real, fake, fake, z), Game(self.discriminator.b, -real, -fake, fake, z)],
                {"extra": torch.tensor(0.5)})


def _tiny_two_games(**kwargs) -> _TwoGames:
    nets = tiny_nets()
    return _TwoGames(generator=nets["generator"], discriminator=_Critics(), **kwargs)


def test_default_game_is_the_critic_on_real_against_generated():
    torch.manual_seed(0)
    model = SGAN(**tiny_nets())
    real = torch.randn(5, 2)
    torch.manual_seed(1)
    (game,) = model.critic_games(real)
    torch.manual_seed(1)
    expected_fake = model.generator(model.sample_latent(5))
    assert game.critic is model.discriminator
    assert torch.equal(game.real, real) and torch.allclose(game.fake, expected_fake)
    assert not game.fake.requires_grad  # built without gradients in the critic step
    (gen_game,), terms = model.generator_games(real)
    assert gen_game.fake.requires_grad and gen_game.generated is gen_game.fake and terms == {}
    assert gen_game.inputs.shape == (5, model.latent_dim)


def test_the_loop_sums_the_games_and_adds_generator_terms(tmp_path):
    torch.manual_seed(0)
    # critics that do not learn (lr 0), so the losses can be recomputed from the recorded games afterwards
    sgd0 = lambda params: torch.optim.SGD(params, lr=0.0)  # noqa: E731
    model = _tiny_two_games(loss="non_saturating", optimizer_d=sgd0, max_generator_steps=3)
    seen: list[dict] = []
    model.add_listener(lambda values, module: seen.append({k: float(v) for k, v in values.items()}))
    fast_trainer(tmp_path, log_every_n_steps=1).fit(model, datamodule=GANDataModule("ring8", batch_size=16,
                                                                                     batches_per_epoch=3))
    assert len(model.played) == 3 and len(seen) == 3
    for games, values in zip(model.played, seen):
        with torch.no_grad():
            want = sum(float(model.loss.discriminator_loss(critic_logits(g.critic(g.real)), critic_logits(g.critic(g.fake))))
                       for g in games)
        assert values["train/d_adv"] == pytest.approx(want, rel=1e-5)
        assert values["train/extra"] == 0.5
    # the generator objective includes the extra term: two adversarial terms (each > 0 for this loss) + 0.5
    assert all(v["train/g_loss"] > 0.5 for v in seen)
    # one optimizer trains both critics; the generator's optimizer holds exactly the generator's parameters
    opt_g, opt_d = model.optimizers()
    assert {id(p) for grp in opt_d.optimizer.param_groups for p in grp["params"]} == {
        id(p) for p in model.discriminator.parameters()}
    assert {id(p) for grp in opt_g.optimizer.param_groups for p in grp["params"]} == {
        id(p) for p in model.generator.parameters()}


class _Constant(Regularizer):
    """A constant critic and generator term, recording the critics it was given."""

    name = "constant"

    def __init__(self) -> None:
        super().__init__()
        self.critics: list[nn.Module] = []

    def penalty(self, critic, real, fake):
        self.critics.append(critic)
        return torch.tensor(0.25), {"constant/seen": torch.tensor(float(len(self.critics)))}

    def generator_penalty(self, critic, fake, latents):
        self.critics.append(critic)
        return fake.sum() * 0.0 + 0.125, {}


def test_penalties_are_summed_over_games(tmp_path):
    torch.manual_seed(0)
    reg = _Constant()
    model = _tiny_two_games(regularizers=[reg], max_generator_steps=2)
    seen: list[dict] = []
    model.add_listener(lambda values, module: seen.append({k: float(v) for k, v in values.items()}))
    fast_trainer(tmp_path, log_every_n_steps=1).fit(model, datamodule=GANDataModule("ring8", batch_size=8,
                                                                                     batches_per_epoch=2))
    # each step: critic a, critic b (critic side), then a, b again (generator side)
    assert reg.critics == [model.discriminator.a, model.discriminator.b] * 4
    for values in seen:  # the penalty of both games: 2 x 0.25; the logs averaged over the games
        assert values["train/d_loss"] - values["train/d_adv"] == pytest.approx(0.5)


def _ema_after(n_critic: int, images: int, batch: int, half_life: float) -> float:
    """The EMA's value of a parameter that is 0 at the first update and 1 afterwards, after ``images`` real
    images shown with ``n_critic`` critic steps of ``batch`` images per generator step."""
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), ema_half_life_images=half_life, n_critic=n_critic)
    with torch.no_grad():
        for p in model.generator.parameters():
            p.zero_()
    per_update = n_critic * batch
    model.update_ema(per_update)  # the first update copies the generator
    with torch.no_grad():
        for p in model.generator.parameters():
            p.fill_(1.0)
    for _ in range(images // per_update - 1):
        model.update_ema(per_update)
    return float(next(model.ema_generator.module.parameters()).flatten()[0])


def test_ema_half_life_in_images_does_not_depend_on_n_critic():
    one = _ema_after(n_critic=1, images=6400, batch=64, half_life=1000.0)
    five = _ema_after(n_critic=5, images=6400, batch=64, half_life=1000.0)
    # after 6400 images, 6080 of them after the first update (n_critic 1: 64 before) -> weight left on the start
    assert one == pytest.approx(1 - 0.5 ** (6336 / 1000), abs=1e-6)
    assert five == pytest.approx(1 - 0.5 ** (6080 / 1000), abs=1e-6)
    # the same horizon in images: the shares differ only by the images before the first update
    assert abs(one - five) < 0.005
    # a fixed per-step decay does depend on n_critic: the same 6400 images give 100 vs 20 updates
    model = SGAN(**tiny_nets(), ema_decay=0.99)
    assert model.ema_beta(64) == model.ema_beta(320) == 0.99


def test_ema_half_life_arguments_are_checked():
    with pytest.raises(ConfigurationError, match="ema_half_life_images must be a positive number"):
        SGAN(**tiny_nets(), ema_half_life_images=0)
    with pytest.raises(ConfigurationError, match="must not both be set"):
        SGAN(**tiny_nets(), ema_decay=0.9, ema_half_life_images=100.0)
    assert SGAN(**tiny_nets()).ema_beta(64) is None


def test_ema_half_life_is_used_by_the_loop(tmp_path):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), ema_half_life_images=64.0, max_generator_steps=4)
    fast_trainer(tmp_path).fit(model, datamodule=GANDataModule("ring8", batch_size=16, batches_per_epoch=4))
    # 16 images per generator step with a 64-image half-life: decay 0.5 ** 0.25 per step
    assert model.ema_beta(16) == pytest.approx(0.5 ** 0.25)
    assert int(model.ema_generator.n_averaged) == 4
    assert not torch.equal(next(model.ema_generator.module.parameters()), next(model.generator.parameters()))


def test_raw_sampling_scores_the_trained_generator():
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), ema_decay=0.9)
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)  # the EMA copy (made at construction) now differs from the trained generator
    ema = model.sample(4, seed=3)
    with model.raw_sampling():
        assert model.sampling_generator() is model.generator
        raw = model.sample(4, seed=3)
    assert not torch.equal(ema, raw)
    assert torch.equal(model.sample(4, seed=3), ema)  # restored after the block
    plain = SGAN(**tiny_nets())
    with plain.raw_sampling():
        assert plain.sampling_generator() is plain.generator


def test_critic_score_is_the_critic_on_data_in_eval_mode_and_keeps_the_mode(nets):
    model = SGAN(**nets)
    model.discriminator.train()
    x = torch.randn(5, 2)
    with torch.no_grad():
        want = copy.deepcopy(model.discriminator).eval()(x)
    got = model.critic_score(x)
    assert torch.equal(got, want) and not got.requires_grad and model.discriminator.training
