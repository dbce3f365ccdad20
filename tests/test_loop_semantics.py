"""The training loop's semantics, checked against updates computed by hand from the public networks.

Each test recomputes what one step must do with plain torch on copies of the initial networks, and also
shows that a plausible wrong loop (stale real logits, a different warm-up schedule, a swapped EMA decay)
gives a measurably different result, so the test has the power to catch it.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ganmods import GANModule
from ganmods.losses import get_loss
from tests.conftest import fast_trainer, tiny_nets

BATCH = 8


class _LatentSpy(torch.nn.Module):
    """Wraps a generator and records every batch of latents it is called with (dry runs excluded)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner, self.latent_dim = inner, inner.latent_dim
        self.calls: list[tuple[torch.Tensor, bool]] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[0] == BATCH:
            self.calls.append((z.detach().clone(), torch.is_grad_enabled()))
        return self.inner(z)


def _real_loader(n_batches: int = 4) -> DataLoader:
    real = torch.randn(n_batches * BATCH, 2, generator=torch.Generator().manual_seed(11)) * 2 + 1
    return DataLoader(TensorDataset(real), batch_size=BATCH, shuffle=False)


def _sgd(lr: float):
    return lambda params: torch.optim.SGD(params, lr=lr)


def _sgd_step(net: torch.nn.Module, loss: torch.Tensor, lr: float) -> None:
    grads = torch.autograd.grad(loss, list(net.parameters()))
    with torch.no_grad():
        for p, g in zip(net.parameters(), grads):
            p.sub_(lr * g)


# ---------------------------------------------------------------------------------------------------------
# (a) relativistic generator step: real logits from the critic AFTER this step's critic update
# ---------------------------------------------------------------------------------------------------------


def test_relativistic_generator_step_uses_the_updated_critic_on_real_data(tmp_path):
    lr_d, lr_g = 1.0, 0.5
    torch.manual_seed(0)
    nets = tiny_nets()
    g0, d0 = copy.deepcopy(nets["generator"]), copy.deepcopy(nets["discriminator"])
    spy = _LatentSpy(nets["generator"])
    model = GANModule(spy, nets["discriminator"], loss="rasgan", n_critic=1, optimizer_g=_sgd(lr_g),
                      optimizer_d=_sgd(lr_d), max_generator_steps=1)
    loader = _real_loader()
    fast_trainer(tmp_path).fit(model, train_dataloaders=loader)
    assert model.generator_steps == 1 and model.critic_steps == 1

    (z_critic, grad_c), (z_gen, grad_g) = spy.calls  # one critic step (no autograd), one generator step
    assert not grad_c and grad_g
    real = next(iter(loader))[0]
    loss = get_loss("rasgan")

    # the critic step, by hand
    d1 = copy.deepcopy(d0)
    with torch.no_grad():
        fake = g0(z_critic)
    _sgd_step(d1, loss.discriminator_loss(d1(real), d1(fake)), lr_d)
    for p, q in zip(model.discriminator.parameters(), d1.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)

    # the generator step, by hand: fake AND real logits from the updated critic d1
    def generator_after(critic_for_real: torch.nn.Module) -> list[torch.Tensor]:
        g1 = copy.deepcopy(g0)
        with torch.no_grad():
            real_logits = critic_for_real(real)
        _sgd_step(g1, loss.generator_loss(d1(g1(z_gen)), real_logits), lr_g)
        return [p.detach() for p in g1.parameters()]

    expected, stale = generator_after(d1), generator_after(d0)
    for p, q in zip(model.generator.parameters(), expected):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # power: the pre-update real logits would have given a measurably different generator
    assert max((a - b).abs().max().item() for a, b in zip(expected, stale)) > 1e-3


# ---------------------------------------------------------------------------------------------------------
# (b) the warm-up schedule of n_critic (WGAN reference code: 100 critic steps for the first 25 generator
#     steps and every 500th)
# ---------------------------------------------------------------------------------------------------------


def _schedule(module: GANModule, steps) -> list[int]:
    out = []
    for g in steps:
        module.generator_steps = g
        out.append(module.current_n_critic())
    return out


def test_warmup_schedule_reference_values():
    module = GANModule(**tiny_nets(), n_critic=5, warmup_n_critic=100, warmup_generator_steps=25, warmup_every=500)
    steps = [0, 1, 2, 3, 10, 24, 25, 26, 100, 499, 500, 501, 999, 1000, 1500, 1501, 2500]
    expected = [100, 100, 100, 100, 100, 100, 5, 5, 5, 5, 100, 5, 5, 100, 100, 5, 100]
    assert _schedule(module, steps) == expected


def test_warmup_schedule_other_lengths():
    module = GANModule(**tiny_nets(), n_critic=2, warmup_n_critic=9, warmup_generator_steps=3, warmup_every=7)
    # warm: g < 3, or g a multiple of 7
    expected = [9, 9, 9, 2, 2, 2, 2, 9, 2, 2, 2, 2, 2, 2, 9, 2, 2, 2, 2, 2, 2, 9, 2]
    assert _schedule(module, range(23)) == expected


def test_warmup_schedule_without_repeats_or_without_warmup():
    once = GANModule(**tiny_nets(), n_critic=3, warmup_n_critic=7, warmup_generator_steps=4, warmup_every=0)
    assert _schedule(once, [0, 3, 4, 5, 500, 1000]) == [7, 7, 3, 3, 3, 3]
    never = GANModule(**tiny_nets(), n_critic=3, warmup_generator_steps=25, warmup_every=500)
    assert _schedule(never, [0, 1, 24, 500]) == [3, 3, 3, 3]


# ---------------------------------------------------------------------------------------------------------
# (c) the EMA generator: ema <- decay * ema + (1 - decay) * generator, torch's AveragedModel semantics
# ---------------------------------------------------------------------------------------------------------


def _ema_run(tmp_path, steps: int, decay: float):
    torch.manual_seed(0)
    nets = tiny_nets()
    initial = [p.detach().clone() for p in nets["generator"].parameters()]
    model = GANModule(**nets, loss="non_saturating", n_critic=1, optimizer_g=_sgd(0.5), optimizer_d=_sgd(0.5),
                      max_generator_steps=steps, ema_decay=decay)
    seen: list[list[torch.Tensor]] = []

    from lightning.pytorch.callbacks import Callback

    class Record(Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            seen.append([p.detach().clone() for p in module.generator.parameters()])

    fast_trainer(tmp_path, callbacks=[Record()]).fit(model, train_dataloaders=_real_loader())
    return model, initial, seen


def test_ema_after_one_generator_step_is_a_copy(tmp_path):
    # torch.optim.swa_utils.AveragedModel copies the model on its first update (n_averaged == 0)
    model, initial, seen = _ema_run(tmp_path, steps=1, decay=0.9)
    assert len(seen) == 1
    for e, g1, g0 in zip(model.ema_generator.module.parameters(), seen[0], initial):
        assert torch.equal(e, g1)
        assert not torch.equal(g1, g0)


def test_ema_decay_weights_the_average_not_the_new_parameters(tmp_path):
    decay = 0.9  # not 0.5, where decay and 1 - decay coincide
    model, initial, seen = _ema_run(tmp_path, steps=2, decay=decay)
    assert len(seen) == 2
    g1, g2 = seen
    expected = [decay * a + (1 - decay) * b for a, b in zip(g1, g2)]
    swapped = [(1 - decay) * a + decay * b for a, b in zip(g1, g2)]
    for e, x in zip(model.ema_generator.module.parameters(), expected):
        torch.testing.assert_close(e, x, rtol=1e-5, atol=1e-7)
    assert max((x - s).abs().max().item() for x, s in zip(expected, swapped)) > 1e-3
    # and the generator itself is the live one, not the average
    for p, b in zip(model.generator.parameters(), g2):
        assert torch.equal(p, b)


@pytest.mark.parametrize("decay", [0.0, 0.5])
def test_ema_extreme_decays(tmp_path, decay):
    # decay 0 tracks the generator exactly; 0.5 is the plain average of the last two
    model, _, (g1, g2) = _ema_run(tmp_path, steps=2, decay=decay)
    for e, a, b in zip(model.ema_generator.module.parameters(), g1, g2):
        torch.testing.assert_close(e, decay * a + (1 - decay) * b, rtol=1e-5, atol=1e-7)
