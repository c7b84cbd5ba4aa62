"""Op frequencies, reference dominance, attainment surfaces, verdicts and diagrams, by hand."""
import pytest

from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.runs.attribution import dominance_statement, op_frequencies, reference_dominance
from nas_sepconv.runs.comparison import attainment_surfaces, confirmation_view, verdict
from nas_sepconv.runs.confirm import Confirmed
from nas_sepconv.runs.diagrams import architecture_diagrams
from nas_sepconv.runs.plots import genotype_figure, op_frequency_figure
from nas_sepconv.runs.run_dir import ReferenceArch

OSEP = replace_ops(DARTS_V2, {"sep_conv_3x3": "osep_3x3"})


def _row(i, genotype, params, accuracy):
    return TrialRecord.ended(i, genotype, params, params, accuracy, 1, 0)


def test_op_frequencies_count_edges_on_the_frontier_and_in_the_population():
    rows = [_row(0, OSEP, 100, 0.9), _row(1, DARTS_V2, 200, 0.5), _row(2, DARTS_V2, 300, 0.4)]
    freq = op_frequencies(rows, rows[:1])
    osep = next(f for f in freq.families if f.name == "osep")
    assert (osep.frontier, osep.frontier_total, osep.population, osep.population_total) == (5, 16, 5, 48)
    assert osep.ratio == pytest.approx((5 / 16) / (5 / 48)) == pytest.approx(3.0)
    sep = next(f for f in freq.ops if f.name == "sep_conv_3x3")
    assert (sep.frontier, sep.population) == (0, 10)
    assert next(f for f in freq.families if f.name == "blk").ratio is None
    figure = op_frequency_figure(freq)
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert "5/16 vs 5/48" in labels


def test_dominance_names_the_points_a_reference_beats():
    front = [_row(0, OSEP, 100, 0.5), _row(20, OSEP, 37042, 0.8818), _row(3, OSEP, 90000, 0.95)]
    refs = [ReferenceArch("DARTS_V2", 36586, 0.8832), ReferenceArch("ResNet20", 269722, 0.9)]
    found = reference_dominance(refs, front)
    assert [d.dominated for d in found] == [(20,), ()]
    text = dominance_statement(found, front)
    assert text == ("DARTS_V2 (36,586 params, 0.8832) dominates frontier point 20 (37,042 params, 0.8818). "
                    "ResNet20 dominates no frontier point.")
    assert dominance_statement(reference_dominance(refs[1:], front), front).startswith("No reference")


def test_attainment_surfaces_of_two_seeds_by_hand():
    a = [(0.5, 100), (0.8, 300)]
    b = [(0.6, 200), (0.7, 250)]
    surfaces = attainment_surfaces([a, b])
    # attained by at least one run: the union's frontier
    assert surfaces["best"] == ((100, 0.5), (200, 0.6), (250, 0.7), (300, 0.8))
    # attained by both: at params x the smaller of the two runs' best accuracies so far
    assert surfaces["worst"] == ((200, 0.5), (300, 0.7))
    assert surfaces["median"] == surfaces["best"]  # 50 % of 2 runs: attained by at least one
    assert attainment_surfaces([a])["best"] == attainment_surfaces([a])["worst"] == ((100, 0.5), (300, 0.8))


def test_verdicts_follow_the_studies_rule():
    assert verdict([0.9, 0.92], [0.8, 0.85]) == "holds"
    assert verdict([0.9, 0.8], [0.85, 0.84]) == "same direction, within seed spread"
    assert verdict([0.7, 0.72], [0.8, 0.85]) == "reversed"
    assert verdict([0.9], [0.8]).startswith("one seed")


def test_confirmation_view_recomputes_the_frontier_on_means():
    rows = (Confirmed("trial 1", 1, 100, 1, 1, (0, 1), (0.5, 0.7)), Confirmed("trial 2", 2, 200, 1, 1, (0, 1),
                                                                               (0.5, 0.6)),
            Confirmed("trial 3", 3, 300, 1, 1, (0, 1), (0.9, 0.9)), Confirmed("DARTS_V2", None, 150, 1, 1, (0, 1),
                                                                               (0.8, 0.82)))
    view = confirmation_view(rows)
    assert view.frontier == ("trial 1", "trial 3")  # trial 2: mean 0.55 < 0.6 with more params
    verdicts = {(c.trial, c.reference): (c.verdict, c.dominated) for c in view.comparisons}
    assert verdicts == {("trial 1", "DARTS_V2"): ("reversed", False), ("trial 3", "DARTS_V2"): ("holds", False)}


def test_cell_and_resnet_diagrams():
    from nas_sepconv import ResNetGenotype

    normal, reduce = architecture_diagrams(OSEP)
    assert len(normal.edges) == 8 + len(OSEP.normal_concat)
    assert {e.label for e in normal.edges if e.family == "osep"} == {"osep_3x3"}
    assert normal.nodes["c_{k-2}"][0] == 0.0 and normal.nodes["c_{k}"][0] == 1.0
    (backbone,) = architecture_diagrams(ResNetGenotype(8, ("conv", "osep", "blk"), 1.0))
    assert [e.family for e in backbone.edges] == ["baseline", "osep", "blk", ""]
    assert len(genotype_figure((normal, reduce)).axes) == 2
