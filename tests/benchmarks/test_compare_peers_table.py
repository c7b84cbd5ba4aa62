"""compare_peers.py --table: a multi-fidelity table is scored at its top epoch, mean over its seeds."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from compare_peers import scored_table  # noqa: E402
from tabular_table import TABLE_PATH, read_table  # noqa: E402

A, B = '{"normal_a":"skip_connect"}', '{"normal_a":"blk_3x3"}'


def test_a_multi_fidelity_table_becomes_its_top_epoch_mean_over_seeds(tmp_path):
    lines = ["key,seed,epoch,params,flops,accuracy,seconds"]
    for key, accs in ((A, {(0, 1): 0.3, (0, 2): 0.5, (1, 1): 0.2, (1, 2): 0.7}), (B, {(0, 1): 0.4, (0, 2): 0.8})):
        for (seed, epoch), acc in accs.items():
            lines.append(f'"{key.replace(chr(34), chr(34) * 2)}",{seed},{epoch},100,200,{acc},{epoch}.0')
    path = tmp_path / "mf.csv"
    path.write_text("\n".join(lines) + "\n")
    rows = read_table(scored_table(path, tmp_path))
    assert [(r.key, r.params, r.flops) for r in rows] == [(A, 100, 200)]   # B lacks seed 1 at the top epoch
    assert rows[0].accuracy == pytest.approx(0.6) and rows[0].seconds == pytest.approx(2.0)


def test_a_table_in_the_tabular_format_is_used_as_it_is(tmp_path):
    assert scored_table(TABLE_PATH, tmp_path) == TABLE_PATH
