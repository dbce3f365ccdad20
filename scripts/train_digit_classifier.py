"""Train the digit classifier behind ``ImageMetrics(extractor="digits")`` and write its weights.

Trains :class:`ganmods.metrics.digits.DigitClassifier` on the ``train`` split of the bundled digits only
(1500 images at 32 px, random integer shifts of up to ±``--shift`` px, zero-padded with the background
value -1), reports accuracy on the 297 held-out images, stores the per-dimension mean and std of the
penultimate outputs on the (unshifted) train split as the feature standardisation, and saves the float32
state dict.

Usage (the shipped file was made with exactly this)::

    python scripts/train_digit_classifier.py --out ganmods/metrics/weights/digit_classifier.pt
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ganmods.data.digits import load_digits
from ganmods.metrics.digits import DIGIT_WORKING_SIZE, DigitClassifier


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image by its own random integer offset, filling with the background value -1.

    Args:
        x: ``[N, 1, S, S]`` images in ``[-1, 1]``.
        max_shift: Largest shift in pixels along each axis.
        generator: Source of the offsets.

    Returns:
        The shifted images, same shape.
    """
    if max_shift == 0:
        return x
    n, _, s, _ = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    return torch.stack([padded[i, :, dy[i]:dy[i] + s, dx[i]:dx[i] + s] for i in range(n)])


@torch.no_grad()
def accuracy(net: DigitClassifier, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` that ``net`` (in eval mode) labels correctly.

    Args:
        net: The classifier.
        x: ``[N, 1, H, W]`` images.
        y: ``[N]`` labels.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    net.eval()
    return float((net(x).argmax(dim=1) == y).double().mean())


def main(argv: list[str] | None = None) -> float:
    """Train, report, save.

    Args:
        argv: Command-line arguments (``None``: ``sys.argv``).

    Returns:
        The held-out accuracy.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the state dict (.pt)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--shift", type=int, default=4, help="max random shift in px at 32 px")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, y_train = load_digits("train", image_size=DIGIT_WORKING_SIZE, with_labels=True)
    x_held, y_held = load_digits("held_out", image_size=DIGIT_WORKING_SIZE, with_labels=True)
    net = DigitClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    start = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = F.cross_entropy(net(random_shift(x_train[idx], args.shift, gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if (epoch + 1) % 10 == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(x_train):.4f}  "
                  f"train acc {accuracy(net, x_train, y_train):.4f}  ({time.time() - start:.0f} s)")
    net.eval()
    with torch.no_grad():
        raw = net.body(x_train)
        net.feature_mean.copy_(raw.mean(dim=0))
        net.feature_std.copy_(raw.std(dim=0).clamp_min(1e-6))
    held_acc = accuracy(net, x_held, y_held)
    print(f"held-out accuracy: {held_acc:.4f} ({int(round(held_acc * len(y_held)))}/{len(y_held)})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().float().contiguous() for k, v in net.state_dict().items()}, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")
    return held_acc


if __name__ == "__main__":
    main()
