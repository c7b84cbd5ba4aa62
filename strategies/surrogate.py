"""Accuracy surrogates over NNI samples: a feature encoding and two regressors with uncertainty.

Encoding (:class:`SampleEncoder`): one indicator per (label, value) of every categorical label
of the simplified space (a ``CategoricalMultiple`` sets one per chosen value), and the log of
the exact cost. Labels are *conditional* when their name nests under a label and one of its
values (``normal/op_2_0/osep_3x3/N`` is used only when ``normal/op_2_0`` is ``osep_3x3``): an
inactive label sets no indicator, so op internals an edge does not use change nothing.

Regressors, both fitted on standardised accuracies and returning the latent mean and standard
deviation (noise excluded):

- :class:`GaussianProcess`: a GP (Rasmussen & Williams 2006, eqs. 2.25-2.26) with the kernel
  ``k(x, x') = exp(-d_H(x, x') / l_cat - (log c - log c')^2 / (2 l_cost^2))``, where ``d_H``
  counts the labels on which the samples differ (the overlap kernel for categories, times an
  RBF on log-cost), plus a learned homoscedastic noise variance: retraining noise of a few
  points of accuracy is modelled, not interpolated. Length scales and noise are chosen by the
  log marginal likelihood (eq. 2.30) on a small grid.
- :class:`ForestEnsemble`: a random forest (Breiman 2001); the mean and spread of its trees.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Mapping, Sequence

import numpy as np
from nni.mutable import Categorical, CategoricalMultiple
from scipy.linalg import cho_solve, solve_triangular

from .evolution_ops import searchable

GRID_CAT = (0.5, 1.0, 2.0, 4.0, 8.0)
GRID_COST = (0.25, 0.5, 1.0, 2.0)
GRID_NOISE = (0.01, 0.05, 0.2, 0.5)
FIT_POINTS = 200          # hyperparameters are chosen on at most this many (the latest) points


def _parent(label: str, values: Mapping[str, Sequence[str]]) -> tuple[str, str] | None:
    """(parent label, value) whose choice activates ``label``, or ``None`` if it is unconditional."""
    parts = label.split("/")
    for i in range(len(parts) - 2, 0, -1):
        parent = "/".join(parts[:i])
        if parent in values and parts[i] in values[parent]:
            return parent, parts[i]
    return None


class SampleEncoder:
    """Indicator features of the categorical labels of a simplified space (see the module docstring)."""

    def __init__(self, space: Mapping[str, Any]) -> None:
        self.columns: dict[tuple[str, str], int] = {}
        self.labels: list[str] = []
        values: dict[str, list[str]] = {}
        for label, mutable in searchable(space).items():
            if isinstance(mutable, (Categorical, CategoricalMultiple)):
                values[label] = [repr(v) if not isinstance(v, str) else v for v in mutable.values]
                self.labels.append(label)
                for v in values[label]:
                    self.columns[(label, v)] = len(self.columns)
        self.parents = {label: _parent(label, values) for label in self.labels}
        self.width = len(self.columns)

    def active(self, sample: Mapping[str, Any], label: str) -> bool:
        parent = self.parents[label]
        while parent is not None:
            if _text(sample.get(parent[0])) != parent[1]:
                return False
            parent = self.parents.get(parent[0])
        return True

    def _compile(self) -> None:
        """The labels as a forest: roots (unconditional labels), and per (label, value) the
        labels that value activates; per label, value text -> column."""
        self._values = {label: {} for label in self.labels}
        for (label, v), column in self.columns.items():
            self._values[label][v] = column
        self._roots = [label for label in self.labels if self.parents[label] is None]
        self._children: dict[tuple[str, str], list[str]] = {}
        for label in self.labels:
            if self.parents[label] is not None:
                self._children.setdefault(self.parents[label], []).append(label)

    def active_labels(self, sample: Mapping[str, Any]) -> list[str]:
        """The labels of ``sample`` its architecture uses: unconditional ones and, recursively, those
        a used label's chosen value activates (what :meth:`active` says, without visiting the rest)."""
        if not hasattr(self, "_roots"):
            self._compile()
        found: list[str] = []
        stack = [label for label in reversed(self._roots)]
        while stack:
            label = stack.pop()
            if label not in sample:
                continue
            found.append(label)
            value = sample[label]
            below = self._children.get((label, value if type(value) is str else _text(value)))
            if below:
                stack.extend(reversed(below))
        return found

    def columns_of(self, sample: Mapping[str, Any]) -> tuple[int, ...]:
        """The indicator columns ``sample`` sets, ascending: its row of :meth:`encode`, which is
        also its duplicate key up to unused labels (equal columns, equal architecture)."""
        columns: list[int] = []
        for label in self.active_labels(sample):
            value, values = sample[label], self._values[label]
            for v in (value if isinstance(value, (list, tuple)) else (value,)):
                column = values.get(v if type(v) is str else _text(v))
                if column is not None:
                    columns.append(column)
        return tuple(sorted(columns))

    def encode(self, samples: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, width) 0/1 matrix of ``samples``."""
        return self.rows([self.columns_of(sample) for sample in samples])

    def rows(self, columns: Sequence[Sequence[int]]) -> np.ndarray:
        """(n, width) 0/1 matrix of the :meth:`columns_of` of n samples."""
        out = np.zeros((len(columns), self.width))
        for row, cols in enumerate(columns):
            out[row, list(cols)] = 1.0
        return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


class GaussianProcess:
    """GP regression with the overlap x log-cost kernel and learned noise (module docstring)."""

    def __init__(self) -> None:
        self.params: tuple[float, float, float] = (1.0, 1.0, 0.05)

    @staticmethod
    def _distances(a: np.ndarray, ca: np.ndarray, b: np.ndarray, cb: np.ndarray,
                   gram: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(d_H, squared log-cost difference) between the rows of ``a`` and ``b``; the indicators
        of one label differ in 2 columns when the label differs, so d_H = |a - b|_1 / 2.
        ``gram``: ``a @ b.T`` when the caller has it already."""
        gram = a @ b.T if gram is None else gram
        hamming = (a.sum(1)[:, None] + b.sum(1)[None, :] - 2.0 * gram) / 2.0
        return hamming, (ca[:, None] - cb[None, :]) ** 2

    @staticmethod
    def _kernel(distances: tuple[np.ndarray, np.ndarray], l_cat: float, l_cost: float) -> np.ndarray:
        hamming, squared = distances
        return np.exp(-hamming / l_cat - squared / (2.0 * l_cost ** 2))

    def fit(self, features: np.ndarray, log_costs: np.ndarray, y: np.ndarray,
            gram: np.ndarray | None = None) -> "GaussianProcess":
        """Fit on the 0/1 ``features`` (``gram``: their ``features @ features.T``, if known), the
        log-costs and the accuracies ``y``."""
        self._mean, self._scale = float(np.mean(y)), float(np.std(y)) or 1.0
        self._c_mean, self._c_scale = float(np.mean(log_costs)), float(np.std(log_costs)) or 1.0
        self._x, self._c = features, (log_costs - self._c_mean) / self._c_scale
        z = (y - self._mean) / self._scale
        tail = slice(max(0, len(z) - FIT_POINTS), None)
        distances = self._distances(self._x, self._c, self._x, self._c, gram)
        sub = tuple(d[tail, tail] for d in distances)
        best = -math.inf
        for l_cat, l_cost in itertools.product(GRID_CAT, GRID_COST):
            kernel = self._kernel(sub, l_cat, l_cost)
            for noise in GRID_NOISE:
                value = self._log_likelihood(kernel, z[tail], noise)
                if value > best:
                    best, self.params = value, (l_cat, l_cost, noise)
        l_cat, l_cost, noise = self.params
        k = self._kernel(distances, l_cat, l_cost) + noise * np.eye(len(z))
        self._chol = np.linalg.cholesky(k)
        self._alpha = cho_solve((self._chol, True), z)
        self._fitted = self._mean + self._scale * (z - noise * self._alpha)
        return self

    @staticmethod
    def _log_likelihood(kernel: np.ndarray, z: np.ndarray, noise: float) -> float:
        k = kernel + noise * np.eye(len(z))
        try:
            chol = np.linalg.cholesky(k)
        except np.linalg.LinAlgError:
            return -math.inf
        alpha = cho_solve((chol, True), z)
        return float(-0.5 * z @ alpha - np.log(np.diag(chol)).sum())

    def predict(self, features: np.ndarray, log_costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and standard deviation (accuracy units) at the given points."""
        l_cat, l_cost, _ = self.params
        c = (log_costs - self._c_mean) / self._c_scale
        k_star = self._kernel(self._distances(features, c, self._x, self._c), l_cat, l_cost)
        mean = k_star @ self._alpha
        v = solve_triangular(self._chol, k_star.T, lower=True)
        var = np.maximum(1.0 - np.sum(v * v, axis=0), 1e-12)
        return self._mean + self._scale * mean, self._scale * np.sqrt(var)

    def fitted_means(self) -> np.ndarray:
        """Latent posterior mean at the training points, ``K (K + s^2 I)^-1 z = z - s^2 alpha``:
        what :meth:`predict` gives there, without a solve."""
        return self._fitted

    @property
    def noise_std(self) -> float:
        """Estimated retraining noise (accuracy units)."""
        return self._scale * math.sqrt(self.params[2])


class ForestEnsemble:
    """Random forest on the features and log-cost; mean and spread of the trees."""

    def __init__(self, seed: int = 0, trees: int = 64) -> None:
        self.seed, self.trees = seed, trees

    def fit(self, features: np.ndarray, log_costs: np.ndarray, y: np.ndarray,
            gram: np.ndarray | None = None) -> "ForestEnsemble":
        """Fit on the features, log-costs and accuracies (``gram`` is not needed: ignored)."""
        from sklearn.ensemble import RandomForestRegressor
        self._forest = RandomForestRegressor(n_estimators=self.trees, min_samples_leaf=2, max_features=0.5,
                                             random_state=self.seed, n_jobs=1)
        self._forest.fit(np.column_stack([features, log_costs]), y)
        self._train = (features, log_costs)
        return self

    def fitted_means(self) -> np.ndarray:
        """The forest's mean at the training points."""
        return self.predict(*self._train)[0]

    def predict(self, features: np.ndarray, log_costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.column_stack([features, log_costs])
        per_tree = np.stack([tree.predict(x) for tree in self._forest.estimators_])
        return per_tree.mean(0), per_tree.std(0) + 1e-9
