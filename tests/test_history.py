"""The image history of CycleGAN's critics: the paper's replacement rule, its randomness and its state."""

from __future__ import annotations

import pytest
import torch

from ganmods.errors import ConfigurationError
from ganmods.history import ImageHistory


def _images(*values: float) -> torch.Tensor:
    """One 1x1x1 image per value, so what comes back can be read off."""
    return torch.tensor(values).view(-1, 1, 1, 1)


def _values(images: torch.Tensor) -> list[float]:
    return images.flatten().tolist()


def test_the_rule_traced_by_hand():
    history = ImageHistory(size=2)
    rng = torch.Generator().manual_seed(3)
    # the draws of seed 3 (checked here, so a change of torch's generator shows as such):
    # query 1: u = [0.004, 0.106, 0.286], j = [1, 0, 0]; query 2: u = [0.772, 0.744, 0.594], j = [1, 0, 1]
    probe = torch.Generator().manual_seed(3)
    u1, j1 = torch.rand(3, generator=probe), torch.randint(2, (3,), generator=probe)
    u2, j2 = torch.rand(3, generator=probe), torch.randint(2, (3,), generator=probe)
    assert [round(v, 3) for v in u1.tolist()] == [0.004, 0.106, 0.286] and j1.tolist() == [1, 0, 0]
    assert [round(v, 3) for v in u2.tolist()] == [0.772, 0.744, 0.594] and j2.tolist() == [1, 0, 1]

    # 1, 2 fill the two slots and come back; 3 finds it full, u 0.286 <= 0.5: it comes back itself, not stored
    assert _values(history.query(_images(1, 2, 3), generator=rng)) == [1, 2, 3]
    assert _values(history.images) == [1, 2]
    # 4: u > 0.5, slot 1 -> returns 2, stores 4; 5: slot 0 -> returns 1, stores 5; 6: slot 1 again -> returns 4
    # (stored by this very batch), stores 6
    assert _values(history.query(_images(4, 5, 6), generator=rng)) == [2, 1, 4]
    assert _values(history.images) == [5, 6]
    assert len(history) == 2


def _reference_rule(stored: list[float], images: list[float], size: int, u: list[float], j: list[int]):
    """The paper's reference code (ImagePool.query), one image at a time, with the given draws."""
    stored, out = list(stored), []
    for i, image in enumerate(images):
        if len(stored) < size:
            stored.append(image)
            out.append(image)
        elif u[i] > 0.5:
            out.append(stored[j[i]])
            stored[j[i]] = image
        else:
            out.append(image)
    return stored, out


@pytest.mark.parametrize("size, batches", [(50, [32] * 6), (5, [3, 4, 2, 7, 1]), (1, [2, 2, 2])])
def test_the_rule_matches_the_reference_image_pool(size, batches):
    history = ImageHistory(size=size)
    rng, probe = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    stored: list[float] = []
    count = 0
    for n in batches:
        values = [float(count + i) for i in range(n)]
        count += n
        u, j = torch.rand(n, generator=probe).tolist(), torch.randint(size, (n,), generator=probe).tolist()
        stored, expected = _reference_rule(stored, values, size, u, j)
        assert _values(history.query(_images(*values), generator=rng)) == expected
        assert _values(history.images) == stored
    # about half of the images shown once full are stored ones
    assert 0 < len(stored) <= size


def test_the_global_generator_is_the_default_stream():
    first, second = ImageHistory(4), ImageHistory(4)
    images = torch.randn(6, 1, 2, 2)
    torch.manual_seed(11)
    out1 = [first.query(images + k) for k in range(3)]
    torch.manual_seed(11)
    out2 = [second.query(images + k) for k in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(out1, out2))
    assert torch.equal(first.images, second.images)


def test_size_zero_returns_the_input_and_stores_nothing():
    history = ImageHistory(size=0)
    images = torch.randn(3, 1, 2, 2)
    assert history.query(images) is images and len(history) == 0


def test_state_round_trip_continues_exactly():
    history = ImageHistory(3)
    rng = torch.Generator().manual_seed(0)
    history.query(torch.randn(5, 1, 2, 2), generator=rng)
    copy = ImageHistory(3)
    copy.load_state_dict(history.state_dict())
    nxt = torch.randn(4, 1, 2, 2)
    state = rng.get_state()
    a = history.query(nxt, generator=rng)
    rng.set_state(state)
    assert torch.equal(copy.query(nxt, generator=rng), a)
    assert torch.equal(copy.images, history.images)


def test_bad_arguments_and_states_are_refused():
    with pytest.raises(ConfigurationError, match="size must be an integer >= 0; got -1"):
        ImageHistory(-1)
    history = ImageHistory(2)
    history.query(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ConfigurationError,
                       match=r"images must have the shape of the stored ones, \[1, 2, 2\] per image; got \[1, 3, 3\]"):
        history.query(torch.zeros(1, 1, 3, 3))
    with pytest.raises(ConfigurationError, match="state must be a history of size 2; got 'a history of size 5'"):
        history.load_state_dict({"size": 5, "images": None})
    with pytest.raises(ConfigurationError, match="state must be a record"):
        history.load_state_dict({"images": None})
    with pytest.raises(ConfigurationError, match="images must be a tensor"):
        history.query([1, 2])  # type: ignore[arg-type]
