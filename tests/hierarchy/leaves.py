"""Small numpy leaves for the core's tests (the core never needs torch)."""

import numpy as np

from hierarchy.trajectory import Trajectory


class QuadraticGD:
    """Gradient descent on L = 0.5 x^T A x with a constant learning rate, K copies from random x0.

    Records L and G = |A x|^2; the states are the iterates x_t.
    """

    records = ("L", "G")

    def __init__(self, A, lr, K=1, x0=None):
        self.A, self.lr, self.K, self.x0 = np.asarray(A, float), float(lr), K, x0

    def start(self, seed):
        if self.x0 is not None:
            return np.tile(np.asarray(self.x0, float), (self.K, 1))
        rng = np.random.default_rng(seed)
        return rng.normal(size=(self.K, self.A.shape[0]))

    def run(self, steps, seed, progress=None):
        x = self.start(seed)
        xs = [x]
        for _ in range(steps):
            x = x - self.lr * x @ self.A.T
            xs.append(x)
        X = np.stack(xs, axis=1)  # [K, T, n]
        AX = X @ self.A.T
        L = 0.5 * np.einsum("ktn,ktn->kt", X, AX)
        G = np.einsum("ktn,ktn->kt", AX, AX)
        return Trajectory({"L": L, "G": G}, states=X)
