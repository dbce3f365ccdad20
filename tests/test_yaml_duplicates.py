"""A config file that repeats a key is refused with the key and its line, through the real command line."""

from __future__ import annotations

import os

import pytest

from ganmods.errors import ConfigurationError
from ganmods.yaml_checks import check_config_args, check_no_duplicate_keys
from tests.test_cli import TOY_CONFIGS, _tiny


def _write(tmp_path, text: str, name: str = "cfg.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_duplicate_nested_key_names_key_and_line(tmp_path):
    path = _write(tmp_path, "model:\n  class_path: SGAN\n  init_args:\n    lr_g: 0.1\n    lr_d: 0.2\n    lr_g: 0.3\n")
    with pytest.raises(ConfigurationError) as caught:
        check_no_duplicate_keys(path)
    assert str(caught.value) == f"{path}: duplicate key 'lr_g' at line 6."


def test_duplicate_top_level_key_and_second_document(tmp_path):
    with pytest.raises(ConfigurationError, match=r": duplicate key 'trainer' at line 3\.$"):
        check_no_duplicate_keys(_write(tmp_path, "trainer: {}\nmodel: {}\ntrainer: {}\n"))
    with pytest.raises(ConfigurationError, match=r": duplicate key 'a' at line 5\.$"):
        check_no_duplicate_keys(_write(tmp_path, "a: 1\n---\nb: 1\na: 2\na: 3\n", "two.yaml"))


def test_same_key_in_different_mappings_merge_keys_and_bad_yaml_pass(tmp_path):
    check_no_duplicate_keys(_write(tmp_path, "g:\n  hidden: 8\nd:\n  hidden: 8\nlist:\n- {a: 1}\n- {a: 2}\n"))
    check_no_duplicate_keys(_write(tmp_path, "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  x: 3\n", "merge.yaml"))
    check_no_duplicate_keys(_write(tmp_path, "a: [1, 2\n", "broken.yaml"))  # the config parser reports it
    check_no_duplicate_keys(str(tmp_path / "missing.yaml"))


def test_equal_keys_after_construction_are_duplicates(tmp_path):
    with pytest.raises(ConfigurationError, match=r"duplicate key 1 at line 2\."):
        check_no_duplicate_keys(_write(tmp_path, "1: a\n0x1: b\n"))
    check_no_duplicate_keys(_write(tmp_path, "1: a\n'1': b\n", "str.yaml"))  # int and str keys differ


def test_every_config_flag_form_is_checked(tmp_path):
    bad = _write(tmp_path, "k: 1\nk: 2\n")
    for argv in (["fit", "-c", bad], ["fit", "--config", bad], ["fit", f"--config={bad}"], ["fit", f"-c{bad}"],
                 ["-c", TOY_CONFIGS[0], "fit", "--config", bad]):
        with pytest.raises(ConfigurationError, match="duplicate key 'k' at line 2"):
            check_config_args(argv)
    check_config_args(["fit", "--ckpt_path", bad])  # not a config flag
    check_config_args({"fit": {}})  # a dict of arguments, as GANCLI accepts


@pytest.mark.parametrize("subcommand", ["fit", "validate"])
def test_cli_refuses_duplicate_key_in_one_line_exit_2(subcommand, tmp_path, capsys):
    with open(TOY_CONFIGS[0]) as f:
        text = f.read().rstrip("\n") + "\n"
    assert text.count("seed_everything:") == 1  # a shipped config that trains as it is
    path = _write(tmp_path, text + "seed_everything: 7\n")
    line = len(text.splitlines()) + 1
    assert main_args(subcommand, path, tmp_path) == 2
    err = capsys.readouterr().err
    assert err == f"ganmods: error: {path}: duplicate key 'seed_everything' at line {line}.\n"
    assert not os.path.exists(tmp_path / "run")  # refused before any work


def main_args(subcommand: str, path: str, tmp_path) -> int:
    from ganmods.cli import main

    return main([subcommand, "-c", path, *_tiny(tmp_path)])


def test_a_comparison_config_with_a_duplicated_variant_name_is_refused(tmp_path):
    from ganmods.compare.config import load_comparison

    config = tmp_path / "compare.yaml"
    config.write_text("seeds: [0]\nvariants:\n  sgan: {}\n  wgan_gp: {}\n  sgan: {}\n")
    with pytest.raises(ConfigurationError, match=r"compare\.yaml: duplicate key 'sgan' at line 5\."):
        load_comparison(str(config))
