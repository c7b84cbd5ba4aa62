"""``nas-sepconv report``: one run's report in place, or several runs overlaid."""
import base64
import re

from nas_sepconv.frontier.pareto import hypervolume
from nas_sepconv.runs.run_dir import RunDir

FILES = ["frontier.png", "frontier.svg", "hypervolume.png", "op_frequency.png", "report.html", "report.md"]


def test_one_run_report_lands_in_the_run(cli, make_run):
    run = make_run()
    code, out, err = cli("report", run.path)
    assert code == 0 and err == ""
    genotypes = [f"genotype_{i}.png" for i in (0, 2, 3)]  # one diagram per frontier point
    assert out.splitlines() == [f"wrote {run.path / name}" for name in
                                ["frontier.png", "frontier.svg", "op_frequency.png", "hypervolume.png", *genotypes,
                                 "report.md", "report.html"]]
    page = (run.path / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(images[0]) == (run.path / "op_frequency.png").read_bytes()
    assert "<svg" in page and "<title>trial 2: 200 params, 2,000 FLOPs, accuracy 0.7000" in page
    md = (run.path / "report.md").read_text()
    frontier_ids = re.findall(r"^\| (\d) \| [\d,]+ \| [\d,]+ \| ", md, flags=re.M)
    assert frontier_ids == ["0", "2", "3"] and "ResNet20" in md and "blk_3x3[s=2,t=1]<-0" in md
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_overlay_with_common_reference_and_seed_spread(cli, make_run, tmp_path):
    a, b = make_run("a", seed=0), make_run("b", seed=1, trials=[(150, 0.6), (900, 0.95)])
    c = make_run("c", seed=0, config={"ops": "darts"})
    out_dir = tmp_path / "cmp"
    code, _, err = cli("report", a.path, b.path, c.path, "--out", out_dir)
    assert code == 0 and err == ""
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        ["attainment.png", *FILES, *(f"genotype_{i}.png" for i in (0, 2, 3))])
    md = (out_dir / "report.md").read_text()
    assert "3 runs compared" in md and "## Spread across seeds" in md
    (spread_row,) = [line for line in md.splitlines() if line.startswith(f"| {a.name}, {b.name} |")]
    hv = [hypervolume([(r.accuracy, r.params) for r in RunDir.open(run.path).read_trials() if r.ok],
                      ("max", "min"), (0.0, 1e6)) for run in (a, b)]
    hv = [v / 1e6 for v in hv]  # normalised: the box from accuracy 1, params 0 to REF has volume 1e6
    assert f"{(hv[0] + hv[1]) / 2:.4f} ± " in spread_row and f"| {min(hv):.4f} | {max(hv):.4f} |" in spread_row


def test_several_runs_default_to_a_new_compare_folder(cli, make_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = make_run("a"), make_run("b", seed=3)
    code, out, _ = cli("report", a.path, b.path)
    (made,) = (tmp_path / "results").iterdir()
    assert code == 0 and made.name.endswith("-compare") and sorted(p.name for p in made.iterdir()) == sorted(
        ["attainment.png", *FILES, *(f"genotype_{i}.png" for i in (0, 2, 3))])
