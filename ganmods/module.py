"""GANModule: the one manual-optimization GAN training loop, in one class.

One Lightning batch is one critic step on a fresh real batch (or, with ``steps_per_batch``, several); after
every ``n_critic``-th critic step comes one generator step. Losses and regularizers are pluggable objects;
variants (``SGAN``, ``WGAN``, ``WGANGP``, ``RaGAN``, ``FGAN``) only change the defaults of this class.

Reading order: construction (``__init__``), set-up and optimizers, the loop (``training_step`` ->
``critic_step`` -> ``generator_step``), reporting (``report``: the one logging call, with its listeners),
validation, sampling and prediction, checkpoints. The formulas the loop evaluates are in ``docs/theory.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, Optional, Union

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ganmods.data.splits import check_split, latent_seed
from ganmods.data.stream import CriticBatches
from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.finite import accumulate, first_nonfinite
from ganmods.game import Game
from ganmods.losses import AdversarialLoss, get_loss
from ganmods.metrics.protocol import EMPTY_SPEC, MetricSpec
from ganmods.precision import SkippedSteps, direct_backward_ok, grad_scaler_of
from ganmods.randomness import restore_rng, rng_record, seed_step
from ganmods.regularizers import GradientPenalty, Regularizer, WeightClipping
from ganmods.sampling import LATENT_DISTRIBUTIONS, batch_latents, draw_latents
from ganmods.spec import NotRecordable, Recorded, from_spec, import_class, to_spec

__all__ = ["ADAM_DCGAN", "COUNTERS", "GANModule", "LATENT_DISTRIBUTIONS", "MetricListener", "critic_logits"]

#: The loop counters: saved in every checkpoint and logged beside every reported value (``counters/<name>``).
COUNTERS = ("critic_steps", "generator_steps", "images_seen", "critic_steps_since_generator")
_LOGGED_COUNTERS = COUNTERS[:3]

#: Construction arguments that only training needs (``ganmods.load_checkpoint`` leaves them out).
TRAINING_ONLY = ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d")

#: The paper-default optimizer of GANModule, SGAN, RaGAN and FGAN (DCGAN's Adam): the default of ``optimizer_g`` and
#: ``optimizer_d``, as a ``{class_path, init_args}`` record, so the command line shows and saves it and one
#: ``--model.init_args.optimizer_d.init_args.lr X`` changes the rate and keeps the betas.
ADAM_DCGAN: dict[str, Any] = {"class_path": "torch.optim.Adam", "init_args": {"lr": 2e-4, "betas": [0.5, 0.999]}}

#: A listener gets every reported dict (name -> scalar tensor or number, the counters included) and the module;
#: it may return further values to report at the same step (or None).
MetricListener = Callable[[dict[str, Any], "GANModule"], Optional[Mapping[str, Any]]]


def critic_logits(out: Tensor) -> Tensor:
    """Critic output ``[B]`` or ``[B, 1]`` as ``[B]``.

    Args:
        out: The critic's raw output.

    Returns:
        The logits as ``[B]``.
    """
    return out.squeeze(-1) if out.dim() == 2 and out.shape[-1] == 1 else out


def _grad_norm(params: Iterable[nn.Parameter]) -> Tensor:
    grads = [p.grad.detach() for p in params if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).float() if grads else torch.tensor(0.0)


def _summed(outs: list[Any]) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
    """One regularizer's terms over the games of a step: the sum of the terms, the logs averaged over the games
    that gave them (one game: its own output unchanged)."""
    outs = [out for out in outs if out is not None]
    if not outs:
        return None
    if len(outs) == 1:
        return outs[0]
    term = torch.stack([out[0] for out in outs]).sum()
    keys = {k for out in outs for k in out[1]}
    logs = {k: torch.stack([out[1][k] for out in outs if k in out[1]]).mean() for k in keys}
    return term, logs


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and "class_path" in value


def _factory(name: str, value: Any) -> Any:
    """An optimizer or scheduler factory from a callable, or from a ``{class_path, init_args}`` record."""
    if value is None or callable(value):
        return value
    if not _is_spec(value):
        raise invalid(name, "a factory (callable), a {class_path, init_args} mapping, or null", value)
    cls, kwargs = import_class(value["class_path"]), dict(value.get("init_args") or {})
    return lambda first, cls=cls, kwargs=kwargs: cls(first, **kwargs)


def _cli_config() -> Optional[dict[str, Any]]:
    """The model's config (class specs of its arguments) while LightningCLI instantiates it, else None."""
    # Private seam, one line: LightningCLI hands the parsed model config to `save_hyperparameters` through
    # this context variable; it is the only record of a user's own classes given by `class_path`.
    # tests/test_checkpoint_loading.py fails if Lightning renames or removes it.
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters

    return _given_hyperparameters.get()


class GANModule(Recorded, pl.LightningModule):
    """A GAN trained by alternating critic and generator steps (manual optimization).

    Args:
        generator: Maps latents ``[B, latent_dim]`` to data ``[B, *data_shape]`` (a module, or its
            ``{class_path, init_args}`` record).
        discriminator: The critic; maps data to raw logits ``[B]`` or ``[B, 1]`` (a module or its record).
        loss: A name in :data:`ganmods.losses.LOSSES`, an :class:`~ganmods.losses.AdversarialLoss`, or its record.
        n_critic: Critic steps per generator step (>= 1).
        gp_weight: If set, add a gradient penalty with this λ (composes with any loss).
        gp_one_sided: Use the one-sided penalty ``max(0, ‖g‖ − 1)²``.
        clip: If set, clip every critic parameter into ``[-clip, clip]`` after every critic step.
        regularizers: Further :class:`~ganmods.regularizers.Regularizer` objects (or their records). A
            regularizer's ``every = k`` makes it lazy: its penalties are computed on every ``k``-th critic
            (generator) step only and weighted by ``k``.
        latent_dim: Size of ``z``; defaults to ``generator.latent_dim``.
        latent_distribution: ``"normal"`` or ``"uniform"`` (on [-1, 1]).
        optimizer_g: Optimizer factory for the generator, or its ``{class_path, init_args}`` record; the default
            is the variant's paper optimizer (:attr:`default_optimizer`, here :data:`ADAM_DCGAN`: Adam lr 2e-4,
            betas (0.5, 0.999)); ``None`` also means it.
        optimizer_d: Optimizer factory for the critic (same default).
        scheduler_g: LR scheduler factory for the generator, stepped after every generator step.
        scheduler_d: LR scheduler factory for the critic, stepped after every critic step.
        max_generator_steps: Training budget in generator steps; training stops when it is reached.
        ema_decay: If set, keep an exponential moving average of the generator (``AveragedModel``,
            buffers included) updated once per generator step; sampling and metrics use it. Its horizon in
            images depends on ``n_critic`` and the batch size; ``ema_half_life_images`` does not.
        ema_half_life_images: If set (instead of ``ema_decay``), keep the EMA with a half-life counted in real
            images shown to the critic (StyleGAN2-ADA's ``ema_kimg``): each generator step decays the average
            by ``0.5 ** (images / half_life)``, ``images`` being those shown since the previous generator step,
            so every variant averages over the same share of an images budget whatever its ``n_critic``.
        warmup_n_critic: If set, use this many critic steps per generator step during the first
            ``warmup_generator_steps`` generator steps and every ``warmup_every``-th one (the WGAN
            reference code uses 100, 25 and 500).
        warmup_generator_steps: See ``warmup_n_critic``.
        warmup_every: See ``warmup_n_critic`` (0: never after the initial warm-up).
        grad_norm_interval: Measure the G and D gradient norms every this many generator steps (0: never);
            the latest are logged with the training values.
        stop_on_nonfinite: Stop training when a loss, a penalty or a parameter is NaN or infinite. The check
            reads the device only when the trainer writes logs (``Trainer(log_every_n_steps)``) and when
            training ends, so no step waits for it; steps taken between the first non-finite value and the
            check are not undone, but no checkpoint of a non-finite state is ever written
            (:class:`~ganmods.callbacks.GANCheckpoint`), so ``last.ckpt`` holds the last finite state saved.

    Raises:
        ConfigurationError: On bad values (``n_critic < 1``, negative λ or clip, unknown loss, unknown
            latent distribution, BatchNorm in the critic together with a gradient penalty, ...).

    Logging: every value goes through :meth:`report` (``self.log``), on Lightning's step axis, when the trainer
    writes logs (every ``log_every_n_steps`` Lightning batches), with the counters ``counters/critic_steps``,
    ``counters/generator_steps`` and ``counters/images_seen`` beside it; wandb charts use
    ``counters/images_seen`` as their x-axis.

    Example:
        >>> from ganmods.nets import MLPCritic, MLPGenerator
        >>> model = GANModule(MLPGenerator(latent_dim=4), MLPCritic(), loss="wasserstein", gp_weight=10.0)
        >>> model.sample(3, seed=0).shape
        torch.Size([3, 2])
    """

    #: Paper-default optimizer of this variant as a ``{class_path, init_args}`` record: the signature's default
    #: of ``optimizer_g`` and ``optimizer_d``, and what ``None`` means.
    default_optimizer: ClassVar[dict[str, Any]] = ADAM_DCGAN

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: Union[str, AdversarialLoss] = "non_saturating",
        n_critic: int = 1,
        gp_weight: Optional[float] = None,
        gp_one_sided: bool = False,
        clip: Optional[float] = None,
        regularizers: Optional[list[Regularizer]] = None,
        latent_dim: Optional[int] = None,
        latent_distribution: str = "normal",
        optimizer_g: Optional[OptimizerCallable] = ADAM_DCGAN,  # type: ignore[assignment]
        optimizer_d: Optional[OptimizerCallable] = ADAM_DCGAN,  # type: ignore[assignment]
        scheduler_g: Optional[LRSchedulerCallable] = None,
        scheduler_d: Optional[LRSchedulerCallable] = None,
        max_generator_steps: Optional[int] = None,
        ema_decay: Optional[float] = None,
        ema_half_life_images: Optional[float] = None,
        warmup_n_critic: Optional[int] = None,
        warmup_generator_steps: int = 25,
        warmup_every: int = 500,
        grad_norm_interval: int = 100,
        stop_on_nonfinite: bool = True,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        generator = from_spec(generator) if _is_spec(generator) else generator
        discriminator = from_spec(discriminator) if _is_spec(discriminator) else discriminator
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, nn.Module):
                raise invalid(name, "a torch.nn.Module", type(net).__name__)
        self.generator = generator
        self.discriminator = discriminator
        self.loss = get_loss(from_spec(loss) if _is_spec(loss) else loss)
        self.n_critic = check_positive_int("n_critic", n_critic)
        self.regularizers: list[Regularizer] = []
        if gp_weight is not None:
            self.regularizers.append(GradientPenalty(weight=gp_weight, one_sided=gp_one_sided))
        if clip is not None:
            self.regularizers.append(WeightClipping(clip=clip))
        for reg in regularizers or []:
            reg = from_spec(reg) if _is_spec(reg) else reg
            if not isinstance(reg, Regularizer):
                raise invalid("regularizers", "a list of Regularizer objects", reg)
            self.regularizers.append(reg)
        self._check_no_batchnorm_with_penalty()

        own = getattr(generator, "latent_dim", None)
        if latent_dim is None:
            latent_dim = own
            if latent_dim is None:
                raise ConfigurationError(
                    "latent_dim must be given when the generator has no `latent_dim` attribute; got None."
                )
        elif own is not None and own != latent_dim:
            raise ConfigurationError(f"latent_dim must equal the generator's latent_dim ({own}); got {latent_dim!r}.")
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise invalid("latent_distribution", f"one of {list(LATENT_DISTRIBUTIONS)}", latent_distribution)
        self.latent_distribution = latent_distribution
        self.optimizer_g = _factory("optimizer_g", optimizer_g)
        self.optimizer_d = _factory("optimizer_d", optimizer_d)
        self.scheduler_g = _factory("scheduler_g", scheduler_g)
        self.scheduler_d = _factory("scheduler_d", scheduler_d)
        self.max_generator_steps = (
            None if max_generator_steps is None else check_positive_int("max_generator_steps", max_generator_steps)
        )
        if ema_decay is not None and (
            isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float)) or not 0.0 <= ema_decay < 1.0
        ):
            raise invalid("ema_decay", "a number in [0, 1) or null", ema_decay)
        if ema_half_life_images is not None and (
            isinstance(ema_half_life_images, bool) or not isinstance(ema_half_life_images, (int, float))
            or not 0.0 < ema_half_life_images < float("inf")
        ):
            raise invalid("ema_half_life_images", "a positive number of images or null", ema_half_life_images)
        if ema_decay is not None and ema_half_life_images is not None:
            raise ConfigurationError(
                "ema_decay and ema_half_life_images must not both be set (one EMA horizon: per generator step "
                f"or in images); got ema_decay={ema_decay!r}, ema_half_life_images={ema_half_life_images!r}."
            )
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_half_life_images = None if ema_half_life_images is None else float(ema_half_life_images)
        self.ema_generator: Optional[AveragedModel] = None
        if ema_decay is not None or ema_half_life_images is not None:
            decay = self.ema_decay if self.ema_decay is not None else 0.0  # with a half-life: set by update_ema
            self.ema_generator = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
            self.ema_generator.requires_grad_(False)
        self._raw_sampling = False
        self.warmup_n_critic = None if warmup_n_critic is None else check_positive_int("warmup_n_critic", warmup_n_critic)
        self.warmup_generator_steps = check_positive_int("warmup_generator_steps", warmup_generator_steps, 0)
        self.warmup_every = check_positive_int("warmup_every", warmup_every, 0)
        self.grad_norm_interval = check_positive_int("grad_norm_interval", grad_norm_interval, 0)
        if not isinstance(stop_on_nonfinite, bool):
            raise invalid("stop_on_nonfinite", "true or false", stop_on_nonfinite)
        self.stop_on_nonfinite = stop_on_nonfinite

        # loop state: the counters (checkpointed), what the last steps produced (logged when the trainer
        # writes logs), and the device-side non-finite flags (read at the same moments)
        self.critic_steps = 0
        self.generator_steps = 0
        self.images_seen = 0
        self.critic_steps_since_generator = 0
        #: Base seed of the step stream: ``torch.initial_seed()`` when fitting starts, or the checkpoint's.
        self.rng_seed: Optional[int] = None
        #: The message of the non-finite stop, when one happened.
        self.nonfinite_message: Optional[str] = None
        #: Optimizer steps a ``16-mixed`` gradient scaler skipped.
        self.skipped_steps = SkippedSteps()
        #: Listeners of :meth:`report` (see :meth:`add_listener`).
        self.listeners: list[MetricListener] = []
        self._latest: dict[str, Tensor] = {}
        self._nonfinite: dict[str, Tensor] = {}
        self._checked_at = 0
        self._logging_batch = True
        self._grad_scaler: Optional[Any] = None
        self._direct_backward = False
        self._val_stats: list[tuple[Tensor, Optional[Tensor]]] = []
        self._val_real_logits: list[Tensor] = []
        self.save_hyperparameters(self._construction_record())

    def _construction_record(self) -> dict[str, Any]:
        """The construction arguments as plain data, stored once as Lightning's hyperparameters: ganmods objects
        become ``{class_path, init_args}`` records; another object (a user's network, an optimizer factory) takes
        the command line's record when LightningCLI built the module, and is left out otherwise (then
        ``load_from_checkpoint`` needs it passed again)."""
        record = getattr(self, "_init_record", None)
        if record is None:
            return {}
        given = _cli_config() or {}
        out: dict[str, Any] = {}
        for key, value in record[1].items():
            try:
                out[key] = to_spec(value)
            except NotRecordable:
                if isinstance(given.get(key), dict):
                    out[key] = given[key]
        return out

    # ------------------------------------------------------------------ set-up
    def _check_no_batchnorm_with_penalty(self) -> None:
        if not any(r.per_sample_gradients for r in self.regularizers):
            return
        bn = [n for n, m in self.discriminator.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if bn:
            raise ConfigurationError(
                f"discriminator must not contain BatchNorm when a gradient penalty is used (it couples the "
                f"samples of a batch and breaks the per-sample penalty); allowed: no normalisation, layer, "
                f"instance or spectral normalisation; got BatchNorm at {bn[0]!r}."
            )

    @torch.no_grad()
    def check_networks(self, data_shape: Optional[tuple[int, ...]] = None) -> None:
        """Run the generator and the critic on a batch of 2 and check the shapes.

        Args:
            data_shape: Expected shape of one data point (without batch), or ``None`` to skip that check.

        Raises:
            ConfigurationError: On a shape mismatch (both shapes are named).
        """
        modes = (self.generator.training, self.discriminator.training)
        self.generator.eval()
        self.discriminator.eval()
        try:
            z = self.sample_latent(2)
            try:
                fake = self.generator(z)
            except RuntimeError as err:
                raise ConfigurationError(
                    f"generator must accept latents of shape [B, latent_dim] = {list(z.shape)}; got an error: "
                    f"{str(err).splitlines()[0]}"
                ) from None
            if data_shape is not None and tuple(fake.shape[1:]) != tuple(data_shape):
                raise ConfigurationError(
                    f"generator output shape must equal the data shape {tuple(data_shape)} (per sample); "
                    f"got {tuple(fake.shape[1:])} (full output {tuple(fake.shape)})."
                )
            for reg in self.regularizers:
                reg.check_input(tuple(fake.shape))
            try:
                out = self.discriminator(fake)
            except RuntimeError as err:
                raise ConfigurationError(
                    f"discriminator must accept the generator's output of shape {list(fake.shape)}; got an error: "
                    f"{str(err).splitlines()[0]}"
                ) from None
            if not (out.shape == (2,) or out.shape == (2, 1)):
                raise ConfigurationError(
                    f"discriminator output must have shape [B] or [B, 1]; got {list(out.shape)} for B = 2."
                )
        finally:
            self.generator.train(modes[0])
            self.discriminator.train(modes[1])

    def setup(self, stage: str) -> None:
        """Dry-run both networks once and check shapes against the data, before any training.

        Args:
            stage: Lightning stage (``"fit"``, ``"validate"``, ...).

        Raises:
            ConfigurationError: If the generator's output shape differs from the data shape, or the critic
                does not return ``[B]`` or ``[B, 1]``.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        self.check_networks(getattr(datamodule, "data_shape", None))

    def configure_optimizers(self) -> Any:
        """Build the generator and critic optimizers (and schedulers) from the factories or defaults.

        Returns:
            ``[opt_g, opt_d]`` or ``([opt_g, opt_d], [schedulers])``.
        """
        opts = []
        for factory, params in ((self.optimizer_g, self.generator_parameters()),
                                (self.optimizer_d, self.discriminator.parameters())):
            if factory is None:
                factory = _factory("default_optimizer", self.default_optimizer)
            opts.append(factory(params))
        scheds = [
            {"scheduler": f(opt), "interval": "step"} for f, opt in ((self.scheduler_g, opts[0]), (self.scheduler_d, opts[1])) if f
        ]
        return (opts, scheds) if scheds else opts

    def on_fit_start(self) -> None:
        """Fix the base seed of the step stream (``torch.initial_seed()``, as set by ``seed_everything``,
        unless a resumed checkpoint restored it), hand a ``16-mixed`` gradient scaler to the regularizers,
        and let wandb plot every value against ``counters/images_seen``."""
        if self.rng_seed is None:
            self.rng_seed = int(torch.initial_seed())
        self._grad_scaler = grad_scaler_of(self.trainer)
        for reg in self.regularizers:
            reg.use_scaler(self._grad_scaler)
        self._direct_backward = direct_backward_ok(self.trainer, self)
        self._checked_at = self.critic_steps
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                for counter in _LOGGED_COUNTERS:
                    logger.experiment.define_metric(f"counters/{counter}")
                for pattern in ("train/*", "val/*", "health/*", "final/*", "test/*", "final_raw/*", "test_raw/*"):
                    logger.experiment.define_metric(pattern, step_metric="counters/images_seen")

    def on_fit_end(self) -> None:
        """Back to ``manual_backward`` outside fitting."""
        self._direct_backward = False

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> Optional[int]:
        """Stop before any work once the budget is spent (e.g. when resuming a finished run).

        Args:
            batch: The batch about to be trained on.
            batch_idx: Its index in the epoch.

        Returns:
            ``-1`` (skip the rest of the epoch and stop) when ``max_generator_steps`` is reached, else None.
        """
        if self._budget_spent():
            self.trainer.should_stop = True
            return -1
        return None

    def on_train_end(self) -> None:
        """Check the last steps for non-finite values (they may not have reached a logging step)."""
        self._check_finite()

    # ------------------------------------------------------------------ the training loop
    def current_n_critic(self) -> int:
        """Critic steps required before the next generator step (``warmup_n_critic`` during warm-up).

        Returns:
            The number of critic steps.
        """
        g = self.generator_steps
        if self.warmup_n_critic is not None and (
            g < self.warmup_generator_steps or (self.warmup_every and g % self.warmup_every == 0)
        ):
            return self.warmup_n_critic
        return self.n_critic

    def _budget_spent(self) -> bool:
        return self.max_generator_steps is not None and self.generator_steps >= self.max_generator_steps

    def transform_data(self, x: Tensor) -> Tensor:
        """The regularizers' input transforms (instance noise, DiffAugment, ...) applied, in order, to a batch of
        data on its way to a critic. Families that build their own games (:meth:`critic_games`,
        :meth:`generator_games`) call it on every data batch a critic sees, real or generated.

        Args:
            x: A batch of data ``[B, *data_shape]``.

        Returns:
            The transformed batch (``x`` itself when no regularizer transforms inputs).
        """
        for reg in self.regularizers:
            x = reg.transform(x, self.generator_steps)
        return x

    def _backward(self, loss: Tensor) -> None:
        # `loss.backward()` is what `manual_backward` does when no precision plugin, strategy, profiler or
        # hook has anything to add (ganmods.precision.direct_backward_ok, decided once per fit)
        if self._direct_backward:
            loss.backward()
        else:
            self.manual_backward(loss)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        """One critic step per real batch in ``batch``, each followed by a generator step when ``n_critic``
        critic steps have passed; then report the latest values if the trainer writes logs after this batch.

        Args:
            batch: A real batch (a tensor, or a sequence whose first item is the tensor), or a
                :class:`~ganmods.data.CriticBatches` of the real batches of consecutive critic steps.
            batch_idx: Index of the batch in the epoch.
        """
        reals = batch.reals if isinstance(batch, CriticBatches) else [batch[0] if isinstance(batch, (list, tuple)) else batch]
        self._logging_batch = self._trainer_writes_logs()
        for real in reals:
            if self.trainer.should_stop or self._budget_spent():
                break  # the budget is reached (or a non-finite value stopped training) mid-group
            self.critic_step(real)
        if self._budget_spent():
            self.trainer.should_stop = True
        if self._logging_batch or self._trainer_writes_logs():
            self._check_finite()
            self._report_training()

    def _trainer_writes_logs(self) -> bool:
        """Whether Lightning sends the logged values to the loggers after this batch (its
        ``log_every_n_steps`` rule, on its own batch count), so values are logged exactly then."""
        trainer = self.trainer
        if trainer.fast_dev_run:
            return True
        if not trainer.log_every_n_steps:
            return trainer.should_stop
        return (trainer.fit_loop.epoch_loop.total_batch_idx + 1) % trainer.log_every_n_steps == 0 or trainer.should_stop

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        """The parameters the generator's optimizer trains (and whose gradient norm is logged).

        Returns:
            The generator's parameters; a subclass with more networks on the generator's side (BiGAN's
            encoder, CycleGAN's second generator) adds theirs.
        """
        return self.generator.parameters()

    def critic_games(self, real: Tensor) -> list[Game]:
        """The games of a critic step: each critic with its real and fake inputs, the fakes built without
        gradients. The loop sums the loss's critic terms and every regularizer's penalty over them.

        Args:
            real: The real batch of this critic step.

        Returns:
            One :class:`~ganmods.game.Game`: the critic on the (transformed) real batch against ``G(z)``.
        """
        with torch.no_grad():
            fake = self.generator(self.sample_latent(real.shape[0]))
        return [Game(self.discriminator, self.transform_data(real), self.transform_data(fake))]

    def generator_games(self, real: Tensor) -> tuple[list[Game], dict[str, Tensor]]:
        """The games of a generator step (fakes carrying the generator's graph) and further generator loss
        terms (already weighted; logged as ``train/<name>``), e.g. a cycle-consistency loss.

        Args:
            real: The real batch of the critic step just taken.

        Returns:
            ``(games, terms)``: here one game, ``G(z)`` against the real batch (transformed only when the loss
            reads real logits), and no further term.
        """
        z = self.sample_latent(real.shape[0])
        fake = self.generator(z)
        real_in = self.transform_data(real) if self.loss.needs_real_logits else real
        return [Game(self.discriminator, real_in, self.transform_data(fake), generated=fake, inputs=z)], {}

    def critic_step(self, real: Tensor) -> None:
        """One critic step on the real batch ``real``; then :meth:`generator_step` if ``n_critic`` critic
        steps have passed. Called by :meth:`training_step` once per real batch.

        Args:
            real: The real batch ``[B, *data_shape]``.
        """
        seed_step(self.rng_seed or 0, self.global_rank, self.critic_steps, self.device)
        opt_g, opt_d = self.optimizers()
        n = real.shape[0]
        grad_now = self.grad_norm_interval > 0 and (self.generator_steps + 1) % self.grad_norm_interval == 0

        games = self.critic_games(real)
        d_adv: Optional[Tensor] = None
        for game in games:
            real_logits = critic_logits(game.critic(game.real))
            fake_logits = critic_logits(game.critic(game.fake))
            term = self.loss.discriminator_loss(real_logits, fake_logits)
            d_adv = term if d_adv is None else d_adv + term
        assert d_adv is not None, "critic_games returned no game"
        watched = {"critic loss": d_adv}
        d_total = self._add_penalties(d_adv, watched, "penalty", self.critic_steps,
                                      lambda reg: _summed([reg.penalty(g.critic, g.real, g.fake) for g in games]))
        if self.stop_on_nonfinite:
            accumulate(self._nonfinite, watched)
        opt_d.zero_grad()
        self._backward(d_total)
        # the logged critic gradient norm is the one of the critic step just before the generator step
        last_critic_step = self.critic_steps_since_generator + 1 >= self.current_n_critic()
        self.skipped_steps.step(opt_d, self._grad_scaler, self.device)
        if grad_now and last_critic_step:  # after the step: averaged over ranks (gan_ddp), unscaled (16-mixed)
            self._latest["train/grad_norm_d"] = _grad_norm(self.discriminator.parameters())
        sched_g, sched_d = self._schedulers()
        if sched_d is not None:
            sched_d.step()
        for reg in self.regularizers:
            reg.after_critic_step(self.discriminator)
        self.critic_steps += 1
        self.images_seen += n * self.trainer.world_size
        self.critic_steps_since_generator += 1
        self._latest.update({"train/d_loss": d_total.detach(), "train/d_adv": d_adv.detach()})
        if self._logging_batch and len(games) == 1:  # a few operations: only when it will be logged
            div = self.loss.divergence(real_logits.detach(), fake_logits.detach(), d_adv.detach())
            if div is not None:
                self._latest[f"train/{self.loss.divergence_name}_estimate"] = div
        if last_critic_step:
            self.generator_step(real, n, opt_g, sched_g, grad_now)

    def generator_step(self, real: Tensor, n: int, opt_g: Any, sched_g: Any, grad_now: bool = False) -> None:
        """One generator step with the critic frozen (no gradients written into it); then the EMA update.

        Args:
            real: The real batch of the critic step just taken (relativistic losses compare against it, as the
                critic sees it after that step).
            n: Batch size of the fakes.
            opt_g: The generator's (Lightning) optimizer.
            sched_g: Its scheduler, or None.
            grad_now: Measure the generator's gradient norm after the step.
        """
        images = self.critic_steps_since_generator * n * self.trainer.world_size
        self.critic_steps_since_generator = 0
        critic_params = list(self.discriminator.parameters())
        for p in critic_params:
            p.requires_grad_(False)
        try:
            games, terms = self.generator_games(real)
            g_loss: Optional[Tensor] = None
            for game in games:
                fake_logits = critic_logits(game.critic(game.fake))
                real_logits = None
                if self.loss.needs_real_logits:
                    with torch.no_grad():
                        real_logits = critic_logits(game.critic(game.real))
                term = self.loss.generator_loss(fake_logits, real_logits)
                g_loss = term if g_loss is None else g_loss + term
            assert g_loss is not None, "generator_games returned no game"
            for name, term in terms.items():
                g_loss = g_loss + term
                self._latest[f"train/{name}"] = term.detach()
            watched = {"generator loss": g_loss}
            g_total = self._add_penalties(g_loss, watched, "generator penalty", self.generator_steps, lambda reg: _summed(
                [reg.generator_penalty(g.critic, g.generated, g.inputs) for g in games if g.generated is not None]))
            if self.stop_on_nonfinite:
                accumulate(self._nonfinite, watched)
            opt_g.zero_grad()
            self._backward(g_total)
            self.skipped_steps.step(opt_g, self._grad_scaler, self.device)
            if grad_now:
                self._latest["train/grad_norm_g"] = _grad_norm(self.generator_parameters())
        finally:
            for p in critic_params:
                p.requires_grad_(True)
        if sched_g is not None:
            sched_g.step()
        self.update_ema(images)
        self.generator_steps += 1
        self._latest["train/g_loss"] = g_loss.detach()

    def ema_beta(self, images: int) -> Optional[float]:
        """The EMA's decay for one update after ``images`` real images were shown to the critic.

        Args:
            images: Real images shown since the previous update (all ranks together).

        Returns:
            ``0.5 ** (images / ema_half_life_images)`` with a half-life in images, the fixed ``ema_decay``
            otherwise, ``None`` without EMA.
        """
        if self.ema_generator is None:
            return None
        if self.ema_half_life_images is None:
            return self.ema_decay
        return 0.5 ** (images / self.ema_half_life_images)

    def update_ema(self, images: int) -> None:
        """Fold the generator into its EMA (nothing without EMA); called after every generator step.

        Args:
            images: Real images shown to the critic since the previous update (sets the decay when the
                half-life is in images, see :meth:`ema_beta`).
        """
        if self.ema_generator is None:
            return
        if self.ema_half_life_images is not None:
            # the decay of this update: a public attribute of AveragedModel, read by update_parameters
            self.ema_generator.multi_avg_fn = get_ema_multi_avg_fn(self.ema_beta(images))
        self.ema_generator.update_parameters(self.generator)

    def _add_penalties(self, loss: Tensor, watched: dict[str, Tensor], label: str, step: int,
                       penalty_of: Callable[[Regularizer], Any]) -> Tensor:
        """``loss`` plus every due regularizer's term (lazy ones weighted by their interval ``every``); the terms
        join ``watched`` (the non-finite check) and their logs the latest training values."""
        for reg in self.regularizers:
            if not reg.due(step):
                continue
            out = penalty_of(reg)
            if out is not None:
                term, logs = out
                loss = loss + term * reg.every
                watched[f"{label} {reg.name}"] = term
                self._latest.update({f"train/{k}": v for k, v in logs.items()})
        return loss

    def _schedulers(self) -> tuple[Any, Any]:
        scheds = self.lr_schedulers()
        if scheds is None:
            return None, None
        scheds = list(scheds) if isinstance(scheds, list) else [scheds]
        out = [scheds.pop(0) if used is not None else None for used in (self.scheduler_g, self.scheduler_d)]
        return out[0], out[1]

    def _check_finite(self) -> None:
        """Read the non-finite flags (and the parameters) once; stop training, naming the quantity, if any is
        NaN or infinite. Under DDP every rank takes the decision together."""
        if not self.stop_on_nonfinite or self.nonfinite_message is not None:
            return
        named = dict(self._nonfinite)
        named.update({f"parameter {n}": p for n, p in self.named_parameters() if not n.startswith("ema_generator.")})
        bad = first_nonfinite(named)
        if self.trainer.world_size > 1:
            stop = self.trainer.strategy.reduce_boolean_decision(bad is not None, all=False)
            bad = bad if bad is not None else ("a value on another rank" if stop else None)
        since = self._checked_at
        self._checked_at = self.critic_steps
        if bad is None:
            return
        self.nonfinite_message = (
            f"non-finite {bad} between critic steps {since} and {self.critic_steps} (generator step "
            f"{self.generator_steps}): training stopped; the last checkpoint holds the last finite state saved."
        )
        rank_zero_warn(f"ganmods: {self.nonfinite_message}")
        self.trainer.should_stop = True

    # ------------------------------------------------------------------ reporting
    def add_listener(self, listener: MetricListener) -> None:
        """Subscribe ``listener`` to every :meth:`report` (monitors, recorders); it may return further values
        to report at the same step.

        Args:
            listener: ``listener(values, module) -> Optional[mapping]``.

        Raises:
            ConfigurationError: If ``listener`` is not callable.
        """
        if not callable(listener):
            raise invalid("listener", "a callable", listener)
        if listener not in self.listeners:
            self.listeners.append(listener)

    def remove_listener(self, listener: MetricListener) -> None:
        """Unsubscribe ``listener`` (no-op when it is not subscribed).

        Args:
            listener: A listener given to :meth:`add_listener`.
        """
        if listener in self.listeners:
            self.listeners.remove(listener)

    def counters(self) -> dict[str, int]:
        """The logged loop counters.

        Returns:
            ``{"counters/critic_steps", "counters/generator_steps", "counters/images_seen"}``.
        """
        return {f"counters/{k}": int(getattr(self, k)) for k in _LOGGED_COUNTERS}

    def report(self, values: Mapping[str, Any], prog_bar: Iterable[str] = ()) -> None:
        """The one logging call: log ``values`` and the counters through ``self.log`` (Lightning's step axis,
        every logger, ``trainer.callback_metrics``), then hand them to the listeners and report what they
        return. Call it only from hooks where Lightning allows ``self.log``.

        Args:
            values: Name -> scalar tensor or number.
            prog_bar: Names also shown in the progress bar.
        """
        merged: dict[str, Any] = {**values, **self.counters()}
        for listener in list(self.listeners):
            extra = listener(dict(merged), self)
            if extra:
                merged.update(extra)
        shown = set(prog_bar)
        on_step = self.trainer.training and not self.trainer.sanity_checking
        for key, value in merged.items():
            if isinstance(value, Tensor):
                value = value.detach().float()
            elif isinstance(value, int) and not isinstance(value, bool):
                value = torch.tensor(value, dtype=torch.float64)  # counters stay exact past 2**24
            else:
                value = float(value)
            self.log(key, value, on_step=on_step, on_epoch=not on_step, prog_bar=key in shown, batch_size=1)

    def _report_training(self) -> None:
        values = dict(self._latest)
        if self._grad_scaler is not None:
            values["train/skipped_steps"] = self.skipped_steps.total()
        # not in the progress bar: Lightning converts progress-bar values to numbers after every batch (a device
        # read per batch), whether or not a bar is shown
        self.report(values)

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        """Check the steps since the last check for non-finite values (a stop then skips this validation's
        checkpoint of a non-finite state anyway) and reset the held-out critic statistics."""
        if self.trainer.training or self.trainer.state.fn == "fit":
            if not self.trainer.sanity_checking:
                self._check_finite()
        self._val_stats = []
        self._val_real_logits = []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Critic statistics on held-out real data against fresh fakes.

        Args:
            batch: A held-out real batch.
            batch_idx: Index of the batch.
        """
        self._held_out_stats(batch, 10_000 + batch_idx)

    def _held_out_stats(self, batch: Any, seed: int) -> None:
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        fake = self.sample(real.shape[0], seed=seed)
        real_logits = critic_logits(self.discriminator(real))
        fake_logits = critic_logits(self.discriminator(fake))
        d_adv = self.loss.discriminator_loss(real_logits, fake_logits)
        self._val_stats.append((d_adv.detach(), self.loss.divergence(real_logits, fake_logits, d_adv)))
        self._val_real_logits.append(real_logits.detach().float())

    def on_validation_epoch_end(self) -> None:
        """Average the held-out critic statistics, evaluate the generator by the datamodule's protocol, and
        report the results (nothing during Lightning's sanity check)."""
        if self.trainer.sanity_checking:
            return
        metrics: dict[str, Any] = {}
        if self._val_stats:
            metrics["val/d_adv"] = torch.stack([s[0] for s in self._val_stats]).mean()
            divs = [s[1] for s in self._val_stats if s[1] is not None]
            if divs:
                metrics[f"val/{self.loss.divergence_name}_estimate"] = torch.stack(divs).mean()
        metrics.update(self._critic_gap())
        evaluate = getattr(self.trainer.datamodule, "evaluate", None)
        if callable(evaluate):
            metrics.update({f"val/{k}": float(v) for k, v in evaluate(self, split="val").items()})
            self._save_metric_provenance()
        self.report(metrics)

    # ------------------------------------------------------------------ test
    def on_test_epoch_start(self) -> None:
        """Reset the held-out critic statistics before ``trainer.test``."""
        self._val_stats = []
        self._val_real_logits = []

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Critic statistics on a held-out real batch against fresh fakes (as :meth:`validation_step`, with the
        test split's latents).

        Args:
            batch: A held-out real batch (the datamodule's ``test_dataloader``).
            batch_idx: Index of the batch.
        """
        # the fakes come from the test split's latents, so no generated point is shared with validation
        self._held_out_stats(batch, latent_seed(10_000 + batch_idx, "test"))

    def on_test_epoch_end(self) -> None:
        """Report the held-out critic statistics and the generator's score by the datamodule's protocol on its
        test reference (``evaluate(self, split="test")``, disjoint from the validation reference that anything
        selecting reads) under ``test/`` (Lightning prints them as the test results table)."""
        metrics: dict[str, Any] = {}
        if self._val_stats:
            metrics["test/d_adv"] = torch.stack([s[0] for s in self._val_stats]).mean()
            divs = [s[1] for s in self._val_stats if s[1] is not None]
            if divs:
                metrics[f"test/{self.loss.divergence_name}_estimate"] = torch.stack(divs).mean()
        evaluate = getattr(self.trainer.datamodule, "evaluate", None)
        if callable(evaluate):
            metrics.update({f"test/{k}": float(v) for k, v in evaluate(self, split="test").items()})
        self.report(metrics)

    def _save_metric_provenance(self) -> None:
        """Append how the image metric measured (extractor, weights hash, counts, split, resize) to
        ``<log_dir>/metric_provenance.jsonl``, one line per validation, beside the logged results."""
        metric = getattr(self.trainer.datamodule, "metric", None)
        log_dir = self.trainer.log_dir  # a collective under DDP: every rank asks
        record = getattr(metric, "provenance", None)
        if not self.trainer.is_global_zero or not log_dir or not isinstance(record, dict):
            return
        os.makedirs(log_dir, exist_ok=True)
        line = {"generator_steps": self.generator_steps, "images_seen": self.images_seen, **record}
        with open(os.path.join(log_dir, "metric_provenance.jsonl"), "a") as fh:
            fh.write(json.dumps(line, sort_keys=True, default=str) + "\n")

    @torch.no_grad()
    def _critic_gap(self) -> dict[str, Tensor]:
        """Critic overfitting check (WGAN-GP paper, §"meaningful loss curves"): the critic's mean output on
        training data minus its mean on held-out real data. Near 0 when the critic generalises; growing
        when it memorises the training set. Needs ``datamodule.train_reference(n)``."""
        reference = getattr(getattr(self.trainer, "datamodule", None), "train_reference", None)
        if not callable(reference) or not self._val_real_logits:
            return {}
        held = torch.cat(self._val_real_logits)
        train = reference(held.numel()).to(self.device)
        train_mean = torch.cat([critic_logits(self.discriminator(x)).float() for x in train.split(1024)]).mean()
        return {"val/critic_real_train": train_mean, "val/critic_real_heldout": held.mean(),
                "val/critic_gap": train_mean - held.mean()}

    # ------------------------------------------------------------------ sampling and prediction
    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw ``n`` latent vectors ``[n, latent_dim]`` on this module's device.

        Args:
            n: Number of latents.
            generator: Optional random generator (for fixed latents).

        Returns:
            The latents.
        """
        return draw_latents(n, self.latent_dim, self.latent_distribution, self.device, generator)

    def own_score_spec(self) -> MetricSpec:
        """Names and directions of :meth:`own_scores`: what this family scores beside the data module's protocol
        (a comparison ranks, selects and reports them like the protocol's metrics).

        Returns:
            An empty spec here; a family with more networks (a BiGAN's encoder) declares its scores.
        """
        return EMPTY_SPEC

    def own_scores(self, datamodule: Any, split: str) -> dict[str, float]:
        """What this family learns beside its generator, scored on one evaluation reference after training (a
        comparison calls it next to ``datamodule.evaluate``; inside :meth:`raw_sampling` on the trained networks).

        Args:
            datamodule: The run's data module.
            split: ``"val"`` or ``"test"`` (:mod:`ganmods.data.splits`).

        Returns:
            Name -> value, the names of :meth:`own_score_spec`; nothing here.

        Raises:
            ConfigurationError: If ``split`` is unknown.
        """
        check_split(split)
        return {}

    @torch.no_grad()
    def critic_score(self, x: Tensor) -> Tensor:
        """The critic's verdict on data points, in eval mode and without gradients: what plots draw over the
        plane (``ToyPlot``, a comparison's ``final.png``). A family whose critic judges more than ``x`` says here
        what it judges ``x`` with (a BiGAN: ``x`` with its code ``E(x)``).

        Args:
            x: Data ``[N, *data_shape]`` (on any device).

        Returns:
            The critic's output for each point, ``[N]`` or ``[N, 1]``, on this module's device.
        """
        critic = self.discriminator
        was_training = critic.training
        critic.eval()
        try:
            return critic(x.to(self.device))
        finally:
            critic.train(was_training)

    @torch.no_grad()
    def sample(
        self, n: int, seed: Optional[int] = None, batch_size: int = 4096, rows: Optional[tuple[int, int]] = None
    ) -> Tensor:
        """Generate ``n`` samples in data space, from the EMA generator when EMA is on.

        Args:
            n: Number of samples (>= 1).
            seed: If given, the latents are drawn from a generator seeded with it (same seed, same
                samples), leaving the global random state untouched.
            batch_size: Generate in chunks of this size.
            rows: If given, ``(lo, hi)``: generate only samples ``lo..hi-1`` of the ``n`` (all ``n`` latents are
                drawn, so the rows are the same as in the full set; used to split evaluation over processes).

        Returns:
            ``[n, *data_shape]`` tensor (``[n, 2]`` for the toy data; ``[n, C, H, W]`` in ``[-1, 1]`` for
            images), on this module's device.

        Raises:
            ConfigurationError: If ``n`` or ``batch_size`` is not a positive integer, or ``rows`` is not a
                non-empty range within ``n``.
        """
        check_positive_int("n", n)
        check_positive_int("batch_size", batch_size)
        if rows is not None:
            lo, hi = rows if isinstance(rows, (tuple, list)) and len(rows) == 2 else (None, None)
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi <= n):
                raise invalid("rows", f"(lo, hi) with 0 <= lo < hi <= n = {n}", rows)
        net = self.sampling_generator()
        rng = None if seed is None else torch.Generator(device=self.device).manual_seed(int(seed))
        was_training = net.training
        net.eval()
        try:
            z = self.sample_latent(n, generator=rng)
            if rows is not None:
                z = z[rows[0] : rows[1]]
            return torch.cat([net(chunk) for chunk in z.split(batch_size)])
        finally:
            net.train(was_training)

    def sampling_generator(self) -> nn.Module:
        """The network samples and metrics come from: the EMA generator when EMA is on, else the generator.

        Returns:
            The network.
        """
        if self._raw_sampling or self.ema_generator is None:
            return self.generator
        return self.ema_generator.module

    @contextlib.contextmanager
    def raw_sampling(self) -> Iterator[None]:
        """Inside this block :meth:`sample`, :meth:`sampling_generator` (and so any evaluation) use the trained
        generator instead of its EMA, so both can be scored; a no-op without EMA.

        Yields:
            Nothing.
        """
        before = self._raw_sampling
        self._raw_sampling = True
        try:
            yield
        finally:
            self._raw_sampling = before

    def forward(self, z: Tensor) -> Tensor:
        """Generate from latents with the training generator.

        Args:
            z: Latents ``[B, latent_dim]``.

        Returns:
            Samples ``[B, *data_shape]``.
        """
        return self.generator(z)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Samples for ``trainer.predict``, from the EMA generator when EMA is on.

        Args:
            batch: Latents ``[B, latent_dim]``, or an item of :class:`ganmods.sampling.LatentSeeds` (then
                the samples are rows ``start:stop`` of ``sample(n, seed)``).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            ``[B, *data_shape]`` samples.

        Raises:
            ConfigurationError: If ``batch`` is neither.
        """
        return self.sampling_generator()(batch_latents(self, batch))

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the loop counters, the class (for :meth:`load_from_checkpoint` of a base class), the data shape,
        the random streams and the skipped-step count; the construction arguments are Lightning's
        hyperparameters.

        Args:
            checkpoint: The checkpoint dict being written.
        """
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        checkpoint["ganmods"] = {
            "counters": {k: int(getattr(self, k)) for k in COUNTERS},
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "data_shape": getattr(datamodule, "data_shape", None),
            "rng": rng_record(self.rng_seed),
            "skipped_steps": self.skipped_steps.total(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the loop counters and the skipped-step count; when resuming a fit, also the base seed of the
        step stream and the global random states (torch, numpy, python). Loading for inference leaves global
        state alone.

        Args:
            checkpoint: The checkpoint dict being loaded.

        Raises:
            ConfigurationError: If the checkpoint was not written by a ganmods module.
        """
        state = checkpoint.get("ganmods")
        if state is None:
            raise ConfigurationError("checkpoint must be written by a ganmods module; got one without 'ganmods' state.")
        for key in COUNTERS:
            setattr(self, key, int(state["counters"][key]))
        self.skipped_steps = SkippedSteps(int(state.get("skipped_steps", 0)))
        if self._trainer is not None:  # resuming a fit: continue the random streams exactly
            self.rng_seed = restore_rng(state.get("rng"))

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: Union[str, os.PathLike],
        map_location: Any = None,
        hparams_file: Optional[Union[str, os.PathLike]] = None,
        strict: Optional[bool] = None,
        **kwargs: Any,
    ) -> "GANModule":
        """Lightning's ``load_from_checkpoint``, building the class that wrote the checkpoint when it is a
        subclass of ``cls`` (so ``GANModule.load_from_checkpoint`` returns an ``SGAN`` for an SGAN checkpoint).

        Args:
            checkpoint_path: Path of a ``.ckpt`` file.
            map_location: Where to put the tensors.
            hparams_file: Optional hyperparameters file (as in Lightning).
            strict: Strict state-dict loading (as in Lightning).
            **kwargs: Construction arguments replacing the recorded ones (e.g. ``generator=`` for a network the
                checkpoint could not record).

        Returns:
            The module, with its weights and loop counters restored.

        Raises:
            ConfigurationError: If the checkpoint was written by a class that is neither ``cls``, a subclass nor a
                base class of it.
        """
        target: type[GANModule] = cls
        if isinstance(checkpoint_path, (str, os.PathLike)) and os.path.isfile(checkpoint_path):
            record = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
            class_path = record.get("ganmods", {}).get("class_path") if isinstance(record, dict) else None
            written = import_class(class_path) if class_path else None
            if isinstance(written, type) and issubclass(written, cls):
                target = written
            elif isinstance(written, type) and not issubclass(cls, written):
                raise ConfigurationError(
                    f"checkpoint_path must hold a checkpoint of {cls.__name__} or a subclass; got {os.fspath(checkpoint_path)!r}, "
                    f"written by {class_path} (load it with {written.__name__}.load_from_checkpoint, "
                    f"GANModule.load_from_checkpoint or ganmods.load_checkpoint)."
                )
        load = super(GANModule, target).load_from_checkpoint
        return load(checkpoint_path, map_location=map_location, hparams_file=hparams_file, strict=strict, **kwargs)
