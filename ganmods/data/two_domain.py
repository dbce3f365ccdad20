"""Two image domains for unpaired translation (CycleGAN): the batch layout, the data sources and a data module.

**Batches.** A training batch is one tensor ``[B, 2, C, H, W]``: row ``i`` holds an image ``a_i`` of domain A and an
image ``b_i`` of domain B, drawn independently (nothing is paired). :func:`pair_images` builds that layout and
:func:`unpair` reads it. Both domains share one image shape ``(C, H, W)``, the data module's ``data_shape``; a
:class:`~ganmods.GANModule` counts ``B`` images per critic step.

**Sources** (registered like every dataset, so ``GANDataModule(dataset=...)`` and ``data: {dataset: ...}`` in a
config serve them):

* ``digits_inverted`` (:class:`DigitsInvertedSource`): a pair whose true mapping is known. The 1500 training
  digits of :func:`~ganmods.data.digits.load_digits` (in their fixed order) are cut in two disjoint halves:
  domain A is the first 750 as they are, domain B the other 750 inverted (``x -> -x`` in ``[-1, 1]``: dark
  strokes on a light ground). The 297 held-out digits, never seen in training (nor by the shipped digit
  classifier), are the evaluation set: held-out A is the digits themselves, held-out B their true inversions.
* ``two_folders`` (:class:`TwoFoldersSource`): two folders of image files, ``dataset_options: {root_a: ...,
  root_b: ...}``, each read like the ``folder`` dataset (:mod:`ganmods.data.folder`) and split into training
  and held-out images by ``held_out_fraction``.

Each domain's held-out images are cut into two fixed halves (:func:`~ganmods.data.splits.held_out_halves`):
``split="val"`` (validation logs, best checkpoint, anything that selects) and ``split="test"`` (only reported).

**Evaluation** (``GANDataModule.evaluate(model, split)``; the model needs ``translate(images, direction)``, as
:class:`~ganmods.cyclegan.CycleGAN` has). ``n`` = ``eval_samples``, at most the smallest held-out half, the same
for both splits and directions. The first ``n`` held-out images of each domain are translated (A -> B, B -> A):

* ``digits_inverted``: ``ab_label_preserved``, the share of the A digits whose translation, inverted back, the
  shipped digit classifier (:func:`~ganmods.metrics.digits.load_digit_classifier`) labels as the source digit;
  ``ab_mse``, the mean squared error of the translations to the true inversions (per pixel, in ``[-1, 1]``
  units; the raw outputs, not quantised); and ``ba_label_preserved``, ``ba_mse`` for B -> A. The main value
  (best checkpoint, comparisons) is ``ab_mse``.
* with a ``metric`` (an :class:`~ganmods.metrics.ImageMetrics`): its values for each direction, prefixed
  ``ab_`` / ``ba_`` (``ab_fid_<n>``: the A -> B translations against the held-out B images, ``ba_fid_<n>``: B -> A
  against held-out A). For ``digits_inverted`` the features are the digit classifier's of the images inverted
  back where they are in domain B (the classifier knows light digits on a dark ground; inversion maps one
  domain onto the other exactly), so ``ab_fid`` compares the translations with held-out B in digit space. For
  ``two_folders`` the ``ab_`` metric value is the main one.

**Bad input** is refused before training: a ``root`` (use ``dataset_options``), an empty or missing domain
folder, domains whose images differ in channel count (grey and colour) or size while ``channels`` /
``image_size`` are not given to convert both, too few images for the halves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Optional

import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from ganmods.data.datamodule import GANDataModule
from ganmods.data.digits import load_digits
from ganmods.data.folder import IMAGE_EXTENSIONS, find_images, fit_images, folder_split, read_images
from ganmods.data.images import check_channels, check_image_size
from ganmods.data.sources import DataSource, register_source
from ganmods.data.splits import check_split, held_out_halves
from ganmods.data.stream import ImageBatches, to_float
from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.images import to_uint8
from ganmods.metrics.protocol import EMPTY_SPEC, MetricSpec
from ganmods.randomness import mix_seed

__all__ = ["DOMAIN_TAGS", "DigitsInvertedSource", "DomainImages", "HeldOutPairs", "PairBatches", "TwoDomainDataModule",
           "TwoDomainSource", "TwoFoldersSource", "holds_images", "pair_images", "unpair"]

#: Tags that give each domain its own image order (``mix_seed(seed, tag)``), so the two are drawn independently.
DOMAIN_TAGS = {"A": 0xD0_A, "B": 0xD0_B}
_REAL_SAMPLES_TAG = 0x7EA2


def pair_images(a: Tensor, b: Tensor) -> Tensor:
    """Put images of domain A and domain B side by side: the two-domain batch layout.

    Args:
        a: ``[B, C, H, W]`` images of domain A.
        b: ``[B, C, H, W]`` images of domain B (same shape).

    Returns:
        ``[B, 2, C, H, W]``: ``[:, 0]`` is ``a``, ``[:, 1]`` is ``b``.

    Raises:
        ConfigurationError: If the shapes differ or are not ``[B, C, H, W]``.

    Example:
        >>> pair_images(torch.zeros(4, 1, 8, 8), torch.ones(4, 1, 8, 8)).shape
        torch.Size([4, 2, 1, 8, 8])
    """
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.dim() == 4 and a.shape == b.shape):
        got = [list(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in (a, b)]
        raise invalid("a and b", "image batches [B, C, H, W] of one shape", got)
    return torch.stack([a, b], dim=1)


def unpair(batch: Tensor) -> tuple[Tensor, Tensor]:
    """Split a two-domain batch into its two domains.

    Args:
        batch: ``[B, 2, C, H, W]`` (:func:`pair_images`).

    Returns:
        ``(a, b)``, each ``[B, C, H, W]``.

    Raises:
        ConfigurationError: If ``batch`` is not a ``[B, 2, C, H, W]`` tensor (e.g. single-domain data given to a
            translation model).
    """
    if not isinstance(batch, Tensor) or batch.dim() != 5 or batch.shape[1] != 2:
        got = list(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise invalid("batch", "a two-domain batch [B, 2, C, H, W] (a dataset of ganmods.data.two_domain, e.g. "
                      "'digits_inverted' or 'two_folders')", got)
    return batch[:, 0], batch[:, 1]


class PairBatches(IterableDataset):
    """The step-keyed training stream of two domains: the batch of critic step ``k`` pairs domain A's batch
    ``k`` with domain B's, each an :class:`~ganmods.data.ImageBatches` with its own order (seeded
    ``mix_seed(seed, DOMAIN_TAGS[d])``), so the pairing is arbitrary and a resumed run continues exactly.

    Args:
        a: uint8 images ``[N_A, C, H, W]`` of domain A.
        b: uint8 images ``[N_B, C, H, W]`` of domain B.
        batch_size: Images of each domain per batch.
        num_batches: Batches per pass.
        seed: Base seed of the data order.
        step_fn: Returns the critic step of the first batch (read once, when a pass starts).
        rank_fn: Returns this process's global rank.
        world_size_fn: Returns the number of processes.

    Raises:
        ConfigurationError: If ``batch_size`` exceeds either domain's image count.
    """

    def __init__(self, a: Tensor, b: Tensor, batch_size: int, num_batches: int, seed: int,
                 step_fn: Callable[[], int] = lambda: 0, rank_fn: Callable[[], int] = lambda: 0,
                 world_size_fn: Callable[[], int] = lambda: 1) -> None:
        self.streams = [ImageBatches(images, batch_size, num_batches, mix_seed(seed, DOMAIN_TAGS[d]), step_fn, rank_fn,
                                     world_size_fn) for d, images in (("A", a), ("B", b))]
        self.num_batches = num_batches
        self.step_fn, self.rank_fn, self.world_size_fn = step_fn, rank_fn, world_size_fn

    def __len__(self) -> int:
        return self.num_batches

    def batch(self, step: int, rank: Optional[int] = None, world_size: Optional[int] = None) -> Tensor:
        """The pair batch of one critic step.

        Args:
            step: Critic step ``k``.
            rank: Global rank (default: ``rank_fn()``).
            world_size: Number of processes (default: ``world_size_fn()``).

        Returns:
            ``[batch_size, 2, C, H, W]`` float32 in ``[-1, 1]``.
        """
        return pair_images(*(s.batch(step, rank, world_size) for s in self.streams))

    def __iter__(self) -> Iterator[Tensor]:
        start, rank, world = int(self.step_fn()), int(self.rank_fn()), int(self.world_size_fn())
        return (self.batch(step, rank, world) for step in range(start, start + self.num_batches))


class HeldOutPairs(IterableDataset):
    """Fixed held-out images of both domains, served in order as ``[b, 2, C, H, W]`` float batches.

    Args:
        a: uint8 images ``[n, C, H, W]`` of domain A.
        b: uint8 images ``[n, C, H, W]`` of domain B (as many).
        batch_size: Pairs per batch (the last batch may be smaller).
    """

    def __init__(self, a: Tensor, b: Tensor, batch_size: int) -> None:
        self.a, self.b, self.batch_size = a, b, batch_size

    def __len__(self) -> int:
        return -(-self.a.shape[0] // self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        for a, b in zip(self.a.split(self.batch_size), self.b.split(self.batch_size)):
            yield pair_images(to_float(a), to_float(b))


@dataclass(frozen=True)
class DomainImages:
    """The images of one domain as uint8 ``[N, C, S, S]``: ``train`` and the two held-out halves.

    Args:
        train: Training images.
        val: Held-out validation half.
        test: Held-out test half.
    """

    train: Tensor
    val: Tensor
    test: Tensor

    def half(self, split: str) -> Tensor:
        """The held-out half of ``split`` (``"val"`` or ``"test"``).

        Args:
            split: ``"val"`` or ``"test"``.

        Returns:
            The images.
        """
        return self.val if check_split(split) == "val" else self.test


def _halves(held: Tensor, what: str) -> tuple[Tensor, Tensor]:
    val, test = held_out_halves(int(held.shape[0]), what)
    return held[val], held[test]


class TwoDomainSource(DataSource):
    """Two image domains behind a :class:`~ganmods.data.GANDataModule` (see :mod:`ganmods.data.two_domain`).

    Subclasses set :attr:`option_defaults` and :attr:`default_channels` and implement :meth:`read_domains`; they
    may add :meth:`truth_scores` (a known true mapping) and :meth:`metric_space`.

    Args:
        name: The dataset name.
        options: ``dataset_options`` (keys of :attr:`option_defaults`).
        root: Must be unset (the folders are ``dataset_options``).
        image_size: Side in pixels of both domains (``None``: the source's default).
        channels: 1 or 3 for both domains (``None``: the source's default).
        download: Must be false (nothing to download).
        metric: An :class:`~ganmods.metrics.ImageMetrics` (or any object with ``score(fake, real, real_key)`` and
            ``spec(n)``) scoring the translations of each direction; ``None``: none.
        prdc: Must be unset or false (precision / recall are not part of the translation protocol).

    Raises:
        ConfigurationError: For any bad argument.
    """

    is_image: ClassVar[bool] = True
    #: Accepted ``dataset_options`` and their defaults.
    option_defaults: ClassVar[dict[str, Any]] = {}
    #: The default image side (``None``: the images' own, which must agree across the domains).
    default_image_size: ClassVar[Optional[int]] = None
    #: The default channel count (``None``: the images' own, which must agree across the domains).
    default_channels: ClassVar[Optional[int]] = None

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, root: Optional[str] = None,
                 image_size: Optional[int] = None, channels: Optional[int] = None, download: bool = False,
                 metric: Optional[Any] = None, prdc: Optional[bool] = None) -> None:
        super().__init__(name, options)
        if root is not None:
            raise invalid("root", f"unset for dataset {name!r} (its folders are dataset_options)", root)
        if download is not False:
            raise invalid("download", f"false for dataset {name!r} (nothing to download)", download)
        if prdc not in (None, False):
            raise invalid("prdc", f"unset or false for dataset {name!r} (not part of the translation protocol)", prdc)
        self.prdc = None
        given = dict(options or {}) if isinstance(options, dict) or options is None else options
        if not isinstance(given, dict) or set(given) - set(self.option_defaults):
            raise invalid("dataset_options", f"a mapping with keys among {sorted(self.option_defaults)} for dataset "
                          f"{name!r}", options)
        self.options = {**self.option_defaults, **given}
        size = self.default_image_size if image_size is None else image_size
        self.image_size = None if size is None else check_image_size(size, name)
        chans = self.default_channels if channels is None else channels
        self.channels = None if chans is None else check_channels(chans)
        self.set_metric(metric)
        self._domains: Optional[dict[str, DomainImages]] = None

    # ------------------------------------------------------------------ what subclasses provide
    def read_domains(self) -> dict[str, DomainImages]:
        """Read both domains (uint8, one shape) and cut their held-out halves; set :attr:`image_size` and
        :attr:`channels` when they were left to the images.

        Returns:
            ``{"A": DomainImages, "B": DomainImages}``.
        """
        raise NotImplementedError

    def truth_scores(self, a: Tensor, b: Tensor, fake_b: Tensor, fake_a: Tensor,
                     split: str) -> dict[str, dict[str, float]]:
        """Scores against a known true mapping (none by default).

        Args:
            a: Held-out A images (float, ``[n, C, H, W]``).
            b: Held-out B images.
            fake_b: ``a`` translated to B.
            fake_a: ``b`` translated to A.
            split: ``"val"`` or ``"test"``.

        Returns:
            ``{"ab": {name: value}, "ba": {name: value}}``.
        """
        return {"ab": {}, "ba": {}}

    def truth_names(self) -> dict[str, bool]:
        """The names :meth:`truth_scores` returns for each direction, with ``higher_is_better``.

        Returns:
            Name -> direction (none by default).
        """
        return {}

    def metric_space(self, images: Tensor, domain: str) -> Tensor:
        """Images of ``domain`` as the metric sees them (unchanged by default).

        Args:
            images: Float images ``[n, C, H, W]``.
            domain: ``"A"`` or ``"B"``.

        Returns:
            The images to score.
        """
        return images

    # ------------------------------------------------------------------ the DataSource interface
    @property
    def data_shape(self) -> tuple[int, ...]:
        """``(channels, image_size, image_size)``: one image of either domain (a batch pairs them,
        ``[B, 2, C, H, W]``). Reads the images when their size or channel count is left to them."""
        if self.image_size is None or self.channels is None:
            self.load()
        assert self.image_size is not None and self.channels is not None
        return (self.channels, self.image_size, self.image_size)

    @property
    def prdc_enabled(self) -> bool:
        """Always False: precision and recall are not part of the translation protocol."""
        return False

    def set_metric(self, metric: Optional[Any]) -> None:
        """Use another metric for the translations (or none).

        Args:
            metric: An object with ``score(fake, real, real_key)``, or None.

        Raises:
            ConfigurationError: For an object without ``score``.
        """
        if metric is not None and not callable(getattr(metric, "score", None)):
            raise invalid("metric", "an object with score(fake, real, real_key)", metric)
        self.metric = metric

    def load(self) -> None:
        """Read both domains into memory (once).

        Raises:
            ConfigurationError: For missing, empty or unreadable folders, domains of different shapes, or too few
                held-out images.
        """
        if self._domains is None:
            self._domains = self.read_domains()

    def domains(self) -> dict[str, DomainImages]:
        """Both domains' images (read on first use).

        Returns:
            ``{"A": DomainImages, "B": DomainImages}``.
        """
        self.load()
        assert self._domains is not None
        return self._domains

    def train_size(self) -> Optional[int]:
        """The smaller domain's training image count (a batch takes ``batch_size`` of each)."""
        return min(int(d.train.shape[0]) for d in self.domains().values())

    def train_batches(self, batch_size: int, num_batches: int, seed: int, step_fn: Callable[[], int],
                      rank_fn: Callable[[], int], world_fn: Callable[[], int]) -> IterableDataset:
        """:class:`PairBatches` of the two training sets."""
        domains = self.domains()
        return PairBatches(domains["A"].train, domains["B"].train, batch_size, num_batches, seed, step_fn, rank_fn,
                           world_fn)

    def held_out_batches(self, val_size: int, batch_size: int, seed: int, split: str = "val") -> HeldOutPairs:
        """The first ``val_size`` images (at most the smaller half) of both domains' ``split`` halves, paired by
        position, in batches of ``batch_size``."""
        a, b = (d.half(split) for d in (self.domains()["A"], self.domains()["B"]))
        n = min(val_size, a.shape[0], b.shape[0])
        return HeldOutPairs(a[:n], b[:n], batch_size)

    def _check_count(self, n: int) -> None:
        check_positive_int("n", n)
        count = self.train_size()
        if count is not None and n > count:
            raise invalid("n", f"at most the smaller domain's number of training images N = {count}", n)

    def train_reference(self, n: int, seed: int) -> Tensor:
        """The first ``n`` images of each domain's data epoch 0, paired: ``[n, 2, C, H, W]``."""
        self._check_count(n)
        stream = PairBatches(self.domains()["A"].train, self.domains()["B"].train, 1, 1, seed)
        picked = [s.images[s.permutation(0)[:n]] for s in stream.streams]
        return pair_images(to_float(picked[0]), to_float(picked[1]))

    def real_samples(self, n: int, seed: int) -> Tensor:
        """``n`` training images of each domain picked by ``seed``, paired: ``[n, 2, C, H, W]``; distinct while ``n``
        is at most the domain's image count, then each image once more per further round (so sample grids and health
        checks of any size work on small folders)."""
        check_positive_int("n", n)
        picked = []
        for domain, images in (("A", self.domains()["A"].train), ("B", self.domains()["B"].train)):
            stream = torch.Generator().manual_seed(mix_seed(seed, _REAL_SAMPLES_TAG, DOMAIN_TAGS[domain]))
            count = int(images.shape[0])
            order = torch.cat([torch.randperm(count, generator=stream) for _ in range(-(-n // count))])
            picked.append(to_float(images[order[:n]]))
        return pair_images(picked[0], picked[1])

    def eval_count(self, n: int) -> int:
        """The number of held-out images translated per domain and direction: ``n`` (``eval_samples``), at most
        the smallest held-out half of either domain and split (so names and counts agree across splits).

        Args:
            n: The data module's ``eval_samples``.

        Returns:
            The count.
        """
        check_positive_int("n", n)
        return min([n] + [int(d.half(s).shape[0]) for d in self.domains().values() for s in ("val", "test")])

    def eval_reference(self, n: int, split: str = "val", seed: int = 0) -> Tensor:
        """The held-out images a split is scored on: the first :meth:`eval_count` of each domain's half, paired
        by position, ``[n, 2, C, H, W]`` float32 in ``[-1, 1]`` (``seed`` is unused: the halves are fixed)."""
        count = self.eval_count(n)
        a, b = (to_float(self.domains()[d].half(split)[:count]) for d in ("A", "B"))
        return pair_images(a, b)

    def source_key(self) -> str:
        """Where the images come from, as part of metric cache keys (default: the dataset name)."""
        return self.name

    def real_key(self, n: int, split: str = "val", domain: str = "B") -> str:
        """``"<source_key>|domain=<A|B>|half=<val|test>|n=<count>|size=<side>|channels=<C>"``: names one domain's
        evaluation reference (as :meth:`metric_space` shows it) for metric caches."""
        check_split(split)
        if domain not in DOMAIN_TAGS:
            raise invalid("domain", "'A' or 'B'", domain)
        return (f"{self.source_key()}|domain={domain}|half={split}|n={self.eval_count(n)}|size={self.image_size}|"
                f"channels={self.channels}")

    def metric_spec(self, n_samples: int) -> MetricSpec:
        """The names :meth:`evaluate` returns: for ``ab`` then ``ba``, the truth scores (:meth:`truth_names`) and
        the metric's names, each prefixed with the direction; the main value is ``ab_`` + the first truth score,
        else ``ab_`` + the metric's main value.

        Args:
            n_samples: The data module's ``eval_samples``.

        Returns:
            The :class:`~ganmods.metrics.protocol.MetricSpec`.
        """
        spec_fn = getattr(self.metric, "spec", None)
        metric_spec = spec_fn(self.eval_count(n_samples)) if callable(spec_fn) else EMPTY_SPEC
        truth = self.truth_names()
        names: list[str] = []
        higher: dict[str, Optional[bool]] = {}
        for direction in ("ab", "ba"):
            for name, up in [*truth.items(), *((m, metric_spec.higher_is_better[m]) for m in metric_spec.names)]:
                names.append(f"{direction}_{name}")
                higher[f"{direction}_{name}"] = up
        main = next(iter(truth), None) or metric_spec.main
        return MetricSpec(tuple(names), higher, main=None if main is None else f"ab_{main}")

    def evaluate(self, model: Any, n_samples: int, seed: int, split: str = "val", data_seed: int = 0
                 ) -> dict[str, float]:
        """Translate the split's held-out images both ways and score them (names: :meth:`metric_spec`).

        Args:
            model: A translation model: ``model.translate(images, direction)`` with direction ``"AB"`` / ``"BA"``
                (a :class:`~ganmods.cyclegan.CycleGAN`).
            n_samples: The data module's ``eval_samples`` (see :meth:`eval_count`).
            seed: Unused (translations are deterministic; the held-out halves are fixed).
            split: ``"val"`` or ``"test"``.
            data_seed: Unused.

        Returns:
            Name -> value.

        Raises:
            ConfigurationError: For a bad ``split``, or a model without ``translate``.
        """
        check_split(split)
        translate = getattr(model, "translate", None)
        if not callable(translate):
            raise invalid("model", f"a translation model with translate(images, direction) (e.g. "
                          f"ganmods.cyclegan.CycleGAN) for dataset {self.name!r}", type(model).__name__)
        a, b = unpair(self.eval_reference(n_samples, split))
        fake_b = translate(a, "AB").detach().float().cpu()
        fake_a = translate(b, "BA").detach().float().cpu()
        truth = self.truth_scores(a, b, fake_b, fake_a, split)
        out: dict[str, float] = {}
        for direction, fake, real, domain in (("ab", fake_b, b, "B"), ("ba", fake_a, a, "A")):
            out.update({f"{direction}_{k}": float(v) for k, v in truth[direction].items()})
            if self.metric is not None:
                key = self.real_key(n_samples, split, domain)
                scores = self.metric.score(self.metric_space(fake, domain), self.metric_space(real, domain), key)
                out.update({f"{direction}_{k}": float(v) for k, v in scores.items()})
        return out


@register_source("digits_inverted")
class DigitsInvertedSource(TwoDomainSource):
    """The bundled digits (A) against disjoint inverted digits (B), with a known true mapping (see
    :mod:`ganmods.data.two_domain`); 1 channel and 32 px by default; no options."""

    default_image_size = 32
    default_channels = 1

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, **arguments: Any) -> None:
        super().__init__(name, options, **arguments)
        self._classifier: Optional[Any] = None

    def read_domains(self) -> dict[str, DomainImages]:
        """A: the first half of the training digits; B: the second half, inverted; held out: the 297 held-out
        digits (A) and their inversions (B), cut in the same validation and test halves."""
        assert self.image_size is not None and self.channels is not None
        train = fit_images(to_uint8(load_digits("train", image_size=self.image_size)), self.image_size, self.channels)
        held = fit_images(to_uint8(load_digits("held_out", image_size=self.image_size)), self.image_size, self.channels)
        half = train.shape[0] // 2
        val, test = _halves(held, "dataset 'digits_inverted'")
        # inversion on the uint8 grid: from_uint8(255 - u) == -from_uint8(u) (up to float rounding)
        return {"A": DomainImages(train[:half], val, test),
                "B": DomainImages(255 - train[half:], 255 - val, 255 - test)}

    @property
    def classifier(self) -> Any:
        """The shipped digit classifier (:func:`~ganmods.metrics.digits.load_digit_classifier`), loaded once."""
        from ganmods.metrics.digits import load_digit_classifier

        if self._classifier is None:
            self._classifier = load_digit_classifier()
        return self._classifier

    def held_out_labels(self, split: str) -> Tensor:
        """The digit labels of a held-out half, in the order of :meth:`eval_reference`.

        Args:
            split: ``"val"`` or ``"test"``.

        Returns:
            int64 labels of the whole half.
        """
        _, labels = load_digits("held_out", with_labels=True)
        val, test = held_out_halves(int(labels.shape[0]), "dataset 'digits_inverted'")
        return labels[val] if check_split(split) == "val" else labels[test]

    def truth_names(self) -> dict[str, bool]:
        """``label_preserved`` (higher is better) and ``mse`` (lower is better)."""
        return {"mse": False, "label_preserved": True}

    def truth_scores(self, a: Tensor, b: Tensor, fake_b: Tensor, fake_a: Tensor,
                     split: str) -> dict[str, dict[str, float]]:
        """The share of translations the digit classifier labels as their source digit (``fake_b`` inverted back)
        and the mean squared error to the true translation (``-a`` for A -> B, ``-b`` for B -> A)."""
        labels = self.held_out_labels(split)[: a.shape[0]]
        classifier = self.classifier

        def preserved(digits: Tensor) -> float:
            grey = digits.mean(dim=1, keepdim=True) if digits.shape[1] != 1 else digits
            with torch.no_grad():
                predicted = torch.cat([classifier(x).argmax(dim=1) for x in grey.split(256)])
            return float((predicted == labels).float().mean())

        return {"ab": {"mse": float(((fake_b - (-a)) ** 2).mean()), "label_preserved": preserved(-fake_b)},
                "ba": {"mse": float(((fake_a - (-b)) ** 2).mean()), "label_preserved": preserved(fake_a)}}

    def metric_space(self, images: Tensor, domain: str) -> Tensor:
        """Domain B inverted back (the digit classifier's features describe light digits on a dark ground)."""
        return -images if domain == "B" else images


def _image_header(path: Path) -> tuple[int, int, int]:
    """``(channels, width, height)`` of an image file from its header (grey modes: 1 channel, else 3)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            grey = img.mode in ("1", "L", "LA", "I", "F") or img.mode.startswith("I;")
            return (1 if grey else 3, int(img.width), int(img.height))
    except (OSError, ValueError, SyntaxError) as err:
        raise ConfigurationError(f"image file {str(path)!r} could not be read: {err}") from None


@register_source("two_folders")
class TwoFoldersSource(TwoDomainSource):
    """Two folders of image files, one per domain (``dataset_options: {root_a, root_b, held_out_fraction}``),
    each read like the ``folder`` dataset (flat or in sub-folders; centre-cropped to squares and resized to
    ``image_size``) and split into training and held-out images (fixed per folder, :func:`folder_split`).

    ``image_size`` and ``channels`` left unset take the images' own, which must then agree across both domains
    (one square size; all grey, or not); given, both domains are converted.
    """

    option_defaults: ClassVar[dict[str, Any]] = {"root_a": None, "root_b": None, "held_out_fraction": 0.1}

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None, **arguments: Any) -> None:
        super().__init__(name, options, **arguments)
        for key in ("root_a", "root_b"):
            root = self.options[key]
            if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
                raise invalid(f"dataset_options.{key}", f"an existing folder of images of domain {key[-1].upper()} "
                              f"for dataset {name!r}", root)
            self.options[key] = os.fspath(root)
            if not holds_images(root):
                raise invalid(f"dataset_options.{key}", f"a folder holding image files ({', '.join(IMAGE_EXTENSIONS)}) "
                              f"for domain {key[-1].upper()} of dataset {name!r}", f"{os.fspath(root)} (no image file)")
        fraction = self.options["held_out_fraction"]
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise invalid("dataset_options.held_out_fraction", "a number in (0, 1)", fraction)

    def source_key(self) -> str:
        """``two_folders:<absolute root_a>:<absolute root_b>``."""
        return f"{self.name}:{os.path.abspath(self.options['root_a'])}:{os.path.abspath(self.options['root_b'])}"

    def read_domains(self) -> dict[str, DomainImages]:
        """Find both folders' files, settle one image shape (refusing domains that differ when it was left to the
        images), read them and split each."""
        paths = {d: find_images(self.options[f"root_{d.lower()}"]) for d in ("A", "B")}
        if self.image_size is None or self.channels is None:
            self._settle_shape(paths)
        assert self.image_size is not None and self.channels is not None
        out = {}
        for domain, files in paths.items():
            train_idx, held_idx = folder_split(len(files), float(self.options["held_out_fraction"]))
            images = read_images(files, self.image_size, self.channels)
            val, test = _halves(images[held_idx], f"domain {domain} of dataset {self.name!r}")
            out[domain] = DomainImages(images[train_idx], val, test)
        return out

    def _settle_shape(self, paths: dict[str, list[Path]]) -> None:
        headers = {d: [_image_header(p) for p in files] for d, files in paths.items()}
        if self.channels is None:
            own = {d: 1 if all(h[0] == 1 for h in hs) else 3 for d, hs in headers.items()}
            if own["A"] != own["B"]:
                kind = {1: "grey images (1 channel)", 3: "colour images (3 channels)"}
                raise ConfigurationError(
                    f"channels must be given (1: grey, 3: RGB) to convert both domains of dataset {self.name!r} to "
                    f"one channel count; got none, and domain A holds {kind[own['A']]}, domain B {kind[own['B']]}.")
            self.channels = own["A"]
        if self.image_size is None:
            sizes = {d: sorted({(h[1], h[2]) for h in hs}) for d, hs in headers.items()}
            every = sorted(set(sizes["A"]) | set(sizes["B"]))
            if len(every) != 1 or every[0][0] != every[0][1]:
                shown = {d: ", ".join(f"{w}x{h}" for w, h in s[:3]) + (" ..." if len(s) > 3 else "")
                         for d, s in sizes.items()}
                raise ConfigurationError(
                    f"image_size must be given to resize both domains of dataset {self.name!r} to one square size "
                    f"(images are centre-cropped and resized); got none, and domain A holds {shown['A']} images, "
                    f"domain B {shown['B']}.")
            self.image_size = check_image_size(every[0][0], self.name)


def holds_images(root: str | os.PathLike[str]) -> bool:
    """Whether any file under ``root`` (hidden files and folders left out, as :func:`find_images` does) has an image
    file name ending (:data:`~ganmods.data.folder.IMAGE_EXTENSIONS`): the check that names an empty domain folder.

    Args:
        root: An existing folder.

    Returns:
        True when at least one image file name is found.
    """
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            return True
    return False


class TwoDomainDataModule(GANDataModule):
    """The data module of two image domains: a :class:`~ganmods.data.GANDataModule` of a two-domain source
    (``digits_inverted`` or ``two_folders``; :mod:`ganmods.data.two_domain`), with the folders as arguments.

    In a config, ``data: {dataset: digits_inverted, ...}`` (or ``two_folders`` with ``dataset_options: {root_a,
    root_b}``) builds the same thing through ``GANDataModule``.

    Args:
        dataset: ``"digits_inverted"`` or ``"two_folders"``.
        root_a: ``two_folders``: the folder of domain A.
        root_b: ``two_folders``: the folder of domain B.
        held_out_fraction: ``two_folders``: the fraction of each folder held out (halved into validation and test).
        **kwargs: Any other :class:`~ganmods.data.GANDataModule` argument (``batch_size``, ``image_size``,
            ``channels``, ``metric``, ...).

    Raises:
        ConfigurationError: For a dataset that is not a two-domain one, folders given for ``digits_inverted``, or
            any bad :class:`~ganmods.data.GANDataModule` argument.

    Example:
        >>> dm = TwoDomainDataModule("digits_inverted", batch_size=4, image_size=16)
        >>> next(iter(dm.train_dataloader())).shape
        torch.Size([4, 2, 1, 16, 16])
    """

    def __init__(self, dataset: str = "digits_inverted", root_a: Optional[str] = None, root_b: Optional[str] = None,
                 held_out_fraction: float = 0.1, **kwargs: Any) -> None:
        if dataset == "two_folders":
            options = {"root_a": root_a, "root_b": root_b, "held_out_fraction": held_out_fraction}
        elif dataset == "digits_inverted":
            for name, value in (("root_a", root_a), ("root_b", root_b)):
                if value is not None:
                    raise invalid(name, "unset for dataset 'digits_inverted' (bundled with scikit-learn)", value)
            options = {}
        else:
            raise invalid("dataset", "'digits_inverted' or 'two_folders'", dataset)
        if "dataset_options" in kwargs:
            raise invalid("dataset_options", "unset for TwoDomainDataModule (pass root_a, root_b, held_out_fraction)",
                          kwargs["dataset_options"])
        super().__init__(dataset=dataset, dataset_options=options, **kwargs)
