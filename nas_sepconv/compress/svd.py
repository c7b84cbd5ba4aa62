"""The linear algebra of depth-wise decomposition (He et al., "Depth-wise Decomposition", Sec. 3.2-3.6).

A conv with weight ``W`` (n, c, k*k) maps sampled input patches ``X`` (c, k*k, N) to
``Y = sum_i W_i X_i`` (n, N), Eq. 1/7. A depth-wise separable replacement has one k x k
filter ``D_i`` per input channel and a point-wise matrix ``P`` (n, c):
``Y_hat = sum_i P[:, i] (D_i X_i)``.

* ``depthwise_svd``: Algorithm 1, per channel the best rank-1 projection of ``Y_i``.
* ``depthwise_gsvd``: Algorithm 2, channel i reconstructs ``Y_i + E_{i-1}`` from ``W_i X'_i``
  (Eq. 8/9, closed form) where ``E`` is the residual accumulated over the earlier channels
  (the paper's Table 1). With ``X' != X`` (the decomposed network's input) this is Eq. 10.
* ``channel_decomposition``: the baseline, a rank-c' projection of ``Y`` (Eq. 2-5).

Everything is uncentred: the replacement convs have no bias, so the mean of ``Y`` cannot be
restored separately and the error that matters is that of ``Y`` itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

RANK_TOL = 1e-12  # eigenvalues of a Gram matrix below this share of the largest count as zero


@dataclass(frozen=True)
class DepthwiseFactors:
    """``depthwise`` D (c, k*k) and ``pointwise`` P (n, c): Y_hat = sum_i P[:, i] D_i X_i."""

    depthwise: torch.Tensor
    pointwise: torch.Tensor

    def output(self, patches: torch.Tensor) -> torch.Tensor:
        """The reconstruction (n, N) of the layer output from patches (c, k*k, N)."""
        return self.pointwise @ torch.einsum("ck,ckN->cN", self.depthwise, patches)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent dense weight (n, c, k*k): P[j, i] * D_i."""
        return self.pointwise[:, :, None] * self.depthwise[None]


@dataclass(frozen=True)
class ChannelFactors:
    """``first`` W1 (c', c, k*k) then ``second`` W2 (n, c'): Y_hat = W2 W1 X (Eq. 5)."""

    first: torch.Tensor
    second: torch.Tensor

    def output(self, patches: torch.Tensor) -> torch.Tensor:
        return self.second @ (self.first.flatten(1) @ patches.flatten(0, 1))

    def dense_weight(self) -> torch.Tensor:
        return torch.einsum("nr,rck->nck", self.second, self.first)


def layer_output(weight: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """``Y = W X`` (n, N) for weight (n, c, k*k) and patches (c, k*k, N), Eq. 1."""
    return torch.einsum("nck,ckN->nN", weight, patches)


def relative_error(target: torch.Tensor, approx: torch.Tensor) -> float:
    """``||Y - Y_hat||_F / ||Y||_F`` (the paper's relative error); 0 when both are zero."""
    norm = float(target.norm())
    diff = float((target - approx).norm())
    return diff / norm if norm > 0 else (0.0 if diff == 0 else float("inf"))


def _top_eigvec(gram: torch.Tensor) -> torch.Tensor:
    """Leading eigenvector(s) of symmetric PSD matrices (..., n, n), as (..., n)."""
    return torch.linalg.eigh(gram).eigenvectors[..., -1]


def depthwise_svd(weight: torch.Tensor, patches: torch.Tensor) -> DepthwiseFactors:
    """Algorithm 1: ``U_1`` = top left singular vector of ``Y_i = W_i X_i``; ``D_i = U_1^T W_i``, ``P_i = U_1``.

    ``U_1`` is the top eigenvector of ``Y_i Y_i^T = W_i (X_i X_i^T) W_i^T``, so no n x N SVD is needed.
    """
    w = weight.transpose(0, 1)  # (c, n, k*k)
    gram = w @ (patches @ patches.transpose(1, 2)) @ w.transpose(1, 2)
    u1 = _top_eigvec(gram)  # (c, n)
    return DepthwiseFactors(torch.einsum("cn,cnk->ck", u1, w), u1.T.contiguous())


def rank1_regression(cross: torch.Tensor, gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form ``argmin_{rank M <= 1} ||T - M Z||_F`` as ``M = p v^T`` (Eq. 8/9).

    Takes ``cross = T Z^T`` (n x m) and ``gram = Z Z^T`` (m x m). With ``Z Z^T = U L U^T``, the
    rows of ``L^{-1/2} U^T Z`` span Z's row space orthonormally; the best rank-1 fit is the
    top singular triple (a, s, b) of ``T``'s projection ``cross U L^{-1/2}`` on it, giving
    ``p = s a`` and ``v = U L^{-1/2} b`` (reduced-rank regression, the paper's GSVD step).
    """
    evals, evecs = torch.linalg.eigh(gram)
    keep = evals > RANK_TOL * evals[-1].clamp_min(torch.finfo(evals.dtype).tiny)
    if not keep.any():
        return cross.new_zeros(cross.shape[0]), gram.new_zeros(gram.shape[0])
    whiten = evecs[:, keep] / evals[keep].sqrt()
    a, s, bh = torch.linalg.svd(cross @ whiten, full_matrices=False)
    return a[:, 0] * s[0], whiten @ bh[0]


def depthwise_gsvd(weight: torch.Tensor, patches: torch.Tensor,
                   reference: torch.Tensor | None = None) -> tuple[DepthwiseFactors, torch.Tensor]:
    """Algorithm 2 with inter-channel error compensation; returns the factors and the final residual.

    ``patches`` X' (c, k*k, N) is the input the decomposed layer will see; ``reference`` X
    (default X') is the original network's input, whose output ``Y = W X`` is the target.
    Channel i fits ``Y_i + E_{i-1}`` from ``W_i X'_i`` with a rank-1 map (Eq. 10; Eq. 8 when
    X' = X), and ``E_i = (Y_i + E_{i-1}) - P_i D_i X'_i`` is what is still missing, so the
    residual after the last channel is ``Y - Y_hat``.

    This error update follows the paper's Table 1 (reconstructed value ``(Y_i + E_{i-1}) - E_i``),
    not the line printed in Algorithm 2, ``E_i = Y_i - P_i D_i X_i``: that one drops the error
    carried in from the earlier channels, so channel i + 1 would compensate channel i's own
    miss only. Table 1's update is
    the one that reproduces Table 2's 0.906 relative error with compensation (0.914 without).
    """
    reference = patches if reference is None else reference
    n, c, _ = weight.shape
    # W_i = U_w (S_w V_w^T): M W_i X'_i = (M U_w) Z_i with Z_i = S_w V_w^T X'_i, so the rank-1 map
    # can be sought on Z_i (at most k*k rows) instead of the n x N output: same optimum, smaller problem.
    _, s_w, vh_w = torch.linalg.svd(weight.transpose(0, 1), full_matrices=False)
    depthwise, pointwise = weight.new_zeros(c, weight.shape[2]), weight.new_zeros(n, c)
    residual = weight.new_zeros(n, patches.shape[2])
    for i in range(c):
        reduced = s_w[i, :, None] * vh_w[i]  # U_w^T W_i
        z = reduced @ patches[i]
        target = weight[:, i] @ reference[i] + residual
        pointwise[:, i], v = rank1_regression(target @ z.T, z @ z.T)
        depthwise[i] = v @ reduced
        residual = target - torch.outer(pointwise[:, i], depthwise[i] @ patches[i])
    return DepthwiseFactors(depthwise, pointwise), residual


def channel_decomposition(weight: torch.Tensor, patches: torch.Tensor, rank: int) -> ChannelFactors:
    """Eq. 2-5: ``U_c'`` = top ``rank`` left singular vectors of ``Y = W X``; W1 = U_c'^T W, W2 = U_c'."""
    y = layer_output(weight, patches)
    u = torch.linalg.eigh(y @ y.T).eigenvectors.flip(-1)[:, :rank]  # descending eigenvalues
    return ChannelFactors(torch.einsum("nr,nck->rck", u, weight), u.contiguous())


def channel_rank(c_in: int, c_out: int, kernel_size: int) -> int:
    """The c' (at least 1) whose channel decomposition is as fast as the depth-wise one, to the nearest.

    Multiply-adds per output position: dense ``n c k^2``, depth-wise separable ``c k^2 + c n``,
    channel decomposition ``c' (c k^2 + n)``; "the same speed-up" (paper Sec. 4.1) rounds
    ``(c k^2 + c n) / (c k^2 + n)`` half up (12 for the paper's 64 -> 128 3x3 layer).
    """
    per_channel = c_in * kernel_size * kernel_size + c_out
    return max(1, (2 * (c_in * kernel_size * kernel_size + c_in * c_out) + per_channel) // (2 * per_channel))
