"""Training health: non-finite values never reach a checkpoint, warnings for divergence and collapse signs
(once per episode), last.ckpt and best.ckpt side by side."""

from __future__ import annotations

import csv
import warnings

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

import ganmods
from ganmods import SGAN, WGANGP, GANDataModule
from ganmods.callbacks import GANCheckpoint, HealthMonitor, HealthWarning, main_metric, mean_pairwise_distance
from ganmods.cli import GANCLI
from ganmods.errors import ConfigurationError
from tests.conftest import fast_trainer, run_script, tiny_nets

BATCH = 16


class _NaNGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


class _Poisoned(torch.nn.Module):
    """A critic that, from its `k`-th training call on a full batch on, returns NaN (`"output"`) or keeps
    finite outputs but gives NaN gradients (`"grad"`)."""

    def __init__(self, k: int, mode: str) -> None:
        super().__init__()
        self.inner = tiny_nets()["discriminator"]
        self.k, self.mode, self.calls = k, mode, 0

    def forward(self, x):
        out = self.inner(x)
        if self.training and x.shape[0] == BATCH and torch.is_grad_enabled():
            self.calls += 1
            if self.calls > self.k:
                return out * float("nan") if self.mode == "output" else _NaNGrad.apply(out)
        return out


class _CorruptAt(Callback):
    """Writes NaN into a generator weight before critic step `k` (a corrupted parameter)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if pl_module.critic_steps == self.k:
            with torch.no_grad():
                next(pl_module.generator.parameters()).fill_(float("nan"))


def _dm(**kw) -> GANDataModule:
    kw.setdefault("batch_size", BATCH)
    kw.setdefault("batches_per_epoch", 5)
    return GANDataModule("ring8", **kw)


def _fit(tmp_path, model, *extra, **trainer_kw):
    ckpt = GANCheckpoint(dirpath=str(tmp_path / "ck"))
    trainer = fast_trainer(tmp_path, callbacks=[ckpt, HealthMonitor(), *extra], enable_checkpointing=True, **trainer_kw)
    trainer.fit(model, datamodule=_dm())
    return trainer


def _assert_file_finite(path) -> dict:
    raw = torch.load(path, map_location="cpu", weights_only=True)
    tensors = list(raw["state_dict"].items())
    for i, opt in enumerate(raw["optimizer_states"]):
        tensors += [(f"optimizer {i} {k}", v) for s in opt["state"].values() for k, v in s.items() if torch.is_tensor(v)]
    bad = [name for name, t in tensors if t.is_floating_point() and not torch.isfinite(t).all()]
    assert not bad, bad
    return raw


def test_nan_loss_stops_at_the_next_check_and_last_ckpt_is_the_last_finite_state(tmp_path):
    torch.manual_seed(0)
    model = SGAN(tiny_nets()["generator"], _Poisoned(k=30, mode="output"), max_generator_steps=1000)
    with pytest.warns(UserWarning, match=r"non-finite critic loss between critic steps 10 and 11 \(generator step 11\)"):
        _fit(tmp_path, model, log_every_n_steps=1)
    # 2 critic calls per critic step + 1 per generator step: call 31 is in critic step 11 (index 10); the flags
    # are read after every batch here (log_every_n_steps=1)
    assert (model.critic_steps, model.generator_steps) == (11, 11)
    last = tmp_path / "ck" / "last.ckpt"
    raw = _assert_file_finite(last)
    assert raw["ganmods"]["counters"]["generator_steps"] == 10  # the last finite state (the epoch end before)
    loaded = ganmods.load_checkpoint(last, discriminator=_Poisoned(k=10**9, mode="output"))
    assert loaded.generator_steps == 10 and all(torch.isfinite(p).all() for p in loaded.parameters())


def test_nan_gradient_with_finite_loss_is_found_at_the_next_check(tmp_path):
    torch.manual_seed(0)
    model = SGAN(tiny_nets()["generator"], _Poisoned(k=30, mode="grad"), max_generator_steps=1000)
    with pytest.warns(UserWarning, match=r"non-finite (generator loss|parameter discriminator\.inner\.\S+) between critic steps 10 and 11"):
        _fit(tmp_path, model, log_every_n_steps=1)
    assert model.generator_steps == 11
    raw = _assert_file_finite(tmp_path / "ck" / "last.ckpt")
    assert raw["ganmods"]["counters"]["generator_steps"] == 10


def test_corrupted_parameter_is_never_written(tmp_path):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), max_generator_steps=1000)
    with pytest.warns(UserWarning) as record:
        _fit(tmp_path, model, _CorruptAt(12), log_every_n_steps=1)
    messages = [str(w.message) for w in record]
    assert any("non-finite critic loss between critic steps 12 and 13" in m for m in messages)
    refused = [m for m in messages if "last.ckpt not written at generator step 13" in m]
    assert len(refused) == 1 and "non-finite values (generator." in refused[0]
    raw = _assert_file_finite(tmp_path / "ck" / "last.ckpt")
    assert raw["ganmods"]["counters"]["generator_steps"] == 10  # the last finite state saved (epoch end)
    assert ganmods.load_checkpoint(tmp_path / "ck" / "last.ckpt").generator_steps == 10


def test_a_crash_mid_run_loses_at_most_one_epoch(tmp_path):
    class Crash(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if pl_module.critic_steps == 13:
                raise RuntimeError("power cut (simulated)")

    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), max_generator_steps=1000)
    with pytest.raises(RuntimeError, match="simulated"):
        _fit(tmp_path, model, Crash())
    assert ganmods.load_checkpoint(tmp_path / "ck" / "last.ckpt").generator_steps == 10
    assert model.listeners == []  # the monitor unsubscribed, also on the exception


# ---------------------------------------------------------------- warnings from logged values
def _feed(monitor, rows, start=0):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flags = [monitor.observe(row, start + i) for i, row in enumerate(rows)]
    return [str(w.message) for w in caught if issubclass(w.category, HealthWarning)], flags


def test_collapse_warns_once_per_episode_naming_values_and_step():
    monitor = HealthMonitor(window=3)
    healthy = [{"train/d_adv": 1.3, "train/g_loss": 0.7}] * 3
    collapsed = [{"train/d_adv": 0.001, "train/g_loss": 12.0}] * 4
    msgs, flags = _feed(monitor, healthy + collapsed + healthy + collapsed)
    assert [f["health/collapse"] for f in flags] == [0.0] * 5 + [1.0] * 2 + [0.0] * 3 + [0.0, 0.0, 1.0, 1.0]
    assert len(msgs) == 2  # two episodes, one warning each
    assert "generator step 5" in msgs[0] and "generator step 12" in msgs[1]
    assert "train/d_adv [0.001, 0.001, 0.001]" in msgs[0] and "train/g_loss [12, 12, 12]" in msgs[0]
    assert [e[:2] for e in monitor.events] == [("collapse", 5), ("collapse", 12)]


def test_no_collapse_when_only_one_sign_is_there():
    monitor = HealthMonitor(window=3)
    rows = [{"train/d_adv": 1.3, "train/g_loss": 0.7}] * 3 + [{"train/d_adv": 0.001, "train/g_loss": 2.0}] * 3
    rows += [{"train/d_adv": 0.5, "train/g_loss": 30.0}] * 3
    assert _feed(monitor, rows)[0] == []


def test_no_collapse_check_for_the_wasserstein_loss(tmp_path):
    # a critic offset makes WGAN's G loss large while d_adv is ~0: not a collapse sign for that loss
    monitor = HealthMonitor(window=2)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=1)
    fast_trainer(tmp_path, callbacks=[monitor]).fit(model, datamodule=_dm())
    rows = [{"train/d_adv": 0.5, "train/g_loss": 0.5}] * 2 + [{"train/d_adv": 0.0, "train/g_loss": 40.0}] * 3
    assert _feed(monitor, rows)[0] == []
    monitor.on_fit_start(None, SGAN(**tiny_nets()))
    assert len(_feed(monitor, rows)[0]) == 1


def test_w_estimate_blow_up():
    monitor = HealthMonitor(window=3)
    values = [0.5, 0.6, 0.8, 1.0, 1.2, 30.0, 60.0, 80.0, 1.0, 1.1, 1.0, 1.2]
    msgs, flags = _feed(monitor, [{"train/w_estimate": v} for v in values], start=100)
    assert [f["health/estimate_blowup"] for f in flags][5:8] == [1.0, 1.0, 1.0]
    assert len(msgs) == 1
    assert "train/w_estimate blew up: |30| >= 10 x max(|0.8|, 1)" in msgs[0] and "generator step 105" in msgs[0]
    assert flags[-1]["health/estimate_blowup"] == 0.0


def test_modes_drop_by_two_from_the_best():
    monitor = HealthMonitor()
    msgs, flags = _feed(monitor, [{"val/modes": m} for m in [5, 8, 7, 7, 6, 5, 8, 6]])
    assert [f["health/modes_drop"] for f in flags] == [0, 0, 0, 0, 1, 1, 0, 1]
    assert len(msgs) == 2 and "val/modes fell to 6 from its best 8" in msgs[0] and "generator step 4" in msgs[0]


def test_diversity_drop_below_a_fraction_of_the_best():
    monitor = HealthMonitor(diversity_fraction=0.5)
    msgs, flags = _feed(monitor, [{"health/diversity": d} for d in [0.2, 1.0, 0.8, 0.45, 0.4, 0.9]])
    assert [f["health/diversity_drop"] for f in flags] == [0, 0, 0, 1, 1, 0]
    assert len(msgs) == 1 and "fell to 0.45, below 0.5 x its best 1" in msgs[0]


def test_mean_pairwise_distance_for_points_and_images():
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    images = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.ones(1, 2, 2)])
    assert mean_pairwise_distance(images) == pytest.approx((2 + 2 + 0) * 2 / 6)
    with pytest.raises(ConfigurationError, match="samples must be a tensor of at least 2 samples"):
        mean_pairwise_distance(torch.zeros(1, 2))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [({"window": 1}, "window must be an integer >= 2; got 1"),
     ({"critic_loss_eps": 0}, "critic_loss_eps must be a finite number > 0; got 0"),
     ({"g_loss_factor": 1}, "g_loss_factor must be a finite number > 1; got 1"),
     ({"estimate_factor": float("inf")}, "estimate_factor must be a finite number > 1"),
     ({"modes_drop": -2}, "modes_drop must be a finite number > 0; got -2"),
     ({"diversity_n": 1}, "diversity_n must be an integer >= 2; got 1"),
     ({"diversity_fraction": 1.0}, "diversity_fraction must be a number in (0, 1); got 1.0"),
     ({"diversity_seed": "x"}, "diversity_seed must be an integer; got 'x'"),
     ],
)
def test_bad_monitor_arguments(kwargs, fragment):
    with pytest.raises(ConfigurationError) as info:
        HealthMonitor(**kwargs)
    assert fragment in str(info.value)


# ---------------------------------------------------------------- in a real run
class _FreezeGenerator(Callback):
    """Makes the generator constant (a total collapse) after critic step `k`."""

    def __init__(self, k: int) -> None:
        self.k = k

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.critic_steps >= self.k:
            last = [m for m in pl_module.generator.modules() if isinstance(m, torch.nn.Linear)][-1]
            with torch.no_grad():
                last.weight.zero_()


def test_run_logs_health_flags_and_warns_on_a_collapse(tmp_path):
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, n_critic=1, max_generator_steps=20)
    monitor = HealthMonitor(diversity_n=32)
    trainer = fast_trainer(tmp_path, logger=CSVLogger(tmp_path), limit_val_batches=1, log_every_n_steps=5,
                           callbacks=[monitor, _FreezeGenerator(12)])
    with pytest.warns(HealthWarning, match=r"health/diversity .* fell to 0, below 0.5 x its best [\d.]+: .*generator step 15"):
        trainer.fit(model, datamodule=_dm(val_size=32, eval_samples=100))
    rows = list(csv.DictReader(open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv")))
    g = "counters/generator_steps"
    diversity = {int(float(r[g])): float(r["health/diversity"]) for r in rows if r.get("health/diversity")}
    assert sorted(diversity) == [5, 10, 15, 20] and diversity[5] > 0.01 and diversity[15] == 0.0
    blowup = [r for r in rows if r.get("health/estimate_blowup")]
    assert [int(float(r[g])) for r in blowup] == [5, 10, 15, 20] and all(r.get("train/w_estimate") for r in blowup)
    assert model.listeners == []  # the monitor unsubscribed when fitting ended
    # nothing patched into the module: none of its methods is shadowed by an instance attribute
    assert not {name for name in vars(model) if callable(getattr(type(model), name, None))}


def test_best_and_last_checkpoints_side_by_side(tmp_path):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), max_generator_steps=20)
    ckpt = GANCheckpoint(dirpath=str(tmp_path / "ck"))
    trainer = fast_trainer(tmp_path, logger=CSVLogger(tmp_path), limit_val_batches=1, callbacks=[ckpt],
                           enable_checkpointing=True)
    trainer.fit(model, datamodule=_dm(val_size=32, eval_samples=200, dataset_options={"std": 0.3}))
    rows = list(csv.DictReader(open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv")))
    kl = {int(float(r["counters/generator_steps"])): float(r["val/reverse_kl"]) for r in rows if r.get("val/reverse_kl")}
    assert sorted(kl) == [5, 10, 15, 20]
    best_step = min(kl, key=kl.get)
    assert ganmods.load_checkpoint(tmp_path / "ck" / "best.ckpt").generator_steps == best_step
    assert ganmods.load_checkpoint(tmp_path / "ck" / "last.ckpt").generator_steps == 20
    assert ckpt.monitor == "val/reverse_kl" and ckpt.best_model_score == pytest.approx(kl[best_step])


def test_main_metric_by_datamodule():
    from ganmods.metrics import ImageMetrics, count_label

    assert main_metric(GANDataModule("grid25")) == ("val/reverse_kl", "min")
    assert main_metric(GANDataModule("swissroll")) is None
    assert main_metric(GANDataModule("digits", image_size=16)) is None  # no image metric
    metric = ImageMetrics("digits", device="cpu", kid=False)
    dm = GANDataModule("digits", image_size=16, eval_samples=297, metric=metric)
    assert main_metric(dm) == (f"val/fid_{count_label(297)}", "min")
    assert main_metric(None) is None
    swiss = GANCheckpoint()
    assert swiss.resolve(GANDataModule("swissroll")) is None and swiss.save_top_k == 0
    with pytest.raises(ConfigurationError, match="mode must be 'auto', 'min' or 'max'; got 'up'"):
        GANCheckpoint(mode="up")


def test_the_command_line_has_both_by_default(tmp_path):
    import os

    config = os.path.join(os.path.dirname(__file__), "..", "configs", "toy", "sgan.yaml")
    cli = GANCLI(args=["-c", config, f"--trainer.logger.init_args.save_dir={tmp_path}"], run=False)
    kinds = [type(c) for c in cli.trainer.callbacks]
    assert GANCheckpoint in kinds and HealthMonitor in kinds
    assert isinstance(cli.trainer.checkpoint_callback, GANCheckpoint)


DDP_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
import torch, lightning.pytorch as pl
from ganmods import SGAN, GANDataModule
from ganmods.callbacks import GANCheckpoint, HealthMonitor
from tests.test_health_monitor import _Poisoned, tiny_nets

torch.manual_seed(0)
rank = int(__import__("os").environ.get("LOCAL_RANK", 0))
# only rank 1's critic gives NaN gradients (from critic step 7 on): both ranks must stop together
model = SGAN(tiny_nets()["generator"], _Poisoned(k=21 if rank == 1 else 10**9, mode="grad"), max_generator_steps=50)
trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_epochs=-1, log_every_n_steps=1,
                     logger=pl.loggers.CSVLogger(sys.argv[1]), enable_progress_bar=False, enable_model_summary=False,
                     limit_val_batches=1, callbacks=[GANCheckpoint(), HealthMonitor(diversity_n=16)])
pl.seed_everything(0)
trainer.fit(model, datamodule=GANDataModule(batch_size=16, batches_per_epoch=5, val_size=32, eval_samples=50))
finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
params = float(sum(p.double().sum() for p in model.parameters()))
with open(f"{sys.argv[1]}/rank{trainer.global_rank}.txt", "w") as f:
    f.write(f"{model.critic_steps} {model.generator_steps} {finite} {params:.10f} {model.nonfinite_message}")
if torch.distributed.is_initialized():
    torch.distributed.barrier()
"""


@pytest.mark.timeout(240)
def test_nan_gradient_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    """Two CPU processes (gloo): the non-finite decision is reduced, the checkpoint guard decides together,
    nothing hangs, and both ranks stop after the same batch (about 20 s: two process start-ups)."""
    run_script(DDP_SCRIPT, tmp_path, str(tmp_path / "logs"))
    r0, r1 = ((tmp_path / "logs" / f"rank{r}.txt").read_text().split(" ", 4) for r in (0, 1))
    assert r0[:3] == r1[:3] == ["8", "8", "False"]  # both ranks stop after the same batch
    assert "non-finite" in r0[4] and "between critic steps 7 and 8" in r0[4]
    (last,) = (tmp_path / "logs").rglob("last.ckpt")
    raw = _assert_file_finite(last)
    assert raw["ganmods"]["counters"]["critic_steps"] == 5  # the last finite state: the epoch end before


def test_monitor_state_survives_a_resume(tmp_path):
    torch.manual_seed(0)
    first = HealthMonitor(diversity_n=16)
    trainer = fast_trainer(tmp_path, limit_val_batches=1, callbacks=[first])
    trainer.fit(SGAN(**tiny_nets(), max_generator_steps=10), datamodule=_dm(val_size=32, eval_samples=100))
    assert set(first.best) == {"val/modes", "health/diversity"}
    trainer.save_checkpoint(tmp_path / "mid.ckpt")
    second, seen = HealthMonitor(diversity_n=16), {}

    class Peek(Callback):
        def on_train_start(self, trainer, pl_module):
            seen.update(best=dict(second.best), history={k: list(v) for k, v in second.history.items()})

    trainer = fast_trainer(tmp_path, limit_val_batches=1, callbacks=[second, Peek()])
    trainer.fit(SGAN(**tiny_nets(), max_generator_steps=11), datamodule=_dm(val_size=32, eval_samples=100),
                ckpt_path=str(tmp_path / "mid.ckpt"))
    assert seen["best"] == first.best and seen["history"]["val/modes"] == list(first.history["val/modes"])
