"""``nas_sepconv.load_run``: a run's trials as a DataFrame, checked against the run's own files."""
import pandas as pd

import nas_sepconv
from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.frontier.objectives import Objective
from nas_sepconv.frontier.pareto import ReferencePoint
from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.runs.run_dir import RunDir

REF = ReferencePoint((Objective("accuracy", "max"), Objective("params", "min")), (0.0, 1e6))
OSEP = replace_ops(DARTS_V2, {"sep_conv_3x3": ("osep_3x3", {"N": 3})})


def test_load_run_has_objectives_shares_pareto_and_labels(tmp_path):
    run = RunDir.create(tmp_path, "r", config={}, seed=0, reference=REF)
    genotypes = [DARTS_V2, OSEP, DARTS_V2]
    run.write_trials([TrialRecord.ended(i, g, p, 10 * p, a, 1, 0, 1.0, s, "" if s == "ok" else "nan", i or None)
                      for i, (g, p, a, s) in enumerate(zip(genotypes, (100, 50, 10), (0.5, 0.6, None),
                                                           ("ok", "ok", "failed")))])
    frame = nas_sepconv.load_run(run.path)
    assert isinstance(frame, pd.DataFrame) and list(frame["id"]) == [0, 1, 2]
    assert list(frame["status"]) == ["ok", "ok", "failed"] and list(frame["is_pareto"]) == [False, True, False]
    assert frame.loc[1, "accuracy"] == 0.6 and frame.loc[1, "params"] == 50 and frame.loc[1, "epochs"] == 1
    assert pd.isna(frame.loc[0, "trained_epochs"]) and list(frame["trained_epochs"][1:]) == [1, 2]
    osep_edges = sum(e.op == "sep_conv_3x3" for cell in (DARTS_V2.normal, DARTS_V2.reduce) for e in cell)
    assert frame.loc[1, "share_osep"] == osep_edges / 16 and frame.loc[0, "share_darts"] == 1.0
    assert frame.loc[0, "dominant_family"] == "darts" and frame.loc[1, "internals"] == "osep_3x3[N=3]"
    assert frame.loc[1, "label_normal/op_2_0"] == OSEP.normal[0].op
    assert frame.loc[1, "label_normal/op_2_0/osep_3x3/N"] == 3
    assert pd.isna(frame.loc[0, "label_normal/op_2_0/osep_3x3/N"])
