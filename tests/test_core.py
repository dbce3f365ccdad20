"""The Lightning-native core: one loop class, one step axis, observers that subscribe, no host sync per step."""

from __future__ import annotations

import ast
import csv
import glob
import os
from collections import Counter

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils._python_dispatch import TorchDispatchMode

import ganmods
from ganmods import SGAN, WGANGP, GANDataModule, GANModule
from ganmods.callbacks import GANCheckpoint, HealthMonitor
from tests.conftest import fast_trainer, tiny_nets

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ganmods")


def test_the_loop_is_one_class_without_stateful_mixins():
    own = [c for c in GANModule.__mro__ if c.__module__.startswith("ganmods")]
    assert [c.__name__ for c in own] == ["GANModule", "Recorded"]  # Recorded only records construction arguments
    assert "__init__" not in vars(ganmods.spec.Recorded)
    for hook in ("training_step", "configure_optimizers", "validation_step", "on_validation_epoch_end", "sample",
                 "predict_step", "on_save_checkpoint", "on_load_checkpoint", "setup", "on_fit_start"):
        assert hook in vars(GANModule), hook


def _imports(path: str) -> set[str]:
    tree = ast.parse(open(path).read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganmods"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ganmods"))
    return found


def test_no_import_circles_in_the_package():
    modules = {}
    for path in glob.glob(os.path.join(ROOT, "**", "*.py"), recursive=True):
        rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
        modules[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    # a package's __init__ re-exporting its own submodules is not a circle through the package
    graph = {m: {i for i in deps if not (m.startswith(i + ".") and modules[i].endswith("__init__.py"))}
             for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    core = [c for c in cycles if any(x in ("ganmods.module", "ganmods.sampling", "ganmods.checkpoint",
                                           "ganmods.generate") for x in c)]
    assert not core, core


class _UserModule(SGAN):
    """A subclass logging a value of its own with self.log."""

    def training_step(self, batch, batch_idx):
        super().training_step(batch, batch_idx)
        self.log("user/batch", float(batch_idx), on_step=True, on_epoch=False)


def test_one_step_axis_for_ganmods_lightning_callbacks_and_user_values(tmp_path):
    torch.manual_seed(0)
    model = _UserModule(**tiny_nets(), max_generator_steps=40)
    early = EarlyStopping(monitor="train/g_loss", patience=10_000, check_on_train_epoch_end=True)
    best = ModelCheckpoint(dirpath=str(tmp_path / "ck"), monitor="train/d_loss", save_top_k=1)
    trainer = fast_trainer(tmp_path, logger=CSVLogger(str(tmp_path)), log_every_n_steps=4, enable_checkpointing=True,
                           callbacks=[LearningRateMonitor(logging_interval="step"), early, best])
    trainer.fit(model, datamodule=GANDataModule("ring8", batch_size=16, batches_per_epoch=10))
    assert {"train/g_loss", "train/d_loss", "counters/images_seen"} <= set(trainer.callback_metrics)
    assert best.best_model_score is not None and early.best_score is not None
    (path,) = glob.glob(str(tmp_path / "lightning_logs" / "*" / "metrics.csv"))
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    by_key = lambda key: {int(r["step"]) for r in rows if r.get(key)}  # noqa: E731
    ours, lr, user = by_key("train/g_loss"), by_key("lr-Adam"), by_key("user/batch")
    assert ours == lr == user == {3, 7, 11, 15, 19, 23, 27, 31, 35, 39}  # every 4th Lightning batch (0-based)
    for row in rows:  # the counters sit beside every value ganmods logs, and match the step (n_critic 1)
        if row.get("train/g_loss"):
            assert int(float(row["counters/generator_steps"])) == int(row["step"]) + 1
            assert int(float(row["counters/images_seen"])) == 16 * (int(row["step"]) + 1)


class _Counting(TorchDispatchMode):
    """Counts reads of a device scalar into Python (`.item()`, `bool(t)`, `float(t)`)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        return func(*args, **(kwargs or {}))


def test_no_host_sync_per_critic_step_on_the_default_fit_path(tmp_path):
    torch.manual_seed(0)
    sgd = lambda params: torch.optim.SGD(params, lr=1e-3)  # noqa: E731 - no optimizer step counters on the CPU
    model = SGAN(**tiny_nets(), max_generator_steps=200, optimizer_g=sgd, optimizer_d=sgd)
    trainer = fast_trainer(tmp_path, enable_checkpointing=True, log_every_n_steps=50,
                           callbacks=[GANCheckpoint(dirpath=str(tmp_path / "ck")), HealthMonitor()])
    data = GANDataModule("ring8", batch_size=16, batches_per_epoch=100, val_size=32, eval_samples=64)
    with _Counting() as counting:
        trainer.fit(model, datamodule=data)
    assert model.critic_steps == 200
    # reads happen only when the trainer writes logs (4 times), at the 2 validations and checkpoints, at the end
    assert counting.reads / model.critic_steps < 0.5, counting.reads


def test_the_monitor_subscribes_and_leaves_the_module_as_it_was(tmp_path):
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, n_critic=1, max_generator_steps=6)
    before = dict(vars(model))
    seen: list[dict] = []

    def spy(values, module):
        seen.append({k: float(v) for k, v in values.items()})
        return {"user/echo": 1.0}

    model.add_listener(spy)
    monitor = HealthMonitor(diversity_n=0)
    trainer = fast_trainer(tmp_path, log_every_n_steps=2, callbacks=[monitor])
    trainer.fit(model, datamodule=GANDataModule("ring8", batch_size=16, batches_per_epoch=6))
    assert [int(v["counters/generator_steps"]) for v in seen] == [2, 4, 6]
    assert trainer.callback_metrics["user/echo"] == 1.0  # a listener's values are logged at the same step
    assert model.listeners == [spy]  # the monitor unsubscribed; ours stays until removed
    model.remove_listener(spy)
    assert set(vars(model)) == set(before)  # nothing added to (or patched into) the module's attributes
    assert monitor._offset_free is True  # WGAN-GP's loss declares its offset (no loss-name special case)


def test_listener_must_be_callable():
    model = SGAN(**tiny_nets())
    try:
        model.add_listener("no")  # type: ignore[arg-type]
    except ganmods.errors.ConfigurationError as err:
        assert "listener must be a callable" in str(err)
    else:  # pragma: no cover
        raise AssertionError("a non-callable listener was accepted")


def test_find_cause_walks_the_exception_chain():
    from ganmods.errors import ConfigurationError, find_cause

    try:
        try:
            raise ConfigurationError("n must be an integer >= 1; got 0.")
        except ConfigurationError as inner:
            raise RuntimeError("while parsing") from inner
    except RuntimeError as outer:
        assert str(find_cause(outer, ConfigurationError)) == "n must be an integer >= 1; got 0."
        assert find_cause(outer, OSError) is None
        assert find_cause(outer, RuntimeError) is outer


class _CountingRegularizer(ganmods.regularizers.Regularizer):
    """A constant critic term and a generator-side term, both lazy; records when and how they are called."""

    name = "counting"

    def __init__(self, every: int = 1, value: float = 0.25) -> None:
        super().__init__(every=every)
        self.value, self.critic_calls, self.generator_calls, self.frozen = value, 0, 0, []

    def penalty(self, critic, real, fake):
        self.critic_calls += 1
        return torch.tensor(self.value), {"counting/term": torch.tensor(self.value)}

    def generator_penalty(self, critic, fake, latents):
        self.generator_calls += 1
        self.frozen.append(not any(p.requires_grad for p in critic.parameters()))
        return fake.float().pow(2).mean() * 0.0 + self.value, {}


def test_lazy_regularizers_run_every_k_steps_weighted_by_k_on_both_sides(tmp_path):
    torch.manual_seed(0)
    reg = _CountingRegularizer(every=3)
    model = SGAN(**tiny_nets(), regularizers=[reg], max_generator_steps=7)
    seen: list[dict] = []
    model.add_listener(lambda values, module: seen.append({k: float(v) for k, v in values.items()}))
    fast_trainer(tmp_path, log_every_n_steps=1).fit(model, datamodule=GANDataModule("ring8", batch_size=16,
                                                                                     batches_per_epoch=7))
    assert reg.critic_calls == 3 and reg.generator_calls == 3  # critic and generator steps 0, 3, 6 of 7
    assert all(reg.frozen)  # the generator-side term sees a frozen critic
    # the critic's total is its adversarial loss plus 3 x the term on due steps, the loss alone otherwise
    extra = [round(v["train/d_loss"] - v["train/d_adv"], 5) for v in seen]
    assert extra == [0.75, 0.0, 0.0, 0.75, 0.0, 0.0, 0.75]
