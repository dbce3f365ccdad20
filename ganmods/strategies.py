"""Data-parallel training for GANs without ``find_unused_parameters``.

Lightning's ``"ddp"`` wraps the whole LightningModule in one ``DistributedDataParallel``. A GAN's critic
step leaves the generator's parameters without gradients (and the generator step the frozen critic's), so
plain ``"ddp"`` fails and ``"ddp_find_unused_parameters_true"`` walks the autograd graph after every
backward to find them; it also all-reduces both networks' gradients (zeros included) every backward.

:class:`GANDDPStrategy` (registered as ``"gan_ddp"``) keeps Lightning's DDP process set-up, launcher,
samplers, ``reduce`` and ``barrier``, but wraps nothing. It

* broadcasts all parameters and buffers from rank 0 once when fitting starts (as DDP does at wrap time);
* broadcasts the module's buffers from rank 0 before every training step (as DDP's ``broadcast_buffers``
  does before every forward: BatchNorm statistics, spectral-norm vectors);
* averages the gradients of exactly the parameters an optimizer is about to step, in flat buckets, after
  the backward and before gradient unscaling, clipping and ``on_before_optimizer_step``.

Every rank steps the same optimizers in the same order (the GAN loop is identical on every rank), so every
collective is reached by every rank. A parameter whose gradient is ``None`` on some ranks counts as a zero
gradient there (as with ``find_unused_parameters``); one without a gradient on every rank keeps ``None``.
Because the full local gradient is computed before averaging, second-order terms such as the gradient
penalty's double backward are averaged like any other gradient.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Iterable, Literal, Optional, Union

import lightning.pytorch as pl
import torch
import torch.distributed as dist
from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from torch import Tensor, nn
from torch.optim import Optimizer

from ganmods.errors import ConfigurationError, invalid

__all__ = ["GANDDPStrategy", "average_gradients", "broadcast_tensors", "gather_rows", "shard_bounds"]

_MIB = 1024 * 1024


def _buckets(tensors: list[Tensor], cap_bytes: int) -> list[list[int]]:
    """Indices of ``tensors`` grouped into buckets of one device and dtype, each at most ``cap_bytes``
    (a single larger tensor gets a bucket of its own). Order is kept, so every rank builds the same."""
    out: list[list[int]] = []
    open_: dict[tuple[torch.device, torch.dtype], tuple[list[int], int]] = {}
    for i, t in enumerate(tensors):
        key = (t.device, t.dtype)
        size = t.numel() * t.element_size()
        idx, used = open_.get(key, ([], 0))
        if idx and used + size > cap_bytes:
            out.append(idx)
            idx, used = [], 0
        idx.append(i)
        open_[key] = (idx, used + size)
    out.extend(idx for idx, _ in open_.values() if idx)
    return out


@torch.no_grad()
def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``n`` that process ``rank`` of ``world_size`` handles: contiguous, in rank order,
    sizes differing by at most one, together exactly ``range(n)``.

    Args:
        n: Number of rows.
        rank: This process's rank, ``0 <= rank < world_size``.
        world_size: Number of processes (>= 1).

    Returns:
        ``(lo, hi)``.

    Raises:
        ConfigurationError: If ``world_size < 1`` or ``rank`` is outside ``[0, world_size)``.

    Example:
        >>> [shard_bounds(10, r, 3) for r in range(3)]
        [(0, 3), (3, 6), (6, 10)]
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise invalid("rank", f"in [0, {world_size}) with world_size >= 1", rank)
    return n * rank // world_size, n * (rank + 1) // world_size


def gather_rows(rows: Tensor, strategy: Any) -> Tensor:
    """Concatenate every process's rows in rank order; the row counts may differ between processes.

    Sizes are exchanged first, each process's rows are padded to the largest count for the collective and
    the padding is cut off again, so the result holds each row exactly once. Every process must call this.

    Args:
        rows: This process's ``[n_r, ...]`` tensor (same trailing shape and dtype on every process).
        strategy: The Lightning strategy (its ``all_gather``, ``world_size`` and ``root_device`` are used).

    Returns:
        ``[sum of n_r, ...]`` on ``rows``' device.
    """
    world = int(getattr(strategy, "world_size", 1))
    if world == 1:
        return rows
    device = strategy.root_device  # NCCL gathers device tensors only
    sizes = strategy.all_gather(torch.tensor([rows.shape[0]], device=device)).reshape(-1).tolist()
    padded = torch.zeros((max(sizes), *rows.shape[1:]), dtype=rows.dtype, device=device)
    padded[: rows.shape[0]] = rows.to(device)
    every = strategy.all_gather(padded)  # [world, max(sizes), ...]
    return torch.cat([every[r, : sizes[r]] for r in range(world)]).to(rows.device)


def broadcast_tensors(tensors: Iterable[Tensor], src: int = 0, bucket_cap_mb: float = 25.0) -> None:
    """Overwrite ``tensors`` in place with rank ``src``'s values (one broadcast per bucket).

    Args:
        tensors: Tensors in the same order on every rank (parameters, buffers).
        src: The rank whose values win.
        bucket_cap_mb: Largest flat buffer to broadcast at once, in MiB.

    Raises:
        ConfigurationError: If ``torch.distributed`` is not initialised.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise ConfigurationError("broadcast_tensors needs an initialised torch.distributed process group; got none.")
    tensors = list(tensors)
    for bucket in _buckets(tensors, int(bucket_cap_mb * _MIB)):
        parts = [tensors[i] for i in bucket]
        flat = torch.cat([t.detach().reshape(-1) for t in parts])
        dist.broadcast(flat, src)
        for t, chunk in zip(parts, flat.split([t.numel() for t in parts])):
            t.copy_(chunk.view_as(t))


@torch.no_grad()
def average_gradients(params: Iterable[nn.Parameter], bucket_cap_mb: float = 25.0) -> None:
    """Replace every parameter's gradient by its mean over all ranks (one all-reduce per bucket).

    A ``None`` gradient counts as zero; after averaging, a parameter gets a gradient if any rank had one
    and keeps ``None`` if none had. Every rank must call this with the same parameters in the same order.

    Args:
        params: The parameters (typically one optimizer's).
        bucket_cap_mb: Largest flat buffer to reduce at once, in MiB.

    Raises:
        ConfigurationError: If ``torch.distributed`` is not initialised, or a gradient is sparse.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise ConfigurationError("average_gradients needs an initialised torch.distributed process group; got none.")
    world = dist.get_world_size()
    params = list(params)
    if world == 1 or not params:
        return
    for p in params:
        if p.grad is not None and p.grad.is_sparse:
            raise ConfigurationError(
                f"gradients must be dense for GANDDPStrategy; got a sparse gradient of shape {tuple(p.shape)}."
            )
    for bucket in _buckets(params, int(bucket_cap_mb * _MIB)):
        parts = [params[i] for i in bucket]
        # one flag per parameter rides along: after the sum, > 0 means some rank had a gradient
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in parts]
            + [torch.tensor([float(p.grad is not None) for p in parts], device=parts[0].device, dtype=parts[0].dtype)]
        )
        dist.all_reduce(flat)
        sizes = [p.numel() for p in parts]
        *chunks, flags = flat.split(sizes + [len(parts)])
        # the flags are only read (a device sync) when this rank lacks some gradient
        used = flags.tolist() if any(p.grad is None for p in parts) else [1.0] * len(parts)
        for p, chunk, flag in zip(parts, chunks, used):
            if flag <= 0:
                continue
            avg = chunk.view_as(p).div_(world)
            if p.grad is None:
                p.grad = avg.clone()
            else:
                p.grad.copy_(avg)


class GANDDPStrategy(DDPStrategy):
    """DDP for two-network training: gradients averaged per optimizer step, no DDP wrapper, no
    ``find_unused_parameters`` (see the module docstring).

    Use ``Trainer(strategy="gan_ddp")`` (after ``import ganmods.strategies``), ``Trainer(strategy=GANDDPStrategy())``,
    or in YAML ``trainer: {strategy: {class_path: ganmods.strategies.GANDDPStrategy}}``.

    Args:
        bucket_cap_mb: Largest flat buffer per all-reduce / broadcast, in MiB (> 0).
        broadcast_buffers: Broadcast the module's buffers from rank 0 before every training step.
        accelerator: See :class:`~lightning.pytorch.strategies.DDPStrategy` (set by the Trainer).
        parallel_devices: Likewise.
        cluster_environment: Likewise.
        checkpoint_io: Likewise.
        precision_plugin: Likewise.
        process_group_backend: ``"gloo"``, ``"nccl"``, ... (default: chosen for the device).
        timeout: Timeout of collectives.
        start_method: How processes start: ``"popen"`` (as ``"ddp"``), ``"spawn"``, ``"fork"``,
            ``"forkserver"``.

    Options of the ``DistributedDataParallel`` wrapper and its hooks (``find_unused_parameters``,
    ``static_graph``, communication hooks, model averaging) do not apply: nothing is wrapped.

    Raises:
        ConfigurationError: On a non-positive ``bucket_cap_mb`` or a non-bool ``broadcast_buffers``.
    """

    def __init__(
        self,
        bucket_cap_mb: float = 25.0,
        broadcast_buffers: bool = True,
        accelerator: Optional[Any] = None,
        parallel_devices: Optional[list[torch.device]] = None,
        cluster_environment: Optional[Any] = None,
        checkpoint_io: Optional[Any] = None,
        precision_plugin: Optional[Any] = None,
        process_group_backend: Optional[str] = None,
        timeout: Optional[timedelta] = default_pg_timeout,
        start_method: Literal["popen", "spawn", "fork", "forkserver"] = "popen",
    ) -> None:
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise invalid("bucket_cap_mb", "a number > 0", bucket_cap_mb)
        if not isinstance(broadcast_buffers, bool):
            raise invalid("broadcast_buffers", "true or false", broadcast_buffers)
        super().__init__(
            accelerator=accelerator, parallel_devices=parallel_devices, cluster_environment=cluster_environment,
            checkpoint_io=checkpoint_io, precision_plugin=precision_plugin,
            process_group_backend=process_group_backend, timeout=timeout, start_method=start_method,
        )
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.broadcast_buffers = broadcast_buffers

    def configure_ddp(self) -> None:
        """Instead of wrapping: make every rank start from rank 0's parameters and buffers."""
        assert self.model is not None
        if self.world_size > 1:
            tensors = list(self.model.parameters()) + list(self.model.buffers())
            broadcast_tensors([t.data for t in tensors], 0, self.bucket_cap_mb)

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        """Broadcast buffers from rank 0 (if enabled), then run the module's training step.

        Args:
            *args: Passed to ``training_step``.
            **kwargs: Passed to ``training_step``.

        Returns:
            What the module's ``training_step`` returns.
        """
        if self.broadcast_buffers and self.world_size > 1:
            assert self.model is not None
            buffers = list(self.model.buffers())
            if buffers:
                broadcast_tensors(buffers, 0, self.bucket_cap_mb)
        return super().training_step(*args, **kwargs)

    def optimizer_step(
        self,
        optimizer: Optimizer,
        closure: Callable[[], Any],
        model: Optional[Union[pl.LightningModule, nn.Module]] = None,
        **kwargs: Any,
    ) -> Any:
        """Average this optimizer's gradients over the ranks right after ``closure``, then step.

        Args:
            optimizer: The optimizer about to step.
            closure: The closure (a no-op under manual optimization; forward and backward otherwise).
            model: The LightningModule (default: this strategy's).
            **kwargs: Passed to ``optimizer.step``.

        Returns:
            What the precision plugin's ``optimizer_step`` returns.
        """
        params = [p for group in optimizer.param_groups for p in group["params"]]

        def closure_then_average() -> Any:
            result = closure()
            if self.world_size > 1:
                average_gradients(params, self.bucket_cap_mb)
            return result

        return super().optimizer_step(optimizer, closure_then_average, model, **kwargs)

    @classmethod
    def register_strategies(cls, strategy_registry: Any) -> None:
        """Register ``"gan_ddp"`` (processes started as subprocesses, like ``"ddp"``).

        Args:
            strategy_registry: Lightning's strategy registry.
        """
        if "gan_ddp" not in strategy_registry:
            strategy_registry.register(
                "gan_ddp", cls, description="DDP for GANs: per-optimizer gradient averaging, no find_unused_parameters"
            )


GANDDPStrategy.register_strategies(StrategyRegistry)
