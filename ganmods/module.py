"""GANModule: the one manual-optimization GAN training loop.

One Lightning batch is one critic step on a fresh real batch; after every ``n_critic``-th critic step
comes one generator step. Losses and regularizers are pluggable objects; variants (``SGAN``, ``WGAN``,
``WGANGP``, ``RaGAN``) only change the defaults of this class.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Optional, Union

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ganmods.data.stream import CriticBatches
from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.evaluation import EvaluationHooks, logits
from ganmods.health import HealthChecks
from ganmods.losses import AdversarialLoss, get_loss
from ganmods.persistence import CheckpointHooks
from ganmods.fastpath import StepFastPath
from ganmods.precision import SkippedSteps, grad_scaler_of
from ganmods.randomness import StepSeeding
from ganmods.sampling import Sampling
from ganmods.regularizers import GradientPenalty, Regularizer, WeightClipping
from ganmods.spec import Recorded

__all__ = ["GANModule", "LATENT_DISTRIBUTIONS"]

#: Latent distributions: standard normal, or uniform on [-1, 1].
LATENT_DISTRIBUTIONS = ("normal", "uniform")


def _grad_norm(params: Iterable[nn.Parameter]) -> Tensor:
    norms = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    return torch.stack(norms).norm() if norms else torch.tensor(0.0)


class GANModule(
    Recorded, CheckpointHooks, StepSeeding, Sampling, StepFastPath, EvaluationHooks, HealthChecks, pl.LightningModule
):
    """A GAN trained by alternating critic and generator steps (manual optimization).

    Args:
        generator: Maps latents ``[B, latent_dim]`` to data ``[B, *data_shape]``.
        discriminator: The critic; maps data to raw logits ``[B]`` or ``[B, 1]``.
        loss: A name in :data:`ganmods.losses.LOSSES` or an :class:`~ganmods.losses.AdversarialLoss`.
        n_critic: Critic steps per generator step (>= 1).
        gp_weight: If set, add a gradient penalty with this λ (composes with any loss).
        gp_one_sided: Use the one-sided penalty ``max(0, ‖g‖ − 1)²``.
        clip: If set, clip every critic parameter into ``[-clip, clip]`` after every critic step.
        regularizers: Further :class:`~ganmods.regularizers.Regularizer` objects.
        latent_dim: Size of ``z``; defaults to ``generator.latent_dim``.
        latent_distribution: ``"normal"`` or ``"uniform"`` (on [-1, 1]).
        optimizer_g: Optimizer factory for the generator; ``None`` means the variant's paper default
            (:attr:`default_optimizer`).
        optimizer_d: Optimizer factory for the critic; ``None`` means the variant's paper default.
        scheduler_g: LR scheduler factory for the generator, stepped after every generator step.
        scheduler_d: LR scheduler factory for the critic, stepped after every critic step.
        max_generator_steps: Training budget in generator steps; training stops when it is reached.
        ema_decay: If set, keep an exponential moving average of the generator (``AveragedModel``,
            buffers included) updated once per generator step; sampling and metrics use it.
        warmup_n_critic: If set, use this many critic steps per generator step during the first
            ``warmup_generator_steps`` generator steps and every ``warmup_every``-th one (the WGAN
            reference code uses 100, 25 and 500).
        warmup_generator_steps: See ``warmup_n_critic``.
        warmup_every: See ``warmup_n_critic`` (0: never after the initial warm-up).
        log_interval: Log training losses every this many generator steps (the parameter finiteness check
            runs at the same interval).
        grad_norm_interval: Log G and D gradient norms every this many generator steps (0: never).
        stop_on_nonfinite: Stop training, without applying the step, when a loss or penalty is NaN or
            infinite (checked every step) or a parameter is (checked every ``log_interval`` generator
            steps); the message names the quantity and the step.

    Raises:
        ConfigurationError: On bad values (``n_critic < 1``, negative λ or clip, unknown loss, unknown
            latent distribution, BatchNorm in the critic together with a gradient penalty, ...).
    """

    #: Paper-default optimizer of this variant: ``(torch.optim class name, keyword arguments)``.
    default_optimizer: ClassVar[tuple[str, dict[str, Any]]] = ("Adam", {"lr": 2e-4, "betas": (0.5, 0.999)})

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
        optimizer_g: Optional[OptimizerCallable] = None,
        optimizer_d: Optional[OptimizerCallable] = None,
        scheduler_g: Optional[LRSchedulerCallable] = None,
        scheduler_d: Optional[LRSchedulerCallable] = None,
        max_generator_steps: Optional[int] = None,
        ema_decay: Optional[float] = None,
        warmup_n_critic: Optional[int] = None,
        warmup_generator_steps: int = 25,
        warmup_every: int = 500,
        log_interval: int = 50,
        grad_norm_interval: int = 100,
        stop_on_nonfinite: bool = True,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, nn.Module):
                raise invalid(name, "a torch.nn.Module", type(net).__name__)
        self.generator = generator
        self.discriminator = discriminator
        self.loss = get_loss(loss)
        self.n_critic = check_positive_int("n_critic", n_critic)
        self.regularizers: list[Regularizer] = []
        if gp_weight is not None:
            self.regularizers.append(GradientPenalty(weight=gp_weight, one_sided=gp_one_sided))
        if clip is not None:
            self.regularizers.append(WeightClipping(clip=clip))
        for reg in regularizers or []:
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
        self.optimizer_g = optimizer_g
        self.optimizer_d = optimizer_d
        self.scheduler_g = scheduler_g
        self.scheduler_d = scheduler_d
        self.max_generator_steps = (
            None if max_generator_steps is None else check_positive_int("max_generator_steps", max_generator_steps)
        )
        if ema_decay is not None and not (isinstance(ema_decay, (int, float)) and 0.0 <= ema_decay < 1.0):
            raise invalid("ema_decay", "a number in [0, 1) or null", ema_decay)
        self.ema_generator: Optional[AveragedModel] = None
        if ema_decay is not None:
            self.ema_generator = AveragedModel(
                generator, multi_avg_fn=get_ema_multi_avg_fn(float(ema_decay)), use_buffers=True
            )
            self.ema_generator.requires_grad_(False)
        self.warmup_n_critic = None if warmup_n_critic is None else check_positive_int("warmup_n_critic", warmup_n_critic)
        self.warmup_generator_steps = check_positive_int("warmup_generator_steps", warmup_generator_steps, 0)
        self.warmup_every = check_positive_int("warmup_every", warmup_every, 0)
        self.log_interval = check_positive_int("log_interval", log_interval)
        self.grad_norm_interval = check_positive_int("grad_norm_interval", grad_norm_interval, 0)
        if not isinstance(stop_on_nonfinite, bool):
            raise invalid("stop_on_nonfinite", "true or false", stop_on_nonfinite)
        self.stop_on_nonfinite = stop_on_nonfinite
        self.nonfinite_message: Optional[str] = None

        self.critic_steps = 0
        self.generator_steps = 0
        self.images_seen = 0
        self.critic_steps_since_generator = 0
        self.skipped_steps = SkippedSteps()  # optimizer steps a 16-mixed gradient scaler skipped
        self._grad_scaler: Optional[Any] = None
        self._val_stats: list[tuple[Tensor, Optional[Tensor]]] = []
        self._val_real_logits: list[Tensor] = []
        self._construction = self._plain_hparams()
        # `_class_path` lets `ganmods fit --ckpt_path` rebuild the same variant class (the command line
        # replaces the model config by the checkpoint's hyperparameters when resuming)
        self.save_hyperparameters({**self._construction, "_class_path": f"{type(self).__module__}.{type(self).__qualname__}"})

    # ------------------------------------------------------------------ set-up and checks
    def setup(self, stage: str) -> None:
        """Dry-run both networks once and check shapes against the data, before any training.

        Args:
            stage: Lightning stage (``"fit"``, ``"validate"``, ...).

        Raises:
            ConfigurationError: If the generator's output shape differs from the data shape, or the critic
                does not return ``[B]`` or ``[B, 1]``.
        """
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        self.check_networks(getattr(datamodule, "data_shape", None))

    def configure_optimizers(self) -> Any:
        """Build the generator and critic optimizers (and schedulers) from the factories or defaults.

        Returns:
            ``[opt_g, opt_d]`` or ``([opt_g, opt_d], [schedulers])``.
        """
        opts = []
        for factory, net in ((self.optimizer_g, self.generator), (self.optimizer_d, self.discriminator)):
            if factory is None:
                name, kwargs = self.default_optimizer
                opts.append(getattr(torch.optim, name)(net.parameters(), **kwargs))
            else:
                opts.append(factory(net.parameters()))
        scheds = [
            {"scheduler": f(opt), "interval": "step"} for f, opt in ((self.scheduler_g, opts[0]), (self.scheduler_d, opts[1])) if f
        ]
        self._sched_slots = [s is not None for s in (self.scheduler_g, self.scheduler_d)]
        return (opts, scheds) if scheds else opts

    @property
    def _world_size(self) -> int:
        return int(self._trainer.world_size) if self._trainer is not None else 1

    def on_fit_start(self) -> None:
        """Fix the base seed of the step stream (see :mod:`ganmods.randomness`): ``torch.initial_seed()``,
        as set by ``seed_everything``, unless a resumed checkpoint restored it; hand a ``16-mixed``
        gradient scaler to the regularizers."""
        self._init_rng_seed()
        self._grad_scaler = grad_scaler_of(self.trainer)
        for reg in self.regularizers:
            reg.use_scaler(self._grad_scaler)

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

    def _critic_inputs(self, x: Tensor) -> Tensor:
        for reg in self.regularizers:
            x = reg.transform(x, self.generator_steps)
        return x

    def _critic(self, x: Tensor) -> Tensor:
        return logits(self.discriminator(self._critic_inputs(x)))

    def training_step(self, batch: Any, batch_idx: int) -> None:
        """One critic step per real batch in ``batch``, each followed by a generator step when ``n_critic``
        critic steps have passed.

        Args:
            batch: A real batch (a tensor, or a sequence whose first item is the tensor), or a
                :class:`~ganmods.data.CriticBatches` of the real batches of consecutive critic steps.
            batch_idx: Index of the batch in the epoch.
        """
        if isinstance(batch, CriticBatches):
            for real in batch.reals:
                if self.trainer.should_stop or self._budget_spent():
                    return  # the budget is reached (or a non-finite value stopped training) mid-group
                self.critic_step(real)
            return
        self.critic_step(batch[0] if isinstance(batch, (list, tuple)) else batch)

    def _budget_spent(self) -> bool:
        return self.max_generator_steps is not None and self.generator_steps >= self.max_generator_steps

    def critic_step(self, real: Tensor) -> None:
        """One critic step on the real batch ``real``; then a generator step if ``n_critic`` critic steps
        have passed. Called by :meth:`training_step` once per real batch.

        Args:
            real: The real batch ``[B, *data_shape]``.
        """
        self._seed_step(self.critic_steps)
        opt_g, opt_d = self.optimizers()
        sched_g, sched_d = self._schedulers()
        n = real.shape[0]
        log_now = (self.generator_steps + 1) % self.log_interval == 0
        grad_now = self.grad_norm_interval > 0 and (self.generator_steps + 1) % self.grad_norm_interval == 0

        # ---- critic step: fakes without graph to G
        with torch.no_grad():
            fake = self.generator(self.sample_latent(n))
        real_in, fake_in = self._critic_inputs(real), self._critic_inputs(fake)
        real_logits = logits(self.discriminator(real_in))
        fake_logits = logits(self.discriminator(fake_in))
        d_adv = self.loss.discriminator_loss(real_logits, fake_logits)
        d_total = d_adv
        reg_logs: dict[str, Tensor] = {}
        checks = {"critic loss": d_adv}
        for reg in self.regularizers:
            out = reg.penalty(self.discriminator, real_in, fake_in)
            if out is not None:
                term, logs = out
                d_total = d_total + term
                reg_logs.update(logs)
                checks[f"penalty {reg.name}"] = term
        if self.stop_on_nonfinite and self._stop_if_nonfinite(checks, total=d_total):
            return
        opt_d.zero_grad()
        self._backward(d_total)
        # the logged critic gradient norm is the one of the critic step just before the generator step
        last_critic_step = self.critic_steps_since_generator + 1 >= self.current_n_critic()
        self._optimizer_step(opt_d)
        # after the step: gradients averaged over ranks (gan_ddp) and unscaled (16-mixed)
        d_grad = _grad_norm(self._critic_params()) if grad_now and last_critic_step else None
        if sched_d is not None:
            sched_d.step()
        for reg in self.regularizers:
            reg.after_critic_step(self.discriminator)
        self.critic_steps += 1
        self.images_seen += n * self._world_size
        self.critic_steps_since_generator += 1
        if not last_critic_step:
            return

        # ---- generator step: the critic is frozen (no gradients written into it)
        self.critic_steps_since_generator = 0
        critic_params = self._critic_params()
        for p in critic_params:
            p.requires_grad_(False)
        try:
            fake = self.generator(self.sample_latent(n))
            fake_logits_g = self._critic(fake)
            real_logits_g = None
            if self.loss.needs_real_logits:
                with torch.no_grad():
                    real_logits_g = self._critic(real)
            g_loss = self.loss.generator_loss(fake_logits_g, real_logits_g)
            if self.stop_on_nonfinite and self._stop_if_nonfinite({"generator loss": g_loss}):
                return
            opt_g.zero_grad()
            self._backward(g_loss)
            self._optimizer_step(opt_g)
            g_grad = _grad_norm(self.generator.parameters()) if grad_now else None
        finally:
            for p in critic_params:
                p.requires_grad_(True)
        if sched_g is not None:
            sched_g.step()
        if self.ema_generator is not None:
            self.ema_generator.update_parameters(self.generator)
        self.generator_steps += 1

        if self.stop_on_nonfinite and log_now:
            named = {f"parameter {n}": p for n, p in self.named_parameters() if not n.startswith("ema_generator.")}
            if self._stop_if_nonfinite({n: p.detach().float().abs().max() for n, p in named.items()}):
                return

        if log_now or grad_now:
            metrics: dict[str, Any] = {}
            if log_now:
                metrics.update({"train/d_loss": d_total, "train/d_adv": d_adv, "train/g_loss": g_loss})
                metrics.update({f"train/{k}": v for k, v in reg_logs.items()})
                if self._grad_scaler is not None:
                    metrics["train/skipped_steps"] = self.skipped_steps.total()
                div = self.loss.divergence(real_logits, fake_logits, d_adv)
                if div is not None:
                    metrics[f"train/{self.loss.divergence_name}_estimate"] = div
            if grad_now:
                metrics.update({"train/grad_norm_d": d_grad, "train/grad_norm_g": g_grad})
            self._log_metrics(metrics)
            if self._trainer is not None and self._trainer.progress_bar_callback is not None:
                self.log("g_loss", g_loss.detach(), prog_bar=True, logger=False)
                self.log("d_loss", d_total.detach(), prog_bar=True, logger=False)

        if self._budget_spent():
            self.trainer.should_stop = True

    def _schedulers(self) -> tuple[Any, Any]:
        scheds = self.lr_schedulers()
        if scheds is None:
            return None, None
        scheds = list(scheds) if isinstance(scheds, list) else [scheds]
        slots = getattr(self, "_sched_slots", [False, False])
        out = [scheds.pop(0) if used else None for used in slots]
        return out[0], out[1]

