"""``nas-sepconv count``."""
import subprocess
import sys

from cli_support import BLK

from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import count


def numbers(out):
    lines = dict(line.split(":", 1) for line in out.splitlines()[1:])
    return int(lines["params"].replace(",", "")), int(lines["FLOPs"].replace(",", ""))


def test_darts_v2_at_the_published_sizes(cli):
    code, out, err = cli("count", "DARTS_V2")
    assert code == 0 and err == ""
    assert numbers(out)[0] == 3_349_342  # DARTS's NetworkCIFAR(C=36, 20 cells), aux head excluded
    code, out, _ = cli("count", "darts-v2", "--stem", "imagenet")
    assert code == 0 and numbers(out)[0] == 4_718_752  # NetworkImageNet(C=48, 14 cells, 1000 classes)


def test_options_reach_the_counter(cli):
    code, out, _ = cli("count", "DARTS_V2", "--stem", "digits", "--channels", "4", "--layers", "3",
                       "--num-classes", "7", "--input-size", "16")
    expected = count(DARTS_V2, num_classes=7, channels=4, layers=3, stem="digits", input_size=16)
    assert code == 0 and numbers(out) == (expected.params, expected.flops)
    assert out.splitlines()[0] == "DARTS_V2: stem digits, C=4, 3 cells, 7 classes, input 16x16"


def test_genotype_file_and_run_trial(cli, make_run, tmp_path):
    path = tmp_path / "g.txt"
    path.write_text(DARTS_V2.to_darts())
    assert numbers(cli("count", path)[1])[0] == 3_349_342
    run = make_run()
    expected = count(BLK, channels=16, layers=8, stem="digits")
    code, out, _ = cli("count", f"{run.path}#2", "--stem", "digits")
    assert code == 0 and numbers(out) == (expected.params, expected.flops)


def test_real_process(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "count", "DARTS_V2"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and "params: 3,349,342" in done.stdout and done.stderr == ""


def test_third_party_genotypes_file_by_name_in_a_real_process(tmp_path):
    path = tmp_path / "genotypes.py"
    path.write_text("import os\nos.system('touch EXECUTED')\nfrom collections import namedtuple\n"
                    "Genotype = namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')\n"
                    "DARTS_V2 = " + DARTS_V2.to_darts() + "\nDARTS = DARTS_V2\n"
                    "PDARTS = Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0),"
                    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3',0), "
                    "('dil_conv_5x5', 4)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 0), "
                    "('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), "
                    "('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))\n")
    run = lambda *argv: subprocess.run([sys.executable, "-m", "nas_sepconv", *argv], capture_output=True,  # noqa
                                       text=True, cwd=tmp_path, timeout=120)
    done = run("count", f"{path}:PDARTS")
    assert done.returncode == 0 and "params: 3,433,798" in done.stdout, done.stderr
    assert "params: 3,349,342" in run("count", f"{path}:DARTS").stdout
    done = run("count", str(path))
    assert done.returncode == 2 and done.stderr.strip().endswith("NAME one of DARTS_V2, DARTS, PDARTS.")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "EXECUTED").exists()
    done = run("count", "P-DARTS")
    assert done.returncode == 0 and "params: 3,433,798" in done.stdout
