"""Step-keyed training streams: the real batch of critic step ``k`` depends only on the seed, ``k`` and the
process's place (rank, world size), never on how the run was split into epochs or resumed.

A pass over a stream reads the start step once, when it begins (Lightning fetches one batch ahead, so the
counter must not be read per batch), and then yields the batches of steps ``start, start + 1, ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterator, Optional, Protocol, Sized

import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from ganmods.errors import invalid
from ganmods.images import from_uint8
from ganmods.randomness import DATA_STREAM, mix_seed

__all__ = ["CriticBatches", "HeldOutBatches", "ImageBatches", "SampleBatches", "StepChunks", "to_float"]

def to_float(images: Tensor) -> Tensor:
    """uint8 images (0..255) as float32 in ``[-1, 1]`` (:func:`ganmods.images.from_uint8`).

    Args:
        images: uint8 tensor of any shape.

    Returns:
        The float tensor, ``0 -> -1`` and ``255 -> 1``.
    """
    return from_uint8(images)


class _Distribution(Protocol):
    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor: ...


def _zero() -> int:
    return 0


def _one() -> int:
    return 1


class SampleBatches(IterableDataset):
    """Fresh batches drawn from a distribution; the batch of critic step ``k`` is drawn with a generator
    seeded from ``mix_seed(seed, DATA_STREAM, rank, k)``, so every variant sees the same real data for the
    same seed and a resumed run sees the batches it would have seen without interruption.

    Args:
        distribution: Object with ``sample(n, generator)``.
        batch_size: Points per batch.
        num_batches: Batches per pass (one Lightning epoch).
        seed: Base seed of the data stream.
        step_fn: Returns the critic step of the first batch (read once, when a pass starts).
        rank_fn: Returns this process's global rank (each rank gets its own stream).

    Example:
        >>> from ganmods.data import make_toy
        >>> stream = SampleBatches(make_toy("ring8"), batch_size=4, num_batches=3, seed=0)
        >>> [b.shape for b in stream] == [torch.Size([4, 2])] * 3
        True
    """

    def __init__(
        self,
        distribution: _Distribution,
        batch_size: int,
        num_batches: int,
        seed: int,
        step_fn: Callable[[], int] = _zero,
        rank_fn: Callable[[], int] = _zero,
    ) -> None:
        self.distribution = distribution
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.seed = seed
        self.step_fn = step_fn
        self.rank_fn = rank_fn

    def __len__(self) -> int:
        return self.num_batches

    def batch(self, step: int, rank: Optional[int] = None) -> Tensor:
        """The batch of one critic step.

        Args:
            step: Critic step ``k``.
            rank: Global rank (default: ``rank_fn()``).

        Returns:
            ``[batch_size, ...]`` points.
        """
        rank = int(self.rank_fn()) if rank is None else rank
        stream = torch.Generator().manual_seed(mix_seed(self.seed, DATA_STREAM, rank, step))
        return self.distribution.sample(self.batch_size, generator=stream)

    def __iter__(self) -> Iterator[Tensor]:
        start, rank = int(self.step_fn()), int(self.rank_fn())  # read now, not at the first batch
        return (self.batch(step, rank) for step in range(start, start + self.num_batches))


class ImageBatches(IterableDataset):
    """Batches of a fixed image set, each image used once per data epoch across all processes.

    With world size ``W``, critic step ``k`` of rank ``r`` takes global batch ``g = k * W + r``. A data epoch
    holds ``M = N // batch_size`` batches (the last partial batch is dropped): batch ``g`` is slice
    ``g % M`` of the permutation of data epoch ``g // M``, seeded from ``mix_seed(seed, DATA_STREAM, g // M)``. The
    stream thus depends only on ``(seed, k, rank, W)`` and can resume from ``k`` alone.

    Args:
        images: uint8 images ``[N, C, H, W]``.
        batch_size: Images per batch (per process).
        num_batches: Batches per pass (one Lightning epoch).
        seed: Base seed of the data order.
        step_fn: Returns the critic step of the first batch (read once, when a pass starts).
        rank_fn: Returns this process's global rank.
        world_size_fn: Returns the number of processes.

    Raises:
        ConfigurationError: If ``batch_size`` exceeds the number of images.

    Example:
        >>> imgs = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
        >>> stream = ImageBatches(imgs, batch_size=5, num_batches=2, seed=0)
        >>> sorted(torch.cat(list(stream)).flatten().tolist()) == sorted(((torch.arange(10) / 127.5) - 1).tolist())
        True
    """

    def __init__(
        self,
        images: Tensor,
        batch_size: int,
        num_batches: int,
        seed: int,
        step_fn: Callable[[], int] = _zero,
        rank_fn: Callable[[], int] = _zero,
        world_size_fn: Callable[[], int] = _one,
    ) -> None:
        if batch_size > images.shape[0]:
            raise invalid("batch_size", f"at most the number of training images N = {images.shape[0]}", batch_size)
        self.images = images
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.seed = seed
        self.step_fn = step_fn
        self.rank_fn = rank_fn
        self.world_size_fn = world_size_fn
        self.batches_per_data_epoch = images.shape[0] // batch_size
        self._perm_epoch = -1
        self._perm = torch.empty(0, dtype=torch.int64)

    def __len__(self) -> int:
        return self.num_batches

    def permutation(self, data_epoch: int) -> Tensor:
        """The image order of one data epoch (the last one asked for is cached).

        Args:
            data_epoch: Data epoch index.

        Returns:
            A permutation of ``range(N)``.
        """
        if data_epoch != self._perm_epoch:
            stream = torch.Generator().manual_seed(mix_seed(self.seed, DATA_STREAM, data_epoch))
            # drawn on the host (the same order everywhere), kept beside the images (one copy per data epoch)
            self._perm = torch.randperm(self.images.shape[0], generator=stream).to(self.images.device)
            self._perm_epoch = data_epoch
        return self._perm

    def serve_from(self, images: Tensor) -> None:
        """Gather the batches from ``images``, a copy of the same images on another device (e.g. a GPU): each
        batch is then indexed and converted there, with no host-to-device copy per step. The batches keep
        their values and order.

        Args:
            images: The same uint8 images ``[N, C, H, W]`` on the device to serve from.

        Raises:
            ConfigurationError: If ``images`` differs from the current images in shape or dtype.
        """
        if not isinstance(images, Tensor) or images.shape != self.images.shape or images.dtype != self.images.dtype:
            got = (tuple(images.shape), images.dtype) if isinstance(images, Tensor) else type(images).__name__
            raise invalid("images", f"a copy of the {tuple(self.images.shape)} {self.images.dtype} images", got)
        self.images = images
        self._perm_epoch = -1

    def indices(self, step: int, rank: Optional[int] = None, world_size: Optional[int] = None) -> Tensor:
        """Indices into ``images`` of the batch of one critic step.

        Args:
            step: Critic step ``k``.
            rank: Global rank (default: ``rank_fn()``).
            world_size: Number of processes (default: ``world_size_fn()``).

        Returns:
            ``[batch_size]`` int64 indices.
        """
        rank = int(self.rank_fn()) if rank is None else rank
        world_size = int(self.world_size_fn()) if world_size is None else world_size
        data_epoch, position = divmod(step * world_size + rank, self.batches_per_data_epoch)
        start = position * self.batch_size
        return self.permutation(data_epoch)[start : start + self.batch_size]

    def batch(self, step: int, rank: Optional[int] = None, world_size: Optional[int] = None) -> Tensor:
        """The batch of one critic step as float images in ``[-1, 1]``.

        Args:
            step: Critic step ``k``.
            rank: Global rank (default: ``rank_fn()``).
            world_size: Number of processes (default: ``world_size_fn()``).

        Returns:
            ``[batch_size, C, H, W]`` float32.
        """
        return to_float(self.images[self.indices(step, rank, world_size)])

    def __iter__(self) -> Iterator[Tensor]:
        start, rank, world_size = int(self.step_fn()), int(self.rank_fn()), int(self.world_size_fn())
        return (self.batch(step, rank, world_size) for step in range(start, start + self.num_batches))


class HeldOutBatches(IterableDataset):
    """A fixed set of uint8 images served in order as float batches in ``[-1, 1]``.

    Args:
        images: uint8 images ``[N, C, H, W]``.
        batch_size: Images per batch (the last batch may be smaller).
    """

    def __init__(self, images: Tensor, batch_size: int) -> None:
        self.images = images
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-self.images.shape[0] // self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        for chunk in self.images.split(self.batch_size):
            yield to_float(chunk)


@dataclass
class CriticBatches:
    """The real batches of consecutive critic steps, carried by one Lightning batch.

    :class:`~ganmods.GANModule` runs one critic step (and its generator step, when due) per item. Lightning
    moves every tensor in ``reals`` to the device like any other batch.

    Args:
        reals: One real batch per critic step, in step order.
    """

    reals: list[Tensor]

    def pin_memory(self) -> "CriticBatches":
        """The same batches in page-locked host memory (called by a ``DataLoader(pin_memory=True)``).

        Returns:
            A new :class:`CriticBatches` of pinned tensors.
        """
        return CriticBatches([real.pin_memory() for real in self.reals])


class StepChunks(IterableDataset):
    """Groups a step-keyed stream into :class:`CriticBatches` of ``steps_per_batch`` consecutive steps.

    The real batch of every critic step is the one the ungrouped stream gives for that step, so grouping
    changes how many critic steps share one Lightning batch (and its per-batch framework work), not the
    data or the math.

    Args:
        stream: A :class:`SampleBatches` or :class:`ImageBatches` (read once per pass, in order).
        steps_per_batch: Critic steps per Lightning batch (>= 1); must divide ``len(stream)``.

    Raises:
        ConfigurationError: If ``steps_per_batch`` is not a positive divisor of ``len(stream)``.

    Example:
        >>> from ganmods.data import make_toy
        >>> chunks = StepChunks(SampleBatches(make_toy("ring8"), 4, num_batches=6, seed=0), steps_per_batch=3)
        >>> [len(c.reals) for c in chunks]
        [3, 3]
    """

    def __init__(self, stream: IterableDataset, steps_per_batch: int) -> None:
        total = len(stream) if isinstance(stream, Sized) else 0
        if not (isinstance(steps_per_batch, int) and steps_per_batch >= 1 and total % steps_per_batch == 0):
            raise invalid("steps_per_batch", f"a positive divisor of the stream's {total} batches per pass",
                          steps_per_batch)
        self.stream = stream
        self.steps_per_batch = steps_per_batch

    def __len__(self) -> int:
        return len(self.stream) // self.steps_per_batch  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[CriticBatches]:
        batches = iter(self.stream)  # the stream reads its start step here, once
        while chunk := list(islice(batches, self.steps_per_batch)):
            yield CriticBatches(chunk)
