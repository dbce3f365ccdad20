"""The vanishing-gradient example (Arjovsky & Bottou 2017), shortened: the saturating cost's gradient
collapses as D trains on disjoint supports; instance noise keeps it alive."""

from __future__ import annotations

import importlib.util
import os

import pytest

from ganmods.data import make_toy

_PATH = os.path.join(os.path.dirname(__file__), "..", "examples", "vanishing_gradients.py")


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("vanishing_gradients", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_saturating_gradient_vanishes_without_noise_and_not_with_it(example):
    ring = make_toy("ring8")
    sampler = lambda n, g: ring.sample(n, generator=g)  # noqa: E731
    clean = example.summarize(example.run("ring8", sampler, 2, 0.0, iterations=600, every=50))
    noisy = example.summarize(example.run("ring8", sampler, 2, 0.5, iterations=600, every=50))
    assert clean["drop_orders"] > 1.0  # the full 2000-iteration run falls > 2 orders (benchmarks/)
    assert noisy["drop_orders"] < 1.0
    assert clean["final_non_saturating"] > 10 * clean["final"]  # -log D keeps a strong gradient
