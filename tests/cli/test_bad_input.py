"""Bad input through the real command: exit 2, one line on stderr, no traceback, nothing written."""
import subprocess
import sys

import pytest
from cli_support import tree

from nas_sepconv.cli import build_parser
from nas_sepconv.genotypes.named import DARTS_V2

DIGITS = ["--channels", "4", "--layers", "3", "--epochs", "1"]


def _corrupt_cifar(root):
    folder = root / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "batches.meta").write_bytes(b"not a pickle at all")


def _image_folder_with_a_bomb(root):
    """Two classes of 8x8 PNGs, one of which claims 30000x30000 pixels in its header."""
    import struct
    import zlib

    from PIL import Image

    for label in ("a", "b"):
        (root / "images" / label).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (8, 8), 40 * i).save(root / "images" / label / f"{i}.png")
    data = bytearray((root / "images" / "a" / "0.png").read_bytes())
    data[16:24] = struct.pack(">II", 30000, 30000)                 # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR CRC
    (root / "images" / "a" / "0.png").write_bytes(bytes(data))


def _setup(case, root, make_run):
    """Prepare what a case needs under ``root``; return the path its arguments use as {path}."""
    run = make_run()
    (root / "empty").mkdir()
    (root / "a_file").write_text("x")
    (root / "bad.json").write_text('{"normal": [{"op": "sep_conv_3x3"}]')
    (root / "bad_op.txt").write_text(DARTS_V2.to_darts().replace("sep_conv_3x3", "sep_conv_9x9", 1))
    _corrupt_cifar(root)
    (root / "deep.json").write_text('{"normal": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (root / "deep.txt").write_text("Genotype(normal=[('sep_conv_3x3', " + "-" * 100_000 + "1)], normal_concat=[2], "
                                   "reduce=[], reduce_concat=[2])")
    (root / "latin1.txt").write_bytes("Genotype(normal=[('sép', 0)])".encode("latin-1"))
    (root / "big_key.json").write_text('{"' + "k" * 5_000_000 + '": 1}')
    if case in ("huge genotype cell", "deep genotype cell"):
        lines = (run.path / "trials.csv").read_text().splitlines()
        cell = '"' + "x" * 300_000 + '"' if case == "huge genotype cell" else \
            '"' + "[" * 5000 + "]" * 5000 + '"'
        cells = lines[2].split(",")
        lines[2] = ",".join([cells[0], cell, *lines[2].rsplit('}",', 1)[1].split(",")])
        (run.path / "trials.csv").write_text("\n".join(lines) + "\n")
    if case == "image claiming 30000x30000 pixels":
        _image_folder_with_a_bomb(root)
    if case == "corrupt trials.csv":
        (run.path / "trials.csv").write_text("id,genotype\n1,{}\n")
    if case == "no trials to export":
        (run.path / "trials.csv").unlink()
    return run.path


CASES = {  # name: (argv with {root} and {run}, words the one stderr line must contain)
    "unknown stem": (["count", "DARTS_V2", "--stem", "mobile"], "invalid choice"),
    "unknown dataset": (["train", "DARTS_V2", "--dataset", "mnist"], "invalid choice"),
    "unknown option": (["report", "{run}", "--colour", "red"], "unrecognized arguments"),
    "non-integer option": (["count", "DARTS_V2", "--layers", "three"], "invalid int value"),
    "zero channels": (["count", "DARTS_V2", "--channels", "0"], "`channels` must be an integer >= 1"),
    "zero epochs": (["train", "DARTS_V2", "--epochs", "0"], "`epochs` must be an integer >= 1"),
    "zero threads": (["train", "DARTS_V2", "--threads", "0"], "`--threads` must be an integer >= 1"),
    "negative drop path": (["train", "DARTS_V2", "--drop-path", "-0.1"], "`drop_path`"),
    "unknown genotype name": (["count", "DARTS_V9"], "DARTS_V9"),
    "malformed genotype json": (["count", "{root}/bad.json"], "bad.json"),
    "malformed genotype text": (["train", "{root}/bad_op.txt", *DIGITS], "sep_conv_9x9"),
    "missing data dir": (["train", "DARTS_V2", "--dataset", "cifar10", *DIGITS], "`data_dir` is required"),
    "absent data dir": (["train", "DARTS_V2", "--dataset", "cifar10", "--data-dir", "{root}/nowhere", *DIGITS],
                        "existing directory"),
    "empty data dir": (["train", "DARTS_V2", "--dataset", "cifar10", "--data-dir", "{root}/empty", *DIGITS],
                       "is empty"),
    "corrupt batch file": (["train", "DARTS_V2", "--dataset", "cifar10", "--data-dir", "{root}/cifar", *DIGITS],
                           "not a readable pickle"),
    "unwritable train out": (["train", "DARTS_V2", *DIGITS, "--out", "{root}/a_file/out"], "not writable"),
    "unwritable report out": (["report", "{run}", "--out", "{root}/a_file/out"], "not writable"),
    "unwritable export out": (["export", "{run}", "--out", "{root}/a_file/out"], "not writable"),
    "report of a non-run": (["report", "{root}/empty"], "must be a run directory"),
    "report of a file": (["report", "{root}/a_file"], "not a directory"),
    "export of a non-run": (["export", "{root}/empty"], "must be a run directory"),
    "train from a non-run": (["train", "{root}/empty#3", *DIGITS], "must be a run directory"),
    "unknown trial id": (["count", "{run}#99"], "trial id"),
    "corrupt trials.csv": (["report", "{run}"], "trials.csv must start with the header"),
    "no trials to export": (["export", "{run}"], "no finished trials"),
    "genotype json nested 100,000 deep": (["count", "{root}/deep.json"], "'{root}/deep.json' is nested too deeply"),
    "darts text of nested unary minus": (["count", "{root}/deep.txt"], "nested at most 50 deep"),
    "non-utf-8 genotype file": (["count", "{root}/latin1.txt"], "'{root}/latin1.txt' is not UTF-8 text"),
    "a 5 MB key is cut when echoed": (["count", "{root}/big_key.json"], "`genotype` must be a JSON object"),
    "count 10,000,000 cells": (["count", "DARTS_V2", "--layers", "10000000"], "`layers` must be at most 1000"),
    "costs of 1e9 channels": (["costs", "--c-in", "1000000000"], "`c_in` must be at most 16384"),
    "train 1e8 channels": (["train", "DARTS_V2", "--channels", "100000000"], "`channels` must be at most 16384"),
    "train 4e11 parameters": (["train", "DARTS_V2", "--channels", "4000", "--layers", "200", "--batch-size", "1"],
                              "`#params` must be at most 1000000000"),
    "train activations of a batch of 1e6": (["train", "DARTS_V2", "--batch-size", "1000000"],
                                            "255.6 GiB (float32, counted without building it), more than the limit "
                                            "of 64 GiB; lower `--batch-size`, `--channels` or `--layers`"),
    "search activations of a batch of 1e7": (["search", "--batch-size", "10000000"],
                                             "activations of the largest network of the search space"),
    "resnet search activations": (["search", "--space", "resnet", "--batch-size", "100000000"],
                                  "lower --batch-size or --multipliers"),
    "search width 1e8": (["search", "--width", "100000000"], "`--width` must be at most 16384"),
    "search cells 1e8": (["search", "--cells", "100000000"], "`--cells` must be at most 1000"),
    "search of a space too large": (["search", "--width", "4000", "--cells", "200"],
                                    "`#params of the search space` must be at most"),
    "search threads 1e6": (["search", "--threads", "1000000"], "`--threads` must be at most"),
    # --seed and --threads: the same rules for every command that takes them, before anything is loaded
    **{f"{argv[0]} {flag} {value}": ([*argv, flag, value], words)
       for argv in (["search"], ["train", "DARTS_V2"], ["blk-search", "resnet8"], ["decompose", "resnet8"])
       for flag, value, words in (("--seed", "99999999999", "`--seed` must be an integer in [0, 4294967295]"),
                                  ("--seed", "-1", "`--seed` must be an integer in [0, 4294967295]"),
                                  ("--threads", "1000000", "`--threads` must be at most"))
       if flag == "--seed" or argv[0] in ("search", "train")},
    "resnet depth 6e6+2": (["search", "--space", "resnet", "--depth", "6000002"], "`--depth` must be at most 1202"),
    "image claiming 30000x30000 pixels": (["train", "DARTS_V2", "--dataset", "folder", "--data-dir", "{root}/images",
                                           *DIGITS], "0.png' claims"),
    "huge genotype cell": (["report", "{run}"], "trials.csv line 3"),
    "deep genotype cell": (["report", "{run}"], "trials.csv line 3"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(case, cli, make_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default outputs (results/...) would land here
    run_path = _setup(case, tmp_path, make_run)
    argv, words = CASES[case]
    before = tree(tmp_path)
    code, out, err = cli(*[a.format(root=tmp_path, run=run_path) for a in argv])
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("nas-sepconv") and "Traceback" not in err
    assert words.format(root=tmp_path) in err and len(err) < 2500
    assert tree(tmp_path) == before  # nothing written, not even an empty folder


def _commands():
    return next(a for a in build_parser()._actions if a.dest == "command").choices


@pytest.mark.parametrize("command", ["", *_commands()])
def test_help(command, cli):
    code, out, err = cli(*([command] if command else []), "--help")
    assert code == 0 and out.startswith("usage: nas-sepconv") and err == ""


def test_every_command_is_registered():
    assert {"costs", "report", "train", "count", "export"} <= set(_commands())


def test_real_process_bad_input(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "report", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"nas-sepconv report: error: `run` must be a run directory, got "
                                        f"'{tmp_path}' (no config.json)."]


def test_help_shows_every_default_and_every_choice():
    import argparse

    for name, parser in _commands().items():
        text = parser.format_help()
        for action in parser._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                continue
            if action.default not in (None, False, argparse.SUPPRESS):
                assert "default" in action.help, (name, action.option_strings)
            if action.choices:
                assert "{" + ",".join(map(str, action.choices)) + "}" in text, (name, action.option_strings)
    assert "{evolution,random," in _commands()["search"].format_help()


def test_version_and_top_level_help(cli):
    from nas_sepconv import __version__

    code, out, err = cli("--version")
    assert code == 0 and out.strip() == f"nas-sepconv {__version__}"
    code, out, err = cli("--help")
    assert "Pareto frontiers" in out and "exit codes: 0 done, 2 bad input" in out
    assert "module" not in out


def test_errors_name_the_argument_the_user_typed(cli, tmp_path):
    code, out, err = cli("count", "DARTS_V9")
    assert code == 2 and "`GENOTYPE` must be" in err and "path_or_name" not in err
    code, out, err = cli("search", "--dataset", "cifar10", "--out", tmp_path)
    assert code == 2 and "`--data-dir` must be given" in err
