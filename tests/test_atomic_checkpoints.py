"""AtomicCheckpointIO and atomic_write: a failed write (full disk, unpicklable state) never replaces a good file."""

from __future__ import annotations

import errno
import glob
import os
import subprocess

import pytest
import torch

import ganmods
import ganmods.checkpoint_io as cio
from ganmods import SGAN, GANDataModule
from ganmods.checkpoint_io import AtomicCheckpointIO, atomic_directory, atomic_write
from tests.conftest import fast_trainer, tiny_nets


class _FullDisk:
    """A binary file that accepts ``room`` bytes, then raises ENOSPC (after writing what fits)."""

    def __init__(self, f, room: int) -> None:
        self._f, self.room = f, room

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self.room:
            self._f.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


def _full_disk_after(monkeypatch, room: int) -> None:
    real = cio._fdopen
    monkeypatch.setattr(cio, "_fdopen", lambda fd, mode, **kw: _FullDisk(real(fd, mode, **kw), room))


def _trained(tmp_path):
    torch.manual_seed(0)
    model = SGAN(**tiny_nets(), max_generator_steps=3)
    trainer = fast_trainer(tmp_path, plugins=[AtomicCheckpointIO()])
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=10))
    return model, trainer


def test_full_disk_mid_checkpoint_keeps_the_previous_last_ckpt(tmp_path, monkeypatch):
    model, trainer = _trained(tmp_path)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    path = tmp_path / "ckpts" / "last.ckpt"
    trainer.save_checkpoint(path)  # creates the folder
    before = path.read_bytes()
    assert len(before) > 4096

    model.generator_steps = 99  # another state, so a partial write would show
    _full_disk_after(monkeypatch, room=4096)
    with pytest.raises(OSError) as caught:
        trainer.save_checkpoint(path)
    monkeypatch.undo()

    assert caught.value.errno == errno.ENOSPC and str(path) in str(caught.value)
    assert "unchanged" in str(caught.value)
    assert path.read_bytes() == before
    assert ganmods.load_checkpoint(path).generator_steps == 3
    assert os.listdir(path.parent) == ["last.ckpt"]  # no temporary file left behind

    trainer.save_checkpoint(path)  # room again: the new state replaces the old one
    assert ganmods.load_checkpoint(path).generator_steps == 99


def test_unpicklable_state_propagates_and_keeps_the_previous_file(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "best.ckpt"
    io.save_checkpoint({"w": torch.arange(5.0)}, path)
    before = path.read_bytes()
    with pytest.raises(Exception) as caught:
        io.save_checkpoint({"w": torch.zeros(10_000), "bad": lambda: 0}, path)
    assert any(str(path) in note for note in getattr(caught.value, "__notes__", []))
    assert path.read_bytes() == before
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(5.0))
    assert os.listdir(tmp_path) == ["best.ckpt"]


def test_storage_options_refused_as_in_lightning(tmp_path):
    with pytest.raises(TypeError, match="storage_options"):
        AtomicCheckpointIO().save_checkpoint({"a": 1}, tmp_path / "x.ckpt", storage_options={"k": 1})


def test_atomic_write_text_mode_and_plain_permissions(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic_write(target, "w") as f:
        f.write("new\n")
    assert target.read_text() == "new\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ValueError, match="mode must be 'wb' or 'w'; got 'a'"):
        with atomic_write(target, "a"):
            pass


def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "images"
    with atomic_directory(out) as tmp:
        for i in range(3):
            with open(os.path.join(tmp, f"{i}.txt"), "w") as f:
                f.write(str(i))
        assert not out.exists()  # nothing visible until the block ends
    assert sorted(os.listdir(out)) == ["0.txt", "1.txt", "2.txt"]

    with pytest.raises(OSError, match="exists"):
        with atomic_directory(out) as tmp:
            open(os.path.join(tmp, "new.txt"), "w").close()
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(out, overwrite=True) as tmp:
            open(os.path.join(tmp, "new.txt"), "w").close()
            raise RuntimeError("boom")
    assert sorted(os.listdir(out)) == ["0.txt", "1.txt", "2.txt"]  # untouched by both failures

    with atomic_directory(out, overwrite=True) as tmp:
        open(os.path.join(tmp, "new.txt"), "w").close()
    assert os.listdir(out) == ["new.txt"]
    assert os.listdir(tmp_path) == ["images"]  # no temporary or old folder left


def _mount_tmpfs(folder, size: str) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot mount a tmpfs here: {err}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


def test_real_full_filesystem_keeps_the_good_checkpoint(tmp_path):
    small = tmp_path / "small_fs"
    _mount_tmpfs(small, "2m")
    try:
        io = AtomicCheckpointIO()
        path = small / "last.ckpt"
        io.save_checkpoint({"w": torch.arange(1000.0), "step": 1}, path)
        before = path.read_bytes()
        with pytest.raises(OSError) as caught:
            io.save_checkpoint({"w": torch.ones(700_000), "step": 2}, path)  # 2.8 MB on a 2 MB filesystem
        assert caught.value.errno == errno.ENOSPC and str(path) in str(caught.value)
        assert path.read_bytes() == before
        assert torch.load(path, weights_only=True)["step"] == 1
        assert os.listdir(small) == ["last.ckpt"]
    finally:
        subprocess.run(["umount", str(small)], capture_output=True, timeout=20)


def test_cli_fit_writes_checkpoints_through_the_plugin(tmp_path, monkeypatch):
    from ganmods.cli import GANCLI, main
    from tests.test_cli import TOY_CONFIGS, _tiny

    saved: list[str] = []
    real = AtomicCheckpointIO.save_checkpoint

    def recording(self, checkpoint, path, storage_options=None):
        saved.append(os.path.basename(os.fspath(path)))
        return real(self, checkpoint, path, storage_options)

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", recording)
    assert main(["fit", "-c", TOY_CONFIGS[0], *_tiny(tmp_path, "atomic")]) == 0
    (ckpt,) = glob.glob(str(tmp_path / "atomic" / "version_0" / "checkpoints" / "last.ckpt"))
    assert "last.ckpt" in saved
    assert ganmods.load_checkpoint(ckpt).generator_steps == 3
    assert not [p for p in os.listdir(os.path.dirname(ckpt)) if p.startswith(".")]  # no temporary files

    cli = GANCLI(args=["-c", TOY_CONFIGS[0], *_tiny(tmp_path, "b")], run=False)
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_cli_keeps_a_configured_checkpoint_io_and_adds_the_atomic_one_otherwise():
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from ganmods.cli import with_atomic_checkpoint_io

    mine = TorchCheckpointIO()
    assert with_atomic_checkpoint_io([mine]) == [mine]
    assert [type(p) for p in with_atomic_checkpoint_io(None)] == [AtomicCheckpointIO]
    added = with_atomic_checkpoint_io("bf16-mixed")
    assert added[0] == "bf16-mixed" and isinstance(added[1], AtomicCheckpointIO)


def test_gan_checkpoint_makes_a_plain_trainer_write_atomically(tmp_path):
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from ganmods.callbacks import GANCheckpoint

    class Mine(TorchCheckpointIO):
        pass

    for given, expected in ((None, AtomicCheckpointIO), (Mine(), Mine)):
        torch.manual_seed(0)
        ckpt = GANCheckpoint(dirpath=str(tmp_path / expected.__name__))
        trainer = fast_trainer(tmp_path, enable_checkpointing=True, callbacks=[ckpt],
                               plugins=[given] if given else None)
        assert type(trainer.strategy.checkpoint_io) is (TorchCheckpointIO if given is None else Mine)
        trainer.fit(SGAN(**tiny_nets(), max_generator_steps=2),
                    datamodule=GANDataModule(batch_size=8, batches_per_epoch=10))
        assert type(trainer.strategy.checkpoint_io) is expected
        assert ganmods.load_checkpoint(tmp_path / expected.__name__ / "last.ckpt").generator_steps == 2


def test_temporary_sibling_names():
    from ganmods.checkpoint_io import temporary_sibling

    a, b = temporary_sibling("/x/last.ckpt"), temporary_sibling("/x/last.ckpt")
    assert a != b and a.startswith("/x/.last.ckpt.") and a.endswith(".tmp") and len(a) == len("/x/.last.ckpt.") + 12
    kept = temporary_sibling("/x/grid.png", keep_extension=True)
    assert kept.startswith("/x/.grid.") and kept.endswith(".tmp.png")
    assert temporary_sibling("/x/images/", kind="old").startswith("/x/.images.")
