"""Two-process data parallelism (CPU, gloo) is one process on the union of the ranks' samples.

WGAN-GP with a critic without BatchNorm and SGD: every rank records what its first step saw (real batch,
fakes, the penalty's interpolates x̂, the generator step's latents) and the gradients each optimizer
stepped with; the test replays both ranks' inputs concatenated (2B samples) in this process with the
module's own loss and penalty and compares gradients. Parameters must be bitwise equal on both ranks
after several steps. Every subprocess has a timeout, so a hung collective fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ganmods.module import critic_logits as logits
from ganmods.losses import get_loss
from ganmods.nets import MLPCritic, MLPGenerator
from ganmods.regularizers import gradient_penalty

ROOT = Path(__file__).resolve().parents[1]
B, STEPS, LR, GP = 16, 3, 0.05, 10.0

SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    warnings.filterwarnings("ignore")
    import torch, lightning.pytorch as pl
    import ganmods, ganmods.strategies
    from ganmods import WGANGP, GANDataModule
    from ganmods.nets import MLPCritic, MLPGenerator
    from ganmods.strategies import average_gradients, broadcast_tensors

    out, strategy = sys.argv[1], sys.argv[2]
    B, steps, lr, gp = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    rank_env = int(__import__("os").environ.get("LOCAL_RANK", 0))
    torch.manual_seed(100 + rank_env)  # different initial weights per rank: the strategy must start all from rank 0's
    sgd = lambda params: torch.optim.SGD(params, lr=lr)
    model = WGANGP(MLPGenerator(hidden=16, depth=2), MLPCritic(hidden=16, depth=2), gp_weight=gp, n_critic=1,
                   optimizer_g=sgd, optimizer_d=sgd, max_generator_steps=steps, grad_norm_interval=1)
    rec = {"d_in": [], "g_in": [], "grads": [], "logged": []}
    model.add_listener(lambda values, module: rec["logged"].append({k: float(v) for k, v in values.items()}))

    def keep(key):
        def hook(mod, args):
            if mod.training and len(rec["grads"]) < 2:  # inputs of the first critic and generator step
                rec[key].append(args[0].detach().clone())
        return hook

    model.discriminator.register_forward_pre_hook(keep("d_in"))
    model.generator.register_forward_pre_hook(keep("g_in"))

    class Record(pl.Callback):
        def on_train_start(self, trainer, module):
            rec["init"] = {k: v.detach().clone() for k, v in module.state_dict().items()}

        def on_before_optimizer_step(self, trainer, module, optimizer):
            if len(rec["grads"]) < 2:  # the critic step's and the generator step's gradients, as stepped
                rec["grads"].append([p.grad.detach().clone() for g in optimizer.param_groups for p in g["params"]])

    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy=strategy, max_epochs=-1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, callbacks=[Record()], log_every_n_steps=1)
    pl.seed_everything(0)
    trainer.fit(model, datamodule=GANDataModule(batch_size=B, batches_per_epoch=4 * steps))
    rank = trainer.global_rank
    rec["final"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rec["generator_steps"] = model.generator_steps
    rec["ganmods"] = ganmods.__file__
    # the helpers on their own: a gradient present on rank 0 only, one on no rank, a rank-dependent buffer
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))
    a.grad = torch.full((3,), 4.0) if rank == 0 else None
    average_gradients([a, b])
    buf = torch.full((2,), float(rank + 7))
    broadcast_tensors([buf])
    rec["helpers"] = (a.grad, b.grad, buf)
    torch.save(rec, f"{out}/rank{rank}.pt")
    torch.distributed.barrier()  # rank 0 must not exit before rank 1 has written its file
    """
)


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled", PYTHONPATH=path)


def _run_ranks(out: Path, strategy: str) -> list[dict]:
    script = out / "ddp_equivalence.py"
    script.write_text(SCRIPT)
    args = [sys.executable, str(script), str(out), strategy, str(B), str(STEPS), str(LR), str(GP)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=_env(), cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.fixture(scope="module", params=["gan_ddp", "ddp_find_unused_parameters_true"])
def ranks(request, tmp_path_factory) -> list[dict]:
    """What each rank recorded in one 2-process fit with the given strategy (one fit per strategy)."""
    return _run_ranks(tmp_path_factory.mktemp(request.param), request.param)


def _nets(state: dict) -> tuple[torch.nn.Module, torch.nn.Module]:
    g, d = MLPGenerator(hidden=16, depth=2), MLPCritic(hidden=16, depth=2)
    g.load_state_dict({k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")})
    d.load_state_dict({k[len("discriminator."):]: v for k, v in state.items() if k.startswith("discriminator.")})
    return g, d


def _replay(r0: dict, r1: dict) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One critic step and one generator step on both ranks' inputs concatenated, in one process."""
    g, d = _nets(r0["init"])
    loss = get_loss("wasserstein")
    # per rank, the critic saw: real, fake, x̂ (critic step), then G(z) (generator step)
    real, fake, x_hat = (torch.cat([r0["d_in"][i], r1["d_in"][i]]) for i in range(3))
    d_loss = loss.discriminator_loss(logits(d(real)), logits(d(fake)))
    # x̂ is already the interpolate: with real = fake = x̂ every ε gives x̂ back
    d_loss = d_loss + GP * gradient_penalty(d, x_hat, x_hat)[0]
    d_grads = list(torch.autograd.grad(d_loss, list(d.parameters())))
    with torch.no_grad():
        for p, grad in zip(d.parameters(), d_grads):
            p -= LR * grad
    d.requires_grad_(False)
    # the generator saw: the critic step's latents (no graph), then the generator step's
    z = torch.cat([r0["g_in"][1], r1["g_in"][1]])
    g_loss = loss.generator_loss(logits(d(g(z))), None)
    g_grads = list(torch.autograd.grad(g_loss, list(g.parameters())))
    return d_grads, g_grads


@pytest.mark.timeout(150)
def test_two_ranks_equal_one_process_on_both_ranks_samples(ranks):
    r0, r1 = ranks
    assert r0["ganmods"].startswith(str(ROOT))  # this checkout was tested, not another install
    assert r0["generator_steps"] == r1["generator_steps"] == STEPS
    # each rank drew its own real batch, latents and ε, and recorded B of each
    for i in range(3):
        assert r0["d_in"][i].shape[0] == B and not torch.equal(r0["d_in"][i], r1["d_in"][i])
    assert not torch.equal(r0["g_in"][1], r1["g_in"][1])
    d_grads, g_grads = _replay(r0, r1)
    for rec in (r0, r1):
        for got, want in zip(rec["grads"][0], d_grads, strict=True):
            assert (got - want).abs().max() < 1e-5
        for got, want in zip(rec["grads"][1], g_grads, strict=True):
            assert (got - want).abs().max() < 1e-5
    # the logged gradient norms are those of the averaged gradients
    for grads, key in ((d_grads, "train/grad_norm_d"), (g_grads, "train/grad_norm_g")):
        want = float(torch.stack([g.norm() for g in grads]).norm())
        assert abs(r0["logged"][0][key] - want) < 1e-5 * max(1.0, want)
    # the averaged gradients differ from one rank's own: the comparison above can fail
    own0, _ = _replay(r0, r0)
    assert max(float((a - b).abs().max()) for a, b in zip(own0, d_grads)) > 1e-3


@pytest.mark.timeout(150)
def test_ranks_start_from_rank0_weights_and_stay_identical(ranks):
    r0, r1 = ranks
    # each rank built its own weights (seeded by rank); the strategy started both from rank 0's
    for k in r0["init"]:
        assert torch.equal(r0["init"][k], r1["init"][k]), k
    for k in r0["final"]:
        assert torch.equal(r0["final"][k], r1["final"][k]), k
    assert not torch.equal(r0["final"]["discriminator.net.0.weight"], r0["init"]["discriminator.net.0.weight"])


@pytest.mark.timeout(150)
def test_helpers_average_missing_gradients_as_zero_and_broadcast_rank0(ranks):
    for rec in ranks:
        a_grad, b_grad, buf = rec["helpers"]
        assert torch.equal(a_grad, torch.full((3,), 2.0))  # (4 + 0) / 2: rank 1 had none
        assert b_grad is None  # no rank had one
        assert torch.equal(buf, torch.full((2,), 7.0))


@pytest.mark.timeout(150)
def test_cli_toy_wgan_gp_two_processes_gan_ddp_checkpoint_loads(tmp_path):
    import ganmods

    args = [
        sys.executable, "-m", "ganmods", "fit", "-c", str(ROOT / "configs/toy/wgan_gp.yaml"),
        "--trainer.devices", "2", "--trainer.strategy.class_path", "ganmods.strategies.GANDDPStrategy",
        "--model.init_args.max_generator_steps", "3", "--model.init_args.n_critic", "5",
        "--model.init_args.generator.init_args.hidden", "16", "--model.init_args.discriminator.init_args.hidden", "16",
        "--data.batch_size", "32", "--data.batches_per_epoch", "10", "--data.val_size", "64",
        "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"), "--trainer.enable_progress_bar", "false",
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained 3 generator steps (15 critic steps, 960 real samples)" in done.stdout  # 15 x 32 x 2 ranks
    (ckpt,) = (tmp_path / "runs").rglob("last.ckpt")
    module = ganmods.load_checkpoint(ckpt)
    assert type(module).__name__ == "WGANGP" and module.generator_steps == 3
    assert module.sample(5, seed=0).shape == (5, 2)


# ---------------------------------------------------------------- in this process (no second rank)
def test_gan_ddp_is_registered_and_checks_its_arguments():
    from lightning.pytorch.strategies import StrategyRegistry

    from ganmods.errors import ConfigurationError
    from ganmods.strategies import GANDDPStrategy

    assert StrategyRegistry["gan_ddp"]["strategy"] is GANDDPStrategy
    for bad in ({"bucket_cap_mb": 0}, {"bucket_cap_mb": "25"}, {"broadcast_buffers": "yes"}):
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            GANDDPStrategy(**bad)


def test_helpers_refuse_to_run_without_a_process_group():
    from ganmods.errors import ConfigurationError
    from ganmods.strategies import average_gradients, broadcast_tensors

    assert not torch.distributed.is_initialized()
    with pytest.raises(ConfigurationError, match="process group"):
        average_gradients([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ConfigurationError, match="process group"):
        broadcast_tensors([torch.zeros(2)])


def test_buckets_keep_order_split_by_dtype_and_cap():
    from ganmods.strategies import _buckets

    ts = [torch.zeros(4), torch.zeros(4), torch.zeros(2, dtype=torch.float64), torch.zeros(4), torch.zeros(100)]
    # cap 32 bytes: two float32 [4] fill a bucket; the float64 tensor has its own; a tensor over the cap too
    assert _buckets(ts, 32) == [[0, 1], [3], [4], [2]]
    assert sorted(i for b in _buckets(ts, 10**9) for i in b) == list(range(5))


def test_gan_ddp_on_one_process_trains_exactly_like_the_default_strategy():
    import ganmods.strategies  # noqa: F401 - registers "gan_ddp"
    from ganmods import WGANGP, GANDataModule
    from tests.conftest import fast_trainer, tiny_nets

    saved_env = dict(os.environ)
    params = {}
    try:
        for strategy in ("auto", "gan_ddp"):
            torch.manual_seed(0)
            model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=3)
            fast_trainer(strategy=strategy).fit(model, datamodule=GANDataModule(batch_size=16, batches_per_epoch=30))
            assert model.generator_steps == 3
            params[strategy] = [p.detach().clone() for p in model.parameters()]
    finally:  # leave no process group or rendezvous variables behind for other tests
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(saved_env)
    assert all(torch.equal(a, b) for a, b in zip(params["auto"], params["gan_ddp"], strict=True))
