"""The image history of CycleGAN's critics (Shrivastava et al. 2017, used by Zhu et al. 2017).

The critics are updated with a history of generated images rather than only the latest ones, which damps
oscillation. The rule of the paper's reference code (``ImagePool``), applied to each image of a batch in
order:

* while fewer than ``size`` images are stored: store the new image and return it;
* once full: with probability 1/2 return a stored image picked uniformly and store the new one in its place;
  otherwise return the new image.

Randomness: each :meth:`ImageHistory.query` of ``n`` images draws ``n`` uniforms ``u`` and then ``n`` slot
indices ``j`` (always both, full or not) from the CPU random generator; image ``i`` is swapped when
``u[i] > 0.5``, with slot ``j[i]``. Inside :class:`~ganmods.GANModule`'s training step that generator is
the step's own stream (reseeded from (seed, rank, critic step)), so a run and its resumption from a checkpoint
draw the same numbers; the stored images are saved in the checkpoint (:meth:`ImageHistory.state_dict`).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, check_positive_int, invalid

__all__ = ["ImageHistory"]


class ImageHistory:
    """A history of up to ``size`` generated images (the rule is in :mod:`ganmods.history`).

    A plain object, not an ``nn.Module``: its images are not parameters or buffers of the model (they would
    change the state dict's shapes while filling); the module that owns it saves :meth:`state_dict` in its
    checkpoints.

    Args:
        size: Images kept (the paper: 50); 0 turns the history off (:meth:`query` returns its input).

    Raises:
        ConfigurationError: If ``size`` is not an integer >= 0.

    Example:
        >>> history = ImageHistory(size=2)
        >>> history.query(torch.ones(3, 1, 2, 2), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([3, 1, 2, 2])
        >>> len(history)
        2
    """

    def __init__(self, size: int = 50) -> None:
        self.size = check_positive_int("size", size, 0)
        self._images: Optional[Tensor] = None  # [stored, C, H, W]

    def __len__(self) -> int:
        """The number of images stored."""
        return 0 if self._images is None else int(self._images.shape[0])

    @property
    def images(self) -> Optional[Tensor]:
        """The stored images ``[len(self), C, H, W]`` (None before the first query)."""
        return self._images

    def query(self, images: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        """Store ``images`` by the history rule and return what the critic should see in their place.

        Args:
            images: Generated images ``[n, ...]`` (detached: the history keeps them).
            generator: A CPU random generator (``None``: the global one, the training step's stream).

        Returns:
            ``[n, ...]``: row ``i`` is ``images[i]`` or a stored image it replaced.

        Raises:
            ConfigurationError: If ``images`` has no batch dimension or its per-image shape differs from the
                stored images'.
        """
        if not isinstance(images, Tensor) or images.dim() < 1:
            raise invalid("images", "a tensor [n, ...] of generated images", type(images).__name__)
        if self.size == 0 or images.shape[0] == 0:
            return images
        images = images.detach()
        n = int(images.shape[0])
        stored = self._images
        if stored is None:
            stored = images.new_empty((0, *images.shape[1:]))
        elif stored.shape[1:] != images.shape[1:]:
            raise ConfigurationError(f"images must have the shape of the stored ones, {list(stored.shape[1:])} per "
                                     f"image; got {list(images.shape[1:])}.")
        stored = stored.to(images.device)
        u = torch.rand(n, generator=generator).tolist()
        j = torch.randint(self.size, (n,), generator=generator).tolist()
        # indices into bank = [stored images, new images]: what each slot holds and what each row returns
        held = len(stored)
        slots = list(range(held))
        out = list(range(held, held + n))
        for i in range(n):
            if len(slots) < self.size:
                slots.append(held + i)
            elif u[i] > 0.5:
                out[i], slots[j[i]] = slots[j[i]], held + i
        bank = torch.cat([stored, images])
        index = torch.tensor(slots + out, device=images.device)
        picked = bank.index_select(0, index)
        self._images = picked[: len(slots)].clone()
        return picked[len(slots):]

    def state_dict(self) -> dict[str, Any]:
        """The stored images as checkpointable data.

        Returns:
            ``{"size": size, "images": [k, ...] tensor or None}``.
        """
        return {"size": self.size, "images": self._images}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Args:
            state: ``{"size", "images"}``.

        Raises:
            ConfigurationError: If ``state`` is not such a record, or was saved with another ``size`` or holds
                more images than ``size``.
        """
        if not isinstance(state, dict) or "size" not in state or "images" not in state:
            raise invalid("state", "a record {'size', 'images'} from ImageHistory.state_dict()", state)
        if state["size"] != self.size:
            raise invalid("state", f"a history of size {self.size}", f"a history of size {state['size']}")
        images = state["images"]
        if images is not None and (not isinstance(images, Tensor) or images.shape[0] > self.size):
            got = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise invalid("state['images']", f"None or a tensor of at most {self.size} images", got)
        self._images = images
