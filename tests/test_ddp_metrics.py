"""Image metrics with several processes: each rank generates and extracts only its share of the evaluation
samples, and every rank scores exactly the full set (2 CPU processes, gloo)."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

from ganmods import SGAN
from ganmods.errors import ConfigurationError
from ganmods.strategies import gather_rows, shard_bounds
from tests.conftest import run_script, tiny_nets

SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import torch, lightning.pytorch as pl
    import ganmods
    from ganmods import SGAN, GANDataModule
    from ganmods.metrics import ImageMetrics
    from ganmods.nets import DCGANCritic, DCGANGenerator

    out = sys.argv[1]
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=16, image_size=32, channels=1, width=8)
    model = SGAN(gen, DCGANCritic(image_size=32, channels=1, width=8, norm="layer"))
    rows = []
    gen.register_forward_hook(lambda mod, args, y: None if mod.training else rows.append(y.shape[0]))
    metric = ImageMetrics("digits", kid_subset_size=50, cache_dir=out + "/cache", device="cpu")
    extracted = []  # rows per feature extraction on this process
    features = metric._features
    metric._features = lambda x: (extracted.append(x.shape[0]), features(x))[1]
    dm = GANDataModule("digits", image_size=32, batch_size=16, val_size=32, eval_samples=101, metric=metric)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="gan_ddp", logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.validate(model, datamodule=dm, verbose=False)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    record = {"rank": trainer.global_rank, "logged": logged, "eval_rows": rows[-1], "extracted": extracted}
    if trainer.global_rank == 0:  # one process, all 101 samples: the reference value
        fake = model.sample(101, seed=dm.eval_seed)
        record["single"] = metric.score(fake, dm.eval_reference(), dm.real_key)
    # a cache entry that only rank 0 has: the ranks agree on a miss and both extract their shares (no hang)
    own = ImageMetrics("digits", kid_subset_size=50, cache_dir=f"{out}/own{trainer.global_rank}", device="cpu")
    if trainer.global_rank == 0:
        own.score(model.sample(101, seed=dm.eval_seed), dm.eval_reference(), dm.real_key)
    torch.distributed.barrier()
    dm.metric = own
    trainer.validate(model, datamodule=dm, verbose=False)
    record["own"] = {"hit": own.provenance["real_cache"]["hit"], "fid": float(trainer.callback_metrics["val/fid_101"])}
    with open(f"{out}/rank{trainer.global_rank}.json", "w") as fh:
        json.dump(record, fh)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    """
)


@pytest.mark.timeout(300)
def test_two_process_fid_scores_each_sample_once_and_equals_one_process(tmp_path):
    run_script(SCRIPT, tmp_path, str(tmp_path), timeout=280)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (r0["eval_rows"], r1["eval_rows"]) == (50, 51)  # each rank generated its share, together 101
    # the reference (the first 101 held-out digits, not cached yet), then the fakes: each rank extracted only
    # its share of both; rank 0's one-process reference score afterwards hit the cache (fakes only)
    assert r0["extracted"] == [50, 50, 101] and r1["extracted"] == [51, 51]
    single = r0["single"]
    assert r0["own"]["hit"] is False and r1["own"]["hit"] is False
    assert r0["own"]["fid"] == pytest.approx(single["fid_101"], rel=1e-5) == r1["own"]["fid"]
    assert sorted(single) == ["fid_101", "kid_101", "kid_101_std"]  # the names count 101 samples, not 2 x 101
    for key, value in single.items():
        for rank in (r0, r1):
            assert rank["logged"][f"val/{key}"] == pytest.approx(value, rel=1e-5, abs=1e-7), key


def test_shard_bounds_cover_every_row_once():
    for n, world in [(101, 2), (7, 3), (2, 4), (2500, 8)]:
        bounds = [shard_bounds(n, r, world) for r in range(world)]
        assert [i for lo, hi in bounds for i in range(lo, hi)] == list(range(n))
        assert max(hi - lo for lo, hi in bounds) - min(hi - lo for lo, hi in bounds) <= 1
    with pytest.raises(ConfigurationError, match=r"rank must be in \[0, 2\) with world_size >= 1; got 2"):
        shard_bounds(10, 2, 2)


def test_gather_rows_on_one_process_is_the_identity():
    class One:
        world_size = 1

    x = torch.randn(5, 3)
    assert gather_rows(x, One()) is x


def test_sampling_rows_gives_the_same_samples_as_the_full_set():
    torch.manual_seed(0)
    model = SGAN(**tiny_nets())
    full = model.sample(10, seed=3)
    assert torch.allclose(model.sample(10, seed=3, rows=(4, 9)), full[4:9])
    for bad in [(5, 5), (-1, 3), (0, 11), (2.0, 4)]:
        with pytest.raises(ConfigurationError, match="rows must be"):
            model.sample(10, seed=3, rows=bad)
