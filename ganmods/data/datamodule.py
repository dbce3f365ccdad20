"""GANDataModule: one LightningDataModule for every dataset, so every variant sees identical data."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Protocol

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from ganmods.data.toy import TOY_DATASETS, make_toy
from ganmods.errors import check_positive_int, invalid
from ganmods.spec import Recorded

__all__ = ["GANDataModule", "SampleBatches"]


class _Distribution(Protocol):
    name: str

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor: ...

    def evaluate(self, samples: Tensor) -> dict[str, float]: ...


class _Sampler(Protocol):
    def sample(self, n: int, seed: Optional[int] = None) -> Tensor: ...


class SampleBatches(IterableDataset):
    """Fresh batches drawn from a distribution; batch ``i`` of epoch ``e`` depends only on
    ``(seed, rank, e)``, so every variant sees the same real data for the same seed.

    Args:
        distribution: Object with ``sample(n, generator)``.
        batch_size: Points per batch.
        num_batches: Batches per epoch.
        seed: Base seed of the data stream.
        epoch_fn: Returns the current epoch (read at the start of each pass).
        rank_fn: Returns this process's global rank (each rank gets its own stream).
    """

    def __init__(
        self,
        distribution: _Distribution,
        batch_size: int,
        num_batches: int,
        seed: int,
        epoch_fn: Callable[[], int] = lambda: 0,
        rank_fn: Callable[[], int] = lambda: 0,
    ) -> None:
        self.distribution = distribution
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.seed = seed
        self.epoch_fn = epoch_fn
        self.rank_fn = rank_fn

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[Tensor]:
        stream = torch.Generator().manual_seed(
            hash((int(self.seed), int(self.rank_fn()), int(self.epoch_fn()))) & 0x7FFF_FFFF_FFFF_FFFF
        )
        for _ in range(self.num_batches):
            yield self.distribution.sample(self.batch_size, generator=stream)


class GANDataModule(Recorded, pl.LightningDataModule):
    """The shared data module: training batches, a held-out validation set and the evaluation protocol.

    Every variant trained with the same ``GANDataModule`` arguments and seed sees the same real batches
    in the same order and is scored by the same protocol (same sample count, same seed for the fixed
    evaluation latents).

    Args:
        dataset: Dataset name; toy: ``"ring8"``, ``"grid25"``, ``"swissroll"``.
        batch_size: Real samples per critic step (per process).
        batches_per_epoch: Critic steps between two validations.
        val_size: Held-out real samples used at validation.
        eval_samples: Generated samples scored at each validation (PacGAN protocol: 2500).
        eval_seed: Seed of the fixed latents used for evaluation.
        seed: Seed of the real data stream.
        dataset_options: Options for the dataset (e.g. ``{"std": 0.02}``; see :func:`make_toy`).

    Raises:
        ConfigurationError: For an unknown dataset name or a non-positive size.

    Example:
        >>> dm = GANDataModule("ring8", batch_size=4, batches_per_epoch=2)
        >>> next(iter(dm.train_dataloader())).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        dataset: str = "ring8",
        batch_size: int = 256,
        batches_per_epoch: int = 500,
        val_size: int = 2500,
        eval_samples: int = 2500,
        eval_seed: int = 1234,
        seed: int = 0,
        dataset_options: Optional[dict[str, Any]] = None,
    ) -> None:
        super().__init__()
        if dataset not in TOY_DATASETS:
            raise invalid("dataset", f"one of {sorted(TOY_DATASETS)}", dataset)
        self.dataset = dataset
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.batches_per_epoch = check_positive_int("batches_per_epoch", batches_per_epoch)
        self.val_size = check_positive_int("val_size", val_size)
        self.eval_samples = check_positive_int("eval_samples", eval_samples)
        self.eval_seed = int(eval_seed)
        self.seed = int(seed)
        self.distribution = make_toy(dataset, **(dataset_options or {}))

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one data point (``(2,)`` for the toy datasets)."""
        return (2,)

    def _epoch(self) -> int:
        return int(self.trainer.current_epoch) if self.trainer is not None else 0

    def _rank(self) -> int:
        return int(self.trainer.global_rank) if self.trainer is not None else 0

    def train_dataloader(self) -> DataLoader:
        """Fresh seeded batches, ``batches_per_epoch`` per epoch."""
        batches = SampleBatches(
            self.distribution, self.batch_size, self.batches_per_epoch, self.seed, self._epoch, self._rank
        )
        return DataLoader(batches, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        """The held-out real set (fixed by ``seed``), in batches of ``batch_size``."""
        stream = torch.Generator().manual_seed(self.seed + 7_919)
        held_out = self.distribution.sample(self.val_size, generator=stream)
        return DataLoader(list(held_out.split(self.batch_size)), batch_size=None)

    def evaluate(self, model: _Sampler) -> dict[str, float]:
        """Score a generator by this dataset's protocol.

        Args:
            model: Anything with ``sample(n, seed)`` (a :class:`~ganmods.GANModule`).

        Returns:
            Metric name -> value (toy mixtures: ``modes``, ``hq``, ``reverse_kl``).
        """
        samples = model.sample(self.eval_samples, seed=self.eval_seed)
        return self.distribution.evaluate(samples.float().cpu())

    def train_reference(self, n: int) -> Tensor:
        """``n`` training samples, the same every call: the first ``n`` points of the training stream
        (epoch 0, rank 0). Compared with the held-out set to detect critic overfitting.

        Args:
            n: Number of points.

        Returns:
            ``[n, *data_shape]`` tensor.
        """
        batches = SampleBatches(self.distribution, n, 1, self.seed)
        return next(iter(batches))

    def real_samples(self, n: int, seed: int = 0) -> Tensor:
        """``n`` real points for plots and checks (independent of the training stream).

        Args:
            n: Number of points.
            seed: Seed.

        Returns:
            ``[n, *data_shape]`` tensor.
        """
        return self.distribution.sample(n, generator=torch.Generator().manual_seed(seed))
