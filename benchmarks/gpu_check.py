"""One prepared check of ganmods on one GPU: throughput against a plain PyTorch loop, mixed precision with the
gradient penalty, host synchronisations per step, and the time of FID/KID feature extraction.

    python benchmarks/gpu_check.py --out benchmarks/results/gpu_check     # one GPU, at most --budget-s seconds
    python benchmarks/gpu_check.py --smoke --out /tmp/gpu_check           # CPU, tiny sizes, seconds

It writes ``gpu_check.json`` and ``gpu_check.md`` into ``--out`` (after every section, so a run cut short keeps
what it measured), with the device name, the torch/lightning versions and the command. Sections, in order
(quick ones first; each one that fails records its error and the next one runs):

1. ``syncs``: host synchronisations per critic step on the default path (WGAN-GP, fp32, ``Trainer`` defaults),
   as the difference of two fits of ``n`` and ``2n`` critic steps divided by ``n`` (set-up excluded):
   synchronising CUDA calls via ``torch.cuda.set_sync_debug_mode("warn")``, and device scalars read into
   Python (``aten._local_scalar_dense``, counted with a ``TorchDispatchMode``; also on the CPU).
2. ``penalty``: the gradient penalty on fixed weights and inputs under ``16-mixed`` (autocast fp16 with a
   gradient scale, halved from 2**16 while the scaled inner gradient overflows, as a scaler would) and
   ``bf16-mixed`` against fp32 (target: within 1e-2 relative).
3. ``long_16_mixed``: WGAN-GP on DCGAN-32 with ``precision="16-mixed"`` for 1000 critic steps: losses finite
   (the module's non-finite check over every step), steps the gradient scaler skipped
   (``model.skipped_steps``).
4. ``fid``: FID/KID of 10k generated images with a randomly initialised InceptionV3 of torch-fidelity's
   architecture (the timing of feature extraction and statistics; the values mean nothing), once with the
   real features computed, once with them cached.
5. ``throughput``: DCGAN-32 (:mod:`ganmods.nets.dcgan`) and the standard CNN of the RaGAN paper
   (:mod:`ganmods.nets.cnn`), batch 64, WGAN-GP (n_critic 5, Adam 1e-4, betas (0.5, 0.9)) and RaSGAN (n_critic 1,
   Adam 2e-4, betas (0.5, 0.999)), for ``fp32``, ``bf16-mixed``, ``16-mixed`` and ``channels_last`` (fp32):
   critic steps/s and images/s (real images through the critic per second = batch × critic steps/s) of
   ``Trainer.fit`` on a :class:`~ganmods.GANModule` with a :class:`~ganmods.GANDataModule` (the digits,
   resized to 32 px RGB, served from the GPU by the default ``data_on_device="auto"``) and of a hand-written
   loop with the same networks (same initial weights), optimizers, loss objects, penalty function and real
   batches, interleaved (ganmods, raw, raw, ganmods, ...) in rounds; the ratio is the median over rounds of
   ganmods' rate / raw rate of the same round. Both are timed after a warm-up, Trainer set-up excluded;
   ganmods' own per-step work (step-keyed reseeding, non-finite flags, counters, logging every 50 batches)
   counts against it.
6. ``compile``: the same with ``torch.compile`` (fp32), last because compiling takes minutes: the ganmods
   side through :class:`~ganmods.callbacks.CompileNetworks`, the raw side compiling the same networks; a critic
   trained with the gradient penalty stays uncompiled (no double backward in ``torch.compile``); the rows
   say which networks were compiled.

A section or a row that would start after ``--budget-s`` seconds (counted from the start of the process) is
recorded as ``skipped: time budget``; what needs CUDA is ``skipped: no CUDA`` on the CPU.
"""

from __future__ import annotations

import time

_START = time.perf_counter()

import argparse  # noqa: E402 - the clock starts before the heavy imports
import contextlib  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from typing import Any, Callable, Iterator, NamedTuple, Optional  # noqa: E402
from unittest import mock  # noqa: E402

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from ganmods import GANDataModule, GANModule  # noqa: E402
from ganmods.callbacks import ChannelsLast, CompileNetworks  # noqa: E402
from ganmods.losses import get_loss  # noqa: E402
from ganmods.module import critic_logits  # noqa: E402
from ganmods.nets import DCGANCritic, DCGANGenerator, StandardCNNCritic, StandardCNNGenerator  # noqa: E402
from ganmods.randomness import seed_step  # noqa: E402
from ganmods.regularizers import gradient_penalty  # noqa: E402

#: name -> (loss, n_critic, gradient-penalty λ or None, Adam lr, Adam betas): the two training set-ups timed.
CASES: dict[str, tuple[str, int, Optional[float], float, tuple[float, float]]] = {
    "wgan_gp": ("wasserstein", 5, 10.0, 1e-4, (0.5, 0.9)),
    "rasgan": ("rasgan", 1, None, 2e-4, (0.5, 0.999)),
}

#: name -> (generator class, critic class): the image networks timed.
NETS: dict[str, tuple[type, type]] = {
    "dcgan32": (DCGANGenerator, DCGANCritic),
    "cnn32": (StandardCNNGenerator, StandardCNNCritic),
}

#: setting -> (Lightning precision, channels-last, compiled).
SETTINGS: dict[str, tuple[str, bool, bool]] = {
    "fp32": ("32-true", False, False),
    "bf16-mixed": ("bf16-mixed", False, False),
    "16-mixed": ("16-mixed", False, False),
    "channels_last": ("32-true", True, False),
    "compile": ("32-true", False, True),
}

NO_CUDA = "skipped: no CUDA"
NO_TIME = "skipped: time budget"


@dataclass
class Sizes:
    """The sizes of one check (:data:`FULL` on a GPU, :data:`SMOKE` on the CPU)."""

    image_size: int
    width: int
    latent_dim: int
    batch: int
    warmup: int  # critic steps before the clock starts (multiples of every n_critic)
    steps: int  # timed critic steps
    rounds: int
    sync_steps: int  # n of the n and 2n fits of the sync count
    long_steps: int
    fid_samples: int
    fid_batch: int
    compile_backend: str
    compile_nets: tuple[str, ...]


FULL = Sizes(image_size=32, width=64, latent_dim=128, batch=64, warmup=25, steps=200, rounds=3, sync_steps=100,
             long_steps=1000, fid_samples=10_000, fid_batch=250, compile_backend="inductor",
             compile_nets=("dcgan32", "cnn32"))
SMOKE = Sizes(image_size=16, width=4, latent_dim=8, batch=8, warmup=5, steps=5, rounds=1, sync_steps=5,
              long_steps=10, fid_samples=2, fid_batch=2, compile_backend="eager", compile_nets=("dcgan32",))


# ---------------------------------------------------------------------------------------------- helpers
def elapsed() -> float:
    """Seconds since the process started (before the heavy imports)."""
    return time.perf_counter() - _START


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_nets(net: str, sizes: Sizes, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The generator and critic ``net`` (3-channel images), initialised from ``seed``."""
    gen_cls, critic_cls = NETS[net]
    torch.manual_seed(seed)
    gen = gen_cls(latent_dim=sizes.latent_dim, image_size=sizes.image_size, channels=3, width=sizes.width)
    critic = critic_cls(image_size=sizes.image_size, channels=3, width=sizes.width)
    return gen, critic


def adam(case: str) -> Callable[[Any], torch.optim.Optimizer]:
    """The optimizer factory of ``case``."""
    _, _, _, lr, betas = CASES[case]
    return lambda params: torch.optim.Adam(params, lr=lr, betas=betas)


def datamodule(sizes: Sizes, critic_steps: int) -> GANDataModule:
    """The digits, resized to ``image_size`` px RGB, ``critic_steps`` batches in one pass (the defaults otherwise:
    served from the GPU when they fit)."""
    return GANDataModule("digits", image_size=sizes.image_size, channels=3, batch_size=sizes.batch,
                         batches_per_epoch=critic_steps, val_size=sizes.batch, eval_samples=sizes.batch)


def quiet_trainer(device: torch.device, precision: str, callbacks: list, **kw: Any) -> pl.Trainer:
    """A one-device trainer without logger, checkpoints, progress bar or validation."""
    args: dict[str, Any] = dict(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=precision, max_epochs=1,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, callbacks=callbacks,
    )
    args.update(kw)
    return pl.Trainer(**args)


class _Clock(pl.Callback):
    """Wall time from the start of batch ``skip`` to the end of batch ``last`` (the device waited for both)."""

    def __init__(self, skip: int, last: int, device: torch.device) -> None:
        self.skip, self.last, self.device = skip, last, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer: pl.Trainer, module: Any, batch: Any, batch_idx: int) -> None:
        if batch_idx == self.skip:
            sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if batch_idx == self.last:
            sync(self.device)
            self.end = time.perf_counter()


class Run(NamedTuple):
    """One timed run: seconds per critic step after the warm-up, the networks compiled, the trained networks."""

    seconds: float
    compiled: list[str]
    generator: nn.Module
    critic: nn.Module


def run_ganmods(net: str, case: str, setting: str, sizes: Sizes, device: torch.device, data: GANDataModule) -> Run:
    """``Trainer.fit`` of a :class:`~ganmods.GANModule` for ``warmup + steps`` critic steps (base seed 0)."""
    loss, n_critic, gp, _, _ = CASES[case]
    precision, channels_last, compiled = SETTINGS[setting]
    gen, critic = build_nets(net, sizes)
    model = GANModule(gen, critic, loss=loss, n_critic=n_critic, gp_weight=gp, optimizer_g=adam(case),
                      optimizer_d=adam(case))
    model.rng_seed = 0  # the base seed of the step-keyed random stream (the raw loop uses the same)
    total = sizes.warmup + sizes.steps
    clock = _Clock(sizes.warmup, total - 1, device)
    callbacks: list[pl.Callback] = [clock]
    compiler = CompileNetworks(backend=sizes.compile_backend) if compiled else None
    if compiler is not None:
        callbacks.append(compiler)
    if channels_last:
        callbacks.append(ChannelsLast())
    data.batches_per_epoch = total
    quiet_trainer(device, precision, callbacks).fit(model, datamodule=data)
    if model.critic_steps != total:
        raise RuntimeError(f"ganmods ran {model.critic_steps} critic steps, not {total}")
    return Run((clock.end - clock.start) / sizes.steps, compiler.compiled if compiler is not None else [],
               model.generator, model.discriminator)


def raw_batches(data: GANDataModule, sizes: Sizes, device: torch.device) -> Iterator[Tensor]:
    """The real batches ganmods' loader serves for critic steps 0, 1, ... (same images, order and device)."""
    data.setup()
    stream = data.source.train_batches(sizes.batch, sizes.warmup + sizes.steps, data.seed, lambda: 0, lambda: 0,
                                       lambda: 1)
    if device.type == "cuda":  # ganmods serves these images from the GPU too (data_on_device="auto")
        stream.serve_from(stream.images.to(device))
    return iter(stream)


def run_raw(net: str, case: str, setting: str, sizes: Sizes, device: torch.device, data: GANDataModule) -> Run:
    """A plain PyTorch loop doing ganmods' math for ``warmup + steps`` critic steps: the same random numbers
    (each critic step reseeded as ganmods does, base seed 0), so both end with the same weights."""
    loss_name, n_critic, gp, _, _ = CASES[case]
    precision, channels_last, compiled = SETTINGS[setting]
    loss = get_loss(loss_name)
    gen, critic = (m.to(device) for m in build_nets(net, sizes))
    if channels_last:
        gen.to(memory_format=torch.channels_last)
        critic.to(memory_format=torch.channels_last)
    parts = []
    if compiled:
        gen.compile(backend=sizes.compile_backend)
        parts.append("generator")
        if gp is None:  # the penalty's double backward does not compile
            critic.compile(backend=sizes.compile_backend)
            parts.append("discriminator")
    opt_g, opt_d = adam(case)(gen.parameters()), adam(case)(critic.parameters())
    autocast: Callable[[], Any] = contextlib.nullcontext
    scaler = None
    if precision in ("bf16-mixed", "16-mixed"):
        dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
        # as Lightning: no cast cache (cached copies would outlive the optimizer steps inside the region)
        autocast = lambda: torch.autocast(device.type, dtype=dtype, cache_enabled=False)  # noqa: E731
        if precision == "16-mixed":
            scaler = torch.amp.GradScaler(device.type)

    def d_in(x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    def critic_fn(x: Tensor) -> Tensor:
        return critic(d_in(x))

    def backward_and_step(value: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad()
        if scaler is None:
            value.backward()
            opt.step()
        else:
            scaler.scale(value).backward()
            scaler.step(opt)
            scaler.update()

    d_params = list(critic.parameters())
    gen.train()
    critic.train()
    start = 0.0
    for step, real in enumerate(raw_batches(data, sizes, device)):
        if step == sizes.warmup:
            sync(device)
            start = time.perf_counter()
        real = real.to(device, non_blocking=True)
        seed_step(0, 0, step, device)
        with autocast():  # around the whole step, backward and optimizer steps included, as Lightning does
            with torch.no_grad():
                fake = gen(torch.randn(sizes.batch, sizes.latent_dim, device=device))
            d_loss = loss.discriminator_loss(critic_logits(critic_fn(real)), critic_logits(critic_fn(fake)))
            if gp is not None:
                d_loss = d_loss + gp * gradient_penalty(critic_fn, real, fake, scaler=scaler)[0]
            backward_and_step(d_loss, opt_d)
            if (step + 1) % n_critic:
                continue
            for p in d_params:
                p.requires_grad_(False)
            fake_logits = critic_logits(critic_fn(gen(torch.randn(sizes.batch, sizes.latent_dim, device=device))))
            real_logits = None
            if loss.needs_real_logits:
                with torch.no_grad():
                    real_logits = critic_logits(critic_fn(real))
            g_loss = loss.generator_loss(fake_logits, real_logits)
            backward_and_step(g_loss, opt_g)
            for p in d_params:
                p.requires_grad_(True)
    sync(device)
    return Run((time.perf_counter() - start) / sizes.steps, parts, gen, critic)


# ---------------------------------------------------------------------------------------------- sections
class _ScalarReads(TorchDispatchMode):
    """Counts device scalars read into Python (``.item()``, ``bool(t)``, ``float(t)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        return func(*args, **(kwargs or {}))


def _count_syncs(sizes: Sizes, device: torch.device, steps: int) -> tuple[int, Optional[int]]:
    gen, critic = build_nets("dcgan32", sizes)
    model = GANModule(gen, critic, loss="wasserstein", n_critic=5, gp_weight=10.0, optimizer_g=adam("wgan_gp"),
                      optimizer_d=adam("wgan_gp"))
    trainer = quiet_trainer(device, "32-true", [])
    data = datamodule(sizes, steps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("warn")
        try:
            with _ScalarReads() as reads:
                trainer.fit(model, datamodule=data)
        finally:
            if device.type == "cuda":
                torch.cuda.set_sync_debug_mode("default")
    cuda_syncs = sum("synchroniz" in str(w.message) for w in caught) if device.type == "cuda" else None
    return reads.reads, cuda_syncs


def section_syncs(sizes: Sizes, device: torch.device) -> dict[str, Any]:
    """Host synchronisations per critic step on the default path (fits of n and 2n steps, difference / n)."""
    n = sizes.sync_steps
    reads_n, cuda_n = _count_syncs(sizes, device, n)
    reads_2n, cuda_2n = _count_syncs(sizes, device, 2 * n)
    out: dict[str, Any] = {
        "case": "wgan_gp dcgan32 fp32, Trainer defaults (log_every_n_steps=50), GANDataModule defaults",
        "critic_steps": [n, 2 * n], "scalar_reads": [reads_n, reads_2n],
        "scalar_reads_per_critic_step": (reads_2n - reads_n) / n,
    }
    if cuda_n is None or cuda_2n is None:
        out["cuda_syncs"] = NO_CUDA
    else:
        out["cuda_syncs"] = [cuda_n, cuda_2n]
        out["cuda_syncs_per_critic_step"] = (cuda_2n - cuda_n) / n
    return out


def section_penalty(sizes: Sizes, device: torch.device) -> dict[str, Any]:
    """The gradient penalty on fixed weights and inputs under 16-mixed and bf16-mixed against fp32."""
    _, critic = build_nets("dcgan32", sizes, seed=1)
    critic = critic.to(device)
    g = torch.Generator().manual_seed(2)
    shape = (sizes.batch, 3, sizes.image_size, sizes.image_size)
    real = (torch.rand(shape, generator=g) * 2 - 1).to(device)
    fake = (torch.rand(shape, generator=g) * 2 - 1).to(device)

    def penalty(scaler: Any = None) -> float:
        eps_rng = torch.Generator(device=device).manual_seed(3)
        value, norms = gradient_penalty(critic, real, fake, generator=eps_rng, scaler=scaler)
        return float(value) if bool(torch.isfinite(norms).all()) else float("nan")

    fp32 = penalty()
    out: dict[str, Any] = {"case": "dcgan32 critic, seed 1; uniform real/fake, seed 2; eps seed 3",
                           "fp32": fp32, "target_rel": 1e-2}
    with torch.autocast(device.type, dtype=torch.bfloat16):
        bf16 = penalty()
    out["bf16_mixed"], out["bf16_mixed_rel"] = bf16, abs(bf16 - fp32) / abs(fp32)
    # a gradient scaler starts at 2**16 and halves on every overflow: the first scale whose inner gradient is
    # finite is the one training would reach on these weights
    fp16, scale = float("nan"), 2.0**16
    while scale >= 1.0:
        with torch.autocast(device.type, dtype=torch.float16):
            fp16 = penalty(_FixedScale(scale))
        if fp16 == fp16:  # finite
            break
        scale /= 2
    out["16_mixed"], out["16_mixed_scale"] = fp16, scale
    out["16_mixed_rel"] = abs(fp16 - fp32) / abs(fp32)
    out["16_mixed_within_target"] = out["16_mixed_rel"] <= 1e-2
    return out


class _FixedScale:
    """What the penalty asks of a gradient scaler (``scale``), at a fixed scale."""

    def __init__(self, scale: float) -> None:
        self.value = scale

    def scale(self, tensor: Tensor) -> Tensor:
        return tensor * self.value


def section_long_16_mixed(sizes: Sizes, device: torch.device) -> dict[str, Any]:
    """WGAN-GP, DCGAN-32, 16-mixed for ``long_steps`` critic steps: finite losses and skipped steps."""
    if device.type != "cuda":
        return {"status": NO_CUDA}
    gen, critic = build_nets("dcgan32", sizes)
    model = GANModule(gen, critic, loss="wasserstein", n_critic=5, gp_weight=10.0, optimizer_g=adam("wgan_gp"),
                      optimizer_d=adam("wgan_gp"))
    trainer = quiet_trainer(device, "16-mixed", [])
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=datamodule(sizes, sizes.long_steps))
    seconds = time.perf_counter() - t0
    last = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
    return {
        "critic_steps": model.critic_steps, "generator_steps": model.generator_steps,
        "losses_finite": model.nonfinite_message is None and model.critic_steps == sizes.long_steps,
        "nonfinite_message": model.nonfinite_message, "skipped_steps": model.skipped_steps.total(),
        "last_logged": last, "seconds_including_setup": seconds,
    }


def random_inception_file(path: str) -> str:
    """A randomly initialised state dict of torch-fidelity's InceptionV3 (feature extraction, no download)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    with mock.patch.object(tfi, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        torch.manual_seed(0)
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():  # He init keeps activations O(1) through the conv layers
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)
    return path


def section_fid(sizes: Sizes, device: torch.device) -> dict[str, Any]:
    """Time InceptionV3 feature extraction (random weights) of ``fid_samples`` generated images; on a GPU also the
    whole FID/KID of :class:`~ganmods.metrics.ImageMetrics` against as many other images, with the real
    features computed and then cached (the 2048-d statistics alone take tens of seconds on a small CPU)."""
    from ganmods.images import to_uint8
    from ganmods.metrics import ImageMetrics
    from ganmods.metrics.extractors import build_extractor

    n = sizes.fid_samples
    gen, critic = build_nets("dcgan32", sizes)
    model = GANModule(gen, critic).to(device)
    out: dict[str, Any] = {"samples": n, "extractor": "torch-fidelity InceptionV3, random weights (timing only)",
                           "batch_size": sizes.fid_batch}
    with tempfile.TemporaryDirectory() as tmp:
        weights = random_inception_file(os.path.join(tmp, "inception.pt"))
        net, features, *_ = build_extractor("inception", weights)
        net = net.to(device)
        fake = model.sample(n, seed=0, batch_size=1000)
        with torch.no_grad():
            features(to_uint8(fake[: min(n, sizes.fid_batch)]))  # warm-up (cuDNN algorithm choice)
            sync(device)
            t0 = time.perf_counter()
            feats = [features(to_uint8(chunk)).float() for chunk in fake.split(sizes.fid_batch)]
            sync(device)
        seconds = time.perf_counter() - t0
        out.update({"feature_dim": int(feats[0].shape[1]), "features_s": seconds, "features_images_per_s": n / seconds})
        if device.type != "cuda":
            out["fid_kid_score"] = NO_CUDA
            return out
        del net
        metrics = ImageMetrics(weights_path=weights, kid=True, kid_subset_size=min(1000, n),
                               cache_dir=os.path.join(tmp, "cache"), batch_size=sizes.fid_batch, device=device)
        real = model.sample(n, seed=1, batch_size=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t1 = time.perf_counter()
            metrics.score(fake, real, "gpu-check-real")
            t2 = time.perf_counter()
            metrics.score(fake, real, "gpu-check-real")
            t3 = time.perf_counter()
    out.update({"fid_kid_score_real_uncached_s": t2 - t1, "fid_kid_score_real_cached_s": t3 - t2})
    return out


def _row(net: str, case: str, setting: str, sizes: Sizes) -> dict[str, Any]:
    return {"net": net, "case": case, "setting": setting, "batch": sizes.batch, "n_critic": CASES[case][1],
            "ganmods_s": [], "raw_s": [], "status": "ok"}


def section_throughput(sizes: Sizes, device: torch.device, settings: list[str], nets: list[str],
                       budget: float, save: Callable[[], None], rows: list[dict[str, Any]]) -> None:
    """Interleaved ganmods / raw timings for every net x case x setting, in rounds; fills ``rows``."""
    data = datamodule(sizes, sizes.warmup + sizes.steps)
    mine = []
    for setting in settings:
        for net in nets:
            for case in CASES:
                row = _row(net, case, setting, sizes)
                if SETTINGS[setting][0] == "16-mixed" and device.type != "cuda":
                    row["status"] = NO_CUDA
                mine.append(row)
    rows.extend(mine)
    unit_cost = 0.0
    for r in range(sizes.rounds):
        for row in mine:
            if not row["status"].startswith("ok"):
                continue
            compiled = SETTINGS[row["setting"]][2]
            need = max(2 * unit_cost, 60.0 if compiled and r == 0 else 0.0)
            if elapsed() + need > budget:
                row["status"] = "ok (cut short: time budget)" if row["ganmods_s"] else NO_TIME
                continue
            t0 = time.perf_counter()
            order = [("ganmods", run_ganmods), ("raw", run_raw)]
            try:
                for name, fn in order if r % 2 == 0 else order[::-1]:
                    run = fn(row["net"], row["case"], row["setting"], sizes, device, data)
                    row[f"{name}_s"].append(run.seconds)
                    if compiled:
                        row[f"{name}_compiled"] = run.compiled
            except Exception as err:  # noqa: BLE001 - one failing setting must not stop the check
                row["status"] = f"error: {type(err).__name__}: {str(err).splitlines()[0][:300]}"
                row["traceback"] = traceback.format_exc()[-2000:]
            cost = time.perf_counter() - t0
            row["wall_s"] = row.get("wall_s", 0.0) + cost  # both loops, set-up and compilation included
            if r == 0:  # the first round's worst unit (compilation included) bounds the next ones
                unit_cost = max(unit_cost, cost)
            _summarise(row, sizes)
            save()


def _summarise(row: dict[str, Any], sizes: Sizes) -> None:
    pairs = list(zip(row["ganmods_s"], row["raw_s"]))
    if not pairs:
        return
    g = statistics.median(row["ganmods_s"])
    w = statistics.median(row["raw_s"])
    row.update({
        "rounds": len(pairs),
        "ganmods_critic_steps_per_s": 1 / g, "raw_critic_steps_per_s": 1 / w,
        "ganmods_images_per_s": sizes.batch / g, "raw_images_per_s": sizes.batch / w,
        "ratio": statistics.median(b / a for a, b in pairs),  # ganmods rate / raw rate, per round
    })


# ---------------------------------------------------------------------------------------------- output
def environment(device: torch.device, argv: list[str]) -> dict[str, Any]:
    """Device, versions and the command."""
    cpu = f"CPU ({platform.processor() or platform.machine()})"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    return {
        "device": name, "device_type": device.type, "torch": torch.__version__, "lightning": pl.__version__,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "python": platform.python_version(), "threads": torch.get_num_threads(),
        "command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/gpu_check.py", *argv]),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32 if device.type == "cuda" else None,
    }


def _fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    env = results["environment"]
    lines = [f"# ganmods GPU check ({'smoke' if results['smoke'] else 'full'})", "",
             f"Device: **{env['device']}**; torch {env['torch']}, lightning {env['lightning']}, CUDA {env['cuda']}; "
             f"{results.get('seconds', 0):.0f} s.", "", f"Command: `{env['command']}`", ""]
    rows = results.get("throughput", [])
    if rows:
        lines += ["## Throughput (critic steps/s, images/s = batch x critic steps/s)", "",
                  "ganmods/raw: the median over rounds of ganmods' rate / the plain loop's rate (goal: >= 0.97 at "
                  "fp32 and bf16-mixed).", "",
                  "| net | case | setting | ganmods steps/s | raw steps/s | ganmods img/s | raw img/s | ganmods/raw "
                  "| rounds | compiled (ganmods; raw) | status |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            compiled = "-"
            if "ganmods_compiled" in r or "raw_compiled" in r:
                compiled = f"{_fmt(r.get('ganmods_compiled'))}; {_fmt(r.get('raw_compiled'))}"
            lines.append(
                f"| {r['net']} | {r['case']} | {r['setting']} | {_fmt(r.get('ganmods_critic_steps_per_s'))} | "
                f"{_fmt(r.get('raw_critic_steps_per_s'))} | {_fmt(r.get('ganmods_images_per_s'), 0)} | "
                f"{_fmt(r.get('raw_images_per_s'), 0)} | {_fmt(r.get('ratio'), 3)} | {r.get('rounds', 0)} | "
                f"{compiled} | {r['status']} |")
        lines.append("")
    for key, title in (("syncs", "Host synchronisations per critic step (default path)"),
                       ("penalty", "Gradient penalty on fixed weights: mixed precision against fp32"),
                       ("long_16_mixed", "16-mixed WGAN-GP, long run"),
                       ("fid", "FID/KID time (random Inception: timing only)")):
        section = results.get(key)
        if section is None:
            continue
        lines += [f"## {title}", "", "| field | value |", "|---|---|"]
        for field, value in section.items():
            if field != "traceback":
                lines.append(f"| {field} | {_fmt(value, 4) if isinstance(value, float) else _fmt(value)} |")
        lines.append("")
    return "\n".join(lines)


def write(out: str, results: dict[str, Any]) -> None:
    """Write ``gpu_check.json`` and ``gpu_check.md`` into ``out`` (each replaced atomically)."""
    os.makedirs(out, exist_ok=True)
    results["seconds"] = elapsed()
    for name, text in (("gpu_check.json", json.dumps(results, indent=1, default=str) + "\n"),
                       ("gpu_check.md", markdown(results) + "\n")):
        tmp = os.path.join(out, f".{name}.tmp")
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(out, name))


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    """Command-line entry point (see the module docstring).

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The results written.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for the CPU (seconds)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="start nothing after this many seconds (default 420; smoke 120)")
    parser.add_argument("--rounds", type=int, default=None, help="throughput rounds (default 3; smoke 1)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--sections", nargs="+", default=["syncs", "penalty", "long_16_mixed", "fid", "throughput"],
                        choices=["syncs", "penalty", "long_16_mixed", "fid", "throughput"])
    args = parser.parse_args(argv)
    sizes = copy.copy(SMOKE if args.smoke else FULL)
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error(f"--rounds must be >= 1; got {args.rounds}")
        sizes.rounds = args.rounds
    budget = args.budget_s if args.budget_s is not None else (120.0 if args.smoke else 420.0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.smoke:
        torch.set_num_threads(1)  # tiny networks: more threads only contend on a shared CPU
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("WANDB_MODE", "disabled")

    results: dict[str, Any] = {"smoke": args.smoke, "environment": environment(device, argv), "sizes": asdict(sizes),
                               "cases": {k: list(v) for k, v in CASES.items()}, "budget_s": budget}
    save = lambda: write(args.out, results)  # noqa: E731
    save()
    sections: dict[str, Callable[[Sizes, torch.device], dict[str, Any]]] = {
        "syncs": section_syncs, "penalty": section_penalty, "long_16_mixed": section_long_16_mixed, "fid": section_fid,
    }
    for name in [s for s in args.sections if s in sections]:
        if elapsed() > budget:
            results[name] = {"status": NO_TIME}
            continue
        t0 = time.perf_counter()
        try:
            results[name] = sections[name](sizes, device)
        except Exception as err:  # noqa: BLE001 - one failing section must not stop the check
            results[name] = {"status": f"error: {type(err).__name__}: {str(err).splitlines()[0][:300]}",
                             "traceback": traceback.format_exc()[-2000:]}
        results[name]["section_s"] = time.perf_counter() - t0
        print(f"[{elapsed():6.1f} s] {name}: {results[name]}", flush=True)
        save()
    if "throughput" in args.sections:
        rows: list[dict[str, Any]] = []
        results["throughput"] = rows
        plain = [s for s in args.settings if s != "compile"]
        section_throughput(sizes, device, plain, list(NETS), budget, save, rows)
        if "compile" in args.settings:
            section_throughput(sizes, device, ["compile"], list(sizes.compile_nets), budget, save, rows)
        for row in rows:
            print(f"[{elapsed():6.1f} s] {row['net']} {row['case']} {row['setting']}: ratio {row.get('ratio')} "
                  f"{row['status']}", flush=True)
    save()
    print(f"wrote {os.path.join(args.out, 'gpu_check.json')} and gpu_check.md in {elapsed():.1f} s")
    return results


if __name__ == "__main__":
    main()
