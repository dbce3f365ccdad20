"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): a generator ``G``, an encoder ``E`` learned
adversarially, and a joint critic ``D(x, z)``.

The critic compares the pair ``(x, E(x))`` of a real data point and its code with the pair ``(G(z), z)`` of
a generated point and its latent; ``G`` and ``E`` are trained together (one optimizer) to make the two joint
distributions equal, at which point ``E`` inverts ``G``. :class:`BiGAN` is a :class:`~ganmods.GANModule`
that only changes the games of a step (:meth:`BiGAN.critic_games`, :meth:`BiGAN.generator_games`) and the
generator's parameters; the loop, the loss, every regularizer, EMA, counters and checkpoints are the core's.

**The joint input** is one tensor, :func:`~ganmods.nets.joint.join` ``(x, z) = cat([x.flatten(1), z], 1)``,
so a gradient penalty interpolates joint inputs and takes the norm over both parts, unchanged. The
regularizers' input transforms (instance noise, DiffAugment) apply to the data part only, before joining.

**Which way the generator step pushes each pair.** The minimax value is
``V = E_x[log D(x, E(x))] + E_z[log(1 − D(G(z), z))]``: the critic maximises it, ``G`` and ``E`` minimise it. So
``G`` wants its pair ``(G(z), z)`` judged *real* and ``E`` wants the real pair ``(x, E(x))`` judged *fake*. The
generator step plays two games with the loss's own ``generator_loss``:

1. ``G``'s game: the critic ``D``, fake ``(G(z), z)`` (with ``G``'s graph), real ``(x, E(x))``.
2. ``E``'s game: the *negated* critic ``−D`` (:class:`NegatedCritic`), fake ``(x, E(x))`` (with ``E``'s graph),
   real ``(G(z), z)``. Making ``(x, E(x))`` look real to ``−D`` is making it look fake to ``D``.

With the non-saturating loss the sum is ``E[sp(−D(G(z), z))] + E[sp(D(x, E(x)))]``, the label-swapped
objective of the BiGAN reference code; with the saturating loss it is ``−E[sp(D(G(z),z))] − E[sp(−D(x,E(x)))]
= V`` itself; with the Wasserstein (and hinge) loss ``E[D(x, E(x))] − E[D(G(z), z)]``, minus the critic's
objective. For the relativistic losses (``rsgan``, ``rasgan``, ``ralsgan``, ``rahinge``) negating the critic and
swapping the sides leaves the generator loss unchanged, so each game has the same value ``L`` and gives one
network its full gradient: ``G`` through game 1 (the loop reads real logits without gradients), ``E`` through
game 2; ``train/g_loss`` then reads ``2·L``. For ``least_squares`` game 2 pushes ``D(x, E(x))`` towards ``−1``
(the mirror of the generator's target ``+1``) rather than to the critic's fake target ``0``; the f-GAN losses
likewise push ``−v`` up through their output activation (exact for ``fgan_gan`` and ``fgan_kl``).

**Validation** (on the data module's validation reference, logged ``val/...``; ``trainer.test`` reports the same
under ``test/`` on the disjoint test reference, :mod:`ganmods.data.splits`): the datamodule's protocol on ``G``'s
samples (toy mode metrics, or FID/KID); ``val/reconstruction_mse``, the mean squared error per value of ``G(E(x))``
against the held-out ``x``; ``val/latent_mse``, of ``E(G(z))`` against seeded ``z``; the joint critic's held-out
``val/d_adv``; and on labelled data (the bundled digits) the linear probe: ``val/probe_accuracy``, the accuracy on
the held-out half of a logistic regression trained on ``E(x)`` of the training split, beside
``val/probe_accuracy_random_encoder`` (the same probe on a randomly initialised encoder of the same
architecture, seed :data:`PROBE_SEED`) and ``val/probe_accuracy_pixels`` (on the raw pixels); the two
baselines are computed once and cached. Sampling, encoding and these metrics use the EMA networks when EMA is
on (the encoder gets its own EMA, updated with the generator's).

Example:
    >>> from ganmods.nets import MLPGenerator
    >>> from ganmods.nets.encoders import MLPEncoder
    >>> from ganmods.nets.joint import JointMLPCritic
    >>> model = BiGAN(MLPGenerator(latent_dim=2, hidden=8), JointMLPCritic(x_dim=2, latent_dim=2, hidden=8),
    ...               MLPEncoder(in_dim=2, latent_dim=2, hidden=8))
    >>> model.encode(model.sample(5, seed=0)).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import warnings
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ganmods.data.splits import EVAL_SPLITS, check_split, held_out_halves, latent_seed
from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.game import Game
from ganmods.losses import AdversarialLoss
from ganmods.metrics.protocol import MetricSpec
from ganmods.module import GANModule, critic_logits
from ganmods.nets.joint import join
from ganmods.spec import NotRecordable, from_spec, to_spec

__all__ = [
    "LABELLED_DATA", "LATENT_EVAL_SEED", "PROBE_SEED", "BiGAN", "NegatedCritic", "digits_probe_data",
    "linear_probe_accuracy",
]

#: Seed of the random encoder whose probe accuracy is the baseline of ``val/probe_accuracy_random_encoder``.
PROBE_SEED = 0
#: Seed of the latents ``z`` of ``val/latent_mse`` (``E(G(z))`` against ``z``).
LATENT_EVAL_SEED = 4321
#: Seeds of the fakes of the held-out joint critic statistics: ``VAL_FAKE_SEED + batch_idx`` (as GANModule).
VAL_FAKE_SEED = 10_000

#: ``(train_x, train_y, eval_x, eval_y)`` of a labelled dataset: its training split and one held-out half.
ProbeData = tuple[Tensor, Tensor, Tensor, Tensor]


#: What a BiGAN scores beside the data protocol (:meth:`BiGAN.own_scores`), both lower is better.
ENCODER_SCORES = MetricSpec(("reconstruction_mse", "latent_mse"), {"reconstruction_mse": False, "latent_mse": False})


def digits_probe_data(image_size: int, channels: int, split: str = "val") -> ProbeData:
    """The bundled digits with their labels, as the ``digits`` data source serves them: the training split, and
    the ``split`` half of the held-out split (:func:`ganmods.data.splits.held_out_halves`, the halves the data
    module validates and tests on), quantised to uint8 pixels and back (as the data module stores them), grey
    replicated to ``channels``.

    Args:
        image_size: Side in pixels (the data module's ``image_size``).
        channels: 1 or 3 (the data module's ``channels``).
        split: ``"val"`` (149 held-out digits) or ``"test"`` (the other 148).

    Returns:
        ``(train_x [1500, C, S, S], train_y [1500], eval_x, eval_y)``, images in ``[-1, 1]``, the held-out half in
        the data module's order.

    Raises:
        ConfigurationError: If ``channels`` is not 1 or 3, ``split`` is not ``"val"`` or ``"test"``, or
            ``image_size`` is refused by ``load_digits``.
    """
    from ganmods.data.digits import load_digits
    from ganmods.images import from_uint8, to_uint8

    check_split(split)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise invalid("channels", "1 or 3", channels)

    def pixels(images: Tensor) -> Tensor:
        images = from_uint8(to_uint8(images))
        return images.repeat(1, channels, 1, 1) if channels == 3 else images

    train_x, train_y = load_digits("train", image_size=image_size, with_labels=True)
    held_x, held_y = load_digits("held_out", image_size=image_size, with_labels=True)
    halves = dict(zip(EVAL_SPLITS, held_out_halves(int(held_x.shape[0]), "dataset 'digits'")))
    keep = halves[split]
    return pixels(train_x), train_y, pixels(held_x[keep]), held_y[keep]


#: Labelled datasets the linear probe runs on: ``GANDataModule.dataset`` name ->
#: ``loader(image_size, channels, split)`` returning the training split and the ``split`` held-out half, with labels.
LABELLED_DATA: dict[str, Callable[[int, int, str], ProbeData]] = {"digits": digits_probe_data}


def linear_probe_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                          test_labels: Tensor, max_iter: int = 1000) -> float:
    """Held-out accuracy of a linear classifier on fixed features: scikit-learn's multinomial logistic
    regression (L-BFGS, ``C = 1``, at most ``max_iter`` iterations) on standardised features (mean and scale of
    the training features), trained on the training features and scored on the test features.

    Args:
        train_features: ``[N, ...]`` features (flattened per row).
        train_labels: ``[N]`` integer labels.
        test_features: ``[M, ...]`` features, same width.
        test_labels: ``[M]`` labels.
        max_iter: Iteration budget of the solver (a fixed budget; a convergence warning is not raised).

    Returns:
        The fraction of test rows classified correctly, in ``[0, 1]``.

    Raises:
        ConfigurationError: If the row counts of features and labels differ, the widths differ, or ``max_iter``
            is not a positive integer.

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [0.1], [0.9]])
        >>> linear_probe_accuracy(x, torch.tensor([0, 1, 0, 1]), x, torch.tensor([0, 1, 0, 1]))
        1.0
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_positive_int("max_iter", max_iter)
    xs = [t.detach().reshape(t.shape[0], -1).double().cpu().numpy() for t in (train_features, test_features)]
    ys = [t.detach().reshape(-1).cpu().numpy() for t in (train_labels, test_labels)]
    for name, x, y in (("train", xs[0], ys[0]), ("test", xs[1], ys[1])):
        if x.shape[0] != y.shape[0]:
            raise ConfigurationError(
                f"{name}_features and {name}_labels must have the same number of rows; got {x.shape[0]} and {y.shape[0]}."
            )
    if xs[0].shape[1] != xs[1].shape[1]:
        raise ConfigurationError(
            f"test_features must have the width of train_features ({xs[0].shape[1]}); got {xs[1].shape[1]}."
        )
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(xs[0], ys[0])
    return float(probe.score(xs[1], ys[1]))


class NegatedCritic(nn.Module):
    """``−critic(u)``: the critic of the encoder's game (see the module docstring). It holds no parameters of
    its own; gradients flow through ``critic`` to its input.

    Args:
        critic: The joint critic.

    Example:
        >>> float(NegatedCritic(nn.Identity())(torch.tensor(2.0)))
        -2.0
    """

    def __init__(self, critic: nn.Module) -> None:
        super().__init__()
        self.critic = critic

    def forward(self, joint: Tensor) -> Tensor:
        """``−critic(joint)``."""
        return -self.critic(joint)


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and "class_path" in value


@contextlib.contextmanager
def _eval_mode(*nets: nn.Module) -> Iterator[None]:
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)


class BiGAN(GANModule):
    """BiGAN / ALI: generator, encoder and joint critic ``D(x, z)`` trained with any registered loss and any
    regularizer (see the module docstring for the games and the validation metrics).

    Args:
        generator: Latents ``[B, latent_dim]`` to data ``[B, *data_shape]`` (a module or its
            ``{class_path, init_args}`` record).
        discriminator: The joint critic: :func:`~ganmods.nets.joint.join` inputs ``[B, prod(data_shape) +
            latent_dim]`` to logits ``[B]`` or ``[B, 1]`` (e.g. :class:`~ganmods.nets.joint.JointMLPCritic`,
            :class:`~ganmods.nets.joint.JointConvCritic`).
        encoder: Data ``[B, *data_shape]`` to codes ``[B, latent_dim]`` (e.g.
            :class:`~ganmods.nets.encoders.MLPEncoder`, :class:`~ganmods.nets.encoders.ConvEncoder`), a module or
            its record. Trained with the generator by the generator's optimizer.
        loss: As for :class:`~ganmods.GANModule` (default: non-saturating, the BiGAN paper's).
        probe: Run the linear probe at validation when the data is labelled (a name in :data:`LABELLED_DATA`).
        latent_eval_samples: Number of seeded latents of ``val/latent_mse``.
        **kwargs: Any other :class:`~ganmods.GANModule` argument (``n_critic``, ``gp_weight``, ``regularizers``,
            ``optimizer_g`` (it trains ``G`` and ``E``), ``ema_decay``, ...).

    Raises:
        ConfigurationError: If ``encoder`` is not a module (or record), its ``latent_dim`` differs from the
            module's, ``probe`` is not a bool, ``latent_eval_samples`` is not a positive integer, or any
            :class:`~ganmods.GANModule` argument is bad. Shape mismatches between the networks and the data are
            refused by :meth:`check_networks` before training.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        encoder: nn.Module,
        loss: Union[str, AdversarialLoss] = "non_saturating",
        probe: bool = True,
        latent_eval_samples: int = 2000,
        **kwargs: Any,
    ) -> None:
        encoder = from_spec(encoder) if _is_record(encoder) else encoder
        if not isinstance(encoder, nn.Module):
            raise invalid("encoder", "a torch.nn.Module or its {class_path, init_args} record", type(encoder).__name__)
        if not isinstance(probe, bool):
            raise invalid("probe", "true or false", probe)
        latent_eval_samples = check_positive_int("latent_eval_samples", latent_eval_samples)
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        own = getattr(encoder, "latent_dim", None)
        if own is not None and own != self.latent_dim:
            raise ConfigurationError(
                f"encoder latent_dim must equal the module's latent_dim ({self.latent_dim}, the generator's input "
                f"size); got {own!r}."
            )
        self.encoder = encoder
        self.probe = probe
        self.latent_eval_samples = latent_eval_samples
        self.ema_encoder: Optional[AveragedModel] = None
        if self.ema_generator is not None:
            self.ema_encoder = AveragedModel(encoder, multi_avg_fn=get_ema_multi_avg_fn(self.ema_decay or 0.0),
                                             use_buffers=True)
            self.ema_encoder.requires_grad_(False)
        self._joint_stats: list[tuple[Tensor, Optional[Tensor]]] = []
        self._recon_errors: list[Tensor] = []
        self._probe_cache: dict[tuple[Any, ...], tuple[ProbeData, dict[str, float]]] = {}

    # ------------------------------------------------------------------ networks
    def generator_parameters(self) -> Iterable[nn.Parameter]:
        """What the generator's optimizer trains: ``G``'s and ``E``'s parameters (one optimizer, as in the paper).

        Returns:
            The parameters of the generator, then of the encoder.
        """
        return itertools.chain(self.generator.parameters(), self.encoder.parameters())

    def encoding_network(self) -> nn.Module:
        """The encoder codes and metrics come from: its EMA when EMA is on and samples come from the EMA
        generator (not inside :meth:`~ganmods.GANModule.raw_sampling`), else the trained encoder.

        Returns:
            The network.
        """
        if self.ema_encoder is None or self.sampling_generator() is self.generator:
            return self.encoder
        return self.ema_encoder.module

    def update_ema(self, images: int) -> None:
        """Fold the generator and the encoder into their EMAs with the same decay (nothing without EMA).

        Args:
            images: Real images shown to the critic since the previous update (see
                :meth:`~ganmods.GANModule.ema_beta`).
        """
        super().update_ema(images)
        if self.ema_encoder is None:
            return
        beta = self.ema_beta(images)
        self.ema_encoder.multi_avg_fn = get_ema_multi_avg_fn(beta if beta is not None else 0.0)
        self.ema_encoder.update_parameters(self.encoder)

    @torch.no_grad()
    def check_networks(self, data_shape: Optional[tuple[int, ...]] = None) -> None:
        """Run the generator, the encoder and the joint critic on a batch of 2 and check every shape.

        Args:
            data_shape: Expected shape of one data point, or ``None`` to skip that check.

        Raises:
            ConfigurationError: If the generator's output is not the data shape, the encoder does not accept it
                or does not return ``[B, latent_dim]``, or the critic does not accept the joint input
                ``[B, prod(data_shape) + latent_dim]`` or does not return ``[B]`` / ``[B, 1]``.
        """
        with _eval_mode(self.generator, self.encoder, self.discriminator):
            z = self.sample_latent(2)
            try:
                fake = self.generator(z)
            except (RuntimeError, ConfigurationError) as err:
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
                code = self.encoder(fake)
            except (RuntimeError, ConfigurationError) as err:
                raise ConfigurationError(
                    f"encoder must accept data of shape {list(fake.shape)} (the generator's output); got an error: "
                    f"{str(err).splitlines()[0]}"
                ) from None
            if not isinstance(code, Tensor) or tuple(code.shape) != (2, self.latent_dim):
                got = list(code.shape) if isinstance(code, Tensor) else type(code).__name__
                raise ConfigurationError(
                    f"encoder output must have shape [B, latent_dim] = [2, {self.latent_dim}]; got {got}."
                )
            joint = join(fake, z)
            try:
                out = self.discriminator(joint)
            except (RuntimeError, ConfigurationError) as err:
                raise ConfigurationError(
                    f"discriminator must be a joint critic accepting join(x, z) of shape {list(joint.shape)} "
                    f"(data flattened, then latent_dim = {self.latent_dim} values); got an error: "
                    f"{str(err).splitlines()[0]}"
                ) from None
            if not (out.shape == (2,) or out.shape == (2, 1)):
                raise ConfigurationError(
                    f"discriminator output must have shape [B] or [B, 1]; got {list(out.shape)} for B = 2."
                )

    # ------------------------------------------------------------------ the games
    def critic_games(self, real: Tensor) -> list[Game]:
        """One game: ``D`` on ``(x, E(x))`` against ``(G(z), z)``, both built without gradients.

        Args:
            real: The real batch of this critic step.

        Returns:
            ``[Game(D, join(t(x), E(x)), join(t(G(z)), z))]``, ``t`` the regularizers' transforms.
        """
        with torch.no_grad():
            z = self.sample_latent(real.shape[0])
            fake = self.generator(z)
            code = self.encoder(real)
        return [Game(self.discriminator, join(self.transform_data(real), code), join(self.transform_data(fake), z))]

    def generator_games(self, real: Tensor) -> tuple[list[Game], dict[str, Tensor]]:
        """Two games with graphs to ``G`` and ``E`` (see the module docstring): ``G``'s, where ``D`` should find
        ``(G(z), z)`` real, and ``E``'s, where ``−D`` should find ``(x, E(x))`` real (so ``D`` finds it fake).

        Args:
            real: The real batch of the critic step just taken.

        Returns:
            ``([Game(D, real=(x, E(x)), fake=(G(z), z)), Game(−D, real=(G(z), z), fake=(x, E(x)))], {})``, the
            data parts transformed; each game's ``generated`` is its untransformed fake pair and ``inputs`` what
            its network was given (``z``, ``x``).
        """
        z = self.sample_latent(real.shape[0])
        fake = self.generator(z)
        code = self.encoder(real)
        fake_in = join(self.transform_data(fake), z)
        real_in = join(self.transform_data(real), code)
        return [
            Game(self.discriminator, real=real_in, fake=fake_in, generated=join(fake, z), inputs=z),
            Game(NegatedCritic(self.discriminator), real=fake_in, fake=real_in, generated=join(real, code), inputs=real),
        ], {}

    @torch.no_grad()
    def critic_score(self, x: Tensor) -> Tensor:
        """The joint critic's verdict on data points paired with their codes, ``D(x, E(x))`` (the encoder is the
        EMA one when EMA is on), so plots draw over the plane what the critic thinks of each real-looking point.

        Args:
            x: Data ``[N, *data_shape]`` (on any device).

        Returns:
            ``D(join(x, E(x)))``, ``[N]`` or ``[N, 1]``, on this module's device.
        """
        x = x.to(self.device)
        code = self.encode(x)
        with _eval_mode(self.discriminator):
            return self.discriminator(join(x, code))

    # ------------------------------------------------------------------ encoding
    @torch.no_grad()
    def encode(self, x: Tensor, batch_size: int = 4096) -> Tensor:
        """Codes ``E(x)`` of data points, from the EMA encoder when EMA is on (eval mode, no gradients).

        Args:
            x: Data ``[N, *data_shape]`` (on any device).
            batch_size: Encode in chunks of this size.

        Returns:
            ``[N, latent_dim]`` on this module's device.

        Raises:
            ConfigurationError: If ``x`` is not a floating-point tensor with a batch dimension, or the encoder
                refuses its shape.
        """
        check_positive_int("batch_size", batch_size)
        if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() < 2:
            got = f"{x.dtype} {list(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
            raise invalid("x", "a floating-point tensor [N, *data_shape]", got)
        net = self.encoding_network()
        with _eval_mode(net):
            return torch.cat([net(chunk.to(self.device)) for chunk in x.split(batch_size)])

    @torch.no_grad()
    def reconstruct(self, x: Tensor, batch_size: int = 4096) -> Tensor:
        """``G(E(x))``, from the EMA networks when EMA is on (eval mode, no gradients).

        Args:
            x: Data ``[N, *data_shape]``.
            batch_size: Work in chunks of this size.

        Returns:
            ``[N, *data_shape]`` on this module's device.

        Raises:
            ConfigurationError: As :meth:`encode`.
        """
        code = self.encode(x, batch_size)
        net = self.sampling_generator()
        with _eval_mode(net):
            return torch.cat([net(chunk) for chunk in code.split(batch_size)])

    # ------------------------------------------------------------------ validation and test
    def on_validation_epoch_start(self) -> None:
        """The core's start of validation, and a reset of the joint critic statistics and reconstruction errors."""
        super().on_validation_epoch_start()
        self._joint_stats, self._recon_errors = [], []

    def on_test_epoch_start(self) -> None:
        """As :meth:`on_validation_epoch_start`, before ``trainer.test``."""
        super().on_test_epoch_start()
        self._joint_stats, self._recon_errors = [], []

    @torch.no_grad()
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """On a held-out real batch: the reconstruction error of ``G(E(x))`` and the joint critic's statistics
        (``(x, E(x))`` against ``(G(z), z)`` with seeded ``z``).

        Args:
            batch: A held-out real batch.
            batch_idx: Index of the batch.
        """
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        code = self.encode(real)
        net = self.sampling_generator()
        with _eval_mode(net):
            recon = net(code)
            rng = torch.Generator(device=self.device).manual_seed(VAL_FAKE_SEED + batch_idx)
            z = self.sample_latent(real.shape[0], generator=rng)
            fake = net(z)
        self._recon_errors.append((recon.float() - real.float()).pow(2).flatten(1).mean(1))
        real_logits = critic_logits(self.discriminator(join(real, code)))
        fake_logits = critic_logits(self.discriminator(join(fake, z)))
        d_adv = self.loss.discriminator_loss(real_logits, fake_logits)
        self._joint_stats.append((d_adv.detach(), self.loss.divergence(real_logits, fake_logits, d_adv)))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """As :meth:`validation_step`, on the datamodule's test loader.

        Args:
            batch: A held-out real batch.
            batch_idx: Index of the batch.
        """
        self.validation_step(batch, batch_idx)

    def on_validation_epoch_end(self) -> None:
        """The core's report (the datamodule's protocol on ``G``'s samples), then the encoder's metrics under
        ``val/`` (see :meth:`encoder_metrics`); nothing during Lightning's sanity check."""
        super().on_validation_epoch_end()
        if self.trainer.sanity_checking:
            return
        self.report(self.encoder_metrics("val", getattr(self.trainer, "datamodule", None)))

    def on_test_epoch_end(self) -> None:
        """The core's test report, then the encoder's metrics under ``test/``."""
        super().on_test_epoch_end()
        self.report(self.encoder_metrics("test", getattr(self.trainer, "datamodule", None)))

    @torch.no_grad()
    def encoder_metrics(self, prefix: str = "val", datamodule: Optional[Any] = None) -> dict[str, Any]:
        """The metrics of the encoder (after a validation or test pass over held-out batches).

        Args:
            prefix: ``"val"`` or ``"test"``: the evaluation split (:mod:`ganmods.data.splits`) the seeded latents
                and the probe's held-out half belong to (the held-out batches were the split's already).
            datamodule: The data module (for the linear probe on labelled data), or None.

        Raises:
            ConfigurationError: If ``prefix`` is not ``"val"`` or ``"test"``.

        Returns:
            ``<prefix>/reconstruction_mse`` and the held-out joint critic values ``<prefix>/d_adv`` and
            ``<prefix>/<divergence>_estimate`` (when the pass saw batches), ``<prefix>/latent_mse``, and on
            labelled data (with ``probe``) ``<prefix>/probe_accuracy``, ``<prefix>/probe_accuracy_random_encoder``
            and ``<prefix>/probe_accuracy_pixels``.
        """
        check_split(prefix)
        out: dict[str, Any] = {}
        if self._recon_errors:
            out[f"{prefix}/reconstruction_mse"] = torch.cat(self._recon_errors).mean()
        if self._joint_stats:
            out[f"{prefix}/d_adv"] = torch.stack([s[0] for s in self._joint_stats]).mean()
            divs = [s[1] for s in self._joint_stats if s[1] is not None]
            if divs:
                out[f"{prefix}/{self.loss.divergence_name}_estimate"] = torch.stack(divs).mean()
        out[f"{prefix}/latent_mse"] = self.latent_recovery_mse(split=prefix)
        if self.probe and datamodule is not None:
            out.update({f"{prefix}/{k}": v for k, v in self.probe_scores(datamodule, prefix).items()})
        return out

    def own_score_spec(self) -> MetricSpec:
        """The encoder's scores, :data:`ENCODER_SCORES`: ``reconstruction_mse`` and ``latent_mse``.

        Returns:
            The spec (both lower is better).
        """
        return ENCODER_SCORES

    @torch.no_grad()
    def own_scores(self, datamodule: Any, split: str) -> dict[str, float]:
        """The encoder's scores on one reference: ``reconstruction_mse``, the mean squared error per value of
        ``G(E(x))`` against every held-out real point of the split (``datamodule.val_dataloader()`` or
        ``test_dataloader()``, the points ``<split>/reconstruction_mse`` is logged on), and ``latent_mse``,
        :meth:`latent_recovery_mse` of the split.

        Args:
            datamodule: The data module with the split's held-out loader.
            split: ``"val"`` or ``"test"``.

        Returns:
            ``{"reconstruction_mse": ..., "latent_mse": ...}``.

        Raises:
            ConfigurationError: If ``split`` is unknown, or the data module has no (or an empty) held-out loader
                for it.
        """
        check_split(split)
        loader = getattr(datamodule, f"{split}_dataloader", None)
        if not callable(loader):
            raise invalid("datamodule", f"a data module with {split}_dataloader() (the held-out points a BiGAN's "
                          f"reconstruction is scored on)", type(datamodule).__name__)
        errors = []
        for batch in loader():
            real = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(self.device)
            errors.append((self.reconstruct(real).float() - real.float()).pow(2).flatten(1).mean(1))
        if not errors:
            raise ConfigurationError(f"data must hold held-out points to score a BiGAN's reconstruction on; "
                                     f"got an empty {split} loader.")
        return {"reconstruction_mse": float(torch.cat(errors).mean()),
                "latent_mse": float(self.latent_recovery_mse(split=split))}

    @torch.no_grad()
    def latent_recovery_mse(self, n: Optional[int] = None, split: str = "val") -> Tensor:
        """Mean squared error per latent value of ``E(G(z))`` against ``z`` for seeded latents.

        Args:
            n: Number of latents (default ``latent_eval_samples``).
            split: ``"val"`` or ``"test"``: the latents are seeded
                :func:`~ganmods.data.splits.latent_seed` ``(LATENT_EVAL_SEED, split)``, different per split.

        Returns:
            A scalar tensor.

        Raises:
            ConfigurationError: If ``n`` is not a positive integer or ``split`` is unknown.
        """
        n = self.latent_eval_samples if n is None else check_positive_int("n", n)
        rng = torch.Generator(device=self.device).manual_seed(latent_seed(LATENT_EVAL_SEED, split))
        z = self.sample_latent(n, generator=rng)
        net = self.sampling_generator()
        with _eval_mode(net):
            x = torch.cat([net(chunk) for chunk in z.split(4096)])
        return (self.encode(x).float() - z.float()).pow(2).mean()

    def random_encoder(self) -> nn.Module:
        """A randomly initialised encoder of the same architecture (seed :data:`PROBE_SEED`, global random state
        untouched): rebuilt from the encoder's record, or a copy with every layer's ``reset_parameters`` when
        the encoder cannot be recorded.

        Returns:
            The encoder, in eval mode, on this module's device.
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(PROBE_SEED)
            try:
                net = from_spec(to_spec(self.encoder))
            except NotRecordable:
                net = copy.deepcopy(self.encoder)
                for module in net.modules():
                    reset = getattr(module, "reset_parameters", None)
                    if callable(reset):
                        reset()
        return net.to(self.device).eval()

    @torch.no_grad()
    def probe_scores(self, datamodule: Any, split: str = "val") -> dict[str, float]:
        """The linear probe (:func:`linear_probe_accuracy`) on labelled data: trained on the training split's
        features, scored on the ``split`` half of the held-out split, for ``E(x)``, for a random encoder and for the
        raw pixels (the two baselines computed once per dataset, size and split, then cached).

        Args:
            datamodule: A :class:`~ganmods.data.GANDataModule` (its ``dataset``, ``image_size`` and ``channels``).
            split: ``"val"`` (what validation logs, and anything selecting reads) or ``"test"``.

        Returns:
            ``{"probe_accuracy", "probe_accuracy_random_encoder", "probe_accuracy_pixels"}``, or ``{}`` when the
            dataset has no labels (not in :data:`LABELLED_DATA`).

        Raises:
            ConfigurationError: If ``split`` is not ``"val"`` or ``"test"``.
        """
        check_split(split)
        name = getattr(datamodule, "dataset", None)
        loader = LABELLED_DATA.get(name) if isinstance(name, str) else None
        if loader is None:
            return {}
        key = (name, datamodule.image_size, datamodule.channels, split)
        if key not in self._probe_cache:
            data = loader(datamodule.image_size, datamodule.channels, split)
            train_x, train_y, test_x, test_y = data
            random = self.random_encoder()
            with _eval_mode(random):
                rand = [torch.cat([random(c.to(self.device)) for c in x.split(1024)]) for x in (train_x, test_x)]
            baselines = {
                "probe_accuracy_random_encoder": linear_probe_accuracy(rand[0], train_y, rand[1], test_y),
                "probe_accuracy_pixels": linear_probe_accuracy(train_x, train_y, test_x, test_y),
            }
            self._probe_cache[key] = (data, baselines)
        (train_x, train_y, test_x, test_y), baselines = self._probe_cache[key]
        accuracy = linear_probe_accuracy(self.encode(train_x), train_y, self.encode(test_x), test_y)
        return {"probe_accuracy": accuracy, **baselines}
