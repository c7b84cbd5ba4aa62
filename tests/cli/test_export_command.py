"""``nas-sepconv export``: frontier genotypes as DARTS text and JSON."""
from cli_support import BLK

from nas_sepconv import Genotype, load_genotype
from nas_sepconv.genotypes.files import load_genotypes


def test_export_writes_loadable_text_and_json(cli, make_run):
    run = make_run()
    code, out, err = cli("export", run.path)
    folder = run.path / "export"
    assert code == 0 and err == ""
    assert sorted(p.name for p in folder.iterdir()) == ["arch_0.json", "arch_0.txt", "arch_2.json",
                                                         "arch_3.json", "arch_3.txt", "genotypes.json"]
    assert "no DARTS text for 2" in out  # its blk edges carry (s, t), which DARTS text cannot hold
    for trial in ("0", "2", "3"):
        assert load_genotype(folder / f"arch_{trial}.json") == run.genotype(trial)
        assert load_genotype(folder / "genotypes.json", trial) == run.genotype(trial)
    assert Genotype.from_darts((folder / "arch_3.txt").read_text()) == run.genotype("3")
    assert (folder / "arch_0.txt").read_text().startswith("Genotype(normal=[")
    assert set(load_genotypes(folder / "genotypes.json")) == {"0", "2", "3"}
    assert load_genotype(folder / "arch_2.json") == BLK


def test_export_to_chosen_folder_then_train_accepts_the_file(cli, make_run, tmp_path):
    run = make_run()
    code, _, _ = cli("export", run.path, "--out", tmp_path / "out")
    assert code == 0
    code, out, _ = cli("count", tmp_path / "out" / "arch_3.txt")
    assert code == 0 and out.startswith("arch_3: stem cifar")
