"""CycleGAN: its losses, games and history on the loop; the two-domain data and its scores; checkpoints, the
shipped config and ``ganmods generate --direction``."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

import ganmods
from ganmods.cli import main
from ganmods.cyclegan import CycleGAN, cycle_loss, identity_loss
from ganmods.data import GANDataModule
from ganmods.data.two_domain import TwoDomainDataModule, pair_images, unpair
from ganmods.errors import ConfigurationError
from ganmods.images import from_uint8, to_uint8
from ganmods.metrics import ImageMetrics
from ganmods.nets.translation import CriticPair, PatchCritic, ResNetTranslator, TranslatorPair
from tests.conftest import fast_trainer


def tiny_cyclegan(size: int = 16, channels: int = 1, **kwargs) -> CycleGAN:
    """A CycleGAN with the smallest shipped networks."""
    pair = TranslatorPair(ResNetTranslator(channels, size, 4, 1), ResNetTranslator(channels, size, 4, 1))
    critics = CriticPair(PatchCritic(channels, size, 4, 1), PatchCritic(channels, size, 4, 1))
    return CycleGAN(pair, critics, **kwargs)


def digits_pair(**kwargs) -> TwoDomainDataModule:
    options = dict(image_size=16, batch_size=8, batches_per_epoch=4, val_size=16, eval_samples=100)
    options.update(kwargs)
    return TwoDomainDataModule("digits_inverted", **options)


# ---------------------------------------------------------------- the losses, by hand
def test_cycle_and_identity_losses_by_hand():
    a = torch.tensor([[0.5, -0.5], [1.0, 0.0]])
    rec_a = torch.tensor([[1.5, 0.5], [1.0, 1.0]])  # |rec - a| = 1, 1, 0, 1: mean 0.75
    b = torch.tensor([0.0, 2.0])
    rec_b = torch.tensor([1.0, 0.0])  # |rec - b| = 1, 2: mean 1.5
    assert float(cycle_loss(a, rec_a, b, rec_b, weight=10.0)) == pytest.approx(10 * (0.75 + 1.5))
    assert float(cycle_loss(a, a, b, b)) == 0.0
    assert float(identity_loss(a, rec_a, b, rec_b, weight=5.0)) == pytest.approx(5 * (0.75 + 1.5))
    # mean absolute error, as torch.nn.L1Loss (not a sum, not squared)
    assert float(cycle_loss(a, rec_a, b, rec_b, 1.0)) == pytest.approx(
        float(nn.L1Loss()(rec_a, a) + nn.L1Loss()(rec_b, b)))


class _Affine(nn.Module):
    """x -> w x + c."""

    def __init__(self, w: float, c: float) -> None:
        super().__init__()
        self.w, self.c = nn.Parameter(torch.tensor(w)), nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return self.w * x + self.c


class _MeanCritic(nn.Module):
    """The mean pixel times a weight: [B] logits."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return self.w * x.mean(dim=(1, 2, 3))


def _affine_cyclegan(**kwargs) -> CycleGAN:
    # G_AB(x) = 2x, G_BA(x) = x + 1
    return CycleGAN(TranslatorPair(_Affine(2.0, 0.0), _Affine(1.0, 1.0)), CriticPair(_MeanCritic(), _MeanCritic()),
                    latent_dim=2, **kwargs)


A = torch.tensor([0.5, -0.5, 1.0, 0.0]).view(2, 1, 1, 2)
B = torch.tensor([0.0, 1.0, -1.0, 0.5]).view(2, 1, 1, 2)


def test_generator_games_and_terms_by_hand():
    model = _affine_cyclegan(cycle_weight=10.0, identity_weight=0.5)
    games, terms = model.generator_games(pair_images(A, B))
    # cycle: G_BA(G_AB(a)) - a = a + 1 -> |.| = 1.5, 0.5, 2, 1 (mean 1.25); G_AB(G_BA(b)) - b = b + 2 -> 2, 3, 1, 2.5
    # (mean 2.125); identity: G_BA(a) - a = 1 (mean 1); G_AB(b) - b = b -> 0, 1, 1, 0.5 (mean 0.625), weight 0.5 * 10
    assert float(terms["cycle"].detach()) == pytest.approx(10 * (1.25 + 2.125))
    assert float(terms["identity"].detach()) == pytest.approx(0.5 * 10 * (1.0 + 0.625))
    d_b, d_a = games
    assert d_b.critic is model.discriminator.b and d_a.critic is model.discriminator.a
    assert torch.equal(d_b.real, B) and torch.allclose(d_b.fake, 2 * A) and torch.equal(d_b.inputs, A)
    assert torch.equal(d_a.real, A) and torch.allclose(d_a.fake, B + 1) and torch.equal(d_a.inputs, B)
    assert d_b.fake.requires_grad and d_b.generated is d_b.fake
    # a weight of 0 drops its term
    _, terms = _affine_cyclegan(identity_weight=0.0).generator_games(pair_images(A, B))
    assert set(terms) == {"cycle"}


def test_critic_games_see_real_against_the_histories_of_the_other_generator():
    model = _affine_cyclegan(history_size=3)
    d_b, d_a = model.critic_games(pair_images(A, B))
    assert d_b.critic is model.discriminator.b and d_a.critic is model.discriminator.a
    # D_B: real b against G_AB(a); D_A: real a against G_BA(b); the histories fill with what they were shown
    assert torch.equal(d_b.real, B) and torch.allclose(d_b.fake, 2 * A) and not d_b.fake.requires_grad
    assert torch.equal(d_a.real, A) and torch.allclose(d_a.fake, B + 1) and not d_a.fake.requires_grad
    assert torch.allclose(model.history_b.images, 2 * A) and torch.allclose(model.history_a.images, B + 1)
    # once full, the critics see stored images: the third image of a 3-image history is kept, then swapped out
    torch.manual_seed(0)
    later_b, _ = model.critic_games(pair_images(A + 10, B + 10))
    stored = {float(x.sum()) for x in torch.cat([2 * A, 2 * (A + 10)])}
    assert {float(x.sum()) for x in later_b.fake} <= stored and len(model.history_b) == 3
    no_history = _affine_cyclegan(history_size=0)
    d_b, _ = no_history.critic_games(pair_images(A, B))
    assert torch.allclose(d_b.fake, 2 * A) and len(no_history.history_b) == 0


class _GradientProbe:
    """Snapshots of every gradient at each optimizer step (a Lightning callback)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, dict[str, torch.Tensor]]] = []

    def __call__(self, trainer, pl_module, optimizer) -> None:
        opt_g, _ = pl_module.optimizers()
        side = "g" if optimizer is opt_g.optimizer else "d"
        grads = {n: (p.grad.clone() if p.grad is not None else None) for n, p in pl_module.named_parameters()
                 if not n.startswith("ema_generator.")}
        self.steps.append((side, grads))


def test_a_generator_step_trains_both_generators_and_writes_nothing_into_the_critics(tmp_path):
    import lightning.pytorch as pl

    torch.manual_seed(0)
    model = tiny_cyclegan(max_generator_steps=2, identity_weight=0.5)
    probe = _GradientProbe()
    callback = type("Probe", (pl.Callback,), {"on_before_optimizer_step": lambda self, t, m, o: probe(t, m, o)})()
    fast_trainer(tmp_path, callbacks=[callback]).fit(model, datamodule=digits_pair())
    assert [side for side, _ in probe.steps] == ["d", "g", "d", "g"]
    for (_, at_d), (_, at_g) in zip(probe.steps[0::2], probe.steps[1::2]):
        for name, grad in at_g.items():
            if name.startswith("generator."):  # both generators, every parameter, a gradient
                assert grad is not None and bool(grad.abs().sum() > 0), name
            else:  # the critics' gradients are still those of their own step
                assert name.startswith("discriminator.") and torch.equal(grad, at_d[name]), name
    assert {n.split(".")[1] for n, _ in model.named_parameters() if n.startswith("generator.")} == {"ab", "ba"}


# ---------------------------------------------------------------- the two-domain data
def test_digits_inverted_domains_are_disjoint_and_b_is_the_inversion():
    from ganmods.data.digits import load_digits

    dm = digits_pair()
    dm.setup()
    domains = dm.source.domains()
    train = to_uint8(load_digits("train", image_size=16))
    a, b = domains["A"].train, domains["B"].train
    assert a.shape == b.shape == (750, 1, 16, 16)
    assert torch.equal(a, train[:750]) and torch.equal(255 - b, train[750:])  # B: the other half, inverted
    assert torch.allclose(from_uint8(domains["B"].val), -from_uint8(domains["A"].val), atol=1e-6)  # true inversions
    assert domains["A"].val.shape[0] == 149 and domains["A"].test.shape[0] == 148
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (8, 2, 1, 16, 16) and dm.data_shape == (1, 16, 16)
    # the two domains are drawn in their own orders: the pairs are not (a_i, -a_i)
    got_a, got_b = unpair(batch)
    assert not torch.allclose(got_b, -got_a)


class _Oracle:
    """Translates by the true mapping (inversion) or leaves the images unchanged."""

    def __init__(self, invert: bool) -> None:
        self.invert = invert

    def translate(self, images, direction):
        return -images if self.invert else images.clone()


def test_translation_scores_of_the_true_mapping_and_of_the_identity(tmp_path):
    from ganmods.metrics.digits import load_digit_classifier

    metric = ImageMetrics("digits", kid=False, cache_dir=str(tmp_path), device="cpu")
    dm = digits_pair(eval_samples=200, metric=metric)  # at most the smaller held-out half: 148
    spec = dm.metric_spec
    assert spec.names == ("ab_mse", "ab_label_preserved", "ab_fid_148", "ba_mse", "ba_label_preserved", "ba_fid_148")
    assert spec.main == "ab_mse" and spec.direction("val/ab_label_preserved") == "max"
    perfect = dm.evaluate(_Oracle(invert=True), split="test")
    assert list(perfect) == list(spec.names)
    assert perfect["ab_mse"] == 0.0 and perfect["ba_mse"] == 0.0
    assert abs(perfect["ab_fid_148"]) < 1e-6 and abs(perfect["ba_fid_148"]) < 1e-6
    # label kept = the classifier's accuracy on the first 148 test digits (the truth inverted back is the digit)
    a, _ = unpair(dm.eval_reference("test"))
    labels = dm.source.held_out_labels("test")[:148]
    accuracy = float((load_digit_classifier()(a).argmax(1) == labels).float().mean())
    assert perfect["ab_label_preserved"] == pytest.approx(accuracy) and accuracy > 0.9
    unchanged = dm.evaluate(_Oracle(invert=False), split="test")
    assert unchanged["ab_mse"] == pytest.approx(float((4 * a**2).mean()), rel=1e-5)  # |a - (-a)|^2
    assert unchanged["ab_label_preserved"] < 0.5 and unchanged["ab_fid_148"] > 10
    with pytest.raises(ConfigurationError, match="model must be a translation model with translate"):
        dm.evaluate(object())


def _write_pngs(folder, count: int, size: int, mode: str = "L", start: int = 0) -> None:
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    gen = torch.Generator().manual_seed(start)
    for i in range(count):
        pixels = torch.randint(0, 256, (size, size, 3 if mode == "RGB" else 1), generator=gen, dtype=torch.uint8)
        Image.fromarray(pixels.squeeze(-1).numpy(), mode).save(os.path.join(folder, f"{start + i:03d}.png"))


def test_two_folders_read_split_and_serve_pairs(tmp_path):
    _write_pngs(tmp_path / "a", 20, 16)
    _write_pngs(tmp_path / "b", 30, 16, start=100)
    dm = TwoDomainDataModule("two_folders", root_a=str(tmp_path / "a"), root_b=str(tmp_path / "b"), batch_size=4,
                             batches_per_epoch=2, held_out_fraction=0.2)
    dm.setup()
    assert dm.data_shape == (1, 16, 16)  # the images' own size and (grey) channels
    domains = dm.source.domains()
    assert [domains[d].train.shape[0] for d in "AB"] == [16, 24]
    assert [domains[d].val.shape[0] + domains[d].test.shape[0] for d in "AB"] == [4, 6]
    assert next(iter(dm.train_dataloader())).shape == (4, 2, 1, 16, 16)
    assert next(iter(dm.val_dataloader())).shape == (2, 2, 1, 16, 16)  # the smaller half: 2 pairs
    # real samples (sample grids, health checks): distinct images first, then further rounds
    many = dm.real_samples(40, seed=1)
    assert many.shape == (40, 2, 1, 16, 16)
    assert len({bytes(to_uint8(x).numpy()) for x in many[:16, 0]}) == 16
    assert torch.equal(many, dm.real_samples(40, seed=1)) and not torch.equal(many, dm.real_samples(40, seed=2))


@pytest.mark.parametrize("case, fragment", [
    ("grey_and_rgb", "channels must be given (1: grey, 3: RGB) to convert both domains of dataset 'two_folders' to "
                     "one channel count; got none, and domain A holds grey images (1 channel), domain B colour images"),
    ("sizes", "image_size must be given to resize both domains of dataset 'two_folders' to one square size (images "
              "are centre-cropped and resized); got none, and domain A holds 16x16 images, domain B 24x24"),
])
def test_domains_of_different_shapes_are_refused_before_training(case, fragment, tmp_path):
    _write_pngs(tmp_path / "a", 10, 16)
    _write_pngs(tmp_path / "b", 10, 16 if case == "grey_and_rgb" else 24, mode="RGB" if case == "grey_and_rgb" else "L")
    dm = TwoDomainDataModule("two_folders", root_a=str(tmp_path / "a"), root_b=str(tmp_path / "b"), batch_size=2,
                             batches_per_epoch=2, held_out_fraction=0.2)
    model = tiny_cyclegan(max_generator_steps=1)
    with pytest.raises(ConfigurationError) as info:
        fast_trainer(tmp_path).fit(model, datamodule=dm)
    assert fragment in str(info.value)
    assert model.critic_steps == 0
    # converting both domains is allowed
    given = {"channels": 1} if case == "grey_and_rgb" else {"image_size": 16}
    fixed = TwoDomainDataModule("two_folders", root_a=str(tmp_path / "a"), root_b=str(tmp_path / "b"), batch_size=2,
                                batches_per_epoch=2, held_out_fraction=0.2, **given)
    assert fixed.data_shape == (1, 16, 16)


def test_bad_two_domain_input_is_refused(tmp_path):
    _write_pngs(tmp_path / "a", 10, 16)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(ConfigurationError, match=r"dataset_options.root_b must be a folder holding image files "
                                                 r"\(.png.*for domain B of dataset 'two_folders'; got "
                                                 r"'.*empty \(no image file\)'"):
        TwoDomainDataModule("two_folders", root_a=str(tmp_path / "a"), root_b=str(tmp_path / "empty"))
    with pytest.raises(ConfigurationError,
                       match="dataset_options.root_a must be an existing folder of images of domain A"):
        TwoDomainDataModule("two_folders", root_a=str(tmp_path / "none"), root_b=str(tmp_path / "a"))
    with pytest.raises(ConfigurationError, match="root must be unset for dataset 'digits_inverted'"):
        GANDataModule("digits_inverted", root=str(tmp_path))
    with pytest.raises(ConfigurationError, match="dataset_options must be a mapping with keys among"):
        GANDataModule("digits_inverted", dataset_options={"root_a": "x"})
    with pytest.raises(ConfigurationError, match="dataset must be 'digits_inverted' or 'two_folders'; got 'digits'"):
        TwoDomainDataModule("digits")
    with pytest.raises(ConfigurationError, match=r"batch must be a two-domain batch \[B, 2, C, H, W\]"):
        unpair(torch.zeros(4, 1, 16, 16))


def test_cyclegan_refuses_single_domain_data_and_networks_of_other_channels(tmp_path):
    with pytest.raises(ConfigurationError, match="data.dataset must be a two-domain dataset for CycleGAN"):
        fast_trainer(tmp_path).fit(tiny_cyclegan(max_generator_steps=1),
                                   datamodule=GANDataModule("digits", image_size=16, batch_size=4, batches_per_epoch=1))
    with pytest.raises(ConfigurationError, match=r"generator.ab must accept images of the data's shape "
                                                 r"\[B, 1, 16, 16\]; got an error: translator input must have shape "
                                                 r"\[B, 3, 16, 16\]"):
        fast_trainer(tmp_path).fit(tiny_cyclegan(channels=3, max_generator_steps=1), datamodule=digits_pair())
    with pytest.raises(ConfigurationError, match="generator must be a module holding the A -> B and B -> A generators"):
        CycleGAN(ResNetTranslator(1, 16, 4, 1), CriticPair(PatchCritic(1, 16, 4, 1), PatchCritic(1, 16, 4, 1)))
    with pytest.raises(ConfigurationError, match="cycle_weight must be a finite number >= 0; got -1"):
        tiny_cyclegan(cycle_weight=-1)
    with pytest.raises(ConfigurationError, match="ba must be a network for images of the shape ab takes"):
        TranslatorPair(ResNetTranslator(1, 16, 4, 1), ResNetTranslator(3, 16, 4, 1))
    model = tiny_cyclegan()
    with pytest.raises(ConfigurationError, match="CycleGAN has no latents"):
        model.sample_latent(4)
    with pytest.raises(ConfigurationError, match="CycleGAN.sample needs a trainer with a two-domain data module"):
        model.sample(4)
    with pytest.raises(ConfigurationError, match="direction must be 'AB'"):
        model.translate(torch.zeros(1, 1, 16, 16), "AA")


# ---------------------------------------------------------------- checkpoints and resuming
def test_checkpoint_round_trip_and_exact_resume(tmp_path):
    torch.manual_seed(0)
    whole = tiny_cyclegan(max_generator_steps=4, history_size=6)
    fast_trainer(tmp_path).fit(whole, datamodule=digits_pair(batch_size=4))

    torch.manual_seed(0)
    first = tiny_cyclegan(max_generator_steps=2, history_size=6)
    trainer = fast_trainer(tmp_path)
    trainer.fit(first, datamodule=digits_pair(batch_size=4))
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    loaded = ganmods.load_checkpoint(tmp_path / "half.ckpt")
    assert type(loaded) is CycleGAN and not loaded.training and loaded.generator_steps == 2
    assert torch.equal(loaded.history_a.images, first.history_a.images) and len(loaded.history_b) == 6
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    assert torch.allclose(loaded.translate(x, "BA"), first.translate(x, "BA"))

    torch.manual_seed(123)  # the resumed run's random state comes from the checkpoint
    second = tiny_cyclegan(max_generator_steps=4, history_size=6)
    fast_trainer(tmp_path).fit(second, datamodule=digits_pair(batch_size=4), ckpt_path=str(tmp_path / "half.ckpt"))
    for (name, p), q in zip(whole.named_parameters(), second.parameters()):
        assert torch.equal(p, q), name
    assert torch.equal(whole.history_b.images, second.history_b.images)


# ---------------------------------------------------------------- the shipped config and generate --direction
@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    """Two generator steps of the shipped digits config through the command line."""
    tmp = tmp_path_factory.mktemp("cyclegan_cli")
    args = ["fit", "-c", "cyclegan/digits_inverted", "--model.init_args.max_generator_steps", "2",
            "--data.batches_per_epoch", "2", "--data.eval_samples", "64", "--trainer.enable_progress_bar", "false",
            f"--trainer.default_root_dir={tmp}", f"--trainer.logger.init_args.save_dir={tmp}",
            f"--data.metric.init_args.cache_dir={tmp / 'cache'}"]
    assert main(args) == 0
    (ckpt,) = list(tmp.rglob("last.ckpt"))
    return tmp, ckpt


def test_the_shipped_config_trains_and_scores(shipped_run, capsys):
    tmp, ckpt = shipped_run
    model = ganmods.load_checkpoint(ckpt)
    assert isinstance(model, CycleGAN) and model.generator_steps == 2 and model.loss.name == "least_squares"
    assert (model.cycle_weight, model.identity_weight, model.history_a.size) == (10.0, 0.0, 50)
    metrics = (next(tmp.rglob("metrics.csv"))).read_text().splitlines()[0]
    for name in ("val/ab_mse", "val/ab_label_preserved", "val/ab_fid_64", "val/ba_mse", "val/d_adv", "train/cycle"):
        assert name in metrics
    assert list(tmp.rglob("samples/step_*.png"))  # the sample grid shows translations


def test_generate_direction_translates_a_folder(shipped_run, tmp_path, capsys):
    from torchvision.io import read_image

    from ganmods.data.digits import load_digits
    from ganmods.data.folder import find_images, read_images

    _, ckpt = shipped_run
    digits = to_uint8(load_digits("held_out", image_size=32)[:5])
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    from PIL import Image

    for i, img in enumerate(digits):
        Image.fromarray(img[0].numpy(), "L").save(folder / ("sub" if i == 4 else "") / f"d{i}.png")
    out = tmp_path / "out"
    assert main(["generate", "--ckpt", str(ckpt), "--direction", "BA", "--input", str(folder), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["d0.png", "d1.png", "d2.png", "d3.png", "sub__d4.png"]
    assert capsys.readouterr().out.split() == [str(out / n) for n in names]
    model = ganmods.load_checkpoint(ckpt)
    expected = to_uint8(model.translate(from_uint8(read_images(find_images(folder), 32, 1)), "BA"))
    for i, name in enumerate(["d0.png", "d1.png", "d2.png", "d3.png", "sub__d4.png"]):
        assert torch.equal(read_image(str(out / name)), expected[i])
    # an existing out is refused unless --overwrite; single-image options and a latent-sampling checkpoint too
    assert main(["generate", "--ckpt", str(ckpt), "--direction", "AB", "--input", str(folder), "--out", str(out)]) == 2
    assert "--out must be a path that does not exist" in capsys.readouterr().err
    assert main(["generate", "--ckpt", str(ckpt), "--direction", "AB", "--input", str(folder), "--out", str(out),
                 "--overwrite"]) == 0
    assert main(["generate", "--ckpt", str(ckpt), "--direction", "XY", "--input", str(folder), "--out",
                 str(tmp_path / "o2")]) == 2
    assert "direction must be 'AB' (domain A to domain B) or 'BA'" in capsys.readouterr().err
    assert main(["generate", "--ckpt", str(ckpt), "--n", "4", "--out", str(tmp_path / "s.npy")]) == 2
    assert "CycleGAN has no latents" in capsys.readouterr().err
    (tmp_path / "none").mkdir()
    assert main(["generate", "--ckpt", str(ckpt), "--direction", "AB", "--input", str(tmp_path / "none"), "--out",
                 str(tmp_path / "o3")]) == 2
    assert "--input must be a folder holding image files" in capsys.readouterr().err


def test_the_folders_config_trains_on_two_folders_and_translates(tmp_path, capsys):
    _write_pngs(tmp_path / "a", 20, 64, mode="RGB")
    _write_pngs(tmp_path / "b", 20, 48, mode="RGB", start=50)  # another size: resized to the config's 64 px
    args = ["fit", "-c", "cyclegan/folders", f"--data.dataset_options.root_a={tmp_path / 'a'}",
            f"--data.dataset_options.root_b={tmp_path / 'b'}", "--model.init_args.max_generator_steps", "1",
            "--data.batches_per_epoch", "1", "--trainer.enable_progress_bar", "false",
            f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    assert main(args) == 0
    (ckpt,) = list(tmp_path.rglob("last.ckpt"))
    model = ganmods.load_checkpoint(ckpt)
    assert model.identity_weight == 0.5 and model.generator.image_shape == (3, 64, 64)
    assert list(tmp_path.rglob("samples/step_*.png"))  # a grid, and health checks of 64 images, from 18 per domain
    out = tmp_path / "translated"
    assert main(["generate", "--ckpt", str(ckpt), "--direction", "AB", "--input", str(tmp_path / "b"), "--out",
                 str(out)]) == 0
    assert len(list(out.iterdir())) == 20


# ---------------------------------------------------------------- the networks
@pytest.mark.parametrize("channels, size, blocks", [(1, 8, 0), (3, 32, 2), (1, 20, 1)])
def test_translator_keeps_the_image_shape_in_range(channels, size, blocks):
    net = ResNetTranslator(channels, size, width=4, blocks=blocks)
    out = net(torch.randn(3, channels, size, size) * 5)
    assert out.shape == (3, channels, size, size) and float(out.detach().abs().max()) <= 1.0
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


@pytest.mark.parametrize("size, layers, patches", [(32, 1, 14), (32, 2, 6), (32, 3, 2), (16, 2, 2)])
def test_patch_critic_patch_map_and_mean(size, layers, patches):
    critic = PatchCritic(2, size, width=4, layers=layers)
    x = torch.randn(3, 2, size, size)
    logits = critic.patch_logits(x)
    assert logits.shape == (3, patches, patches)
    assert torch.allclose(critic(x), logits.mean(dim=(1, 2)))  # one logit per image: the mean patch


def test_network_arguments_and_inputs_are_checked():
    with pytest.raises(ConfigurationError, match="image_size must be a multiple of 4"):
        ResNetTranslator(1, 18)
    with pytest.raises(ConfigurationError, match="layers must be at most 3 for 32 px images"):
        PatchCritic(1, 32, layers=4)
    with pytest.raises(ConfigurationError, match="norm must be one of"):
        ResNetTranslator(1, 16, norm="batch")
    with pytest.raises(ConfigurationError,
                       match=r"translator input must have shape \[B, 1, 16, 16\]; got \[2, 1, 8, 8\]"):
        ResNetTranslator(1, 16, 4, 1)(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigurationError, match=r"discriminator input must have shape \[B, 1, 16, 16\]"):
        PatchCritic(1, 16, 4, 1)(torch.zeros(2, 3, 16, 16))
    pair = CriticPair(PatchCritic(1, 16, 4, 1), PatchCritic(1, 16, 4, 1))
    assert torch.equal(pair(torch.zeros(2, 1, 16, 16), "A"), pair.a(torch.zeros(2, 1, 16, 16)))
    with pytest.raises(ConfigurationError, match="domain must be 'A' or 'B'; got 'C'"):
        pair(torch.zeros(2, 1, 16, 16), "C")
    with pytest.raises(ConfigurationError, match="direction must be 'AB'"):
        TranslatorPair(ResNetTranslator(1, 16, 4, 1), ResNetTranslator(1, 16, 4, 1))(torch.zeros(1, 1, 16, 16), "B")
    with pytest.raises(ConfigurationError, match="a must be a torch.nn.Module; got 'int'"):
        CriticPair(1, PatchCritic(1, 16, 4, 1))  # type: ignore[arg-type]


def test_any_loss_and_a_gradient_penalty_train_on_the_patch_critics(tmp_path):
    torch.manual_seed(0)
    model = tiny_cyclegan(loss="wasserstein", gp_weight=10.0, n_critic=2, max_generator_steps=2)
    seen: list[dict] = []
    model.add_listener(lambda values, module: seen.append({k: float(v) for k, v in values.items()}))
    fast_trainer(tmp_path, log_every_n_steps=1).fit(model, datamodule=digits_pair())
    assert model.generator_steps == 2 and model.critic_steps == 4
    assert any("train/gp" in v for v in seen) and all(torch.isfinite(p).all() for p in model.parameters())
    with pytest.raises(ConfigurationError, match="must not contain BatchNorm when a gradient penalty is used"):
        pair = CriticPair(PatchCritic(1, 16, 4, 1, norm="batch"), PatchCritic(1, 16, 4, 1))
        CycleGAN(TranslatorPair(ResNetTranslator(1, 16, 4, 1), ResNetTranslator(1, 16, 4, 1)), pair, gp_weight=10.0)


def test_predict_translates_batches_of_domain_a_images():
    import lightning.pytorch as pl

    torch.manual_seed(0)
    model = tiny_cyclegan(ema_decay=0.5)
    with torch.no_grad():
        for p in model.ema_generator.parameters():
            p.add_(0.1)  # the EMA copy differs: predictions and translations come from it
    images = torch.rand(6, 1, 16, 16) * 2 - 1
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    out = torch.cat(trainer.predict(model, torch.utils.data.DataLoader(images, batch_size=4)))
    assert torch.allclose(out, model.translate(images, "AB"), atol=1e-6)
    assert torch.allclose(out, model.ema_generator.module.ab.eval()(images), atol=1e-6)
    assert not torch.allclose(out, model.generator.ab.eval()(images), atol=1e-4)
    with pytest.raises(ConfigurationError, match="batch must be float images"):
        model.predict_step({"n": 4, "seed": 0, "start": 0, "stop": 4}, 0)
    assert torch.allclose(model(images, "BA"), model.generator.ba(images))
