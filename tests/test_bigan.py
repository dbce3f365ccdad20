"""BiGAN / ALI: the joint games, which way the generator step pushes each pair, the joint gradient penalty, the
encoder's metrics, checkpoints, the shipped configs and bad input."""

from __future__ import annotations

import csv
import glob
import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganmods
from ganmods import GANDataModule, GANModule
from ganmods.bigan import (
    LABELLED_DATA, PROBE_SEED, BiGAN, NegatedCritic, digits_probe_data, linear_probe_accuracy,
)
from ganmods.cli import main
from ganmods.errors import ConfigurationError
from ganmods.game import Game
from ganmods.nets import MLPCritic, MLPGenerator
from ganmods.nets.encoders import ConvEncoder, MLPEncoder
from ganmods.nets.joint import JointConvCritic, JointMLPCritic, join, split_joint
from ganmods.regularizers import GradientPenalty, InstanceNoise
from ganmods.spec import from_spec, to_spec
from tests.conftest import fast_trainer

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "ganmods", "configs", "bigan")


def sgd(lr: float):
    """An optimizer factory: plain SGD (lr 0 keeps a network fixed, so values can be recomputed afterwards)."""
    return lambda params: torch.optim.SGD(params, lr=lr)


def tiny(cls: type = BiGAN, latent_dim: int = 2, hidden: int = 16, depth: int = 2, **kwargs) -> BiGAN:
    torch.manual_seed(0)
    return cls(MLPGenerator(latent_dim=latent_dim, out_dim=2, hidden=hidden, depth=2),
               JointMLPCritic(x_dim=2, latent_dim=latent_dim, hidden=hidden, depth=depth),
               MLPEncoder(in_dim=2, latent_dim=latent_dim, hidden=hidden, depth=2), **kwargs)


def ring(batches: int = 4, batch_size: int = 16) -> GANDataModule:
    return GANDataModule("ring8", batch_size=batch_size, batches_per_epoch=batches, val_size=32, eval_samples=200)


class Recording(BiGAN):
    """Records the real batch and the games of every step (copies), and the latents of the generator step."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.critic_played: list[tuple[torch.Tensor, Game]] = []
        self.generator_played: list[tuple[torch.Tensor, list[Game]]] = []

    def critic_games(self, real):
        games = super().critic_games(real)
        self.critic_played.append((real.clone(), Game(games[0].critic, games[0].real.clone(), games[0].fake.clone())))
        return games

    def generator_games(self, real):
        games, terms = super().generator_games(real)
        self.generator_played.append((real.clone(), [Game(g.critic, g.real.detach().clone(), g.fake.detach().clone(),
                                                          g.generated.detach().clone(), g.inputs.detach().clone())
                                                     for g in games]))
        return games, terms


# ---------------------------------------------------------------------- the games
def test_critic_sees_exactly_real_with_its_code_and_fake_with_its_latent(tmp_path):
    model = tiny(Recording, optimizer_g=sgd(0.0), optimizer_d=sgd(0.0), max_generator_steps=3)
    fast_trainer(tmp_path).fit(model, datamodule=ring())
    assert len(model.critic_played) == 3 and len(model.generator_played) == 3
    with torch.no_grad():  # the networks did not move (lr 0): recompute what each side must be
        for real, game in model.critic_played:
            assert game.critic is model.discriminator
            assert torch.equal(game.real, join(real, model.encoder(real)))  # (x, E(x))
            x, z = split_joint(game.fake, (2,), 2)
            assert torch.allclose(x, model.generator(z), atol=1e-6)  # (G(z), z)
            assert not game.real.requires_grad and not game.fake.requires_grad  # built without gradients
        for real, (g_game, e_game) in model.generator_played:
            assert g_game.critic is model.discriminator and torch.equal(g_game.real, join(real, model.encoder(real)))
            x, z = split_joint(g_game.fake, (2,), 2)
            assert torch.equal(z, g_game.inputs) and torch.allclose(x, model.generator(z), atol=1e-6)
            # the encoder's game: the negated critic, its fake side is (x, E(x)) and its real side (G(z), z)
            assert isinstance(e_game.critic, NegatedCritic) and e_game.critic.critic is model.discriminator
            assert torch.equal(e_game.fake, g_game.real) and torch.equal(e_game.real, g_game.fake)
            assert torch.equal(e_game.inputs, real) and torch.equal(e_game.generated, g_game.real)


def test_input_transforms_touch_the_data_part_only():
    model = tiny(regularizers=[InstanceNoise(sigma=1.0, schedule="constant")])
    real = torch.randn(8, 2)
    (game,) = model.critic_games(real)
    with torch.no_grad():
        code = model.encoder(real)
    assert torch.equal(game.real[:, 2:], code)  # E sees the clean x and its code is not noised
    assert (game.real[:, :2] - real).abs().min() > 0  # the critic's x is noised
    (g_game, _), _ = model.generator_games(real)
    assert torch.allclose(g_game.fake[:, 2:], g_game.inputs) and torch.allclose(g_game.real[:, 2:], model.encoder(real))
    assert not torch.allclose(g_game.generated[:, :2], g_game.fake[:, :2])  # generated: before the transform


class Watching(BiGAN):
    """Checks, inside each generator step, that the critic is frozen and keeps its gradients, and that G and E get
    gradients (``update_ema`` runs right after the generator's optimizer step)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checked = 0
        self._critic_grads: list[torch.Tensor] = []

    def generator_games(self, real):
        assert not any(p.requires_grad for p in self.discriminator.parameters())
        self._critic_grads = [p.grad.clone() for p in self.discriminator.parameters()]
        for p in self.generator_parameters():
            p.grad = None
        return super().generator_games(real)

    def update_ema(self, images):
        for before, p in zip(self._critic_grads, self.discriminator.parameters()):
            assert torch.equal(before, p.grad)  # the generator step wrote nothing into the critic
        for net in (self.generator, self.encoder):
            grads = [p.grad for p in net.parameters()]
            assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
        self.checked += 1
        super().update_ema(images)


def test_generator_step_trains_generator_and_encoder_not_the_critic(tmp_path):
    model = tiny(Watching, max_generator_steps=3, ema_decay=0.9)
    fast_trainer(tmp_path).fit(model, datamodule=ring())
    assert model.checked == 3
    opt_g, opt_d = model.optimizers()
    trained_by_g = {id(p) for grp in opt_g.optimizer.param_groups for p in grp["params"]}
    assert trained_by_g == {id(p) for p in [*model.generator.parameters(), *model.encoder.parameters()]}
    assert {id(p) for grp in opt_d.optimizer.param_groups for p in grp["params"]} == {
        id(p) for p in model.discriminator.parameters()}
    assert int(model.ema_encoder.n_averaged) == 3  # the encoder's EMA follows the generator's


def _hand_generator_loss(loss: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> float:
    """The BiGAN generator objective written out, from D(x, E(x)) and D(G(z), z)."""
    if loss == "non_saturating":  # G: D(G(z), z) should say real; E: D(x, E(x)) should say fake
        return float(F.softplus(-d_fake).mean() + F.softplus(d_real).mean())
    if loss == "wasserstein":  # minus the critic's objective: E[D(x, E(x))] - E[D(G(z), z)]
        return float(d_real.mean() - d_fake.mean())
    assert loss == "rsgan"  # each game is the RSGAN generator loss sp(-(D(fake) - D(real))), once per network
    return float(2 * F.softplus(-(d_fake - d_real)).mean())


@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein", "rsgan"])
def test_generator_loss_matches_the_hand_computation(loss, tmp_path):
    model = tiny(Recording, loss=loss, optimizer_g=sgd(0.0), optimizer_d=sgd(0.0), max_generator_steps=3)
    seen: list[float] = []
    model.add_listener(lambda values, module: seen.append(float(values["train/g_loss"])))
    fast_trainer(tmp_path, log_every_n_steps=1).fit(model, datamodule=ring())
    assert len(seen) == 3
    with torch.no_grad():
        for logged, (real, (g_game, _)) in zip(seen, model.generator_played):
            z = g_game.inputs
            d_real = model.discriminator(join(real, model.encoder(real)))
            d_fake = model.discriminator(join(model.generator(z), z))
            assert logged == pytest.approx(_hand_generator_loss(loss, d_real, d_fake), rel=1e-5)


@pytest.mark.parametrize("loss", ["non_saturating", "saturating", "wasserstein", "hinge", "rasgan"])
def test_generator_step_makes_the_real_pair_look_fake_and_the_fake_pair_real(loss, tmp_path):
    """One small generator step on a fixed critic: D(G(z), z) goes up, D(x, E(x)) goes down."""
    model = tiny(Recording, loss=loss, optimizer_g=sgd(1e-3), optimizer_d=sgd(0.0), max_generator_steps=1)
    before_g, before_e = (from_spec(to_spec(n)) for n in (model.generator, model.encoder))
    before_g.load_state_dict(model.generator.state_dict())
    before_e.load_state_dict(model.encoder.state_dict())
    fast_trainer(tmp_path).fit(model, datamodule=ring(batches=1, batch_size=64))
    ((real, (g_game, _)),) = model.generator_played
    z, critic = g_game.inputs, model.discriminator
    with torch.no_grad():
        assert critic(join(model.generator(z), z)).mean() > critic(join(before_g(z), z)).mean()
        assert critic(join(real, model.encoder(real))).mean() < critic(join(real, before_e(real))).mean()


# ---------------------------------------------------------------------- gradient penalty on the joint input
def _linear_critic(w: list[float]) -> JointMLPCritic:
    critic = JointMLPCritic(x_dim=2, latent_dim=2, depth=0)
    with torch.no_grad():
        critic.net[0].weight.copy_(torch.tensor([w]))
        critic.net[0].bias.zero_()
    return critic


def test_gradient_penalty_takes_the_norm_over_both_parts():
    # w = (0.3, 0.4 | 1.2, 0): ‖w‖ = 1.3 over the joint input (0.5 over the x part alone)
    critic = _linear_critic([0.3, 0.4, 1.2, 0.0])
    real, fake = torch.randn(16, 4), torch.randn(16, 4)
    term, logs = GradientPenalty(weight=2.0).penalty(critic, real, fake)
    assert float(term.detach()) == pytest.approx(2.0 * (1.3 - 1) ** 2, rel=1e-5)  # not 2 * (0.5 - 1)**2
    # a unit joint gradient gives no penalty, though its x part alone has norm 0.6
    term, _ = GradientPenalty(weight=2.0).penalty(_linear_critic([0.6, 0.0, 0.8, 0.0]), real, fake)
    assert float(term.detach()) == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_in_the_loop_acts_on_the_joint_input(tmp_path):
    model = tiny(loss="wasserstein", gp_weight=10.0, optimizer_d=sgd(0.0), max_generator_steps=2)
    model.discriminator = _linear_critic([0.3, 0.4, 1.2, 0.0])
    seen: list[dict] = []
    model.add_listener(lambda values, module: seen.append({k: float(v) for k, v in values.items()}))
    fast_trainer(tmp_path, log_every_n_steps=1).fit(model, datamodule=ring())
    assert len(seen) == 2
    for values in seen:
        assert values["train/d_loss"] - values["train/d_adv"] == pytest.approx(10 * 0.3**2, rel=1e-4)


# ---------------------------------------------------------------------- networks
def test_join_and_split_are_inverse_and_refuse_bad_shapes():
    x, z = torch.randn(3, 1, 4, 4), torch.randn(3, 5)
    joint = join(x, z)
    assert joint.shape == (3, 21)
    back_x, back_z = split_joint(joint, (1, 4, 4), 5)
    assert torch.equal(back_x, x) and torch.equal(back_z, z)
    with pytest.raises(ConfigurationError, match=r"join needs data \[B, \.\.\.\] and latents \[B, latent_dim\]"):
        join(x, torch.randn(2, 5))
    with pytest.raises(ConfigurationError, match=r"joint critic input must have shape \[B, 21\] .* got \[3, 20\]"):
        split_joint(joint[:, :20], (1, 4, 4), 5)


def test_joint_critics_and_encoders_shapes_records_and_errors():
    conv = JointConvCritic(image_size=16, channels=1, latent_dim=8, width=4, z_hidden=8, joint_hidden=8, dropout=0.2)
    assert conv(torch.randn(3, 16 * 16 + 8)).shape == (3,)
    with pytest.raises(ConfigurationError, match=r"joint critic input must have shape \[B, 264\]"):
        conv(torch.randn(3, 16 * 16))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in conv.modules())
    with pytest.raises(ConfigurationError, match=r"norm must be one of \['none', 'layer', 'instance', 'spectral'\]"):
        JointConvCritic(norm="batch")
    with pytest.raises(ConfigurationError, match=r"dropout must be a number in \[0, 1\); got 1.0"):
        JointConvCritic(dropout=1.0)
    with pytest.raises(ConfigurationError, match=r"norm must be one of \['none', 'layer', 'spectral'\]; got 'batch'"):
        JointMLPCritic(norm="batch")
    enc = ConvEncoder(image_size=16, channels=1, latent_dim=8, width=4)
    assert enc(torch.randn(3, 1, 16, 16)).shape == (3, 8)
    with pytest.raises(ConfigurationError, match=r"encoder input must have shape \[B, 1, 16, 16\]; got \[3, 3, 16, 16\]"):
        enc(torch.randn(3, 3, 16, 16))
    with pytest.raises(ConfigurationError, match=r"encoder input must have shape \[B, 2\]; got \[3, 3\]"):
        MLPEncoder(in_dim=2)(torch.randn(3, 3))
    for net in (conv, enc, JointMLPCritic(hidden=8, norm="spectral"), MLPEncoder(hidden=8)):  # rebuilt from records
        rebuilt = from_spec(to_spec(net))
        assert type(rebuilt) is type(net)
        assert [p.shape for p in rebuilt.state_dict().values()] == [p.shape for p in net.state_dict().values()]


# ---------------------------------------------------------------------- encoding, EMA and metrics
def test_encode_reconstruct_and_ema_encoder():
    model = tiny(ema_decay=0.5)
    x = torch.randn(10, 2)
    assert model.encode(x, batch_size=3).shape == (10, 2) and model.reconstruct(x).shape == (10, 2)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)  # the EMA copy (made at construction) now differs from the trained encoder
    assert model.encoding_network() is model.ema_encoder.module
    assert not torch.equal(model.encode(x), model.encoder(x).detach())
    with model.raw_sampling():
        assert model.encoding_network() is model.encoder and torch.equal(model.encode(x), model.encoder(x).detach())
    model.update_ema(64)
    model.update_ema(64)  # the first update copies, the second averages with decay 0.5
    assert int(model.ema_encoder.n_averaged) == 2
    assert tiny().encoding_network() is not None and tiny().ema_encoder is None
    with pytest.raises(ConfigurationError, match=r"x must be a floating-point tensor \[N, \*data_shape\]; got 'list'"):
        model.encode([[0.0, 1.0]])
    with pytest.raises(ConfigurationError, match=r"encoder input must have shape \[B, 2\]; got \[4, 3\]"):
        model.encode(torch.randn(4, 3))


def test_validation_reports_reconstruction_latent_recovery_and_toy_metrics(tmp_path):
    model = tiny(max_generator_steps=4)
    seen: list[dict] = []
    model.add_listener(lambda values, module: seen.append({k: float(v) for k, v in values.items()}))
    fast_trainer(tmp_path, limit_val_batches=None).fit(model, datamodule=ring())
    values = {k: v for report in seen for k, v in report.items()}
    assert {"val/modes", "val/hq", "val/reconstruction_mse", "val/latent_mse", "val/d_adv", "val/js_estimate"} <= set(values)
    with torch.no_grad():  # the reported errors are those of the final networks on the held-out set / seeded z
        held = torch.cat(list(ring().val_dataloader()))  # the validation reference's held-out points
        assert values["val/reconstruction_mse"] == pytest.approx(float((model.reconstruct(held) - held).pow(2).mean()), rel=1e-5)
    assert values["val/latent_mse"] == pytest.approx(float(model.latent_recovery_mse(split="val")), rel=1e-6)
    assert float(model.latent_recovery_mse(split="test")) != values["val/latent_mse"]  # its own latents
    assert "val/probe_accuracy" not in values  # toy data has no labels


def test_linear_probe_and_its_checks():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
    y = torch.tensor([0, 1, 0, 1])
    assert linear_probe_accuracy(x, y, x, 1 - y) == 0.0 and linear_probe_accuracy(x, y, x, y) == 1.0
    with pytest.raises(ConfigurationError, match="train_features and train_labels must have the same number of rows; got 4 and 3"):
        linear_probe_accuracy(x, y[:3], x, y)
    with pytest.raises(ConfigurationError, match=r"test_features must have the width of train_features \(2\); got 3"):
        linear_probe_accuracy(x, y, torch.randn(4, 3), y)


def test_digits_probe_data_is_the_datamodules_split_with_labels():
    dm = GANDataModule("digits", batch_size=16, image_size=16, val_size=297, eval_samples=297)
    dm.setup()
    seen = []
    for split in ("val", "test"):
        train_x, train_y, eval_x, eval_y = digits_probe_data(16, 1, split)
        assert train_x.shape == (1500, 1, 16, 16) and set(train_y.tolist()) == set(range(10))
        assert eval_x.shape[0] == eval_y.shape[0] == {"val": 149, "test": 148}[split]
        # the held-out half the data module validates (tests) on, in its order
        assert torch.equal(eval_x, dm.eval_reference(split))
        seen.append(eval_x)
    assert digits_probe_data(16, 3)[2].shape == (149, 3, 16, 16)
    assert LABELLED_DATA["digits"] is digits_probe_data
    with pytest.raises(ConfigurationError, match="channels must be 1 or 3; got 2"):
        digits_probe_data(16, 2)
    with pytest.raises(ConfigurationError, match="split must be 'val'"):
        digits_probe_data(16, 1, "held_out")


def test_probe_scores_on_digits_with_cached_baselines():
    torch.manual_seed(0)
    model = BiGAN(ganmods.nets.DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4),
                  JointConvCritic(image_size=16, channels=1, latent_dim=8, width=4, z_hidden=8, joint_hidden=8),
                  ConvEncoder(image_size=16, channels=1, latent_dim=8, width=4))
    dm = GANDataModule("digits", batch_size=16, image_size=16)
    state = torch.get_rng_state()
    scores = model.probe_scores(dm)
    assert torch.equal(state, torch.get_rng_state())  # the random encoder is seeded apart from the global stream
    assert set(scores) == {"probe_accuracy", "probe_accuracy_random_encoder", "probe_accuracy_pixels"}
    assert scores["probe_accuracy_pixels"] > 0.9 and all(0.0 <= v <= 1.0 for v in scores.values())
    # the untrained encoder is itself a random encoder of the same architecture: seeded alike, the same probe
    torch.manual_seed(PROBE_SEED)
    same = ConvEncoder(image_size=16, channels=1, latent_dim=8, width=4)
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), model.random_encoder().state_dict().values()))
    model.encoder.load_state_dict(same.state_dict())
    again = model.probe_scores(dm)
    assert again["probe_accuracy"] == pytest.approx(scores["probe_accuracy_random_encoder"])
    assert len(model._probe_cache) == 1  # the baselines were computed once
    assert set(model.probe_scores(dm, "test")) == set(scores) and len(model._probe_cache) == 2  # per split
    assert model.probe_scores(GANDataModule("ring8")) == {}


# ---------------------------------------------------------------------- checkpoints and the command line
def test_checkpoint_round_trip_through_every_loader(tmp_path):
    model = tiny(max_generator_steps=3, ema_decay=0.9)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=ring())
    path = str(tmp_path / "last.ckpt")
    trainer.save_checkpoint(path)
    x = torch.randn(6, 2)
    expected_samples, expected_codes = model.sample(8, seed=3), model.encode(x)
    for loaded in (ganmods.load_checkpoint(path), GANModule.load_from_checkpoint(path), BiGAN.load_from_checkpoint(path)):
        assert type(loaded) is BiGAN and loaded.generator_steps == 3 and isinstance(loaded.encoder, MLPEncoder)
        assert torch.equal(loaded.sample(8, seed=3), expected_samples)
        assert torch.equal(loaded.encode(x), expected_codes)
        with loaded.raw_sampling(), model.raw_sampling():
            assert torch.equal(loaded.encode(x), model.encode(x))
    out = tmp_path / "samples.pt"
    assert main(["generate", "--ckpt", path, "--n", "8", "--seed", "3", "--out", str(out)]) == 0
    assert torch.equal(torch.load(out, weights_only=True), expected_samples)


def _metrics(folder) -> dict[str, str]:
    (path,) = glob.glob(str(folder / "version_0" / "metrics.csv"))
    merged: dict[str, str] = {}
    for row in csv.DictReader(open(path)):
        merged.update({k: v for k, v in row.items() if v})
    return merged


def test_shipped_ring8_config_fits_through_the_command_line(tmp_path):
    args = ["fit", "-c", "bigan/ring8", "--model.init_args.max_generator_steps=3",
            "--model.init_args.generator.init_args.hidden=8", "--model.init_args.encoder.init_args.hidden=8",
            "--model.init_args.discriminator.init_args.hidden=8", "--data.batch_size=16", "--data.batches_per_epoch=3",
            "--data.eval_samples=200", "--data.val_size=64", f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.enable_progress_bar=false"]
    assert main(args) == 0
    module = ganmods.load_checkpoint(str(tmp_path / "ring8" / "version_0" / "checkpoints" / "last.ckpt"))
    assert type(module) is BiGAN and module.generator_steps == 3 and module.loss.name == "non_saturating"
    assert module.encode(module.sample(5, seed=0)).shape == (5, 2)
    logged = _metrics(tmp_path / "ring8")
    assert {"val/reconstruction_mse", "val/latent_mse", "val/modes"} <= set(logged)


def test_shipped_digits_config_fits_and_reports_the_linear_probe(tmp_path):
    small = "{image_size: 16, channels: 1, latent_dim: 8, width: 4}"
    args = ["fit", "-c", "bigan/digits", "--model.init_args.max_generator_steps=2",
            f"--model.init_args.generator.init_args={small}", f"--model.init_args.encoder.init_args={small}",
            "--model.init_args.discriminator.init_args.image_size=16", "--model.init_args.discriminator.init_args.latent_dim=8",
            "--model.init_args.discriminator.init_args.width=4", "--data.image_size=16", "--data.batch_size=16",
            "--data.batches_per_epoch=2", "--data.eval_samples=100", f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.enable_progress_bar=false"]
    assert main(args) == 0
    logged = _metrics(tmp_path / "digits")
    assert {"val/probe_accuracy", "val/probe_accuracy_random_encoder", "val/probe_accuracy_pixels",
            "val/reconstruction_mse", "val/latent_mse"} <= set(logged)
    assert float(logged["val/probe_accuracy_pixels"]) > 0.9
    # samples and encodings from the checkpoint: `ganmods generate` and `ganmods generate --encode FOLDER`
    ckpt = str(tmp_path / "digits" / "version_0" / "checkpoints" / "last.ckpt")
    module = ganmods.load_checkpoint(ckpt)
    assert main(["generate", "--ckpt", ckpt, "--n", "4", "--out", str(tmp_path / "s.pt")]) == 0
    assert torch.equal(torch.load(tmp_path / "s.pt", weights_only=True), module.sample(4, seed=0))
    from ganmods.images import to_uint8, write_png

    digits = digits_probe_data(16, 1, "test")[2][:5]
    for i, image in enumerate(digits):
        write_png(to_uint8(image), str(tmp_path / "folder" / f"{i}.png"))
    assert main(["generate", "--ckpt", ckpt, "--encode", str(tmp_path / "folder"), "--out", str(tmp_path / "c.pt")]) == 0
    assert torch.allclose(torch.load(tmp_path / "c.pt", weights_only=True), module.encode(digits), atol=1e-5)


def test_every_shipped_bigan_config_parses_to_a_bigan():
    from ganmods.cli import GANCLI

    names = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(CONFIGS, "*.yaml")))
    assert {"ring8", "grid25", "digits"} <= set(names)
    for name in names:
        cli = GANCLI(args=["-c", f"bigan/{name}"], run=False)
        assert type(cli.model) is BiGAN
        cli.model.check_networks(cli.datamodule.data_shape)


# ---------------------------------------------------------------------- bad input, before any training
def test_bad_networks_are_refused_before_training(tmp_path):
    gen = lambda: MLPGenerator(latent_dim=2, hidden=8, depth=1)  # noqa: E731
    joint = lambda: JointMLPCritic(x_dim=2, latent_dim=2, hidden=8)  # noqa: E731
    with pytest.raises(ConfigurationError, match=r"encoder latent_dim must equal the module's latent_dim \(2, .*\); got 3"):
        BiGAN(gen(), joint(), MLPEncoder(latent_dim=3, hidden=8))
    with pytest.raises(ConfigurationError, match=r"encoder must be a torch.nn.Module or its \{class_path, init_args\} record; got 'str'"):
        BiGAN(gen(), joint(), "encoder")
    with pytest.raises(ConfigurationError, match="probe must be true or false; got 1"):
        BiGAN(gen(), joint(), MLPEncoder(hidden=8), probe=1)
    with pytest.raises(ConfigurationError, match="latent_eval_samples must be an integer >= 1; got 0"):
        BiGAN(gen(), joint(), MLPEncoder(hidden=8), latent_eval_samples=0)
    cases = [
        (BiGAN(gen(), joint(), nn.Linear(2, 3)), r"encoder output must have shape \[B, latent_dim\] = \[2, 2\]; got \[2, 3\]"),
        (BiGAN(gen(), joint(), MLPEncoder(in_dim=3, hidden=8)), r"encoder must accept data of shape \[2, 2\]"),
        (BiGAN(gen(), MLPCritic(in_dim=2, hidden=8), MLPEncoder(hidden=8)),
         r"discriminator must be a joint critic accepting join\(x, z\) of shape \[2, 4\]"),
        (BiGAN(gen(), JointMLPCritic(latent_dim=3, hidden=8), MLPEncoder(hidden=8)),
         r"discriminator must be a joint critic .* joint critic input must have shape \[B, 5\]"),
    ]
    for model, message in cases:
        with pytest.raises(ConfigurationError, match=message):
            fast_trainer(tmp_path).fit(model, datamodule=ring())
        assert model.critic_steps == 0 and model.generator_steps == 0


def test_bad_encoder_from_the_command_line_is_one_line(tmp_path, capsys):
    args = ["fit", "-c", "bigan/ring8", "--model.init_args.encoder.init_args.latent_dim=3",
            f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ganmods: error: encoder latent_dim must equal the module's latent_dim (2")
    assert not glob.glob(str(tmp_path / "**" / "*.ckpt"), recursive=True)


def test_negated_critic_negates():
    critic = _linear_critic([1.0, 2.0, 3.0, 4.0])
    u = torch.randn(5, 4)
    assert torch.equal(NegatedCritic(critic)(u), -critic(u))
    assert list(NegatedCritic(critic).parameters()) == list(critic.parameters())  # no parameters of its own
    assert math.isclose(float(NegatedCritic(nn.Identity())(torch.tensor(2.0))), -2.0)


def test_critic_score_is_the_joint_critic_on_points_with_their_codes_and_toy_plots_draw_it(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    from ganmods.callbacks import ToyPlot

    model = tiny(ema_decay=0.5)
    model.discriminator.train()
    x = torch.randn(7, 2)
    with torch.no_grad():
        want = model.discriminator.eval()(join(x, model.encode(x)))
    model.discriminator.train()
    assert torch.equal(model.critic_score(x), want) and model.discriminator.training  # mode kept
    model = tiny(max_generator_steps=2)
    plot = ToyPlot()
    trainer = fast_trainer(tmp_path, limit_val_batches=None, logger=CSVLogger(str(tmp_path)), callbacks=[plot])
    trainer.fit(model, datamodule=ring())
    assert plot.last_path and os.path.getsize(plot.last_path) > 0  # the joint critic's verdict over the plane


def test_own_scores_are_the_encoders_errors_on_each_reference_and_the_base_has_none():
    model, data = tiny(), ring()
    data.setup("validate")
    assert model.own_score_spec().names == ("reconstruction_mse", "latent_mse")
    assert not any(model.own_score_spec().higher_is_better.values())
    scores = {split: model.own_scores(data, split) for split in ("val", "test")}
    held = torch.cat(list(data.val_dataloader()))
    assert scores["val"]["reconstruction_mse"] == pytest.approx(float((model.reconstruct(held) - held).pow(2).mean()),
                                                                rel=1e-5)
    assert scores["test"]["latent_mse"] == pytest.approx(float(model.latent_recovery_mse(split="test")), rel=1e-6)
    with pytest.raises(ConfigurationError, match="split must be 'val' .* or 'test' .*; got 'train'"):
        model.own_scores(data, "train")
    core = GANModule(MLPGenerator(latent_dim=2, out_dim=2, hidden=8, depth=1), MLPCritic(in_dim=2, hidden=8, depth=1))
    assert core.own_score_spec().names == () and core.own_scores(data, "val") == {}
