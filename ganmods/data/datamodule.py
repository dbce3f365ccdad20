"""GANDataModule: one LightningDataModule for every dataset, so every variant sees identical data."""

from __future__ import annotations

from typing import Any, Optional, Protocol

import lightning.pytorch as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ganmods.data.sources import DATA_SOURCES, DataSource, build_source, registered_names
from ganmods.data.splits import check_split
from ganmods.data.stream import ImageBatches, SampleBatches, StepChunks
from ganmods.errors import check_positive_int, invalid
from ganmods.metrics.fid import ImageMetrics
from ganmods.metrics.prdc import check_prdc_counts
from ganmods.metrics.protocol import MetricSpec
from ganmods.spec import Recorded

__all__ = ["DATA_ON_DEVICE", "DEVICE_MEMORY_FRACTION", "GANDataModule", "ImageMetric", "SampleBatches"]

#: Values of ``GANDataModule(data_on_device=...)``.
DATA_ON_DEVICE = ("auto", "never", "always")

#: ``data_on_device="auto"`` serves the training images from a CUDA device when their uint8 copy takes at most
#: this fraction of the device's free memory.
DEVICE_MEMORY_FRACTION = 0.25


class _Sampler(Protocol):
    def sample(self, n: int, seed: Optional[int] = None) -> Tensor: ...


class ImageMetric(Protocol):
    """What ``GANDataModule(metric=...)`` expects: scores generated images against real ones."""

    def score(self, fake: Tensor, real: Tensor, real_key: str) -> dict[str, float]:
        """Score ``fake`` against ``real`` (both ``[N, C, H, W]`` in ``[-1, 1]``); ``real_key`` identifies the
        real set (dataset, split, count, size, channels), so statistics of ``real`` can be cached."""
        ...


class GANDataModule(Recorded, pl.LightningDataModule):
    """The shared data module: training batches, held-out validation and test sets and the evaluation protocol.

    Every variant trained with the same ``GANDataModule`` arguments and seed sees the same real batches
    in the same order and is scored by the same protocol (same sample count, same seed for the fixed
    evaluation latents). The batch of critic step ``k`` depends only on the seed, ``k`` and the process's
    rank (and, for images, the world size), so a resumed run continues the exact stream: each training
    pass starts at the model's ``critic_steps``.

    Every dataset has two disjoint evaluation references (:mod:`ganmods.data.splits`): ``"val"``, for anything
    that selects (validation logs, the best checkpoint, the best trial of a search), served by
    :meth:`val_dataloader` and scored by ``evaluate(model)``; and ``"test"``, only reported, served by
    :meth:`test_dataloader` and scored by ``evaluate(model, split="test")``. Toy data: real and generated points
    drawn with their own fixed seeds per split; images: the held-out split cut into two fixed halves.

    What differs between datasets lives in the dataset's source class (:mod:`ganmods.data.sources`,
    registered in :data:`~ganmods.data.DATA_SOURCES`): the arguments it takes, the data shape, loading,
    the streams and the evaluation protocol. Image datasets are loaded in :meth:`setup` (downloaded only
    in :meth:`prepare_data`, and only with ``download=True``), kept in memory as uint8 and served as float
    batches in ``[-1, 1]``; every image is used once per data epoch across all processes.

    Args:
        dataset: A registered name. Toy: ``"ring8"``, ``"grid25"``, ``"swissroll"``; images: ``"digits"``,
            ``"mnist5k"`` (needs ``pip install 'ganmods[mnist5k]'``), ``"mnist"``, ``"fashion_mnist"``,
            ``"cifar10"``, ``"celeba"``, ``"folder"``; and any name added with
            :func:`~ganmods.data.register_source`.
        batch_size: Real samples per critic step (per process).
        batches_per_epoch: Critic steps between two validations.
        steps_per_batch: Critic steps carried by one Lightning batch (a :class:`~ganmods.data.CriticBatches` of that many
            real batches when > 1); must divide ``batches_per_epoch``. The data and the math are the same for
            every value; a larger one spreads the framework's per-batch work over more steps (worth it for
            small networks, where that work is a sizeable part of a step). Callbacks' batch hooks then run
            once per group of critic steps.
        val_size: Held-out real samples used by the critic statistics of each split (images: at most the split's
            half of the held-out images).
        eval_samples: Generated samples scored at each validation (PacGAN protocol: 2500); toy data is scored
            against as many real points of the split, images against at most that many of the split's half.
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
        pin_memory: Serve the real batches from page-locked host memory, so the (already non-blocking) copy to a
            GPU overlaps with computation. No effect on the CPU or when the data is served from the device.
        data_on_device: Images only. ``"auto"``: keep the uint8 training images on the GPU and gather each batch
            there when they take at most :data:`DEVICE_MEMORY_FRACTION` of its free memory (small datasets are then
            not bound by the loader); ``"always"``: on the trainer's device whatever their size; ``"never"``:
            on the host. The batches are the same in every case (same images, same order, same values).
        prdc: Also score ``precision``, ``recall`` (Kynkäänniemi et al. 2019, k = 3), ``density`` and
            ``coverage`` (Naeem et al. 2020, k = 5), all higher is better, in the protocol's feature space: the
            plane for toy data (against the split's real points), the metric's features for images (needs an
            :class:`~ganmods.metrics.ImageMetrics`). ``None``: on for toy data and for images scored with a digit
            classifier (``extractor: digits`` or ``mnist5k``), off for Inception features (2048-d, 10k points:
            costly on a CPU) and other metrics.

    Raises:
        ConfigurationError: For an unknown dataset (the message lists the registered names), a bad size,
            option or image argument, an image argument given with a toy dataset, or ``prdc`` on with too few
            ``eval_samples`` (at least 6) or, for images, without an ``ImageMetrics``.

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
        pin_memory: bool = False,
        data_on_device: str = "auto",
        prdc: Optional[bool] = None,
    ) -> None:
        super().__init__()
        if not isinstance(dataset, str) or dataset not in DATA_SOURCES:
            raise invalid("dataset", f"one of {registered_names()}", dataset)
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
        self.source: DataSource = build_source(dataset, options=dataset_options, root=root, image_size=image_size,
                                               channels=channels, download=download, metric=metric, prdc=prdc)
        if self.source.prdc_enabled:
            check_prdc_counts(self.eval_samples, self.eval_samples)
        if not isinstance(pin_memory, bool):
            raise invalid("pin_memory", "true or false", pin_memory)
        self.pin_memory = pin_memory
        if not isinstance(data_on_device, str) or data_on_device not in DATA_ON_DEVICE:
            raise invalid("data_on_device", f"one of {list(DATA_ON_DEVICE)}", data_on_device)
        if data_on_device == "always" and not self.source.is_image:
            raise invalid("data_on_device", f"'auto' or 'never' for the toy dataset {dataset!r} (its batches are "
                          "drawn on the host)", data_on_device)
        self.data_on_device = data_on_device
        self._device_copy: Optional[tuple[Tensor, Tensor]] = None  # (host images, their copy on the device)

    # ------------------------------------------------------------------ what the source decides
    @property
    def is_image(self) -> bool:
        """Whether data points are ``[C, H, W]`` images in ``[-1, 1]``."""
        return self.source.is_image

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one data point: ``(2,)`` for the toy datasets, ``(C, H, W)`` for images."""
        return self.source.data_shape

    @property
    def distribution(self) -> Optional[Any]:
        """The toy distribution (``sample``, ``evaluate``, ``bounds``), or None for image data."""
        return self.source.distribution

    @property
    def dataset_options(self) -> dict[str, Any]:
        """The dataset options, with the source's defaults filled in."""
        return self.source.options

    @property
    def root(self) -> Optional[str]:
        """The folder images are read from (None for toy data and the bundled digits)."""
        return self.source.root

    @property
    def image_size(self) -> Optional[int]:
        """Image side in pixels (None for toy data)."""
        return self.source.image_size

    @property
    def channels(self) -> Optional[int]:
        """Image channels (None for toy data)."""
        return self.source.channels

    @property
    def download(self) -> bool:
        """Whether :meth:`prepare_data` downloads."""
        return self.source.download

    @property
    def metric(self) -> Optional[Any]:
        """The image metric given (None for toy data, which is scored by its own mode metric)."""
        return self.source.metric if self.source.is_image else None

    @metric.setter
    def metric(self, metric: Optional[Any]) -> None:
        """Replace the image metric (e.g. one with another cache folder) between runs.

        Args:
            metric: An object with ``score(fake, real, real_key)``, or None.

        Raises:
            ConfigurationError: For toy data (scored by its own mode metric), an object without ``score``, or, with
                ``prdc=True``, a metric that is not an :class:`~ganmods.metrics.ImageMetrics`.
        """
        if not self.source.is_image:
            raise invalid("metric", f"None for the toy dataset {self.dataset!r} (scored by its mode metric)", metric)
        self.source.set_metric(metric)

    @property
    def prdc(self) -> bool:
        """Whether :meth:`evaluate` also returns ``precision``, ``recall``, ``density`` and ``coverage`` (the
        ``prdc`` argument, its default resolved for this dataset and metric)."""
        return self.source.prdc_enabled

    @property
    def metric_spec(self) -> MetricSpec:
        """What :meth:`evaluate` returns (for either split), and which way each value is better
        (:mod:`ganmods.metrics.protocol`): toy mixtures ``modes``/``hq``/``reverse_kl`` (main ``reverse_kl``);
        images with an :class:`~ganmods.metrics.ImageMetrics` ``fid_<n>``/``kid_<n>``/``kid_<n>_std`` (main
        ``fid_<n>``, ``<n>`` from ``eval_samples``); with :attr:`prdc` also ``precision``/``recall``/``density``/
        ``coverage`` (higher is better; the only values of the swiss roll); nothing for images without a metric."""
        return self.source.metric_spec(self.eval_samples)

    # ------------------------------------------------------------------ loading
    def prepare_data(self) -> None:
        """Download the image files when ``download=True`` (once per node; nothing for toy data or local
        sets).

        Raises:
            ConfigurationError: If the download fails.
        """
        self.source.prepare()

    def setup(self, stage: Optional[str] = None) -> None:
        """Load the data into memory (once; nothing for toy data). Never downloads.

        Args:
            stage: Lightning stage (unused: every stage needs both splits).

        Raises:
            ConfigurationError: If files are missing or unreadable, or ``batch_size`` exceeds the number of
                training images.
        """
        self.source.load()
        count = self.source.train_size()
        if count is not None and self.batch_size > count:
            raise invalid("batch_size", f"at most the number of training images N = {count} of "
                          f"{self.dataset!r}", self.batch_size)

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
        self.setup()
        batches: Any = self.source.train_batches(self.batch_size, self.batches_per_epoch, self.seed, self._step,
                                                 self._rank, self._world_size)
        on_device = isinstance(batches, ImageBatches) and self._serve_from_device(batches)
        if self.steps_per_batch > 1:
            batches = StepChunks(batches, self.steps_per_batch)
        return DataLoader(batches, batch_size=None, generator=torch.Generator(),
                          pin_memory=self.pin_memory and not on_device)

    def data_device(self, images: Tensor) -> Optional[torch.device]:
        """Where the training images are served from under ``data_on_device`` (decided when a pass is built).

        Args:
            images: The uint8 training images (on the host).

        Returns:
            The trainer's device when the images go there (``"always"``; ``"auto"`` on a CUDA device with
            enough free memory), else None (served from the host, as without a trainer).
        """
        strategy = getattr(self.trainer, "strategy", None) if self.trainer is not None else None
        device = getattr(strategy, "root_device", None)
        if self.data_on_device == "never" or not isinstance(device, torch.device):
            return None
        if self.data_on_device == "always":
            return device
        if device.type != "cuda":
            return None
        free, _ = torch.cuda.mem_get_info(device)
        return device if images.nbytes <= DEVICE_MEMORY_FRACTION * free else None

    def _serve_from_device(self, batches: ImageBatches) -> bool:
        device = self.data_device(batches.images)
        if device is None:
            return False
        host = batches.images
        copy = self._device_copy
        if copy is None or copy[0] is not host or copy[1].device != device:
            self._device_copy = copy = (host, host.to(device))  # once per fit, not once per pass
        batches.serve_from(copy[1])
        return True

    def _held_out_loader(self, split: str) -> DataLoader:
        self.setup()
        held_out = self.source.held_out_batches(self.val_size, self.batch_size, self.seed, split)
        return DataLoader(held_out, batch_size=None, generator=torch.Generator())

    def val_dataloader(self) -> DataLoader:
        """The validation reference's real points in batches of ``batch_size`` (what ``validation_step``'s
        critic statistics see): toy, ``val_size`` points drawn with ``seed + 7919``; images, the first
        ``val_size`` images of the held-out split's validation half."""
        return self._held_out_loader("val")

    def test_dataloader(self) -> DataLoader:
        """The loader ``trainer.test`` scores on: the test reference's real points, disjoint from
        :meth:`val_dataloader`'s (toy, ``val_size`` points drawn with their own seed; images, the first
        ``val_size`` images of the held-out split's test half)."""
        return self._held_out_loader("test")

    # ------------------------------------------------------------------ evaluation
    def eval_reference(self, split: str = "val") -> Tensor:
        """The real points a generator is scored against on a split. Images: the split's half of the held-out
        images, or its first ``eval_samples`` images when it is larger; toy data: ``eval_samples`` points drawn
        with the split's seed (:func:`~ganmods.data.splits.toy_reference_seed`).

        Args:
            split: ``"val"`` or ``"test"``.

        Returns:
            ``[n_real, C, H, W]`` float32 in ``[-1, 1]``, or ``[n_real, 2]`` points (on the CPU).

        Raises:
            ConfigurationError: For a bad ``split``, or a source without a real reference.
        """
        check_split(split)
        return self.source.eval_reference(self.eval_samples, split, self.seed)

    @property
    def real_key(self) -> str:
        """Identifies the validation reference (dataset, split, half, count, size, channels) for metric caches,
        e.g. ``"cifar10|split=test|half=val|n=2500|size=32|channels=3"`` (:meth:`real_key_of` for either half)."""
        return self.real_key_of("val")

    def real_key_of(self, split: str = "val") -> str:
        """Identifies a split's evaluation reference for metric caches (images only).

        Args:
            split: ``"val"`` or ``"test"``.

        Returns:
            ``"<dataset>|split=<held-out split>|half=<split>|n=<count>|size=<side>|channels=<C>"``.

        Raises:
            ConfigurationError: For a bad ``split``, or toy data (no cached reference).
        """
        check_split(split)
        return self.source.real_key(self.eval_samples, split)

    def evaluate(self, model: _Sampler, split: str = "val") -> dict[str, float]:
        """Score a generator by this dataset's protocol on one split (names and directions: :attr:`metric_spec`).

        Args:
            model: Anything with ``sample(n, seed)`` (a :class:`~ganmods.GANModule`).
            split: ``"val"`` (the default; anything that selects: validation logs, the best checkpoint, the best
                trial) or ``"test"`` (only reported). The two share no real and no generated point:
                ``eval_samples`` generated samples from the split's latents
                (:func:`~ganmods.data.splits.latent_seed` of ``eval_seed``: ``eval_seed`` itself for ``"val"``),
                scored against the split's reference (:meth:`eval_reference`).

        Returns:
            Metric name -> value. Toy mixtures: ``modes``, ``hq``, ``reverse_kl``. Images:
            ``metric.score(model.sample(eval_samples, seed=...), eval_reference(split), real_key_of(split))``, or
            ``{}`` without a metric (no samples are drawn then). With :attr:`prdc` also ``precision``, ``recall``,
            ``density`` and ``coverage``. With several processes and an
            :class:`~ganmods.metrics.ImageMetrics`, each process generates and extracts features of its
            own share of the ``eval_samples`` (:func:`~ganmods.strategies.shard_bounds`) and, when the real
            features are not cached yet, of the reference images; the features are gathered, and every
            process scores the same full set. Other metrics score the full set on every process.

        Raises:
            ConfigurationError: For a ``split`` other than ``"val"`` and ``"test"`` (before anything is drawn).
        """
        check_split(split)
        return self.source.evaluate(model, self.eval_samples, self.eval_seed, split=split, data_seed=self.seed)

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
        return self.source.train_reference(n, self.seed)

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
        return self.source.real_samples(n, seed)
