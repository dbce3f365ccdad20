"""FID and KID measured the way papers measure them, with a record of how, and a cache of real statistics.

The protocol (PITFALLS.md §15–18, §20):

* images ``[N, C, H, W]`` in ``[-1, 1]`` become what a saved PNG would hold: ``round((x + 1) · 127.5)``
  clamped to ``0..255`` as ``uint8`` (rounded, not truncated; out-of-range values are clamped like an
  image writer clamps them);
* ``extractor="inception"``: torch-fidelity's ``FeatureExtractorInceptionV3`` (the TF-ported 2015-12-05
  weights, 2048-d pool features), grey images repeated to 3 channels, resized inside the extractor to
  299 px by torch-fidelity's TF1-compatible bilinear resampling (no antialiasing, unlike torchmetrics'
  default);
* ``extractor="digits"`` / ``"mnist5k"``: a shipped :class:`~ganmods.metrics.digits.DigitClassifier`
  (64-d features; trained on the bundled digits' / the mnist5k digits' training split), fed the quantised
  images mapped back to ``[-1, 1]``;
* statistics and distances in float64 by torchmetrics' ``FrechetInceptionDistance`` and
  ``KernelInceptionDistance`` (100 subsets, cubic polynomial kernel, subsets drawn from a fixed seed
  without touching the global RNG);
* result names carry the number of generated images: ``fid_10k``, ``kid_10k``, ``kid_10k_std``;
* with ``prdc=True`` (a :meth:`ImageMetrics.score` argument) also ``precision``, ``recall`` (k = 3),
  ``density`` and ``coverage`` (k = 5) of the same features (:func:`~ganmods.metrics.prdc.prdc`, float64).

Real features are computed once per (``real_key``, number of real images, extractor identity) and kept
on disk; see :meth:`ImageMetrics.cache_key`. The disk copy is only a cache: each entry is written
atomically with a checksum of its features and validated when read; a truncated, corrupt or non-finite
entry is named in a warning and recomputed, and an unwritable cache folder means nothing is cached
(one warning), never a failed run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.images import from_uint8, to_uint8
from ganmods.metrics.digits import CLASSIFIER_WEIGHTS
from ganmods.metrics.extractors import build_extractor
from ganmods.metrics.prdc import PRDC_K_DC, PRDC_K_PR, check_prdc_counts, with_prdc
from ganmods.metrics.prdc import prdc as prdc_of  # `prdc` is also score()'s argument
from ganmods.metrics.protocol import MetricSpec

__all__ = ["CACHE_FORMAT", "KID_SEED", "KID_SUBSETS", "ImageMetrics", "count_label"]

#: Version of the cache-entry layout; part of every cache key.
CACHE_FORMAT = 1
#: KID subsets (torch-fidelity's default).
KID_SUBSETS = 100
#: Seed of the KID subset draws (a private generator state; the global RNG is restored afterwards).
KID_SEED = 0
_QUANTISE = "uint8 = clamp(round((x + 1) * 127.5), 0, 255)"


def count_label(n: int) -> str:
    """The sample count as metric names carry it: ``10000 → "10k"``, ``2000 → "2k"``, ``1500 → "1500"``.

    Args:
        n: Number of samples (>= 1).

    Returns:
        ``f"{n // 1000}k"`` when ``n`` is a multiple of 1000, else ``str(n)``.

    Raises:
        ConfigurationError: If ``n`` is not an integer >= 1.
    """
    check_positive_int("n", n)
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _version(package: str) -> Optional[str]:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


class _Precomputed(nn.Module):
    """Hands already-extracted features to a torchmetrics metric unchanged."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x


class ImageMetrics:
    """FID and KID of generated images against a real set, with provenance and a real-statistics cache.

    A plain object, not an ``nn.Module``: held by a data module or a callback, its feature extractor
    never becomes a child module, so it never lands in a checkpoint's ``state_dict``.

    Args:
        extractor: ``"inception"`` (torch-fidelity's InceptionV3, 2048-d; the papers' FID), ``"digits"``
            (the shipped digit classifier, 64-d; offline, for the bundled digits), ``"mnist5k"`` (the same
            network trained on the mnist5k digits; offline, for ``dataset: mnist5k``) or an ``nn.Module``
            mapping ``[N, C, H, W]`` floats in ``[-1, 1]`` (already quantised to the uint8 grid) to
            ``[N, D]`` features; a module is put in eval mode and moved to ``device``.
        weights_path: Local weights for a named extractor: for ``"inception"`` torch-fidelity's
            ``pt_inception-2015-12-05`` file (without it the weights are downloaded once into the torch
            hub cache), for ``"digits"`` / ``"mnist5k"`` a ``DigitClassifier`` state dict (default: the shipped
            one).
        kid: Also compute KID (mean and std over 100 subsets).
        kid_subset_size: Images per KID subset; both sets need at least this many.
        cache_dir: Where real features are kept (default ``$GANMODS_CACHE/metrics``, else
            ``~/.cache/ganmods/metrics``); a damaged entry is recomputed, an unwritable folder not used.
        batch_size: Images per extractor forward pass.
        device: Where features are extracted and statistics computed (default: CUDA if available).

    Raises:
        ConfigurationError: For any bad argument, a weights file that does not fit the extractor, or
            (without ``weights_path``) a failed Inception download.

    Example:
        >>> from ganmods.data.digits import load_digits
        >>> metrics = ImageMetrics("digits", kid_subset_size=100, device="cpu")
        >>> real, fake = load_digits("train", 32), load_digits("held_out", 32)
        >>> sorted(metrics.score(fake, real, real_key="digits-train-32"))
        ['fid_297', 'kid_297', 'kid_297_std']
    """

    def __init__(
        self,
        extractor: Union[str, nn.Module] = "inception",
        weights_path: Optional[str] = None,
        kid: bool = True,
        kid_subset_size: int = 1000,
        cache_dir: Optional[str] = None,
        batch_size: int = 64,
        device: Optional[Union[str, torch.device]] = None,
    ) -> None:
        named = ("inception", *CLASSIFIER_WEIGHTS)
        if not (isinstance(extractor, nn.Module) or (isinstance(extractor, str) and extractor in named)):
            raise invalid("extractor", f"one of {list(named)} or an nn.Module", extractor)
        if weights_path is not None:
            if isinstance(extractor, nn.Module):
                raise invalid("weights_path", "None when extractor is an nn.Module", weights_path)
            if not isinstance(weights_path, (str, os.PathLike)) or not os.path.isfile(weights_path):
                raise invalid("weights_path", "None or the path of an existing weights file", weights_path)
            weights_path = os.fspath(weights_path)
        if not isinstance(kid, bool):
            raise invalid("kid", "a bool", kid)
        self.kid_subset_size = check_positive_int("kid_subset_size", kid_subset_size, minimum=2)
        self.batch_size = check_positive_int("batch_size", batch_size)
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise invalid("cache_dir", "None or a directory path", cache_dir)
        try:
            default = "cuda" if torch.cuda.is_available() else "cpu"
            self.device = torch.device(default if device is None else device)
        except (RuntimeError, TypeError) as exc:
            raise invalid("device", "None, a device string or a torch.device", device) from exc
        if cache_dir is None:
            root = os.environ.get("GANMODS_CACHE")
            cache_dir = os.path.join(root, "metrics") if root else os.path.join("~", ".cache", "ganmods", "metrics")
        self.cache_dir = Path(cache_dir).expanduser()
        self.kid = kid
        self.weights_path = weights_path

        self._takes_uint8 = extractor == "inception"
        self._classifier = isinstance(extractor, str) and extractor in CLASSIFIER_WEIGHTS
        self._channels = 1 if self._classifier else None
        net, self._forward, self.weights_sha256, self.extractor_name, self.feature_layer, self.resize, \
            self._min_samples = build_extractor(extractor, weights_path)
        self._net = net.to(self.device)  # a plain attribute of a plain object: never a registered child
        self._provenance: dict[str, Any] = self._static_provenance()

    #: The names a score returns, ``{n}`` standing for :func:`count_label` of the generated count, and their
    #: direction (``None``: a spread, not a score); the ``kid`` ones only with ``kid=True``.
    NAME_DIRECTIONS: dict[str, Optional[bool]] = {"fid_{n}": False, "kid_{n}": False, "kid_{n}_std": None}

    @property
    def classifier_features(self) -> bool:
        """Whether the features are a shipped digit classifier's (``extractor="digits"`` or ``"mnist5k"``:
        64-d, cheap enough that :class:`~ganmods.data.GANDataModule` scores PRDC in them by default)."""
        return self._classifier

    def spec(self, n_samples: int, prdc: bool = False) -> MetricSpec:
        """What :meth:`score` returns for ``n_samples`` generated images (:mod:`ganmods.metrics.protocol`):
        ``fid_<n>`` (lower is better, the main value), with ``kid`` also ``kid_<n>`` (lower is better) and
        ``kid_<n>_std`` (no direction); ``<n>`` is :func:`count_label` of ``n_samples``; with ``prdc`` also
        ``precision``, ``recall``, ``density`` and ``coverage`` (higher is better). Every process
        scores the same gathered features, so nothing is reduced across processes (``"none"``).

        Args:
            n_samples: Generated images scored.
            prdc: Whether the score includes the PRDC values (as :meth:`score`'s ``prdc``).

        Returns:
            The :class:`~ganmods.metrics.protocol.MetricSpec`.

        Raises:
            ConfigurationError: If ``n_samples`` is not an integer >= 1, or ``prdc`` is not a bool.
        """
        if not isinstance(prdc, bool):
            raise invalid("prdc", "true or false", prdc)
        label = count_label(n_samples)
        templates = [t for t in self.NAME_DIRECTIONS if self.kid or not t.startswith("kid")]
        names = tuple(t.format(n=label) for t in templates)
        higher = {t.format(n=label): self.NAME_DIRECTIONS[t] for t in templates}
        spec = MetricSpec(names, higher, main=f"fid_{label}", reduce={name: "none" for name in names})
        return with_prdc(spec) if prdc else spec

    # ------------------------------------------------------------------ provenance and cache key
    def _static_provenance(self) -> dict[str, Any]:
        return {
            "extractor": self.extractor_name, "feature_layer": self.feature_layer, "feature_dim": None,
            "weights_sha256": self.weights_sha256, "weights_path": self.weights_path,
            "input": _QUANTISE, "grey_to_rgb": self._takes_uint8, "resize": self.resize,
            "statistics_dtype": "float64",
            "kid": {"subsets": KID_SUBSETS, "subset_size": self.kid_subset_size, "seed": KID_SEED,
                    "kernel": "(x.y / D + 1) ** 3, unbiased MMD"} if self.kid else None,
            "real_key": None, "n_real": None, "n_fake": None, "real_cache": None, "prdc": None, "results": None,
            "device": str(self.device),
            "versions": {p: _version(p) for p in ("ganmods", "torch", "torchmetrics", "torch-fidelity")},
        }

    @property
    def provenance(self) -> dict[str, Any]:
        """How the last :meth:`score` was measured (a copy; the per-call fields are ``None`` before one).

        Returns:
            Extractor name, feature layer and dimension, weights sha256, input quantisation, resize method,
            statistics dtype, KID settings, ``real_key``, ``n_real``, ``n_fake``, the real-cache key and
            whether it was hit, the results, the device and the torch / torchmetrics / torch-fidelity versions.
        """
        return json.loads(json.dumps(self._provenance))

    def save_provenance(self, path: Union[str, os.PathLike]) -> Path:
        """Write :attr:`provenance` as JSON.

        Args:
            path: The file to write (parent folders are created).

        Returns:
            The path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self._provenance, indent=2, sort_keys=True) + "\n")
        return path

    def cache_key(self, real_key: str, n_real: int) -> str:
        """The key real features are cached under.

        sha256 of the canonical JSON (sorted keys) of ``{"format": CACHE_FORMAT, "real_key", "n_real",
        "extractor": name, "feature_layer", "weights_sha256", "input": quantisation, "resize"}``. The cache
        file is ``<cache_dir>/<real_key, filename-safe>-n<n_real>-<first 16 hex digits>.pt``.

        Args:
            real_key: The caller's name for the real image set.
            n_real: Number of real images.

        Returns:
            The 64-hex-digit key.
        """
        fields = {
            "format": CACHE_FORMAT, "real_key": real_key, "n_real": n_real, "extractor": self.extractor_name,
            "feature_layer": self.feature_layer, "weights_sha256": self.weights_sha256, "input": _QUANTISE,
            "resize": self.resize,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def _cache_file(self, real_key: str, n_real: int, key: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", real_key)[:80]
        return self.cache_dir / f"{slug}-n{n_real}-{key[:16]}.pt"

    # ------------------------------------------------------------------ features
    def _check_images(self, name: str, x: Any) -> None:
        channels = "1" if self._channels == 1 else "1 or 3" if self._takes_uint8 else "any"
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[0] < 2:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise invalid(name, "a [N, C, H, W] tensor with N >= 2", shape)
        if not x.is_floating_point():
            raise invalid(name, "floating point in [-1, 1]", x.dtype)
        if (self._channels == 1 and x.shape[1] != 1) or (self._takes_uint8 and x.shape[1] not in (1, 3)):
            raise invalid(f"{name} channels", channels, x.shape[1])
        if not bool(torch.isfinite(x).all()):
            raise invalid(name, "finite values in [-1, 1]", "a tensor with NaN or inf")

    @staticmethod
    def _quantise(x: Tensor) -> Tensor:
        return to_uint8(x)

    @torch.no_grad()
    def _features(self, images: Tensor) -> Tensor:
        out = []
        for start in range(0, images.shape[0], self.batch_size):
            u = self._quantise(images[start:start + self.batch_size].to(self.device))
            if self._takes_uint8:
                inp = u.expand(-1, 3, -1, -1).contiguous() if u.shape[1] == 1 else u
            else:
                inp = from_uint8(u)
            feats = self._forward(inp)
            if not isinstance(feats, Tensor) or feats.dim() != 2 or feats.shape[0] != inp.shape[0]:
                got = tuple(feats.shape) if isinstance(feats, Tensor) else type(feats).__name__
                raise invalid("extractor output", "[N, D] features", got)
            out.append(feats.float().cpu())
        return torch.cat(out)

    def _real_features(
        self, real: Tensor, real_key: str, gather: Optional[Callable[[Tensor], Tensor]], shard: Optional[tuple[int, int]]
    ) -> tuple[Tensor, dict[str, Any]]:
        n_real = real.shape[0]
        key = self.cache_key(real_key, n_real)
        path = self._cache_file(real_key, n_real, key)
        fingerprint = hashlib.sha256(self._quantise(real).cpu().numpy().tobytes()).hexdigest()
        entry = _read_cache_entry(path, key, n_real)
        hit = entry is not None
        if gather is not None:  # a hit only if every process has a valid file: all then take the same branch
            hit = bool(gather(torch.tensor([[float(hit)]])).min() > 0)
        info = {"key": key, "file": str(path), "hit": hit, "real_sha256": fingerprint}
        if hit and entry is not None:
            if entry["real_sha256"] != fingerprint:
                raise invalid(
                    "real_key", f"a name used for one real image set only ({real_key!r} was cached from other "
                    f"images: use another key or remove {str(path)!r})", real_key,
                )
            return entry["features"], info
        if gather is not None and shard is not None:
            from ganmods.strategies import shard_bounds

            lo, hi = shard_bounds(n_real, *shard)
            feats = gather(self._features(real[lo:hi]))
        else:
            feats = self._features(real)
        _write_cache_entry(path, {"key": key, "real_sha256": fingerprint, "features": feats,
                                  "features_sha256": _features_sha256(feats)})
        return feats, info

    # ------------------------------------------------------------------ scoring
    def score(
        self,
        fake: Tensor,
        real: Tensor,
        real_key: str,
        gather: Optional[Callable[[Tensor], Tensor]] = None,
        shard: Optional[tuple[int, int]] = None,
        prdc: bool = False,
    ) -> dict[str, float]:
        """FID (and KID, and with ``prdc`` precision, recall, density and coverage) of ``fake`` against ``real``.

        Args:
            fake: ``[N, C, H, W]`` generated images, floats in ``[-1, 1]`` (with ``gather``: this process's
                share of them).
            real: ``[M, C, H, W]`` real images, same ``C, H, W``; its features come from the cache when
                ``(real_key, M, extractor)`` was scored before (``real`` is then only fingerprinted).
            real_key: A name for the real set, e.g. ``"cifar10-train-32"``; one name, one image set.
            gather: Several processes: maps this process's ``[n_r, D]`` fake features to every process's,
                concatenated in rank order (:func:`ganmods.strategies.gather_rows`). Each process then
                extracts only its share, and every process computes the statistics of exactly the ``N``
                images (no padding, no duplicates).
            shard: With ``gather``: ``(rank, world_size)`` of this process. On a cache miss each process then
                extracts only its share of ``real`` (:func:`ganmods.strategies.shard_bounds`) and the shares
                are gathered. The processes agree on hit or miss first, so all of them call the same
                collectives.
            prdc: Also compute ``precision``, ``recall`` (k = 3), ``density`` and ``coverage`` (k = 5) of the
                fake features against the real ones (:func:`~ganmods.metrics.prdc.prdc`, float64, on ``device``).

        Returns:
            ``{"fid_<n>": …}`` plus, with ``kid``, ``"kid_<n>"`` and ``"kid_<n>_std"``, where ``<n>`` is
            :func:`count_label` of ``N``; plus, with ``prdc``, the four PRDC values (in :meth:`spec`'s order).

        Raises:
            ConfigurationError: For a wrong shape, dtype or channel count, non-finite values, fewer
                images than ``kid_subset_size`` (or, with ``prdc``, than 6 real and 4 fake), an empty
                ``real_key``, or a ``real_key`` whose cache entry was made from other images.

        Warns:
            UserWarning: Once per call when ``N`` or ``M`` is below 2048 (Inception) or the feature
            dimension (other extractors): the covariance is then rank-deficient and FID biased upward.
        """
        self._check_images("fake", fake)
        self._check_images("real", real)
        if fake.shape[1:] != real.shape[1:]:
            raise invalid("fake", f"images of real's shape {tuple(real.shape[1:])}", tuple(fake.shape[1:]))
        if not isinstance(real_key, str) or not real_key.strip():
            raise invalid("real_key", "a non-empty string", real_key)
        if not isinstance(prdc, bool):
            raise invalid("prdc", "true or false", prdc)
        n_real = real.shape[0]
        # the fake count is known here on one process; with `gather`, only after the gather below
        self._check_kid_count(n_real if gather is not None else min(n_real, fake.shape[0]))
        if prdc:
            check_prdc_counts(n_real, n_real if gather is not None else fake.shape[0], name="the image counts")

        real_feats, cache_info = self._real_features(real, real_key, gather, shard)
        fake_feats = self._features(fake)
        if gather is not None:
            fake_feats = gather(fake_feats)
            self._check_kid_count(min(n_real, fake_feats.shape[0]))
            if prdc:
                check_prdc_counts(n_real, fake_feats.shape[0], name="the image counts")
        n_fake = fake_feats.shape[0]
        dim = real_feats.shape[1]
        if fake_feats.shape[1] != dim:
            raise invalid("extractor output", f"{dim}-d features for every input", fake_feats.shape[1])
        floor = self._min_samples or dim
        if min(n_fake, n_real) < floor:
            warnings.warn(
                f"FID/KID from {n_fake} generated and {n_real} real images: below {floor} samples the {dim}-d "
                "feature covariance is rank-deficient and FID is biased upward; compare only values with equal "
                "sample counts (they are in the metric names).", UserWarning, stacklevel=2,
            )
        results = self._compute(fake_feats, real_feats, count_label(n_fake))
        if prdc:
            results.update(prdc_of(real_feats.to(self.device), fake_feats.to(self.device), PRDC_K_PR, PRDC_K_DC))
        self._provenance.update(
            feature_dim=dim, real_key=real_key, n_real=n_real, n_fake=n_fake, real_cache=cache_info, results=results,
            prdc={"k_pr": PRDC_K_PR, "k_dc": PRDC_K_DC, "dtype": "float64"} if prdc else None,
        )
        return results

    def _check_kid_count(self, n: int) -> None:
        if self.kid and n < self.kid_subset_size:
            raise invalid("kid_subset_size", f"<= the smaller image count ({n}), or kid=False", self.kid_subset_size)

    def _compute(self, fake_feats: Tensor, real_feats: Tensor, label: str) -> dict[str, float]:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        dim = real_feats.shape[1]
        fake64, real64 = fake_feats.double().to(self.device), real_feats.double().to(self.device)
        # the features are already complete on this process (see `gather`): no torchmetrics sync, which would
        # be a collective (and would count every sample once per process)
        fid = FrechetInceptionDistance(feature=_Precomputed(dim), sync_on_compute=False).to(self.device)
        fid.update(real64, real=True)
        fid.update(fake64, real=False)
        results = {f"fid_{label}": float(fid.compute())}
        if self.kid:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
                kid = KernelInceptionDistance(
                    feature=_Precomputed(dim), subsets=KID_SUBSETS, subset_size=self.kid_subset_size,
                    sync_on_compute=False,
                ).to(self.device)
            kid.update(real64, real=True)
            kid.update(fake64, real=False)
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(KID_SEED)
                kid_mean, kid_std = kid.compute()
            results[f"kid_{label}"] = float(kid_mean)
            results[f"kid_{label}_std"] = float(kid_std)
        return results



# ---------------------------------------------------------------------- the real-features cache on disk
# Cache folders already reported as unwritable (warned once per process and folder).
_UNWRITABLE: set[str] = set()


def _features_sha256(features: Tensor) -> str:
    """Checksum of a features tensor's values (float32, C order) stored with each cache entry."""
    return hashlib.sha256(features.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()


def _read_cache_entry(path: Path, key: str, n_real: int) -> Optional[dict[str, Any]]:
    """The valid cache entry at ``path``, or None (missing; or invalid, with a warning naming the file).

    Valid: readable by ``torch.load``, a dict holding ``key``, a ``real_sha256`` string, ``[n_real, D]``
    float ``features`` that are all finite, and, when stored, a ``features_sha256`` that matches them.
    """
    if not path.is_file():
        return None
    reason = None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated, garbage or unreadable: any failure means "not cached"
        entry, reason = None, f"unreadable ({type(err).__name__}; truncated or corrupt?)"
    if reason is None:
        feats = entry.get("features") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("real_sha256"), str):
            reason = "not a ganmods cache entry"
        elif entry.get("key") != key:
            reason = "an entry for another key"
        elif not (isinstance(feats, Tensor) and feats.is_floating_point() and feats.dim() == 2
                  and feats.shape[0] == n_real and feats.shape[1] > 0):
            shape = list(feats.shape) if isinstance(feats, Tensor) else type(feats).__name__
            reason = f"holding features of the wrong shape or type ({shape}, expected [{n_real}, D] floats)"
        elif not bool(torch.isfinite(feats).all()):
            reason = "holding non-finite (NaN or inf) features"
        elif "features_sha256" in entry and entry["features_sha256"] != _features_sha256(feats):
            reason = "failing its checksum"
    if reason is not None:
        warnings.warn(f"ganmods: metric cache file {path} is {reason}; recomputing the real features and "
                      "replacing it.", stacklevel=4)
        return None
    return entry


def _write_cache_entry(path: Path, entry: dict[str, Any]) -> None:
    """Write a cache entry atomically; an unwritable cache folder means "don't cache" (warned once)."""
    from ganmods.checkpoint_io import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # every process writes the same entry, atomically
        with atomic_write(path, "wb", what="metric cache file") as f:
            torch.save(entry, f)
    except OSError as err:
        folder = str(path.parent)
        if folder not in _UNWRITABLE:
            _UNWRITABLE.add(folder)
            why = os.strerror(err.errno) if err.errno else str(err)
            warnings.warn(f"ganmods: metric cache folder {folder} is not writable ({why}); real features are "
                          "not cached and will be computed again next time.", stacklevel=4)
