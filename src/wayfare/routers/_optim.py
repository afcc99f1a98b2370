"""Full-batch L-BFGS (scipy) over a few named parameter arrays, and the masked soft-label logistic loss."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Params = dict[str, NDArray[np.float64]]
LossFn = Callable[[Params], tuple[float, Params]]


def minimize_lbfgs(loss: LossFn, init: Params, *, max_iter: int = 300) -> Params:
    """Minimise ``loss(params) -> (value, gradients)`` from ``init`` with L-BFGS-B; returns the best params."""
    from scipy.optimize import minimize

    names = list(init)
    shapes = [init[n].shape for n in names]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(flat: NDArray[np.float64]) -> Params:
        out: Params = {}
        pos = 0
        for name, shape, size in zip(names, shapes, sizes, strict=True):
            out[name] = flat[pos : pos + size].reshape(shape)
            pos += size
        return out

    def fun(flat: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        value, grads = loss(unpack(flat))
        return value, np.concatenate([grads[n].ravel() for n in names])

    x0 = np.concatenate([init[n].ravel() for n in names]).astype(np.float64)
    result = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return unpack(np.asarray(result.x, dtype=np.float64))


def masked_logistic(logits: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against soft labels ``y`` (NaN = unknown) and its gradient
    with respect to ``logits``."""
    known = ~np.isnan(y)
    n = max(int(known.sum()), 1)
    t = np.where(known, y, 0.0)
    # log(1 + e^z) - t z, computed stably
    loss = np.where(known, np.logaddexp(0.0, logits) - t * logits, 0.0).sum() / n
    p = 0.5 * (1.0 + np.tanh(0.5 * logits))
    grad = np.where(known, p - t, 0.0) / n
    return float(loss), grad
