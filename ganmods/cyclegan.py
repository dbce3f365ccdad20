"""CycleGAN (Zhu et al. 2017): unpaired translation between two image domains, on GANModule's loop.

Networks: two generators, ``G_AB`` (the paper's ``G``) and ``G_BA`` (``F``), held by one
:class:`~ganmods.nets.translation.TranslatorPair` (the module's ``generator``: one optimizer over both, as the paper
does with ``itertools.chain``); two critics, ``D_A`` judging domain A and ``D_B`` judging domain B, held by one
:class:`~ganmods.nets.translation.CriticPair` (the ``discriminator``).

A training batch pairs images of the two domains, ``[B, 2, C, H, W]`` (:mod:`ganmods.data.two_domain`; nothing is
paired, rows are drawn independently). The loop (:class:`~ganmods.GANModule`) plays two games per step and applies
the one adversarial loss and every regularizer to each:

* critic step: ``D_B`` on real ``b`` against ``history_B(G_AB(a))``, ``D_A`` on real ``a`` against
  ``history_A(G_BA(b))`` (fakes built without gradients, then passed through the 50-image history of each critic,
  :class:`~ganmods.history.ImageHistory`);
* generator step: ``D_B`` on ``G_AB(a)`` and ``D_A`` on ``G_BA(b)``, plus the further terms

  - ``cycle = λ·(mean|G_BA(G_AB(a)) − a| + mean|G_AB(G_BA(b)) − b|)`` (:func:`cycle_loss`, λ = ``cycle_weight``,
    10 in the paper),
  - ``identity = λ_id·λ·(mean|G_BA(a) − a| + mean|G_AB(b) − b|)`` (:func:`identity_loss`; λ_id =
    ``identity_weight``): the reference code's scaling (``lambda_identity`` 0.5 times ``lambda_A`` / ``lambda_B``,
    i.e. the paper's "0.5λ" of its Section 5.2), logged as ``train/cycle`` and ``train/identity``.

The paper's loss is least squares (``loss="least_squares"``, the default here); any registered loss works. One
difference in scale: the registry's least-squares generator loss is ``½E[(C(G(x)) − 1)²]`` (THEORY.md §4) where the
paper and its code use ``E[(C(G(x)) − 1)²]``, so with the same λ the adversarial terms weigh half as much against
the cycle term; Adam being invariant to the scale of the whole objective, ``cycle_weight = 5`` reproduces the
paper's balance exactly. The paper's learning-rate decay over its last 100 epochs is left to ``scheduler_g`` /
``scheduler_d``.

What the GANModule interface means here: there are no latents. ``latent_dim`` is the size of what a generator
takes, one source image flattened (``C·H·W``; :attr:`TranslatorPair.latent_dim`), and :meth:`CycleGAN.sample_latent`
refuses to draw. :meth:`CycleGAN.translate` is the inference call; :meth:`CycleGAN.sample` (what sample grids and
health checks call during a fit) translates ``n`` training images of domain A of the attached data module;
:meth:`CycleGAN.predict_step` translates batches of domain-A images. ``ganmods generate --direction AB|BA --input
FOLDER`` translates a folder of images from a checkpoint.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from ganmods.data.two_domain import TwoDomainSource, unpair
from ganmods.errors import ConfigurationError, check_non_negative, check_positive_int, invalid
from ganmods.game import Game
from ganmods.history import ImageHistory
from ganmods.losses import AdversarialLoss
from ganmods.module import GANModule, critic_logits
from ganmods.nets.translation import check_direction

__all__ = ["CycleGAN", "cycle_loss", "identity_loss"]


def _l1(x: Tensor, y: Tensor) -> Tensor:
    return (x.float() - y.float()).abs().mean()


def cycle_loss(a: Tensor, rec_a: Tensor, b: Tensor, rec_b: Tensor, weight: float = 10.0) -> Tensor:
    """The cycle-consistency loss ``weight·(mean|rec_a − a| + mean|rec_b − b|)`` (mean absolute errors over every
    element, as ``torch.nn.L1Loss``; computed in float32).

    Args:
        a: Real images of domain A.
        rec_a: ``G_BA(G_AB(a))``.
        b: Real images of domain B.
        rec_b: ``G_AB(G_BA(b))``.
        weight: λ (the paper: 10).

    Returns:
        The scalar loss.

    Example:
        >>> float(cycle_loss(torch.zeros(1, 2), torch.tensor([[1.0, 3.0]]), torch.zeros(1, 1), torch.ones(1, 1), 10.0))
        30.0
    """
    return weight * (_l1(rec_a, a) + _l1(rec_b, b))


def identity_loss(a: Tensor, same_a: Tensor, b: Tensor, same_b: Tensor, weight: float = 5.0) -> Tensor:
    """The identity-mapping loss ``weight·(mean|same_a − a| + mean|same_b − b|)`` (float32 mean absolute errors).

    :class:`CycleGAN` calls it with ``weight = identity_weight · cycle_weight`` (the reference code: 0.5 · 10).

    Args:
        a: Real images of domain A.
        same_a: ``G_BA(a)`` (the generator into A, given an image already in A).
        b: Real images of domain B.
        same_b: ``G_AB(b)``.
        weight: The weight of the term.

    Returns:
        The scalar loss.

    Example:
        >>> float(identity_loss(torch.zeros(2), torch.tensor([0.5, 0.5]), torch.zeros(2), torch.zeros(2), 5.0))
        2.5
    """
    return weight * (_l1(same_a, a) + _l1(same_b, b))


def _need_pair(generator: bool, net: nn.Module) -> None:
    """Refuse a generator without sub-modules ``ab`` and ``ba`` or a critic without ``a`` and ``b``."""
    name, children, what, example = (("generator", ("ab", "ba"), "the A -> B and B -> A generators", "TranslatorPair")
                                     if generator else
                                     ("discriminator", ("a", "b"), "the critics of domains A and B", "CriticPair"))
    if any(not isinstance(getattr(net, c, None), nn.Module) for c in children):
        raise invalid(name, f"a module holding {what} as sub-modules {list(children)} (e.g. "
                      f"ganmods.nets.translation.{example})", type(net).__name__)


class CycleGAN(GANModule):
    """CycleGAN: two generators and two critics trained by :class:`~ganmods.GANModule`'s loop on two-domain batches
    (the games, terms and defaults are in :mod:`ganmods.cyclegan`).

    Args:
        generator: A :class:`~ganmods.nets.translation.TranslatorPair` (any module with sub-modules ``ab`` and
            ``ba`` mapping images to images of the same shape), or its ``{class_path, init_args}`` record.
        discriminator: A :class:`~ganmods.nets.translation.CriticPair` (any module with sub-modules ``a`` and ``b``
            giving logits ``[B]`` or ``[B, 1]``), or its record.
        loss: The adversarial loss (default ``"least_squares"``, the paper's); any name in
            :data:`ganmods.losses.LOSSES` or loss object.
        cycle_weight: λ of the cycle-consistency loss (the paper: 10); 0 drops the term.
        identity_weight: λ_id: the identity loss weighs ``λ_id·λ`` (the reference code's default, 0.5); 0 drops it.
        history_size: Generated images kept per critic (the paper: 50); 0 shows the critics only the latest.
        **kwargs: Any other :class:`~ganmods.GANModule` argument (``n_critic``, ``gp_weight``, ``regularizers``,
            optimizers, ``max_generator_steps``, EMA, ...). The default optimizers are the paper's (Adam lr 2e-4,
            betas (0.5, 0.999)).

    Raises:
        ConfigurationError: For networks without the two sub-modules, negative weights, a bad ``history_size``, or
            any bad :class:`~ganmods.GANModule` argument.

    Example:
        >>> from ganmods.nets.translation import CriticPair, PatchCritic, ResNetTranslator, TranslatorPair
        >>> g = TranslatorPair(ResNetTranslator(1, 16, 4, 1), ResNetTranslator(1, 16, 4, 1))
        >>> d = CriticPair(PatchCritic(1, 16, 4, 1), PatchCritic(1, 16, 4, 1))
        >>> CycleGAN(g, d).translate(torch.zeros(3, 1, 16, 16), "AB").shape
        torch.Size([3, 1, 16, 16])
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 loss: Union[str, AdversarialLoss] = "least_squares", cycle_weight: float = 10.0,
                 identity_weight: float = 0.5, history_size: int = 50, **kwargs: Any) -> None:
        for given in (generator, discriminator):  # modules given as such: checked before the base class's checks
            if isinstance(given, nn.Module):
                _need_pair(given is generator, given)
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        _need_pair(True, self.generator)
        _need_pair(False, self.discriminator)
        self.cycle_weight = check_non_negative("cycle_weight", cycle_weight)
        self.identity_weight = check_non_negative("identity_weight", identity_weight)
        check_positive_int("history_size", history_size, 0)
        #: The history of ``G_BA``'s images that ``D_A`` sees, and of ``G_AB``'s that ``D_B`` sees.
        self.history_a = ImageHistory(history_size)
        self.history_b = ImageHistory(history_size)
        self._held_out_d_adv: list[Tensor] = []

    # ------------------------------------------------------------------ set-up
    @torch.no_grad()
    def check_networks(self, data_shape: Optional[tuple[int, ...]] = None) -> None:
        """Run both generators and both critics on 2 images and check the shapes.

        Args:
            data_shape: One image's shape ``(C, H, W)`` (both domains share it); ``None``: the generators' declared
                shape (:attr:`TranslatorPair.image_shape`), or no check when they declare none.

        Raises:
            ConfigurationError: When a network refuses the images (e.g. other channel counts) or a generator changes
                their shape, or a critic does not return ``[B]`` or ``[B, 1]``.
        """
        shape = tuple(data_shape) if data_shape is not None else getattr(self.generator, "image_shape", None)
        if shape is None:
            return
        nets = {"generator.ab": self.generator.ab, "generator.ba": self.generator.ba,
                "discriminator.a": self.discriminator.a, "discriminator.b": self.discriminator.b}
        modes = {name: net.training for name, net in nets.items()}
        x = torch.zeros(2, *shape, device=self.device)
        try:
            for name, net in nets.items():
                net.eval()
                try:
                    out = net(x)
                except (ConfigurationError, RuntimeError) as err:
                    dims = ", ".join(map(str, shape))
                    raise ConfigurationError(f"{name} must accept images of the data's shape [B, {dims}]; got an "
                                             f"error: {str(err).splitlines()[0]}") from None
                if name.startswith("generator") and tuple(out.shape) != tuple(x.shape):
                    raise ConfigurationError(f"{name} output shape must equal its input's {tuple(shape)} (per image); "
                                             f"got {tuple(out.shape[1:])}.")
                if name.startswith("discriminator") and not (out.shape == (2,) or out.shape == (2, 1)):
                    raise ConfigurationError(f"{name} output must have shape [B] or [B, 1]; got {list(out.shape)} for "
                                             "B = 2.")
            for reg in self.regularizers:
                reg.check_input(tuple(x.shape))
        finally:
            for name, net in nets.items():
                net.train(modes[name])

    def setup(self, stage: str) -> None:
        """Refuse single-domain data, then dry-run the networks on the data's image shape, before any training.

        Args:
            stage: Lightning stage.

        Raises:
            ConfigurationError: If the data module serves a dataset that is not two-domain, or a shape check fails.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        source = getattr(datamodule, "source", None)
        if source is not None and not isinstance(source, TwoDomainSource):
            raise invalid("data.dataset", "a two-domain dataset for CycleGAN ('digits_inverted', 'two_folders'; "
                          "ganmods.data.two_domain)", getattr(datamodule, "dataset", type(source).__name__))
        super().setup(stage)

    # ------------------------------------------------------------------ the games
    def critic_games(self, real: Tensor) -> list[Game]:
        """``D_B``: real ``b`` against ``history_b(G_AB(a))``; ``D_A``: real ``a`` against ``history_a(G_BA(b))``
        (fakes without gradients; the histories draw from the step's random stream, B first).

        Args:
            real: The two-domain batch ``[B, 2, C, H, W]``.

        Returns:
            The two games.
        """
        a, b = unpair(real)
        with torch.no_grad():
            fake_b, fake_a = self.generator.ab(a), self.generator.ba(b)
        fake_b = self.history_b.query(fake_b)
        fake_a = self.history_a.query(fake_a)
        critics = self.discriminator
        return [Game(critics.b, self.transform_data(b), self.transform_data(fake_b)),
                Game(critics.a, self.transform_data(a), self.transform_data(fake_a))]

    def generator_games(self, real: Tensor) -> tuple[list[Game], dict[str, Tensor]]:
        """``D_B`` on ``G_AB(a)`` and ``D_A`` on ``G_BA(b)``, plus the ``cycle`` and ``identity`` terms (each only
        when its weight is positive).

        Args:
            real: The two-domain batch of the critic step just taken.

        Returns:
            ``(games, terms)``.
        """
        a, b = unpair(real)
        g = self.generator
        fake_b, fake_a = g.ab(a), g.ba(b)
        terms: dict[str, Tensor] = {}
        if self.cycle_weight > 0:
            terms["cycle"] = cycle_loss(a, g.ba(fake_b), b, g.ab(fake_a), self.cycle_weight)
        if self.identity_weight > 0:
            terms["identity"] = identity_loss(a, g.ba(a), b, g.ab(b), self.identity_weight * self.cycle_weight)
        real_a, real_b = (self.transform_data(a), self.transform_data(b)) if self.loss.needs_real_logits else (a, b)
        critics = self.discriminator
        games = [Game(critics.b, real_b, self.transform_data(fake_b), generated=fake_b, inputs=a),
                 Game(critics.a, real_a, self.transform_data(fake_a), generated=fake_a, inputs=b)]
        return games, terms

    # ------------------------------------------------------------------ translation and sampling
    @torch.no_grad()
    def translate(self, images: Tensor, direction: str = "AB", batch_size: int = 256) -> Tensor:
        """Translate images with the EMA generators when EMA is on (else the trained ones), in eval mode.

        Args:
            images: ``[N, C, H, W]`` images of the source domain in ``[-1, 1]`` (any device).
            direction: ``"AB"`` (``G_AB``) or ``"BA"`` (``G_BA``).
            batch_size: Images per forward pass.

        Returns:
            ``[N, C, H, W]`` translations on this module's device.

        Raises:
            ConfigurationError: For an unknown ``direction``, a bad ``batch_size``, or images the generator refuses.
        """
        check_direction(direction)
        check_positive_int("batch_size", batch_size)
        if not isinstance(images, Tensor) or images.dim() != 4:
            raise invalid("images", "a [N, C, H, W] tensor", list(images.shape) if isinstance(images, Tensor)
                          else type(images).__name__)
        pair = self.sampling_generator()
        net = pair.ab if direction == "AB" else pair.ba
        was_training = net.training
        net.eval()
        try:
            return torch.cat([net(chunk.to(self.device)) for chunk in images.split(batch_size)])
        finally:
            net.train(was_training)

    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Refused: CycleGAN's generators take images, not latents.

        Args:
            n: Unused.
            generator: Unused.

        Raises:
            ConfigurationError: Always.
        """
        raise ConfigurationError("CycleGAN has no latents: its generators take images; got a request for latents (use "
                                 "translate(images, direction), or ganmods generate --direction AB --input FOLDER).")

    @torch.no_grad()
    def sample(self, n: int, seed: Optional[int] = None, batch_size: int = 4096,
               rows: Optional[tuple[int, int]] = None) -> Tensor:
        """``G_AB``'s translations of ``n`` training images of domain A of the attached data module (what sample
        grids and the health monitor show during a fit), from the EMA generators when EMA is on.

        Args:
            n: Number of images (at most the data's smaller domain).
            seed: Picks the images (``datamodule.real_samples(n, seed)``); ``None``: a seed drawn from the global
                random state.
            batch_size: Images per forward pass.
            rows: If given, ``(lo, hi)``: only translations ``lo..hi-1`` of the ``n``.

        Returns:
            ``[n, C, H, W]`` (or ``hi - lo`` rows) on this module's device.

        Raises:
            ConfigurationError: Without an attached two-domain data module (outside a fit: use :meth:`translate`),
                or for a bad ``n``, ``batch_size`` or ``rows``.
        """
        check_positive_int("n", n)
        try:
            datamodule = self.trainer.datamodule
        except RuntimeError:  # not attached to a trainer
            datamodule = None
        real_samples = getattr(datamodule, "real_samples", None)
        if not callable(real_samples):
            raise ConfigurationError("CycleGAN.sample needs a trainer with a two-domain data module (it translates "
                                     "real images of domain A); got none attached (use translate(images, 'AB')).")
        if seed is None:
            seed = int(torch.randint(2**31 - 1, ()))
        a, _ = unpair(real_samples(n, seed=seed))
        if rows is not None:
            lo, hi = rows if isinstance(rows, (tuple, list)) and len(rows) == 2 else (None, None)
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi <= n):
                raise invalid("rows", f"(lo, hi) with 0 <= lo < hi <= n = {n}", rows)
            a = a[lo:hi]
        return self.translate(a, "AB", batch_size=batch_size)

    def forward(self, x: Tensor, direction: str = "AB") -> Tensor:  # type: ignore[override]
        """Translate with the training generators (gradients kept).

        Args:
            x: Source images ``[B, C, H, W]``.
            direction: ``"AB"`` or ``"BA"``.

        Returns:
            The translations.
        """
        return self.generator.ab(x) if check_direction(direction) == "AB" else self.generator.ba(x)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """``G_AB``'s translations of a batch of domain-A images (EMA generators when EMA is on).

        Args:
            batch: Images ``[B, C, H, W]`` (or a sequence whose first item is that tensor).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            ``[B, C, H, W]`` translations.

        Raises:
            ConfigurationError: If ``batch`` is not an image tensor (CycleGAN draws no latents).
        """
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
            got = f"a {images.dtype} tensor of shape {list(images.shape)}" if isinstance(images, Tensor) else \
                repr(type(images).__name__)
            raise ConfigurationError(f"batch must be float images [B, C, H, W] of domain A for CycleGAN (it translates "
                                     f"images and draws no latents; ganmods generate --direction AB --input FOLDER); "
                                     f"got {got}.")
        return self.translate(images, "AB")

    # ------------------------------------------------------------------ held-out critic statistics
    def on_validation_epoch_start(self) -> None:
        """The base class's start of validation, and a fresh list of held-out critic losses."""
        super().on_validation_epoch_start()
        self._held_out_d_adv = []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Both critics' adversarial loss on held-out real images of their domain against translations of the
        other domain's held-out images (no history).

        Args:
            batch: A held-out two-domain batch ``[B, 2, C, H, W]``.
            batch_idx: Index of the batch.
        """
        a, b = unpair(batch[0] if isinstance(batch, (list, tuple)) else batch)
        d_adv = None
        for critic, real, fake in ((self.discriminator.b, b, self.translate(a, "AB")),
                                   (self.discriminator.a, a, self.translate(b, "BA"))):
            term = self.loss.discriminator_loss(critic_logits(critic(real)), critic_logits(critic(fake)))
            d_adv = term if d_adv is None else d_adv + term
        assert d_adv is not None
        self._held_out_d_adv.append(d_adv.detach())

    def on_validation_epoch_end(self) -> None:
        """The base class's report (the data module's translation scores as ``val/<name>``), then ``val/d_adv``:
        the two critics' held-out loss, summed as in training."""
        super().on_validation_epoch_end()
        if self.trainer.sanity_checking or not self._held_out_d_adv:
            return
        self.report({"val/d_adv": torch.stack(self._held_out_d_adv).mean()})

    def on_test_epoch_start(self) -> None:
        """The base class's start of testing, and a fresh list of held-out critic losses."""
        super().on_test_epoch_start()
        self._held_out_d_adv = []

    def on_test_epoch_end(self) -> None:
        """The base class's report, then ``test/d_adv`` (as :meth:`on_validation_epoch_end`)."""
        super().on_test_epoch_end()
        if self._held_out_d_adv:
            self.report({"test/d_adv": torch.stack(self._held_out_d_adv).mean()})

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The base class's record, plus both image histories (so a resumed run continues exactly).

        Args:
            checkpoint: The checkpoint dict being written.
        """
        super().on_save_checkpoint(checkpoint)
        checkpoint["cyclegan"] = {"history_a": self.history_a.state_dict(), "history_b": self.history_b.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The base class's restore, plus both image histories.

        Args:
            checkpoint: The checkpoint dict being loaded.

        Raises:
            ConfigurationError: If the checkpoint was not written by a ganmods module, or its histories were saved
                with another ``history_size``.
        """
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("cyclegan") or {}
        for key, history in (("history_a", self.history_a), ("history_b", self.history_b)):
            if key in state:
                history.load_state_dict(state[key])
