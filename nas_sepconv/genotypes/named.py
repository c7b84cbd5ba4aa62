"""Published DARTS-space genotypes, loadable by name with ``load_genotype("DARTS_V2")``.

Cells as published in the authors' ``genotypes.py`` files: DARTS (Liu et al., 2019; first- and
second-order), PC-DARTS (Xu et al., 2020; CIFAR-10 and ImageNet searches), P-DARTS (Chen et al.,
2019), GDAS (Dong & Yang, 2019; ``GDAS_V1``, AutoDL-Projects), SNAS (Xie et al., 2019; the mild
constraint, as the FairDARTS and P-DARTS comparison files copy it) and the NASNet-A (Zoph et al.,
2018) and AmoebaNet-A (Real et al., 2019) cells as the DARTS reference code writes them (5 nodes,
cell output = the nodes no other node reads). At C=36 and 20 cells (NetworkCIFAR) they count
P-DARTS 3,433,798, PC-DARTS 3,634,678, GDAS_V1 3,368,782 and SNAS 2,661,382 parameters, the
papers' 3.4M, 3.6M, 3.4M and 2.7M. Macro settings are left to the builder's defaults.
"""
from __future__ import annotations

from nas_sepconv.genotypes.cell import Genotype

_NODES = range(2, 6)

DARTS_V1 = Genotype(
    normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
    normal_concat=_NODES,
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
    reduce_concat=_NODES,
)

DARTS_V2 = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=_NODES,
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=_NODES,
)

PC_DARTS = Genotype(
    normal=[("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
            ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
    normal_concat=_NODES,
    reduce=[("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
    reduce_concat=_NODES,
)

PC_DARTS_IMAGENET = Genotype(
    normal=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
    normal_concat=_NODES,
    reduce=[("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
            ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    reduce_concat=_NODES,
)

P_DARTS = Genotype(
    normal=[("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("dil_conv_5x5", 4)],
    normal_concat=_NODES,
    reduce=[("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2),
            ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("dil_conv_3x3", 1), ("dil_conv_5x5", 3)],
    reduce_concat=_NODES,
)

GDAS_V1 = Genotype(
    normal=[("skip_connect", 0), ("skip_connect", 1), ("skip_connect", 0), ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 3), ("skip_connect", 0), ("sep_conv_5x5", 4), ("sep_conv_3x3", 3)],
    normal_concat=_NODES,
    reduce=[("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("sep_conv_5x5", 2), ("sep_conv_5x5", 1),
            ("dil_conv_5x5", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1)],
    reduce_concat=_NODES,
)

SNAS_MILD = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 0), ("dil_conv_3x3", 1),
            ("skip_connect", 1), ("skip_connect", 0), ("skip_connect", 0), ("sep_conv_3x3", 1)],
    normal_concat=_NODES,
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 1), ("skip_connect", 2),
            ("skip_connect", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("dil_conv_5x5", 2)],
    reduce_concat=_NODES,
)

NASNET = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1), ("skip_connect", 1)],
    normal_concat=[2, 3, 4, 5, 6],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
            ("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 3), ("avg_pool_3x3", 2),
            ("sep_conv_3x3", 2), ("max_pool_3x3", 1)],
    reduce_concat=[4, 5, 6],
)

AMOEBANET = Genotype(
    normal=[("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0), ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("skip_connect", 1),
            ("skip_connect", 0), ("avg_pool_3x3", 1)],
    normal_concat=[4, 5, 6],
    reduce=[("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
            ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 1),
            ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5)],
    reduce_concat=[3, 4, 6],
)

#: Every shipped genotype by its upper-case name.
NAMED_GENOTYPES: dict[str, Genotype] = {
    "DARTS_V1": DARTS_V1,
    "DARTS_V2": DARTS_V2,
    "PC_DARTS": PC_DARTS,
    "PC_DARTS_IMAGENET": PC_DARTS_IMAGENET,
    "P_DARTS": P_DARTS,
    "GDAS_V1": GDAS_V1,
    "SNAS_MILD": SNAS_MILD,
    "NASNET": NASNET,
    "AMOEBANET": AMOEBANET,
}

#: Other spellings of the same genotypes (as the authors' files name them).
ALIASES: dict[str, str] = {"PDARTS": "P_DARTS", "PCDARTS": "PC_DARTS", "SNAS": "SNAS_MILD", "DARTS": "DARTS_V2"}
