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

    def encode(self, samples: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, width) 0/1 matrix of ``samples``."""
        out = np.zeros((len(samples), self.width))
        for row, sample in enumerate(samples):
            for label in self.labels:
                if label not in sample or not self.active(sample, label):
                    continue
                value = sample[label]
                chosen = value if isinstance(value, (list, tuple)) else [value]
                for v in chosen:
                    column = self.columns.get((label, _text(v)))
                    if column is not None:
                        out[row, column] = 1.0
        return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


class GaussianProcess:
    """GP regression with the overlap x log-cost kernel and learned noise (module docstring)."""

    def __init__(self) -> None:
        self.params: tuple[float, float, float] = (1.0, 1.0, 0.05)

    @staticmethod
    def _distances(a: np.ndarray, ca: np.ndarray, b: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d_H, squared log-cost difference) between the rows of ``a`` and ``b``; the indicators
        of one label differ in 2 columns when the label differs, so d_H = |a - b|_1 / 2."""
        hamming = (a.sum(1)[:, None] + b.sum(1)[None, :] - 2.0 * a @ b.T) / 2.0
        return hamming, (ca[:, None] - cb[None, :]) ** 2

    @staticmethod
    def _kernel(distances: tuple[np.ndarray, np.ndarray], l_cat: float, l_cost: float) -> np.ndarray:
        hamming, squared = distances
        return np.exp(-hamming / l_cat - squared / (2.0 * l_cost ** 2))

    def fit(self, features: np.ndarray, log_costs: np.ndarray, y: np.ndarray) -> "GaussianProcess":
        self._mean, self._scale = float(np.mean(y)), float(np.std(y)) or 1.0
        self._c_mean, self._c_scale = float(np.mean(log_costs)), float(np.std(log_costs)) or 1.0
        self._x, self._c = features, (log_costs - self._c_mean) / self._c_scale
        z = (y - self._mean) / self._scale
        tail = slice(max(0, len(z) - FIT_POINTS), None)
        distances = self._distances(self._x, self._c, self._x, self._c)
        sub = tuple(d[tail, tail] for d in distances)
        best = -math.inf
        for l_cat, l_cost, noise in itertools.product(GRID_CAT, GRID_COST, GRID_NOISE):
            value = self._log_likelihood(self._kernel(sub, l_cat, l_cost), z[tail], noise)
            if value > best:
                best, self.params = value, (l_cat, l_cost, noise)
        l_cat, l_cost, noise = self.params
        k = self._kernel(distances, l_cat, l_cost) + noise * np.eye(len(z))
        self._chol = np.linalg.cholesky(k)
        self._alpha = np.linalg.solve(self._chol.T, np.linalg.solve(self._chol, z))
        return self

    @staticmethod
    def _log_likelihood(kernel: np.ndarray, z: np.ndarray, noise: float) -> float:
        k = kernel + noise * np.eye(len(z))
        try:
            chol = np.linalg.cholesky(k)
        except np.linalg.LinAlgError:
            return -math.inf
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
        return float(-0.5 * z @ alpha - np.log(np.diag(chol)).sum())

    def predict(self, features: np.ndarray, log_costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and standard deviation (accuracy units) at the given points."""
        l_cat, l_cost, _ = self.params
        c = (log_costs - self._c_mean) / self._c_scale
        k_star = self._kernel(self._distances(features, c, self._x, self._c), l_cat, l_cost)
        mean = k_star @ self._alpha
        v = np.linalg.solve(self._chol, k_star.T)
        var = np.maximum(1.0 - np.sum(v * v, axis=0), 1e-12)
        return self._mean + self._scale * mean, self._scale * np.sqrt(var)

    @property
    def noise_std(self) -> float:
        """Estimated retraining noise (accuracy units)."""
        return self._scale * math.sqrt(self.params[2])


class ForestEnsemble:
    """Random forest on the features and log-cost; mean and spread of the trees."""

    def __init__(self, seed: int = 0, trees: int = 64) -> None:
        self.seed, self.trees = seed, trees

    def fit(self, features: np.ndarray, log_costs: np.ndarray, y: np.ndarray) -> "ForestEnsemble":
        from sklearn.ensemble import RandomForestRegressor
        self._forest = RandomForestRegressor(n_estimators=self.trees, min_samples_leaf=2, max_features=0.5,
                                             random_state=self.seed, n_jobs=1)
        self._forest.fit(np.column_stack([features, log_costs]), y)
        return self

    def predict(self, features: np.ndarray, log_costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.column_stack([features, log_costs])
        per_tree = np.stack([tree.predict(x) for tree in self._forest.estimators_])
        return per_tree.mean(0), per_tree.std(0) + 1e-9
