"""What a genotype diagram shows (drawn by ``plots.genotype_figure``), as DARTS's
``visualize.py`` draws cells, but laid out here and drawn with matplotlib (no graphviz).

A cell: inputs ``c_{k-2}`` and ``c_{k-1}`` on the left, intermediate nodes 0..N-1 in a column,
the output ``c_{k}`` on the right; one arrow per edge labelled with its op (and internals),
coloured by the op's family, and an arrow from every concatenated node to the output. A ResNet
genotype: the stem, one box per stage (block op, width, blocks) and the classifier in a row; a
MobileNet genotype: the same, one box per run of consecutive blocks with the same choice.
"""
from __future__ import annotations

from dataclasses import dataclass

from nas_sepconv.genotypes.architecture import Architecture
from nas_sepconv.genotypes.cell import CELLS
from nas_sepconv.genotypes.composition import op_label
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.genotypes.resnet import ResNetGenotype
from nas_sepconv.ops.registry import OPS


@dataclass(frozen=True)
class DiagramEdge:
    source: str
    target: str
    label: str
    family: str


@dataclass(frozen=True)
class Diagram:
    """One panel: node name -> (x, y) in [0, 1]^2 and the labelled edges between nodes
    (edges between two intermediate nodes are drawn as arcs, ``curved``)."""

    title: str
    nodes: dict[str, tuple[float, float]]
    edges: tuple[DiagramEdge, ...]

    def curved(self, edge: DiagramEdge) -> bool:
        return self.nodes[edge.source][0] > 0 and self.nodes[edge.target][0] < 1 and self.nodes[edge.source][0] < 1


def cell_diagram(arch, cell: str) -> Diagram:
    """The diagram of ``arch``'s ``cell`` ('normal' or 'reduce')."""
    edges_of = getattr(arch, cell)
    n = len(edges_of) // 2
    nodes = {"c_{k-2}": (0.0, 0.7), "c_{k-1}": (0.0, 0.3)}
    for i in range(n):
        nodes[str(i)] = (0.5 + 0.12 * (i % 2), 1.0 - (i + 0.5) / n)  # staggered: node-to-node arrows stay apart
    nodes["c_{k}"] = (1.0, 0.5)
    name = lambda j: "c_{k-2}" if j == 0 else "c_{k-1}" if j == 1 else str(j - 2)  # noqa: E731
    edges = [DiagramEdge(name(e.input), str(i // 2), op_label(e.op, e.params), OPS[e.op].family)
             for i, e in enumerate(edges_of)]
    edges += [DiagramEdge(name(j), "c_{k}", "", "") for j in getattr(arch, f"{cell}_concat")]
    return Diagram(cell, nodes, tuple(edges))


def resnet_diagram(arch: ResNetGenotype) -> Diagram:
    from nas_sepconv.models.resnet import resolve_conv, stage_widths

    stages = arch.conv if len(arch.conv) > 1 else arch.conv * 3
    blocks = (arch.depth - 2) // 6
    nodes = {"stem": (0.0, 0.5)}
    names = ["stem"]
    for i, (conv, width) in enumerate(zip(stages, stage_widths(arch.multiplier))):
        label = f"stage {i + 1}\n{blocks} x {op_label(resolve_conv(conv), arch.op_params)}\nwidth {width}"
        nodes[label] = ((i + 1) / 4, 0.5)
        names.append(label)
    nodes["classifier"] = (1.0, 0.5)
    names.append("classifier")
    families = [""] + [OPS[resolve_conv(c)].family for c in stages] + [""]
    edges = tuple(DiagramEdge(a, b, "", families[i + 1] if i + 1 < len(families) - 1 else "")
                  for i, (a, b) in enumerate(zip(names, names[1:])))
    return Diagram(f"ResNet-{arch.depth} x{arch.multiplier:g}", nodes, edges)


def mobilenet_diagram(arch: MobileNetGenotype) -> Diagram:
    from nas_sepconv.models.mobilenet_plan import op_name

    runs: list[list] = []
    for block in arch.blocks:
        if runs and runs[-1][0] == block:
            runs[-1][1] += 1
        else:
            runs.append([block, 1])
    names = ["stem"] + [f"{n} x {op_label(op_name(b.op, b.kernel), b.params)}"
                        + ("" if b.expansion is None else f"\nexpansion {b.expansion:g}") + f"\n#{i}"
                        for i, (b, n) in enumerate(runs)] + ["classifier"]
    nodes = {name: (i / (len(names) - 1), 0.5) for i, name in enumerate(names)}
    families = [""] + [OPS[op_name(b.op, b.kernel)].family for b, _ in runs] + [""]
    edges = tuple(DiagramEdge(a, b, "", families[i + 1] if i + 1 < len(families) - 1 else "")
                  for i, (a, b) in enumerate(zip(names, names[1:])))
    return Diagram(f"MobileNet-{arch.version} x{arch.width:g}", nodes, edges)


def architecture_diagrams(arch: Architecture) -> tuple[Diagram, ...]:
    """The panels of an architecture: both cells of a cell genotype, the backbone of a ResNet or MobileNet."""
    if isinstance(arch, ResNetGenotype):
        return (resnet_diagram(arch),)
    if isinstance(arch, MobileNetGenotype):
        return (mobilenet_diagram(arch),)
    return tuple(cell_diagram(arch, cell) for cell in CELLS)
