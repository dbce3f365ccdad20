"""The bundled digits: fixed split, value range, sizes, errors."""

import pytest
import torch

from ganmods.data.digits import DIGITS_TRAIN_SIZE, load_digits
from ganmods.errors import ConfigurationError


def test_split_is_fixed_disjoint_and_complete():
    train, y_train = load_digits("train", with_labels=True)
    held, y_held = load_digits("held_out", with_labels=True)
    every = load_digits("all")
    assert len(train) == DIGITS_TRAIN_SIZE and len(train) + len(held) == len(every) == 1797
    assert torch.equal(load_digits("train"), train)  # same split every call
    rows = {tuple(r.flatten().tolist()) for r in every}
    assert {tuple(r.flatten().tolist()) for r in torch.cat([train, held])} <= rows
    assert set(y_held.tolist()) == set(range(10)) and set(y_train.tolist()) == set(range(10))


@pytest.mark.parametrize("size", [8, 16, 32])
def test_range_and_size(size):
    x = load_digits("held_out", image_size=size)
    assert x.shape == (297, 1, size, size)
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1


@pytest.mark.parametrize("kwargs", [{"split": "test"}, {"image_size": 4}, {"image_size": 16.0}])
def test_bad_input(kwargs):
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        load_digits(**kwargs)
