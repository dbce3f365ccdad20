"""Adversarial losses against values worked out by hand from the formulas in THEORY.md §1-§5."""

from __future__ import annotations

import math

import pytest
import torch

from ganmods.errors import ConfigurationError
from ganmods.losses import LOSSES, AdversarialLoss, get_loss

# ---------------------------------------------------------------------------------------------------------
# Plain-float reference implementations (no torch): the formulas of THEORY.md written out element by element.
# ---------------------------------------------------------------------------------------------------------


def sp(x: float) -> float:
    """softplus(x) = log(1 + e^x), evaluated stably on a python float."""
    if x > 0:
        return x + math.log(1.0 + math.exp(-x))
    return math.log(1.0 + math.exp(x))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def relu(x: float) -> float:
    return x if x > 0 else 0.0


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def ref_d(name: str, r: list[float], f: list[float]) -> float:
    if name in ("saturating", "non_saturating"):
        return mean(sp(-x) for x in r) + mean(sp(x) for x in f)
    if name == "wasserstein":
        return mean(f) - mean(r)
    if name == "least_squares":
        return 0.5 * mean((x - 1) ** 2 for x in r) + 0.5 * mean(x**2 for x in f)
    if name == "hinge":
        return mean(relu(1 - x) for x in r) + mean(relu(1 + x) for x in f)
    if name == "rsgan":
        return mean(sp(-(a - b)) for a, b in zip(r, f))
    mr, mf = mean(r), mean(f)
    dr = [x - mf for x in r]
    df = [x - mr for x in f]
    if name == "rasgan":
        return 0.5 * (mean(sp(-x) for x in dr) + mean(sp(x) for x in df))
    if name == "ralsgan":
        return 0.5 * (mean((x - 1) ** 2 for x in dr) + mean((x + 1) ** 2 for x in df))
    if name == "rahinge":
        return 0.5 * (mean(relu(1 - x) for x in dr) + mean(relu(1 + x) for x in df))
    raise KeyError(name)


def ref_g(name: str, r: list[float], f: list[float]) -> float:
    if name == "saturating":
        return -mean(sp(x) for x in f)
    if name == "non_saturating":
        return mean(sp(-x) for x in f)
    if name in ("wasserstein", "hinge"):
        return -mean(f)
    if name == "least_squares":
        return 0.5 * mean((x - 1) ** 2 for x in f)
    if name == "rsgan":
        return mean(sp(-(b - a)) for a, b in zip(r, f))
    mr, mf = mean(r), mean(f)
    dr = [x - mf for x in r]
    df = [x - mr for x in f]
    if name == "rasgan":
        return 0.5 * (mean(sp(x) for x in dr) + mean(sp(-x) for x in df))
    if name == "ralsgan":
        return 0.5 * (mean((x + 1) ** 2 for x in dr) + mean((x - 1) ** 2 for x in df))
    if name == "rahinge":
        return 0.5 * (mean(relu(1 + x) for x in dr) + mean(relu(1 - x) for x in df))
    raise KeyError(name)


def ref_g_fake_term_only(name: str, r: list[float], f: list[float]) -> float:
    """Ra generator loss with the real term dropped (the classic porting bug)."""
    mr = mean(r)
    df = [x - mr for x in f]
    if name == "rasgan":
        return 0.5 * mean(sp(-x) for x in df)
    if name == "ralsgan":
        return 0.5 * mean((x - 1) ** 2 for x in df)
    if name == "rahinge":
        return 0.5 * mean(relu(1 - x) for x in df)
    raise KeyError(name)


ALL_NAMES = {
    "saturating",
    "non_saturating",
    "wasserstein",
    "least_squares",
    "hinge",
    "rsgan",
    "rasgan",
    "ralsgan",
    "rahinge",
}
RELATIVISTIC = {"rsgan", "rasgan", "ralsgan", "rahinge"}
RA = ["rasgan", "ralsgan", "rahinge"]

# Values chosen so that some hinge terms are active and some are clipped at zero.
REAL = [1.5, -0.5, 2.0, 0.25]
FAKE = [-1.0, 0.5, -2.5, 0.0]
# A second, asymmetric pair (relative terms far from zero) to catch swapped Ra terms.
REAL2 = [3.0, 2.5, -0.75, 1.25]
FAKE2 = [-2.0, 0.75, -3.5, 1.5]


def _t(xs: list[float], shape: str) -> torch.Tensor:
    t = torch.tensor(xs, dtype=torch.float32)
    return t if shape == "B" else t.unsqueeze(1)


# ---------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------


FGAN_NAMES = {f"fgan_{d}" for d in ("kl", "reverse_kl", "pearson", "neyman", "hellinger", "js", "gan", "tv")}


def test_losses_registry_names_exactly():
    assert set(LOSSES) == ALL_NAMES | FGAN_NAMES
    assert len(LOSSES) == 17


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_registry_entries_are_loss_classes_named_consistently(name):
    cls = LOSSES[name]
    assert issubclass(cls, AdversarialLoss)
    assert cls.name == name
    loss = get_loss(name)
    assert isinstance(loss, cls)


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_needs_real_logits_only_for_relativistic(name):
    assert LOSSES[name].needs_real_logits is (name in RELATIVISTIC)


def test_get_loss_unknown_name_lists_valid_names():
    with pytest.raises(ConfigurationError) as info:
        get_loss("wgan-gp-typo")
    msg = str(info.value)
    assert "wgan-gp-typo" in msg
    for name in ALL_NAMES:
        assert name in msg


def test_get_loss_passes_instances_through_and_rejects_other_types():
    inst = LOSSES["hinge"]()
    assert get_loss(inst) is inst
    with pytest.raises(ConfigurationError):
        get_loss(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Values against the hand-computed references
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["B", "B1"])
@pytest.mark.parametrize("r,f", [(REAL, FAKE), (REAL2, FAKE2)], ids=["pair1", "pair2"])
@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_discriminator_loss_matches_hand_computation(name, r, f, shape):
    loss = get_loss(name)
    out = loss.discriminator_loss(_t(r, shape), _t(f, shape))
    assert out.dim() == 0
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(ref_d(name, r, f), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("shape", ["B", "B1"])
@pytest.mark.parametrize("r,f", [(REAL, FAKE), (REAL2, FAKE2)], ids=["pair1", "pair2"])
@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_generator_loss_matches_hand_computation(name, r, f, shape):
    loss = get_loss(name)
    out = loss.generator_loss(_t(f, shape), _t(r, shape))
    assert out.dim() == 0
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(ref_g(name, r, f), rel=1e-5, abs=1e-6)


def test_some_hand_values_written_out():
    """A few losses spelled out completely, independent of the reference helpers above."""
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])
    # WGAN critic: E[C(xf)] - E[C(xr)] = 0 - 2
    assert float(get_loss("wasserstein").discriminator_loss(r, f)) == pytest.approx(-2.0)
    # SGAN critic: (sp(-1) + sp(-3))/2 + sp(0)
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-3))) / 2 + math.log(2)
    assert float(get_loss("saturating").discriminator_loss(r, f)) == pytest.approx(expected, rel=1e-6)
    # Hinge critic: (relu(0) + relu(-2))/2 + relu(1) = 1
    assert float(get_loss("hinge").discriminator_loss(r, f)) == pytest.approx(1.0)
    # LSGAN critic: 0.5*((0 + 4)/2) + 0.5*0 = 1
    assert float(get_loss("least_squares").discriminator_loss(r, f)) == pytest.approx(1.0)
    # RaLSGAN: mean(r)=2, mean(f)=0; Dr = [1, 3], Df = [-2, -2]
    # D: 0.5*(((0)^2 + (2)^2)/2 + ((-1)^2 + (-1)^2)/2) = 0.5*(2 + 1) = 1.5
    assert float(get_loss("ralsgan").discriminator_loss(r, f)) == pytest.approx(1.5)
    # G: 0.5*(((2)^2 + (4)^2)/2 + ((-3)^2 + (-3)^2)/2) = 0.5*(10 + 9) = 9.5
    assert float(get_loss("ralsgan").generator_loss(f, r)) == pytest.approx(9.5)
    # RaHinge D: 0.5*((relu(0) + relu(-2))/2 + (relu(-1) + relu(-1))/2) = 0
    assert float(get_loss("rahinge").discriminator_loss(r, f)) == pytest.approx(0.0)
    # RaHinge G: 0.5*((relu(2) + relu(4))/2 + (relu(3) + relu(3))/2) = 0.5*(3 + 3) = 3
    assert float(get_loss("rahinge").generator_loss(f, r)) == pytest.approx(3.0)


@pytest.mark.parametrize("name", sorted(RELATIVISTIC))
def test_relativistic_generator_loss_requires_real_logits(name):
    with pytest.raises(ConfigurationError) as info:
        get_loss(name).generator_loss(torch.zeros(4))
    assert "real_logits" in str(info.value)


@pytest.mark.parametrize("name", sorted(ALL_NAMES - RELATIVISTIC))
def test_non_relativistic_generator_loss_ignores_missing_real_logits(name):
    f = _t(FAKE, "B")
    out = get_loss(name).generator_loss(f)
    assert float(out) == pytest.approx(ref_g(name, REAL, FAKE), rel=1e-5, abs=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Relativistic average: the real term must give G a gradient through E[C(xf)]
# ---------------------------------------------------------------------------------------------------------

# Small logits: every hinge term is active (no kinks), so gradients are well defined.
RA_REAL = [0.3, -0.2, 0.1, 0.4]
RA_THETA = [0.2, -0.4, 0.5, -0.1]


def _fake_from_param(theta: torch.Tensor) -> torch.Tensor:
    # A small nonlinear graph from the "generator parameter" to the fake logits.
    return 0.5 * theta + 0.25 * theta**2


def _fake_values(theta: list[float]) -> list[float]:
    return [0.5 * t + 0.25 * t * t for t in theta]


def _num_grad(fn, theta: list[float], h: float = 1e-5) -> list[float]:
    out = []
    for i in range(len(theta)):
        up = list(theta)
        dn = list(theta)
        up[i] += h
        dn[i] -= h
        out.append((fn(up) - fn(dn)) / (2 * h))
    return out


@pytest.mark.parametrize("name", RA)
def test_ra_generator_gradient_includes_real_term_through_fake_mean(name):
    theta = torch.tensor(RA_THETA, requires_grad=True)
    real = torch.tensor(RA_REAL)
    get_loss(name).generator_loss(_fake_from_param(theta), real).backward()
    grad = theta.grad.tolist()

    full = _num_grad(lambda th: ref_g(name, RA_REAL, _fake_values(th)), RA_THETA)
    dropped = _num_grad(lambda th: ref_g_fake_term_only(name, RA_REAL, _fake_values(th)), RA_THETA)

    assert grad == pytest.approx(full, rel=1e-3, abs=1e-5)
    # The real term changes the gradient: a port that drops or detaches it would fail here.
    assert max(abs(a - b) for a, b in zip(full, dropped)) > 1e-2
    assert max(abs(a - b) for a, b in zip(grad, dropped)) > 1e-2


@pytest.mark.parametrize("name", RA)
def test_ra_real_term_alone_gives_generator_gradient(name):
    """G-loss minus its fake term still depends on theta, through E[C(xf)] only."""
    theta = torch.tensor(RA_THETA, requires_grad=True)
    real = torch.tensor(RA_REAL)
    loss = get_loss(name)
    fake = _fake_from_param(theta)
    full = loss.generator_loss(fake, real)
    # Recompute the fake term by hand in torch from the documented D̃f and subtract it.
    df = fake - real.mean()
    fake_term = {
        "rasgan": torch.nn.functional.softplus(-df),
        "ralsgan": (df - 1) ** 2,
        "rahinge": torch.relu(1 - df),
    }[name]
    real_term = full - 0.5 * fake_term.mean()
    (g,) = torch.autograd.grad(real_term, theta)
    assert g.abs().max() > 1e-3
    # Through the mean, every fake logit gets the same d(real term)/d(fake logit): check it is uniform
    # up to the chain rule factor d fake_i / d theta_i = 0.5 + 0.5 * theta_i.
    per_logit = g / (0.5 + 0.5 * theta.detach())
    assert torch.allclose(per_logit, per_logit[0].expand_as(per_logit), atol=1e-5)


@pytest.mark.parametrize("name", RA)
def test_ra_generator_gradient_wrt_real_logits_is_nonzero(name):
    real = torch.tensor(RA_REAL, requires_grad=True)
    fake = torch.tensor(_fake_values(RA_THETA))
    get_loss(name).generator_loss(fake, real).backward()
    expected = _num_grad(lambda rr: ref_g(name, rr, _fake_values(RA_THETA)), RA_REAL)
    assert real.grad.abs().max() > 1e-3
    assert real.grad.tolist() == pytest.approx(expected, rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_discriminator_gradient_matches_hand_formula(name):
    r = torch.tensor(RA_REAL, requires_grad=True)
    f = torch.tensor(_fake_values(RA_THETA), requires_grad=True)
    get_loss(name).discriminator_loss(r, f).backward()
    fv = _fake_values(RA_THETA)
    gr = _num_grad(lambda rr: ref_d(name, rr, fv), RA_REAL)
    gf = _num_grad(lambda ff: ref_d(name, RA_REAL, ff), fv)
    assert r.grad.tolist() == pytest.approx(gr, rel=1e-3, abs=1e-5)
    assert f.grad.tolist() == pytest.approx(gf, rel=1e-3, abs=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Saturating vs non-saturating (THEORY §1, Arjovsky & Bottou)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("logit", [-5.0, -10.0, -20.0])
def test_saturating_gradient_vanishes_non_saturating_does_not(logit):
    x = torch.tensor([logit], requires_grad=True)
    get_loss("saturating").generator_loss(x).backward()
    g_sat = float(x.grad[0])

    y = torch.tensor([logit], requires_grad=True)
    get_loss("non_saturating").generator_loss(y).backward()
    g_ns = float(y.grad[0])

    # d/dl [-sp(l)] = -sigmoid(l);  d/dl [sp(-l)] = -sigmoid(-l)
    assert abs(g_sat) == pytest.approx(sigmoid(logit), rel=1e-3)
    assert abs(g_sat) < 1e-2
    assert abs(g_ns) == pytest.approx(sigmoid(-logit), rel=1e-5)
    assert abs(g_ns) > 0.99
    # Both push the fake logit up (minimising either loss increases C(xf)).
    assert g_sat < 0 and g_ns < 0


def test_saturating_gradient_decreases_monotonically():
    mags = []
    for logit in (-5.0, -10.0, -20.0):
        x = torch.tensor([logit], requires_grad=True)
        get_loss("saturating").generator_loss(x).backward()
        mags.append(abs(float(x.grad[0])))
    assert mags[0] > mags[1] > mags[2] > 0
    assert mags[2] < 1e-8


# ---------------------------------------------------------------------------------------------------------
# Divergence estimates
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["saturating", "non_saturating"])
def test_js_estimate_formula(name):
    loss = get_loss(name)
    r, f = _t(REAL, "B"), _t(FAKE, "B")
    d = loss.discriminator_loss(r, f)
    js = loss.divergence(r, f, d)
    assert loss.divergence_name == "js"
    assert float(js) == pytest.approx((math.log(4) - ref_d(name, REAL, FAKE)) / 2, rel=1e-5)
    assert float(js) > 0


@pytest.mark.parametrize("name", ["saturating", "non_saturating"])
def test_js_estimate_zero_when_critic_cannot_tell(name):
    loss = get_loss(name)
    r = torch.zeros(6)
    f = torch.zeros(6)
    d = loss.discriminator_loss(r, f)
    assert float(d) == pytest.approx(math.log(4), rel=1e-6)
    assert abs(float(loss.divergence(r, f, d))) < 1e-6


def test_js_estimate_is_detached():
    loss = get_loss("saturating")
    r = torch.tensor(REAL, requires_grad=True)
    f = torch.tensor(FAKE, requires_grad=True)
    d = loss.discriminator_loss(r, f)
    assert not loss.divergence(r, f, d).requires_grad


@pytest.mark.parametrize("shape", ["B", "B1"])
def test_w_estimate_is_negative_critic_loss(shape):
    loss = get_loss("wasserstein")
    r, f = _t(REAL2, shape), _t(FAKE2, shape)
    d = loss.discriminator_loss(r, f)
    w = loss.divergence(r, f, d)
    assert loss.divergence_name == "w"
    assert float(w) == pytest.approx(-float(d), rel=1e-6)
    assert float(w) == pytest.approx(mean(REAL2) - mean(FAKE2), rel=1e-6)


@pytest.mark.parametrize("name", ["least_squares", "hinge", "rsgan", "rasgan", "ralsgan", "rahinge"])
def test_losses_without_closed_form_divergence_report_the_critic_margin(name):
    loss = get_loss(name)
    r, f = _t(REAL, "B"), _t(FAKE, "B1")
    expected = sum(REAL) / len(REAL) - sum(FAKE) / len(FAKE)
    assert loss.divergence_name == "margin"
    assert float(loss.divergence(r, f, loss.discriminator_loss(r, f))) == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# Precision
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_low_precision_logits_give_float32_losses(name, dtype):
    loss = get_loss(name)
    r = torch.tensor(REAL, dtype=dtype)
    f = torch.tensor(FAKE, dtype=dtype)
    d = loss.discriminator_loss(r, f)
    g = loss.generator_loss(f, r)
    assert d.dtype == torch.float32
    assert g.dtype == torch.float32
    # The test logits are exactly representable in fp16/bf16, so the values match the fp32 reference.
    assert float(d) == pytest.approx(ref_d(name, REAL, FAKE), rel=1e-5, abs=1e-6)
    assert float(g) == pytest.approx(ref_g(name, REAL, FAKE), rel=1e-5, abs=1e-6)
    div = loss.divergence(r, f, d)
    if div is not None:
        assert div.dtype == torch.float32


@pytest.mark.parametrize("name", ["wasserstein", "hinge"])
def test_low_precision_mean_does_not_overflow(name):
    """Large fp16 logits: summing in fp16 would overflow (max 65504); a float32 mean does not."""
    big = torch.full((64,), 60000.0, dtype=torch.float16)
    out = get_loss(name).generator_loss(big)
    assert torch.isfinite(out)
    assert float(out) == pytest.approx(-60000.0, rel=1e-3)


def test_rsgan_mixed_logit_shapes_pair_elementwise_or_raise():
    loss = get_loss("rsgan")
    r, f = _t(REAL, "B"), _t(FAKE, "B1")
    try:
        d = loss.discriminator_loss(r, f)
    except ConfigurationError:
        return
    assert float(d) == pytest.approx(ref_d("rsgan", REAL, FAKE), rel=1e-5)


# ---------------------------------------------------------------------------------------------------------
# offset_free: a constant added to every critic output changes each loss by a logit-independent amount
# ---------------------------------------------------------------------------------------------------------

OFFSET_FREE = {"wasserstein", "rsgan", "rasgan", "ralsgan", "rahinge"}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_offset_free_flag_per_loss(name):
    assert LOSSES[name].offset_free is (name in OFFSET_FREE)
    assert AdversarialLoss.offset_free is False


def _losses_and_grads(loss: AdversarialLoss, r: list[float], f: list[float], c: float):
    """(D loss, G loss, dD/dreal, dD/dfake, dG/dfake) with ``c`` added to every logit."""
    real = torch.tensor(r, dtype=torch.float64).add(c).float().requires_grad_(True)
    fake = torch.tensor(f, dtype=torch.float64).add(c).float().requires_grad_(True)
    d = loss.discriminator_loss(real, fake)
    g = loss.generator_loss(fake, real)
    d_real, d_fake = torch.autograd.grad(d, (real, fake))
    (g_fake,) = torch.autograd.grad(g, fake)
    return float(d.detach()), float(g.detach()), d_real, d_fake, g_fake


@pytest.mark.parametrize("c", [1.75, -2.5])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_offset_free_means_a_critic_offset_changes_no_gradient(name, c):
    loss = get_loss(name)
    pairs = [(REAL, FAKE), (REAL2, FAKE2)]
    shifts_d, shifts_g, grads_same = [], [], []
    for r, f in pairs:
        d0, g0, *grads0 = _losses_and_grads(loss, r, f, 0.0)
        d1, g1, *grads1 = _losses_and_grads(loss, r, f, c)
        shifts_d.append(d1 - d0)
        shifts_g.append(g1 - g0)
        grads_same.append(all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads0, grads1)))
    if name in OFFSET_FREE:
        # the same shift for two unrelated logit pairs: it depends on c only; gradients unchanged
        assert shifts_d[0] == pytest.approx(shifts_d[1], abs=1e-5)
        assert shifts_g[0] == pytest.approx(shifts_g[1], abs=1e-5)
        assert all(grads_same)
        expected_g_shift = -c if name == "wasserstein" else 0.0
        assert shifts_g[0] == pytest.approx(expected_g_shift, abs=1e-5)
        assert shifts_d[0] == pytest.approx(0.0, abs=1e-5)
    else:
        # the offset moves some gradient, so the critic's level is pinned by the loss
        assert not all(grads_same)
