"""Optimizers from the command line: the effective optimizer is printed and saved; one learning-rate override
keeps the variant's betas; Python construction without optimizer arguments keeps the paper defaults."""

from __future__ import annotations

import pytest
import torch
import yaml

from ganmods import FGAN, SGAN, WGAN, WGANGP, GANModule, RaGAN
from ganmods.cli import GANCLI, main
from tests.conftest import tiny_nets
from tests.test_cli_commands import tiny


def _printed(capsys, *args: str) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        GANCLI(args=["fit", *args, "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_print_config_shows_the_paper_optimizer(capsys):
    config = _printed(capsys, "-c", "toy/sgan")
    for key in ("optimizer_g", "optimizer_d"):
        spec = config["model"]["init_args"][key]
        assert spec["class_path"] == "torch.optim.Adam"
        assert spec["init_args"]["lr"] == 2e-4 and spec["init_args"]["betas"] == [0.5, 0.999]


def test_one_learning_rate_override_keeps_the_betas(capsys, tmp_path):
    config = _printed(capsys, "-c", "toy/sgan", "--model.init_args.optimizer_d.init_args.lr=1e-4")
    d, g = config["model"]["init_args"]["optimizer_d"], config["model"]["init_args"]["optimizer_g"]
    assert d["init_args"]["lr"] == 1e-4 and d["init_args"]["betas"] == [0.5, 0.999]
    assert g["init_args"]["lr"] == 2e-4
    cli = GANCLI(args=["-c", "toy/sgan", *tiny(tmp_path), "--model.init_args.optimizer_d.init_args.lr=1e-4"], run=False)
    opt_g, opt_d = cli.model.configure_optimizers()
    assert opt_d.defaults["lr"] == 1e-4 and tuple(opt_d.defaults["betas"]) == (0.5, 0.999)
    assert opt_g.defaults["lr"] == 2e-4 and tuple(opt_g.defaults["betas"]) == (0.5, 0.999)


def test_wgan_defaults_from_the_command_line(capsys):
    config = _printed(capsys, "-c", "toy/sgan", "--model=ganmods.WGAN")
    assert config["model"]["init_args"]["optimizer_d"]["class_path"] == "torch.optim.RMSprop"
    assert config["model"]["init_args"]["optimizer_d"]["init_args"]["lr"] == 5e-5


def test_saved_config_holds_the_optimizers(tmp_path):
    assert main(["fit", "-c", "toy/rasgan", *tiny(tmp_path, "opt", steps=1)]) == 0
    (saved,) = list(tmp_path.glob("opt/version_0/config.yaml"))
    config = yaml.safe_load(saved.read_text())
    assert config["model"]["init_args"]["optimizer_g"]["init_args"]["betas"] == [0.5, 0.999]


@pytest.mark.parametrize(
    "make, cls, lr, betas",
    [
        (lambda: GANModule(**tiny_nets()), torch.optim.Adam, 2e-4, (0.5, 0.999)),
        (lambda: SGAN(**tiny_nets()), torch.optim.Adam, 2e-4, (0.5, 0.999)),
        (lambda: RaGAN(**tiny_nets()), torch.optim.Adam, 2e-4, (0.5, 0.999)),
        (lambda: FGAN(**tiny_nets()), torch.optim.Adam, 2e-4, (0.5, 0.999)),
        (lambda: WGAN(**tiny_nets()), torch.optim.RMSprop, 5e-5, None),
        (lambda: WGANGP(**tiny_nets()), torch.optim.Adam, 1e-4, (0.0, 0.9)),
        (lambda: WGANGP(**tiny_nets(), optimizer_g=None, optimizer_d=None), torch.optim.Adam, 1e-4, (0.0, 0.9)),
    ],
)
def test_python_construction_keeps_the_paper_optimizers(make, cls, lr, betas):
    for opt in make().configure_optimizers():
        assert type(opt) is cls and opt.defaults["lr"] == lr
        if betas is not None:
            assert tuple(opt.defaults["betas"]) == betas
