"""Feature extractors for FID/KID: torch-fidelity's InceptionV3 (with a clear error offline), the shipped
digit classifier, or any module; each with the sha256 of its weights for the provenance record."""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Optional, Union

import torch
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, invalid

__all__ = ["build_extractor"]


def _sha256_file(path: Union[str, os.PathLike]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_state(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        value = value.detach().cpu().contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _load_inception(weights_path: Optional[str]) -> tuple[nn.Module, str]:
    """torch-fidelity's InceptionV3 (pool features) and the sha256 of its weights file."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

    try:
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=weights_path)
    except OSError as exc:  # URLError, HTTPError and socket errors are OSErrors
        if weights_path is not None:
            raise invalid("weights_path", "a readable weights file", weights_path) from exc
        raise ConfigurationError(
            "extractor='inception' needs torch-fidelity's InceptionV3 weights and downloading them failed "
            f"({type(exc).__name__}: {exc}); pass weights_path=<a local copy of torch-fidelity's "
            f"pt_inception-2015-12-05 weights file, {URL_INCEPTION_V3.rsplit('/', 1)[-1]}>."
        ) from exc
    except Exception as exc:
        if weights_path is None:
            raise
        raise ConfigurationError(
            "weights_path must be a state dict of torch-fidelity's InceptionV3 (pt_inception-2015-12-05); "
            f"got {weights_path!r} ({type(exc).__name__}: {str(exc)[:200]})."
        ) from exc
    if weights_path is None:
        weights_path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(URL_INCEPTION_V3))
    sha = _sha256_file(weights_path) if os.path.isfile(weights_path) else _sha256_state(net)
    return net, sha


def build_extractor(
    extractor: Union[str, nn.Module], weights_path: Optional[str]
) -> tuple[nn.Module, Callable[[Tensor], Tensor], str, str, str, str, Optional[int]]:
    """Load a feature extractor.

    Args:
        extractor: ``"inception"``, ``"digits"``, ``"mnist5k"`` or a module mapping images to features.
        weights_path: A local weights file (``inception``/``digits``), or None for the default.

    Returns:
        The network, its feature function, the sha256 of its weights, its name, the feature layer, the
        resize method and the smallest sample count worth scoring (None for a custom module).

    Raises:
        ConfigurationError: When the weights cannot be downloaded or read (naming ``weights_path``).
    """
    if extractor == "inception":
        net, sha = _load_inception(weights_path)
        resize = "torch-fidelity interpolate_bilinear_2d_like_tensorflow1x to 299x299, no antialias"
        return net, lambda u: net(u)[0], sha, "torch-fidelity inception-v3-compat", "2048 (pool3)", resize, 2048
    from ganmods.metrics.digits import CLASSIFIER_WEIGHTS, DIGIT_WORKING_SIZE, load_digit_classifier

    if isinstance(extractor, str) and extractor in CLASSIFIER_WEIGHTS:
        path = weights_path or CLASSIFIER_WEIGHTS[extractor]
        net = load_digit_classifier(path)
        sha = _sha256_file(path)
        size = DIGIT_WORKING_SIZE
        resize = f"bilinear to {size}x{size}, align_corners=False, antialias when shrinking"
        name = "ganmods DigitClassifier" if extractor == "digits" else f"ganmods DigitClassifier ({extractor})"
        return net, net.features, sha, name, f"{net.feature_dim} (penultimate)", resize, net.feature_dim
    net = extractor.eval().requires_grad_(False)
    name = f"custom {type(net).__module__}.{type(net).__qualname__}"
    return net, net, _sha256_state(net), name, "output", "none (the extractor's own)", None
