"""Numbers behind every figure and table of the studies, computed from the raw CSV rows only.

Kept apart from drawing (``figures.py``) so the tests can check them. A row is a dict of
strings as ``csv.DictReader`` gives it; failed runs (``status`` != "ok") are counted but
never enter a median. Every summary is the median over seeds with the min and max (the
seed spread), as the README reports them.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from nas_sepconv.frontier.pareto import pareto_front

Row = Mapping[str, str]
CONV_ORDER = ("conv", "dw", "dsep", "spatial", "osep", "so_sep", "blk", "xsep")
PLACEMENT_ORDER = ("standard", "B", "P", "none")
DECOMPOSITION_ORDER = ("conv_trained", "dsep_scratch", "channel", "channel_ft", "gsvd", "gsvd_ft")


@dataclass(frozen=True)
class Summary:
    """Accuracy over the seeds of one configuration: count, failures, median, min, max; its cost."""

    n: int
    failed: int
    median: float
    low: float
    high: float
    params: int
    flops: int
    accuracies: tuple[float, ...]

    @classmethod
    def of(cls, rows: Sequence[Row]) -> "Summary":
        """Summary of rows that share one configuration (their #params and FLOPs must agree)."""
        if not rows:
            raise ValueError("`rows` must hold at least one run, got none.")
        costs = {(int(r["params"]), int(r["flops"])) for r in rows}
        if len(costs) != 1:
            raise ValueError(f"`rows` must share one configuration, got costs {sorted(costs)}.")
        accs = tuple(float(r["accuracy"]) for r in rows if r["status"] == "ok")
        (params, flops), = costs
        nan = math.nan
        return cls(len(accs), len(rows) - len(accs), statistics.median(accs) if accs else nan,
                   min(accs, default=nan), max(accs, default=nan), params, flops, accs)

    @property
    def spread(self) -> float:
        return self.high - self.low


def group(rows: Iterable[Row], *fields: str) -> dict[tuple[str, ...], list[Row]]:
    """Rows grouped by the values of ``fields`` (first-seen order)."""
    out: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        out.setdefault(tuple(row[f] for f in fields), []).append(row)
    return out


def summarise(rows: Iterable[Row], *fields: str) -> dict[tuple[str, ...], Summary]:
    return {key: Summary.of(rs) for key, rs in group(rows, *fields).items()}


def budgets(rows: Iterable[Row]) -> list[int]:
    """The distinct target budgets, ascending."""
    return sorted({int(r["budget"]) for r in rows})


def frontier_series(rows: Iterable[Row]) -> dict[str, list[tuple[int, Summary]]]:
    """Per conv type (in ``CONV_ORDER``), ``(budget, Summary)`` sorted by #params: the lines of Fig. 3(a)."""
    table = summarise(rows, "conv", "budget")
    series = {conv: sorted(((int(b), s) for (c, b), s in table.items() if c == conv), key=lambda bs: bs[1].params)
              for conv in CONV_ORDER}
    return {conv: points for conv, points in series.items() if points}


def global_front(rows: Iterable[Row], cost: str = "params") -> list[tuple[str, int]]:
    """(conv, budget) of the configurations non-dominated in (median accuracy up, ``cost`` down).

    ``cost`` is "params" (Fig. 3(a)) or "flops" (Fig. 3(b)).
    """
    if cost not in ("params", "flops"):
        raise ValueError(f"`cost` must be 'params' or 'flops', got {cost!r}.")
    table = [(key, s) for key, s in summarise(rows, "conv", "budget").items() if s.n]
    points = [[s.median, getattr(s, cost)] for _, s in table]
    return [(table[i][0][0], int(table[i][0][1])) for i in pareto_front(points, ["max", "min"])]


def matched_bars(rows: Iterable[Row], budget: int) -> list[tuple[str, Summary]]:
    """Fig. 3(c): every conv type's summary at one matched budget, in ``CONV_ORDER``."""
    table = summarise([r for r in rows if int(r["budget"]) == budget], "conv")
    return [(conv, table[(conv,)]) for conv in CONV_ORDER if (conv,) in table]


def verdict(better: Summary, worse: Summary) -> str:
    """Does ``better`` beat ``worse``? "holds" only when every seed of one beats every seed of the other."""
    if not better.n or not worse.n:
        return "missing"
    if better.low > worse.high:
        return "holds"
    if better.median > worse.median:
        return "same direction, within seed spread"
    if better.median == worse.median:
        return "no difference"
    if better.high < worse.low:
        return "reversed"
    return "reversed, within seed spread"


def gamma_table(gamma_rows: Iterable[Row], conv_rows: Iterable[Row], budget: int) -> list[tuple[str, Summary]]:
    """Table 2: dw-ResNet as gamma -> 0 ("eps"), o-ResNet per gamma (ascending), ResNet as "+inf".

    The two limit columns come from the conv-type study at the same matched ``budget``.
    """
    per_gamma = summarise(gamma_rows, "variant")
    limits = dict(matched_bars(conv_rows, budget))
    out = [("eps (dw)", limits["dw"])] if "dw" in limits else []
    out += [(label, per_gamma[(label,)]) for label in sorted({k[0] for k in per_gamma}, key=Fraction)]
    return out + ([("+inf (conv)", limits["conv"])] if "conv" in limits else [])


def ordered_table(rows: Iterable[Row], field: str, order: Sequence[str]) -> list[tuple[str, Summary]]:
    """Summaries per value of ``field``: values of ``order`` first (in that order), then any others."""
    table = summarise(rows, field)
    keys = [k for k in order if (k,) in table] + [k[0] for k in table if k[0] not in order]
    return [(key, table[(key,)]) for key in keys]


def placement_table(rows: Iterable[Row]) -> list[tuple[str, Summary]]:
    """XSepConv Tables 2-3: one summary per placement variant."""
    return ordered_table(rows, "variant", PLACEMENT_ORDER)


def decomposition_table(rows: Iterable[Row]) -> list[tuple[str, Summary]]:
    """Depth-wise decomposition Table 3: one summary per method."""
    return ordered_table(rows, "method", DECOMPOSITION_ORDER)
