"""The bad-input catalogue: every case stops before training with one line, `ganmods: error: ...`
(argument, allowed, given), exit status 2, no traceback, and nothing written before is lost."""

from __future__ import annotations

import os

import pytest
import torch

from ganmods.cli import main

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs", "toy")
SGAN, WGAN, WGANGP = (os.path.join(CONFIGS, f"{n}.yaml") for n in ("sgan", "wgan", "wgan_gp"))

CASES = [
    # (config, overrides, fragment of the one-line message)
    (WGANGP, ["--model.init_args.n_critic=0"], "n_critic must be an integer >= 1; got 0"),
    (WGANGP, ["--model.init_args.gp_weight=-1"], "gp_weight must be a finite number >= 0; got -1.0"),
    (WGAN, ["--model.init_args.clip=-0.01"], "clip must be a finite number >= 0; got -0.01"),
    (SGAN, ["--model=ganmods.GANModule", "--model.init_args.loss=bogus"], "loss must be one of ["),
    (SGAN, ["--data.dataset=moons"], "dataset must be one of ['grid25', 'ring8', 'swissroll', 'celeba', 'cifar10', 'digits', 'digits_inverted', 'fashion_mnist', 'folder', 'mnist', 'mnist5k', 'two_folders']; got 'moons'"),
    (SGAN, ["--model.init_args.generator.init_args.out_dim=3"], "generator output shape must equal the data shape (2,)"),
    (WGANGP, ["--model.init_args.discriminator.init_args.norm=batch"], "must not contain BatchNorm"),
    (SGAN, ["--model.init_args.discriminator.init_args.norm=group"], "norm must be one of ['none', 'layer', 'batch', 'spectral']"),
    (SGAN, ["--model.init_args.generator.init_args.hidden=0"], "hidden must be an integer >= 1; got 0"),
    (SGAN, ["--model.init_args.latent_distribution=cauchy"], "latent_distribution must be one of ['normal', 'uniform']"),
    (SGAN, ["--model.init_args.ema_decay=1.5"], "ema_decay must be a number in [0, 1) or null; got 1.5"),
    (SGAN, ["--model.init_args.max_generator_steps=0"], "max_generator_steps must be an integer >= 1; got 0"),
    (SGAN, ["--model.init_args.warmup_n_critic=0"], "warmup_n_critic must be an integer >= 1; got 0"),
    (SGAN, ["--model.init_args.grad_norm_interval=-1"], "grad_norm_interval must be an integer >= 0; got -1"),
    (SGAN, ["--model=ganmods.RaGAN", "--model.init_args.kind=rabogus"], "kind must be one of ['rsgan', 'rasgan', 'ralsgan', 'rahinge']"),
    (SGAN, ["--model=ganmods.FGAN", "--model.init_args.divergence=chi"], "divergence must be one of ["),
    (SGAN, ["--data.batch_size=0"], "batch_size must be an integer >= 1; got 0"),
    (SGAN, ["--data.batches_per_epoch=-1"], "batches_per_epoch must be an integer >= 1; got -1"),
    (SGAN, ["--data.val_size=0"], "val_size must be an integer >= 1; got 0"),
    (SGAN, ["--data.eval_samples=0"], "eval_samples must be an integer >= 1; got 0"),
    (SGAN, ["--data.dataset_options={std: -1}"], "std must be a finite number > 0; got -1"),
    (SGAN, ["--data.dataset_options={radius_typo: 2}"], "dataset_options for 'ring8'"),
    (SGAN, ["--model.init_args.foo=3"], "Option 'foo' is not accepted"),
    (SGAN, ["--model.init_args.n_critic=abc"], "Expected a <class 'int'>. Got value: abc"),
    (SGAN, ["--model.init_args.saturating=maybe"], 'Parser key "saturating"'),
    (SGAN, ["--trainer.max_epochs=x"], 'Parser key "trainer.max_epochs"'),
    (None, ["--config=/nonexistent/run.yaml"], "File does not exist"),
    (SGAN, ["--model.init_args.regularizers=[{class_path: ganmods.regularizers.InstanceNoise, init_args: {schedule: cosine}}]"],
     "schedule must be one of ['constant', 'linear', 'exponential']; got 'cosine'"),
]


def _tiny(tmp_path) -> list[str]:
    return ["--model.init_args.max_generator_steps=2", "--data.batches_per_epoch=4", "--data.batch_size=8",
            "--model.init_args.generator.init_args.hidden=8", "--model.init_args.discriminator.init_args.hidden=8",
            f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false"]


@pytest.mark.parametrize("config, overrides, fragment", CASES, ids=[c[2][:40] for c in CASES])
def test_bad_input_gives_one_clear_line(config, overrides, fragment, tmp_path, capsys):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    args = ["fit", *(["-c", config] if config else []), *(_tiny(tmp_path) if config else []), *overrides]
    try:
        code = main(args)
    except SystemExit as exit_info:  # parser errors exit directly
        code = exit_info.code
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err, "no message"
    assert err[-1].startswith("ganmods: error: ") and fragment in err[-1], err[-1]
    assert not any("Traceback" in line for line in err)
    assert keep.read_text() == "written before"
    assert not list(tmp_path.rglob("*.ckpt"))


# ---------------------------------------------------------------- image data (a 1-channel 16 px DCGAN on digits)
DCGAN = ["fit", "--model=ganmods.SGAN", "--model.init_args.max_generator_steps=2",
         "--model.init_args.generator=ganmods.nets.DCGANGenerator", "--model.init_args.generator.init_args.latent_dim=8",
         "--model.init_args.generator.init_args.image_size=16", "--model.init_args.generator.init_args.channels=1",
         "--model.init_args.generator.init_args.width=4", "--model.init_args.discriminator=ganmods.nets.DCGANCritic",
         "--model.init_args.discriminator.init_args.image_size=16", "--model.init_args.discriminator.init_args.channels=1",
         "--model.init_args.discriminator.init_args.width=4", "--data.dataset=digits", "--data.image_size=16",
         "--data.batch_size=2", "--data.batches_per_epoch=2", "--data.val_size=8", "--trainer.accelerator=cpu",
         "--trainer.max_epochs=-1", "--trainer.enable_progress_bar=false"]
FOLDER = ["--data.dataset=folder", "--data.channels=1", "--data.dataset_options={{held_out_fraction: 0.5}}"]  # formatted below

IMAGE_CASES = [
    # (overrides, with {tmp} for this test's folder and {files} for the shared files, fragment)
    (["--data.channels=3"], "generator output shape must equal the data shape (3, 16, 16) (per sample); got (1, 16, 16)"),
    (["--model.init_args.discriminator.init_args.channels=3"], "discriminator input must have shape [B, 3, 16, 16]; got [2, 1, 16, 16]"),
    (["--data.image_size=24"], "generator output shape must equal the data shape (1, 24, 24) (per sample); got (1, 16, 16)"),
    (["--model.init_args.generator.init_args.image_size=24"], "image_size must be one of [16, 32, 64, 128]; got 24"),
    (["--data.channels=2"], "channels must be 1 (grey) or 3 (RGB); got 2"),
    (["--data.image_size=4"], "image_size must be an integer >= 8 for dataset 'digits'; got 4"),
    (["--data.root={tmp}"], "root must be unset for dataset 'digits'"),
    (["--data.download=true"], "download must be false for dataset 'digits' (nothing to download); got True"),
    ([*FOLDER, "--data.root={files}/empty"], "root must be a folder holding image files"),
    ([*FOLDER, "--data.root={files}/unreadable"], "image file '{files}/unreadable/bad.png' could not be read"),
    ([*FOLDER, "--data.root={files}/missing"], "root must be an existing folder of images for dataset 'folder'; got '{files}/missing'"),
    ([*FOLDER, "--data.root={files}/two", "--data.batch_size=8"], "batch_size must be at most the number of training images"),
    (["--data.dataset=cifar10", "--data.root={files}/empty"], "root must hold the cifar10 files; got '{files}/empty', where data_batch_1"),
    # checkpoints passed to --ckpt_path
    (["--ckpt_path={files}/none.ckpt"], "ckpt_path must be an existing checkpoint file; got '{files}/none.ckpt' (no such file)."),
    (["--ckpt_path={files}/truncated.ckpt"], "ckpt_path must be a readable ganmods checkpoint; got '{files}/truncated.ckpt', which could not be read (truncated or corrupt?)"),
    (["--ckpt_path={files}/foreign.ckpt"], "ckpt_path must be a checkpoint written by ganmods; got '{files}/foreign.ckpt'"),
    (["--ckpt_path={files}/wgan.ckpt"], "ckpt_path must be a checkpoint of the configured model ganmods.SGAN; got '{files}/wgan.ckpt', written by ganmods.variants.WGAN"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Shared inputs: image folders (empty, with an unreadable file, too small) and checkpoints (one of WGAN,
    a truncated copy, a foreign file)."""
    import numpy as np
    from PIL import Image

    from ganmods import WGAN, GANDataModule
    from tests.conftest import fast_trainer, tiny_nets

    root = tmp_path_factory.mktemp("inputs")
    (root / "empty").mkdir()
    for name, count in (("unreadable", 4), ("two", 4)):  # "two": 2 training images, 2 held out (1 validation, 1 test)
        (root / name).mkdir()
        for i in range(count):
            Image.fromarray((np.random.default_rng(i).random((20, 20)) * 255).astype("uint8")).save(root / name / f"{i}.png")
    (root / "unreadable" / "bad.png").write_bytes(b"not an image")
    model = WGAN(**tiny_nets(), clip=0.01, max_generator_steps=1)
    trainer = fast_trainer(root)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=2))
    trainer.save_checkpoint(root / "wgan.ckpt")
    (root / "truncated.ckpt").write_bytes((root / "wgan.ckpt").read_bytes()[:3000])
    torch.save({"weights": torch.zeros(2)}, root / "foreign.ckpt")
    return root


def _run(args, capsys) -> str:
    try:
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err, "no message"
    assert not any("Traceback" in line for line in err)
    return err[-1]


@pytest.mark.parametrize("overrides, fragment", IMAGE_CASES, ids=[c[1][:40] for c in IMAGE_CASES])
def test_bad_image_or_checkpoint_input_gives_one_clear_line(overrides, fragment, files, tmp_path, capsys):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    fill = {"tmp": str(tmp_path), "files": str(files)}
    args = [*DCGAN, f"--trainer.default_root_dir={tmp_path}", *(a.format(**fill) for a in overrides)]
    line = _run(args, capsys)
    assert line.startswith("ganmods: error: ") and fragment.format(**fill) in line, line
    assert keep.read_text() == "written before"
    assert not list(tmp_path.rglob("*.ckpt"))


# ---------------------------------------------------------------- ganmods generate
GENERATE_CASES = [
    (["--ckpt", "{files}/truncated.ckpt", "--out", "{tmp}/s.npy"], "path must be a readable ganmods checkpoint"),
    (["--ckpt", "{files}/foreign.ckpt", "--out", "{tmp}/s.npy"], "path must be a checkpoint written by ganmods"),
    (["--ckpt", "{files}/wgan.ckpt", "--out", "{tmp}/earlier_result.txt/s.npy"], "out must be in a writable directory"),
    (["--ckpt", "{files}/wgan.ckpt", "--out", "{tmp}/s.jpg"], "out must be a directory or end in one of"),
]


@pytest.mark.parametrize("overrides, fragment", GENERATE_CASES, ids=[c[1][:40] for c in GENERATE_CASES])
def test_bad_generate_input_gives_one_clear_line(overrides, fragment, files, tmp_path, capsys):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    fill = {"tmp": str(tmp_path), "files": str(files)}
    line = _run(["generate", "--n", "4", *(a.format(**fill) for a in overrides)], capsys)
    assert line.startswith("ganmods: error: ") and fragment in line, line
    assert keep.read_text() == "written before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier_result.txt"]


def test_the_catalogue_has_at_least_25_cases():
    assert len(CASES) + len(IMAGE_CASES) + len(GENERATE_CASES) >= 25
    assert len(PREFLIGHT_CASES) + len(ROUND2_IMAGE_CASES) + len(PNG_DEPTHS) >= 25
    assert len(IMAGE_CASES) >= 10


# ---------------------------------------------------------------- round 2: ganmods.preflight, wired into the CLI
import struct  # noqa: E402
import zlib  # noqa: E402

from ganmods import preflight  # noqa: E402
from ganmods.errors import ConfigurationError  # noqa: E402


@pytest.fixture
def wired():
    """The CLI as shipped: ganmods.cli calls every config-only preflight check right after parsing (before the
    seed is set) and the checkpoint checks (model class, data shape) before fit (nothing to set up here)."""
    from ganmods.cli import GANCLI

    assert "parse_arguments" in vars(GANCLI) and "before_fit" in vars(GANCLI)


PREFLIGHT_CASES = [
    (["--model.init_args.optimizer_g=Adam", "--model.init_args.optimizer_g.lr=-0.1"],
     "optimizer_g.lr must be a finite number > 0; got -0.1."),
    (["--model.init_args.optimizer_d=torch.optim.SGD", "--model.init_args.optimizer_d.lr=0"],
     "optimizer_d.lr must be a finite number > 0; got 0.0."),
    (["--model.init_args.scheduler_d=StepLR", "--model.init_args.scheduler_d.step_size=-3"],
     "scheduler_d.step_size must be an integer >= 1; got -3."),
    (["--trainer.precision=64"], "trainer.precision must be one of ['32-true', '16-mixed', 'bf16-mixed'] (64-bit"),
    (["--trainer.precision=16-true"], "(64-bit and true half precision are not supported); got '16-true'."),
    (["--trainer.strategy=ddp"], "trainer.strategy must be 'gan_ddp' for several processes (plain DDP cannot train a GAN"),
    (["--trainer.max_steps=0"], "trainer.max_steps must be -1 (no limit) or an integer >= 1; got 0."),
    (["--trainer.limit_train_batches=0"], "trainer.limit_train_batches must be an integer >= 1 or a fraction in (0, 1]"),
    (["--seed_everything=4294967296"], "seed_everything must be an integer in [0, 4294967295] (or true for a random "
                                       "seed); got 4294967296."),
    (["--ckpt_path=best"], "ckpt_path must be a checkpoint file, 'last' or null (to start from the best checkpoint"),
    (["--ckpt_path={tmp}"], "ckpt_path must be a checkpoint file, not a folder (e.g. <log_dir>/checkpoints/last.ckpt); "
                            "got '{tmp}', which is a folder."),
    (["--trainer.default_root_dir={tmp}/earlier_result.txt"], "trainer.default_root_dir must be a folder (or a path "
                                                              "where one can be created); got '{tmp}/earlier_result.txt'"),
    (["--trainer.default_root_dir={tmp}/ro/run"], "trainer.default_root_dir must be a writable folder; got "
                                                  "'{tmp}/ro/run', which would be created in '{tmp}/ro' (read-only)."),
]
if not torch.cuda.is_available():
    PREFLIGHT_CASES.append((["--trainer.accelerator=gpu"],
                            "trainer.accelerator must be 'cpu' or 'auto' on this machine (no GPU found); got 'gpu'."))


@pytest.mark.parametrize("overrides, fragment", PREFLIGHT_CASES, ids=[c[1][:40] for c in PREFLIGHT_CASES])
def test_preflight_input_gives_one_clear_line(overrides, fragment, wired, tmp_path, capsys, monkeypatch):
    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: simulate what a user without the permission sees
        monkeypatch.setattr(preflight, "_writable", lambda path: os.path.abspath(path) != str(read_only))
    fill = {"tmp": str(tmp_path)}
    args = ["fit", "-c", SGAN, *_tiny(tmp_path), *(a.format(**fill) for a in overrides)]
    line = _run(args, capsys)
    assert line.startswith("ganmods: error: ") and fragment.format(**fill) in line, line
    assert keep.read_text() == "written before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier_result.txt", "ro"] and not list(read_only.iterdir())


def _png(width: int, height: int, bit_depth: int, color_type: int, rows: list[bytes], palette: bytes = b"") -> bytes:
    """A PNG file written by hand, so that every bit depth PNG allows can be made (PIL writes only a few)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + (chunk(b"PLTE", palette) if palette else b"")
            + chunk(b"IDAT", zlib.compress(b"".join(b"\0" + r for r in rows))) + chunk(b"IEND", b""))


# (name, bit depth, colour type, the two pixels of a 2x1 image as bytes, palette, expected grey values 0-255)
PNG_DEPTHS = [
    ("grey1", 1, 0, bytes([0b01000000]), b"", [0, 255]),
    ("grey2", 2, 0, bytes([0b01110000]), b"", [85, 255]),          # 1/3 and 3/3 of full scale
    ("grey4", 4, 0, bytes([0x5F]), b"", [85, 255]),                 # 5/15 and 15/15
    ("grey8", 8, 0, bytes([7, 200]), b"", [7, 200]),
    ("grey16", 16, 0, bytes([0x80, 0x00, 0x01, 0x01]), b"", [128, 1]),  # 32768/257 = 127.5 -> 128; 257/257 = 1
    ("palette2", 2, 3, bytes([0b01000000]), bytes([10, 10, 10, 250, 250, 250]), [250, 10]),
    ("grey_alpha8", 8, 4, bytes([90, 255, 30, 0]), b"", [90, 30]),  # alpha dropped
    ("rgba8", 8, 6, bytes([255, 255, 255, 7, 0, 0, 0, 255]), b"", [255, 0]),
    ("rgb16", 16, 2, bytes([0xFF, 0xFF] * 3 + [0x00, 0x10] * 3), b"", [255, 0]),
    ("rgba16", 16, 6, bytes([0x64, 0x00] * 3 + [0xFF, 0xFF] + [0xFF, 0xFF] * 4), b"", [100, 255]),
]


@pytest.mark.parametrize("name, depth, color, row, palette, grey", PNG_DEPTHS, ids=[c[0] for c in PNG_DEPTHS])
def test_every_png_bit_depth_is_read_at_its_full_scale(name, depth, color, row, palette, grey, tmp_path):
    from ganmods.data.folder import read_images

    path = tmp_path / f"{name}.png"
    path.write_bytes(_png(2, 1, depth, color, [row], palette))
    pixels = read_images([path], image_size=1, channels=1)  # 2x1 centre-cropped to its left pixel
    assert pixels.shape == (1, 1, 1, 1) and pixels.dtype == torch.uint8
    assert int(pixels) == grey[0]


def test_sixteen_bit_grey_keeps_its_gradations(tmp_path):
    from ganmods.data.folder import read_images

    values = [0, 257 * 3, 32768, 65535]  # -> 0, 3, 128, 255
    path = tmp_path / "g16.png"
    path.write_bytes(_png(2, 2, 16, 0, [struct.pack(">HH", *values[:2]), struct.pack(">HH", *values[2:])]))
    pixels = read_images([path], image_size=2, channels=3)
    assert pixels[0, 0].tolist() == [[0, 3], [128, 255]] and torch.equal(pixels[0, 0], pixels[0, 2])


def test_linked_folders_are_read_once_and_a_link_loop_ends(tmp_path):
    from PIL import Image

    from ganmods.data.folder import find_images

    (tmp_path / "a").mkdir()
    for i in range(3):
        Image.new("L", (4, 4), i).save(tmp_path / "a" / f"{i}.png")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a/loop -> the root: a loop
    os.symlink(tmp_path / "a", tmp_path / "b")  # b -> a: the same real folder again
    found = find_images(tmp_path)
    assert [p.name for p in found] == ["0.png", "1.png", "2.png"]


def test_image_files_that_cannot_be_opened_are_one_line(tmp_path):
    from ganmods.data.folder import find_images, read_images

    (tmp_path / "broken").mkdir()
    os.symlink(tmp_path / "nowhere.png", tmp_path / "broken" / "x.png")
    with pytest.raises(ConfigurationError, match=r"x.png' could not be read: it is a broken link \(to '.*nowhere.png'\)"):
        find_images(tmp_path / "broken")
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "pipe.png")  # opening it would wait forever
    with pytest.raises(ConfigurationError, match="pipe.png' could not be read: it is not a regular file."):
        find_images(tmp_path / "fifo")
    (tmp_path / "self").mkdir()
    os.symlink(tmp_path / "self" / "me.png", tmp_path / "self" / "me.png")  # a link to itself
    with pytest.raises(ConfigurationError, match="me.png' could not be read: Too many levels of symbolic links."):
        find_images(tmp_path / "self")
    if os.geteuid() != 0:  # root reads any file whatever its mode
        from PIL import Image

        Image.new("L", (4, 4)).save(tmp_path / "locked.png")
        (tmp_path / "locked.png").chmod(0)
        with pytest.raises(ConfigurationError, match="locked.png' could not be read: .*Permission denied"):
            read_images([tmp_path / "locked.png"], 4, 1)


def test_decompression_bombs_are_one_line(tmp_path, monkeypatch):
    from PIL import Image

    from ganmods.data.folder import read_images

    Image.new("L", (20, 20)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 400 pixels: over the limit (PIL warns)
    with pytest.warns(Image.DecompressionBombWarning), \
            pytest.raises(ConfigurationError, match=r"big.png' must have at most 300 pixels \(PIL.Image.MAX_IMAGE_PIXELS"
                                                    r", a guard against decompression bombs\); got 20x20."):
        read_images([tmp_path / "big.png"], 8, 1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150)  # over twice the limit: PIL refuses
    with pytest.raises(ConfigurationError, match="big.png' must have at most 150 pixels .*got a larger one"):
        read_images([tmp_path / "big.png"], 8, 1)


def test_image_memory_is_checked_before_allocating(monkeypatch):
    from ganmods.data.folder import fit_images

    # 10 images x 3 x 8 x 8 = 1920 bytes, plus 2 x 10 x 192 x 4 = 15360 of float copies: 17280
    assert preflight.check_image_memory(10, 3, 8, available=10**6) == 17280
    with pytest.raises(ConfigurationError, match=r"image_size must be small enough for 10 images × 3 channel\(s\) to "
                                                 r"fit in memory \(0.0 GB needed, 0.0 GB available\); got 8."):
        preflight.check_image_memory(10, 3, 8, available=21599)  # 80 % of it is 17279.2
    preflight.check_image_memory(10, 3, 8, available=21600)
    monkeypatch.setattr(preflight, "available_memory", lambda: 16 * 2**30)
    with pytest.raises(ConfigurationError, match="image_size must be small enough for 70000 images .* got 4096"):
        fit_images(torch.zeros(70000, 1, 1, 1, dtype=torch.uint8), 4096, 3)


FOLDER_WIRED = ["--data.dataset=folder", "--data.channels=1", "--data.dataset_options={{held_out_fraction: 0.5}}"]


@pytest.fixture(scope="module")
def round2_files(files):
    """More inputs: a checkpoint of a class defined in ``__main__``, one of toy data (shape (2,)) of the
    configured class, folders with a broken link and a large image."""
    import numpy as np
    from PIL import Image

    from ganmods import SGAN, GANDataModule
    from tests.conftest import fast_trainer, tiny_nets

    checkpoint = torch.load(files / "wgan.ckpt", map_location="cpu", weights_only=True)
    checkpoint["ganmods"]["class_path"] = "__main__.MyGAN"
    torch.save(checkpoint, files / "main.ckpt")
    model = SGAN(**tiny_nets(), max_generator_steps=1)
    trainer = fast_trainer(files)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=2))
    trainer.save_checkpoint(files / "sgan_toy.ckpt")
    for name in ("broken", "big"):
        (files / name).mkdir()
        for i in range(4):
            Image.fromarray((np.random.default_rng(i).random((20, 20)) * 255).astype("uint8")).save(
                files / name / f"{i}.png")
    os.symlink(files / "gone.png", files / "broken" / "9.png")
    Image.new("L", (40, 40)).save(files / "big" / "9.png")
    return files


ROUND2_IMAGE_CASES = [
    (["--ckpt_path={files}/main.ckpt"], "ckpt_path must be a checkpoint of a model class importable from a module; got "
                                        "'{files}/main.ckpt', written by __main__.MyGAN, a class defined in a script"),
    (["--ckpt_path={files}/sgan_toy.ckpt"], "ckpt_path must be a checkpoint of data shaped (1, 16, 16) (the configured "
                                            "data); got '{files}/sgan_toy.ckpt', written for data shaped (2,)."),
    ([*FOLDER_WIRED, "--data.root={files}/broken"], "image file '{files}/broken/9.png' could not be read: it is a "
                                                    "broken link"),
    ([*FOLDER_WIRED, "--data.root={files}/big"], "image file '{files}/big/9.png' must have at most 1000 pixels"),
    ([*FOLDER_WIRED, "--data.root={files}/two", "--data.image_size=16"], "image_size must be small enough for "),
]


@pytest.mark.parametrize("overrides, fragment", ROUND2_IMAGE_CASES, ids=[c[1][:40] for c in ROUND2_IMAGE_CASES])
def test_round2_image_or_checkpoint_input_gives_one_clear_line(overrides, fragment, round2_files, wired, tmp_path,
                                                               capsys, monkeypatch):
    from PIL import Image

    keep = tmp_path / "earlier_result.txt"
    keep.write_text("written before")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 20x20 images pass, the 40x40 one does not
    if any("{files}/two" in o for o in overrides):
        monkeypatch.setattr(preflight, "available_memory", lambda: 100)
    fill = {"tmp": str(tmp_path), "files": str(round2_files)}
    args = [*DCGAN, f"--trainer.default_root_dir={tmp_path}", *(a.format(**fill) for a in overrides)]
    line = _run(args, capsys)
    assert line.startswith("ganmods: error: ") and fragment.format(**fill) in line, line
    assert keep.read_text() == "written before"
    assert not list(tmp_path.rglob("*.ckpt"))


PREFLIGHT_UNIT = [
    (preflight.check_optimizers, ({"optimizer_g": {"class_path": "torch.optim.Adam", "init_args": {"lr": float("nan")}}},),
     "optimizer_g.lr must be a finite number > 0; got nan."),
    (preflight.check_optimizers, ({"scheduler_g": {"class_path": "x.CyclicLR", "init_args": {"step_size_up": 0.5}}},),
     "scheduler_g.step_size_up must be an integer >= 1; got 0.5."),
    (preflight.check_trainer_options, ({"accelerator": "cuda"}, False), "got 'cuda'."),
    (preflight.check_trainer_options, ({"strategy": "ddp_spawn"},), "name"),
    (preflight.check_trainer_options, ({"max_epochs": 0},), "trainer.max_epochs must be -1 (no limit) or an integer >= 1; got 0."),
    (preflight.check_trainer_options, ({"max_steps": -5},), "trainer.max_steps must be -1 (no limit) or an integer >= 1; got -5."),
    (preflight.check_seed, (-1,), "seed_everything must be an integer in [0, 4294967295]"),
    (preflight.check_seed, ("7",), "got '7'."),
    (preflight.check_ckpt_path, ("registry",), "got 'registry'."),
]


@pytest.mark.parametrize("check, args, fragment", PREFLIGHT_UNIT, ids=[f"{c[0].__name__}-{c[2][:30]}" for c in PREFLIGHT_UNIT])
def test_preflight_functions_refuse(check, args, fragment):
    with pytest.raises(ConfigurationError) as info:
        check(*args)
    message = str(info.value)
    assert (fragment in message) if fragment != "name" else "'gan_ddp'" in message and "ddp_spawn" in message, message


def test_preflight_functions_accept_what_works(tmp_path):
    preflight.check_optimizers({"optimizer_g": {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-4}},
                                "scheduler_d": {"class_path": "torch.optim.lr_scheduler.StepLR",
                                                "init_args": {"step_size": 10}}})
    preflight.check_trainer_options({"precision": "16-mixed", "accelerator": "gpu", "strategy": "gan_ddp",
                                     "max_steps": -1, "max_epochs": 3, "limit_train_batches": 0.5}, True)
    preflight.check_trainer_options({"precision": 32, "accelerator": "cpu", "strategy": "auto"})
    for seed in (None, True, False, 0, 2**32 - 1):
        preflight.check_seed(seed)
    preflight.check_ckpt_path(None)
    preflight.check_ckpt_path("last")
    preflight.check_output_folder(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()  # nothing created
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigurationError, match="lies under the file"):
        preflight.check_output_folder(tmp_path / "f" / "sub", "trainer.default_root_dir")
    preflight.check_fit_config({"model": {"init_args": {}}, "trainer": {"default_root_dir": str(tmp_path)},
                                "seed_everything": 3, "ckpt_path": None})


def test_a_diverged_run_without_a_checkpoint_says_why(tmp_path):
    import lightning.pytorch as pl

    from ganmods import SGAN, GANDataModule
    from ganmods.callbacks import GANCheckpoint
    from tests.conftest import fast_trainer, tiny_nets

    class Diverge(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            with torch.no_grad():
                next(pl_module.generator.parameters()).fill_(float("nan"))

    model = SGAN(**tiny_nets(), max_generator_steps=2, stop_on_nonfinite=False)
    trainer = fast_trainer(tmp_path, enable_checkpointing=True,
                           callbacks=[GANCheckpoint(dirpath=str(tmp_path / "ck")), Diverge()])
    with pytest.warns(UserWarning, match=r"last.ckpt not written at generator step 2: the model holds non-finite "
                                         r"values \(generator\..*\); no checkpoint exists: training diverged before "
                                         r"the first save"):
        trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=4))
    assert not (tmp_path / "ck" / "last.ckpt").exists()


def test_nonfinite_message_with_an_earlier_checkpoint_keeps_it():
    from ganmods.callbacks.checkpoints import nonfinite_message

    assert nonfinite_message("x/last.ckpt", 7, "generator.net.0.weight", True) == (
        "ganmods: x/last.ckpt not written at generator step 7: the model holds non-finite values "
        "(generator.net.0.weight); the file keeps the last finite state saved.")
    assert "no checkpoint exists" in nonfinite_message("x/last.ckpt", 7, None, False)
    assert "(on another rank)" in nonfinite_message("x/last.ckpt", 7, None, False)
