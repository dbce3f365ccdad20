"""DiffAugment: each transform does what its docstring says, per sample, differentiably; bad input is refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganmods import SGAN, GANDataModule
from ganmods.augment import DiffAugment
from ganmods.errors import ConfigurationError
from tests.conftest import fast_trainer, tiny_nets


def _images(b: int = 16, c: int = 2, h: int = 8, w: int = 8) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(b, c, h, w) * 2 - 1


def _shift(x: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """``x`` moved so that ``out[i, j] = x[i + dy, j + dx]``, ``fill`` outside (the reference, by loops)."""
    out = torch.full_like(x, fill)
    _, h, w = x.shape
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[:, i, j] = x[:, i + dy, j + dx]
    return out


def test_translation_is_a_per_sample_integer_shift_within_the_range():
    x = _images()
    aug = DiffAugment(policies=["translation"], translation=0.25, fill=-1.0)
    torch.manual_seed(1)
    out = aug.transform(x, 0)
    shifts = []
    for xi, oi in zip(x, out):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(_shift(xi, dy, dx, -1.0), oi)]
        assert len(found) == 1, "every sample must be a shift of at most 0.25 * 8 = 2 pixels each way"
        shifts.append(found[0])
    assert len(set(shifts)) > 3, "samples must draw their own shifts"


def test_cutout_blanks_one_square_per_sample_and_keeps_the_rest():
    x = _images(b=32)
    aug = DiffAugment(policies=["cutout"], cutout=0.5, fill=7.0)
    torch.manual_seed(2)
    out = aug.transform(x, 0)
    holes = out == 7.0
    assert torch.equal(out[~holes], x[~holes])
    for hole in holes.all(dim=1):  # the same pixels in every channel
        ys, xs = torch.nonzero(hole, as_tuple=True)
        assert 1 <= len(ys) <= 16
        assert len(ys) == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1), "the hole is a rectangle"
        assert ys.max() - ys.min() < 4 and xs.max() - xs.min() < 4
    assert holes.all(dim=1).sum(dim=(1, 2)).eq(16).sum() > 5, "most holes lie fully inside the image"


def test_color_transforms_shift_and_scale_per_sample():
    x = _images(b=64, c=3)
    aug = DiffAugment(policies=["color"])
    torch.manual_seed(3)
    out = aug.transform(x, 0)
    shift = (out - x).mean(dim=(1, 2, 3))
    assert shift.abs().max() <= 0.5 + 1e-5 and shift.std() > 0.1


def test_the_gradient_flows_through_every_transform_and_the_same_seed_repeats():
    aug = DiffAugment(policies=["color", "translation", "cutout"])
    x = _images().requires_grad_()
    torch.manual_seed(4)
    out = aug.transform(x, 0)
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.manual_seed(4)
    assert torch.equal(aug.transform(x.detach(), 0), out.detach())


def test_zero_fractions_leave_the_images_alone():
    x = _images()
    assert torch.equal(DiffAugment(policies=["translation", "cutout"], translation=0.0, cutout=0.0).transform(x, 0), x)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(policies=["flip"]), "policies must be distinct names from ['color', 'translation', 'cutout']; got ['flip']"),
        (dict(policies=["cutout", "cutout"]), "got ['cutout', 'cutout']"),
        (dict(policies=[]), "policies must be a non-empty list"),
        (dict(policies="cutout"), "got 'cutout'"),
        (dict(translation=1.5), "translation must be a number in [0, 1]; got 1.5"),
        (dict(cutout=-0.1), "cutout must be a number in [0, 1]; got -0.1"),
        (dict(fill="grey"), "fill must be a number; got 'grey'"),
    ],
)
def test_bad_arguments_are_refused(kwargs, fragment):
    with pytest.raises(ConfigurationError) as err:
        DiffAugment(**kwargs)
    assert fragment in str(err.value)


def test_non_image_data_is_refused_before_training(tmp_path):
    model = SGAN(**tiny_nets(), regularizers=[DiffAugment()], max_generator_steps=1)
    with pytest.raises(ConfigurationError, match=r"DiffAugment needs image critic inputs \[B, C, H, W\]; got shape \[2, 2\]"):
        fast_trainer(tmp_path).fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=2))
    assert model.critic_steps == 0


def test_augmentation_reaches_the_critic_in_both_steps(tmp_path):
    from ganmods.nets import DCGANCritic, DCGANGenerator

    seen = []

    class Spy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = DCGANCritic(image_size=16, channels=1, width=4, norm="layer")

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.inner(x)

    model = SGAN(DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4), Spy(),
                 regularizers=[DiffAugment(policies=["cutout"], cutout=0.5, fill=5.0)], max_generator_steps=1)
    dm = GANDataModule(dataset="digits", image_size=16, batch_size=8, batches_per_epoch=2, val_size=64)
    fast_trainer(tmp_path).fit(model, datamodule=dm)
    augmented = [x for x in seen if x.shape[0] == 8]
    assert len(augmented) == 3  # the critic step's real and fake, the generator step's fake
    for x in augmented:
        assert (x == 5.0).all(dim=1).sum(dim=(1, 2)).min() >= 1, "every sample has a hole"
    assert F.mse_loss(augmented[0], augmented[0].clamp(-1, 1)) > 0


def test_augment_module_reexports_the_regularizer_and_old_class_paths_still_build():
    import ganmods.regularizers as regs
    from ganmods.spec import from_spec, to_spec

    assert DiffAugment is regs.DiffAugment
    old = {"class_path": "ganmods.augment.DiffAugment", "init_args": {"policies": ["cutout"], "cutout": 0.25}}
    rebuilt = from_spec(old)
    assert type(rebuilt) is DiffAugment and (rebuilt.policies, rebuilt.cutout) == (["cutout"], 0.25)
    assert to_spec(rebuilt)["class_path"] == "ganmods.regularizers.DiffAugment"
