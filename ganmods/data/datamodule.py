"""GANDataModule: one LightningDataModule for every dataset, so every variant sees identical data."""

from __future__ import annotations

import os
from functools import partial
from typing import Any, Optional, Protocol

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ganmods.data.images import (DEFAULT_ROOT, IMAGE_DATASETS, check_channels, check_image_options,
                                 check_image_size, download_images, load_images, source_key)
from ganmods.data.stream import HeldOutBatches, ImageBatches, SampleBatches, StepChunks, to_float
from ganmods.randomness import mix_seed
from ganmods.data.toy import TOY_DATASETS, make_toy
from ganmods.metrics.fid import ImageMetrics
from ganmods.errors import check_positive_int, invalid
from ganmods.spec import Recorded

__all__ = ["GANDataModule", "ImageMetric", "SampleBatches"]

_REAL_SAMPLES_TAG = 0x7EA1  # keeps real_samples' image order apart from the training permutations


class _Sampler(Protocol):
    def sample(self, n: int, seed: Optional[int] = None) -> Tensor: ...


class ImageMetric(Protocol):
    """What ``GANDataModule(metric=...)`` expects: scores generated images against real ones."""

    def score(self, fake: Tensor, real: Tensor, real_key: str) -> dict[str, float]:
        """Score ``fake`` against ``real`` (both ``[N, C, H, W]`` in ``[-1, 1]``); ``real_key`` identifies the
        real set (dataset, split, count, size, channels), so statistics of ``real`` can be cached."""
        ...


class GANDataModule(Recorded, pl.LightningDataModule):
    """The shared data module: training batches, a held-out validation set and the evaluation protocol.

    Every variant trained with the same ``GANDataModule`` arguments and seed sees the same real batches
    in the same order and is scored by the same protocol (same sample count, same seed for the fixed
    evaluation latents). The batch of critic step ``k`` depends only on the seed, ``k`` and the process's
    rank (and, for images, the world size), so a resumed run continues the exact stream: each training
    pass starts at the model's ``critic_steps``.

    Image datasets (see :mod:`ganmods.data.images`) are loaded in :meth:`setup` (downloaded only in
    :meth:`prepare_data`, and only with ``download=True``), kept in memory as uint8 and served as float
    batches in ``[-1, 1]``; every image is used once per data epoch across all processes.

    Args:
        dataset: Toy: ``"ring8"``, ``"grid25"``, ``"swissroll"``; images: ``"digits"``, ``"mnist"``,
            ``"fashion_mnist"``, ``"cifar10"``, ``"celeba"``, ``"folder"``.
        batch_size: Real samples per critic step (per process).
        batches_per_epoch: Critic steps between two validations.
        steps_per_batch: Critic steps carried by one Lightning batch (a :class:`~ganmods.data.CriticBatches` of that many
            real batches when > 1); must divide ``batches_per_epoch``. The data and the math are the same for
            every value; a larger one spreads the framework's per-batch work over more steps (worth it for
            small networks, where that work is a sizeable part of a step). Callbacks' batch hooks then run
            once per group of critic steps.
        val_size: Held-out real samples used at validation (images: at most the held-out split).
        eval_samples: Generated samples scored at each validation (PacGAN protocol: 2500).
        eval_seed: Seed of the fixed latents used for evaluation.
        seed: Seed of the real data stream.
        dataset_options: Toy: see :func:`make_toy` (e.g. ``{"std": 0.02}``); ``folder``:
            ``{"held_out_fraction": 0.1}``; other image sets take none.
        root: Images only. The torchvision sets' data folder (default ``"data"``); the image folder for
            ``"folder"`` (required); must be unset for ``"digits"``.
        image_size: Images only. Side in pixels, >= 8 (default 32; 64 for CelebA; required for ``"folder"``).
        channels: Images only. 1 or 3 (default: the dataset's own; 3 for ``"folder"``). Grey -> RGB
            replicates, RGB -> grey uses luminance ``0.299 R + 0.587 G + 0.114 B``.
        download: Torchvision sets only. Download missing files in :meth:`prepare_data` (needs internet).
        metric: Images only. An :class:`~ganmods.metrics.ImageMetrics` (from YAML: ``class_path`` +
            ``init_args``) or, from Python, any object with the :class:`ImageMetric` ``score`` method, used by
            :meth:`evaluate` (``None``: no image metric).

    Raises:
        ConfigurationError: For an unknown dataset, a bad size, option or image argument, or an image
            argument given with a toy dataset.

    Example:
        >>> dm = GANDataModule("ring8", batch_size=4, batches_per_epoch=2)
        >>> next(iter(dm.train_dataloader())).shape
        torch.Size([4, 2])
        >>> GANDataModule("digits", batch_size=4, image_size=16).data_shape
        (1, 16, 16)
    """

    def __init__(
        self,
        dataset: str = "ring8",
        batch_size: int = 256,
        batches_per_epoch: int = 500,
        steps_per_batch: int = 1,
        val_size: int = 2500,
        eval_samples: int = 2500,
        eval_seed: int = 1234,
        seed: int = 0,
        dataset_options: Optional[dict[str, Any]] = None,
        root: Optional[str] = None,
        image_size: Optional[int] = None,
        channels: Optional[int] = None,
        download: bool = False,
        metric: Optional[ImageMetrics] = None,
    ) -> None:
        super().__init__()
        if dataset not in TOY_DATASETS and dataset not in IMAGE_DATASETS:
            raise invalid("dataset", f"one of {sorted(TOY_DATASETS) + sorted(IMAGE_DATASETS)}", dataset)
        self.dataset = dataset
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.batches_per_epoch = check_positive_int("batches_per_epoch", batches_per_epoch)
        self.steps_per_batch = check_positive_int("steps_per_batch", steps_per_batch)
        if self.batches_per_epoch % self.steps_per_batch:
            raise invalid("steps_per_batch", f"a divisor of batches_per_epoch = {self.batches_per_epoch}",
                          steps_per_batch)
        self.val_size = check_positive_int("val_size", val_size)
        self.eval_samples = check_positive_int("eval_samples", eval_samples)
        self.eval_seed = int(eval_seed)
        self.seed = int(seed)
        self.is_image = dataset in IMAGE_DATASETS
        self._train: Optional[Tensor] = None
        self._held: Optional[Tensor] = None
        if not self.is_image:
            given = {"root": root, "image_size": image_size, "channels": channels, "metric": metric}
            for name, value in [*given.items(), ("download", download or None)]:
                if value is not None:
                    raise invalid(name, f"left unset for the toy dataset {dataset!r} (it applies to image data)", value)
            self.distribution = make_toy(dataset, **(dataset_options or {}))
            self.dataset_options = dict(dataset_options or {})
            self.root, self.image_size, self.channels, self.download, self.metric = None, None, None, False, None
            return
        self.distribution = None
        info = IMAGE_DATASETS[dataset]
        if image_size is None and info.image_size is None:
            raise invalid("image_size", f"an integer >= 8 (required for dataset {dataset!r})", image_size)
        self.image_size = check_image_size(info.image_size if image_size is None else image_size, dataset)
        self.channels = check_channels(info.channels if channels is None else channels)
        if not isinstance(download, bool):
            raise invalid("download", "true or false", download)
        if download and info.folder is None:
            raise invalid("download", f"false for dataset {dataset!r} (nothing to download)", download)
        self.download = download
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise invalid("root", "a folder path", root)
        if dataset == "digits" and root is not None:
            raise invalid("root", "unset for dataset 'digits' (bundled with scikit-learn)", root)
        if dataset == "folder" and (root is None or not os.path.isdir(root)):
            raise invalid("root", "an existing folder of images for dataset 'folder'", root)
        self.root = None if dataset == "digits" else os.fspath(root) if root is not None else DEFAULT_ROOT
        self.dataset_options = check_image_options(dataset, dataset_options)
        if metric is not None and not callable(getattr(metric, "score", None)):
            raise invalid("metric", "an object with score(fake, real, real_key)", metric)
        self.metric = metric

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one data point: ``(2,)`` for the toy datasets, ``(C, H, W)`` for images."""
        return (self.channels, self.image_size, self.image_size) if self.is_image else (2,)

    # ------------------------------------------------------------------ loading
    def prepare_data(self) -> None:
        """Download the image files when ``download=True`` (once per node; nothing for toy data or local
        sets).

        Raises:
            ConfigurationError: If the download fails.
        """
        if self.is_image and self.download:
            download_images(self.dataset, self.root)

    def setup(self, stage: Optional[str] = None) -> None:
        """Load the image splits into memory (once; nothing for toy data). Never downloads.

        Args:
            stage: Lightning stage (unused: every stage needs both splits).

        Raises:
            ConfigurationError: If files are missing or unreadable, or ``batch_size`` exceeds the number of
                training images.
        """
        if not self.is_image or self._train is not None:
            return
        args = (self.root, self.image_size, self.channels, self.dataset_options)
        train = load_images(self.dataset, "train", *args)
        if self.batch_size > train.shape[0]:
            raise invalid("batch_size", f"at most the number of training images N = {train.shape[0]} of "
                          f"{self.dataset!r}", self.batch_size)
        self._held = load_images(self.dataset, "held_out", *args)
        self._train = train

    def _images(self) -> tuple[Tensor, Tensor]:
        self.setup()
        assert self._train is not None and self._held is not None
        return self._train, self._held

    # ------------------------------------------------------------------ stream position
    def _step(self) -> int:
        if self.trainer is None:
            return 0
        return int(getattr(self.trainer.lightning_module, "critic_steps", 0))

    def _rank(self) -> int:
        return int(self.trainer.global_rank) if self.trainer is not None else 0

    def _world_size(self) -> int:
        return int(self.trainer.world_size) if self.trainer is not None else 1

    # ------------------------------------------------------------------ loaders
    def train_dataloader(self) -> DataLoader:
        """``batches_per_epoch`` batches for critic steps ``critic_steps, critic_steps + 1, ...`` (the
        model's counter, read when the pass starts; 0 without a trainer), grouped ``steps_per_batch`` to a
        Lightning batch."""
        if self.is_image:
            batches: Any = ImageBatches(self._images()[0], self.batch_size, self.batches_per_epoch, self.seed,
                                        self._step, self._rank, self._world_size)
        else:
            batches = SampleBatches(self.distribution, self.batch_size, self.batches_per_epoch, self.seed,
                                    self._step, self._rank)
        if self.steps_per_batch > 1:
            batches = StepChunks(batches, self.steps_per_batch)
        return DataLoader(batches, batch_size=None, generator=torch.Generator())

    def val_dataloader(self) -> DataLoader:
        """The held-out real set in batches of ``batch_size``: toy, ``val_size`` points fixed by ``seed``;
        images, the first ``val_size`` images of the held-out split."""
        if self.is_image:
            held = self._images()[1][: self.val_size]
            return DataLoader(HeldOutBatches(held, self.batch_size), batch_size=None, generator=torch.Generator())
        stream = torch.Generator().manual_seed(self.seed + 7_919)
        held_out = self.distribution.sample(self.val_size, generator=stream)
        return DataLoader(list(held_out.split(self.batch_size)), batch_size=None, generator=torch.Generator())

    # ------------------------------------------------------------------ evaluation
    def eval_reference(self) -> Tensor:
        """The real images a generator is scored against: the held-out split, or its first
        ``eval_samples`` images when it is larger.

        Returns:
            ``[n_real, C, H, W]`` float32 in ``[-1, 1]`` (on the CPU).

        Raises:
            ConfigurationError: For toy data (scored against the known distribution instead).
        """
        if not self.is_image:
            raise invalid("dataset", "an image dataset for eval_reference", self.dataset)
        return to_float(self._images()[1][: self.eval_samples])

    @property
    def real_key(self) -> str:
        """Identifies the evaluation reference (dataset, split, count, size, channels) for metric caches,
        e.g. ``"cifar10|split=test|n=2500|size=32|channels=3"``."""
        if not self.is_image:
            raise invalid("dataset", "an image dataset for real_key", self.dataset)
        n_real = min(self.eval_samples, self._images()[1].shape[0])
        split = IMAGE_DATASETS[self.dataset].held_out_split
        return (f"{source_key(self.dataset, self.root, self.dataset_options)}|split={split}|n={n_real}|"
                f"size={self.image_size}|channels={self.channels}")

    def evaluate(self, model: _Sampler) -> dict[str, float]:
        """Score a generator by this dataset's protocol.

        Args:
            model: Anything with ``sample(n, seed)`` (a :class:`~ganmods.GANModule`).

        Returns:
            Metric name -> value. Toy mixtures: ``modes``, ``hq``, ``reverse_kl``. Images:
            ``metric.score(model.sample(eval_samples, seed=eval_seed), eval_reference(), real_key)``, or
            ``{}`` without a metric (no samples are drawn then). With several processes and an
            :class:`~ganmods.metrics.ImageMetrics`, each process generates and extracts features of its
            own share of the ``eval_samples`` (:func:`~ganmods.strategies.shard_bounds`) and, when the real
            features are not cached yet, of the reference images; the features are gathered, and every
            process scores the same full set. Other metrics score the full set on every process.
        """
        if not self.is_image:
            samples = model.sample(self.eval_samples, seed=self.eval_seed)
            return self.distribution.evaluate(samples.float().cpu())
        if self.metric is None:
            return {}
        trainer = getattr(model, "_trainer", None)
        world = int(trainer.world_size) if trainer is not None else 1
        if world > 1 and isinstance(self.metric, ImageMetrics):
            from ganmods.strategies import gather_rows, shard_bounds

            rows = shard_bounds(self.eval_samples, int(trainer.global_rank), world)
            fake = model.sample(self.eval_samples, seed=self.eval_seed, rows=rows)
            gather = partial(gather_rows, strategy=trainer.strategy)
            shard = (int(trainer.global_rank), world)
            return dict(self.metric.score(fake, self.eval_reference(), self.real_key, gather=gather, shard=shard))
        fake = model.sample(self.eval_samples, seed=self.eval_seed)
        return dict(self.metric.score(fake, self.eval_reference(), self.real_key))

    def _training_count(self, n: int) -> int:
        check_positive_int("n", n)
        count = self._images()[0].shape[0]
        if n > count:
            raise invalid("n", f"at most the number of training images N = {count}", n)
        return count

    def train_reference(self, n: int) -> Tensor:
        """``n`` training samples, the same every call and independent of training. Toy: drawn like the
        batch of critic step 0 on rank 0 with batch size ``n``; images: the first ``n`` images of data
        epoch 0's order. Compared with the held-out set to detect critic overfitting.

        Args:
            n: Number of points.

        Returns:
            ``[n, *data_shape]`` tensor.

        Raises:
            ConfigurationError: If ``n`` exceeds the number of training images.
        """
        if not self.is_image:
            return SampleBatches(self.distribution, n, 1, self.seed).batch(0, rank=0)
        self._training_count(n)
        images = self._images()[0]
        order = ImageBatches(images, 1, 1, self.seed).permutation(0)  # the stream's own data epoch 0
        return to_float(images[order[:n]])

    def real_samples(self, n: int, seed: int = 0) -> Tensor:
        """``n`` real points for plots and checks (independent of the training stream). Images: ``n``
        distinct training images picked by ``seed``.

        Args:
            n: Number of points.
            seed: Seed.

        Returns:
            ``[n, *data_shape]`` tensor.

        Raises:
            ConfigurationError: If ``n`` exceeds the number of training images.
        """
        if not self.is_image:
            return self.distribution.sample(n, generator=torch.Generator().manual_seed(seed))
        count = self._training_count(n)
        stream = torch.Generator().manual_seed(mix_seed(seed, _REAL_SAMPLES_TAG))
        return to_float(self._images()[0][torch.randperm(count, generator=stream)[:n]])
