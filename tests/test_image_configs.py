"""Image runs end to end: the shipped CIFAR-10 / digits configs run through the command line, the EMA
generator averages buffers, and checkpoints carry no metric weights."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import ganmods
from ganmods import SGAN, GANDataModule
from ganmods.cli import main
from ganmods.metrics import ImageMetrics
from ganmods.nets import DCGANCritic, DCGANGenerator
from tests.conftest import fast_trainer
from tests.test_fid import _random_inception_file

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _fake_cifar(root: Path, n_train: int = 40, n_test: int = 16) -> None:
    """CIFAR-10's python layout (5 training batches, a test batch, meta) with random pixels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def batch(name: str, n: int) -> None:
        data = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": rng.integers(0, 10, n).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(data, f)

    for i in range(1, 6):
        batch(f"data_batch_{i}", n_train // 5)
    batch("test_batch", n_test)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)


@pytest.mark.timeout(240)
def test_cifar10_wgan_gp_config_runs_on_a_fake_cifar_folder(tmp_path, monkeypatch, capsys):
    import torchvision.datasets.cifar as cifar

    _fake_cifar(tmp_path / "data")
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)  # random files, no real checksums
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    weights = _random_inception_file(tmp_path / "inception.pt")
    args = [
        "fit", "-c", str(CONFIGS / "cifar10" / "wgan_gp.yaml"),
        "--data.root", str(tmp_path / "data"), "--data.batch_size", "8", "--data.batches_per_epoch", "4",
        "--data.val_size", "8", "--data.eval_samples", "8",
        "--data.metric.init_args.weights_path", weights, "--data.metric.init_args.kid", "false",
        "--data.metric.init_args.cache_dir", str(tmp_path / "cache"),
        "--model.init_args.max_generator_steps", "2", "--model.init_args.n_critic", "2",
        "--model.init_args.generator.init_args.width", "8", "--model.init_args.discriminator.init_args.width", "8",
        "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
        "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
    ]
    with pytest.warns(UserWarning, match="2048"):
        assert main(args) == 0
    assert "fid_8" in capsys.readouterr().out
    (ckpt,) = (tmp_path / "runs").rglob("last.ckpt")
    module = ganmods.load_checkpoint(ckpt)
    assert module.generator_steps == 2 and module.sample(3, seed=0).shape == (3, 3, 32, 32)
    assert list((tmp_path / "runs").rglob("samples/step_*.png"))


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONFIGS / "digits").glob("*.yaml")))
def test_digits_configs_run(name, tmp_path, capsys):
    args = [
        "fit", "-c", str(CONFIGS / "digits" / f"{name}.yaml"),
        "--data.batch_size", "16", "--data.batches_per_epoch", "4", "--data.eval_samples", "100",
        "--data.metric.init_args.cache_dir", str(tmp_path / "cache"), "--data.metric.init_args.kid", "false",
        "--model.init_args.max_generator_steps", "2",
        "--model.init_args.generator.init_args.width", "4", "--model.init_args.discriminator.init_args.width", "4",
        "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
    ]
    assert main(args) == 0
    assert "final (validation reference) fid_100" in capsys.readouterr().out


def _digits_run(tmp_path: Path, **model_kwargs):
    torch.manual_seed(0)
    model = SGAN(DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4),
                 DCGANCritic(image_size=16, channels=1, width=4), **model_kwargs)
    metric = ImageMetrics(extractor="digits", kid=False, cache_dir=str(tmp_path / "cache"))
    data = GANDataModule("digits", image_size=16, batch_size=16, batches_per_epoch=3, val_size=32,
                         eval_samples=64, metric=metric)
    return model, data


def test_ema_generator_averages_buffers(tmp_path):
    decay = 0.9  # not 0.5: with 0.5, decay and 1 - decay would be indistinguishable
    model, data = _digits_run(tmp_path, max_generator_steps=4, ema_decay=decay)
    seen: list[torch.Tensor] = []

    class Record(ganmods.callbacks.SampleGrid.__mro__[1]):  # a plain Lightning Callback
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            bn = next(m for m in module.generator.modules() if isinstance(m, torch.nn.BatchNorm2d))
            seen.append(bn.running_mean.clone())

    fast_trainer(tmp_path, callbacks=[Record()]).fit(model, datamodule=data)
    expected = seen[0]
    for value in seen[1:]:
        expected = decay * expected + (1 - decay) * value
    ema_bn = next(m for m in model.ema_generator.module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    swapped = seen[0]
    for value in seen[1:]:
        swapped = (1 - decay) * swapped + decay * value
    assert not torch.equal(seen[0], seen[-1])
    torch.testing.assert_close(ema_bn.running_mean, expected)
    assert not torch.allclose(swapped, expected, rtol=1e-3, atol=1e-5)


def test_checkpoints_carry_no_metric_weights(tmp_path):
    model, data = _digits_run(tmp_path, max_generator_steps=2, ema_decay=0.9)
    trainer = fast_trainer(tmp_path, limit_val_batches=None)
    trainer.fit(model, datamodule=data)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    checkpoint = torch.load(tmp_path / "m.ckpt", weights_only=True)
    # expected entries from freshly built networks of the same architecture (not from the trained model)
    gen = DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4).state_dict()
    critic = DCGANCritic(image_size=16, channels=1, width=4).state_dict()
    expected = {f"generator.{k}": v.shape for k, v in gen.items()}
    expected.update({f"discriminator.{k}": v.shape for k, v in critic.items()})
    expected.update({f"ema_generator.module.{k}": v.shape for k, v in gen.items()})
    expected["ema_generator.n_averaged"] = torch.Size([])
    assert {k: v.shape for k, v in checkpoint["state_dict"].items()} == expected
    assert "datamodule_hyper_parameters" not in checkpoint
    # the saved weights are the trained ones: rebuilding the networks from the checkpoint gives the model back
    rebuilt = DCGANGenerator(latent_dim=8, image_size=16, channels=1, width=4)
    rebuilt.load_state_dict({k[len("generator."):]: v for k, v in checkpoint["state_dict"].items()
                             if k.startswith("generator.")})
    for (name, a), b in zip(rebuilt.state_dict().items(), model.generator.state_dict().values()):
        assert torch.equal(a, b), name


def test_metric_provenance_is_saved_beside_the_logs(tmp_path):
    import json

    from lightning.pytorch.loggers import CSVLogger

    model, data = _digits_run(tmp_path, max_generator_steps=6)
    trainer = fast_trainer(tmp_path, limit_val_batches=None, logger=CSVLogger(tmp_path / "logs"))
    trainer.fit(model, datamodule=data)
    (path,) = (tmp_path / "logs").rglob("metric_provenance.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["generator_steps"] for line in lines] == [3, 6]  # one line per validation (3 batches each)
    assert lines[0]["n_fake"] == 64 and lines[0]["n_real"] == 64 and len(lines[0]["weights_sha256"]) == 64
    assert "digits" in lines[0]["real_key"] and lines[0]["resize"]
