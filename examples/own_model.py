"""A researcher's own model, measured with mesastack: a hand-written leaf, no built-in world.

The model is least-squares linear regression trained by full-batch gradient descent on K
copies (each from its own random start). The researcher cares about the error on held-out
data; the training procedure is handed the training error; gradient descent, at the leaf,
drives its true objective G = |grad|^2 to zero. Three levels:

    researcher (L_test) -> trainer (L_train) -> gradient descent (G)

``run_hierarchy`` checks the leaf, runs it, evaluates every objective on its states,
measures each node's capability (Definition 1) and each edge's alignment (Definition 2),
decides the claims and returns a result that writes the same files as ``mesastack run``
(report.html among them).

    python examples/own_model.py [--steps 2000] [--copies 8] [--out runs/own-model]
"""

import argparse

import numpy as np

from hierarchy import Claim, DelegationGraph, Objective, OptimizerNode, Trajectory
from hierarchy.seeding import children, generator
from scenarios import run_hierarchy


class LinearRegressionGD:
    """Gradient descent on the mean squared error of y = X w, K copies; records L_test, L_train, G.

    The data (``n`` training and ``n`` held-out points in ``d`` dimensions, noise ``noise``)
    come from ``data_seed``; copy k starts from w ~ N(0, I) drawn from children(seed, K)[k].
    """

    records = ("L_test", "L_train", "G")
    step_unit = "gradient step"

    def __init__(self, n=40, d=12, noise=0.5, lr=0.05, copies=8, data_seed=0):
        rng = generator(data_seed)
        w_true = rng.normal(size=d)
        self.X, self.Xt = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        self.y = self.X @ w_true + noise * rng.normal(size=n)
        self.yt = self.Xt @ w_true + noise * rng.normal(size=n)
        self.lr, self.copies, self.d = lr, copies, d

    def run(self, steps, seed, progress=None):
        w = np.stack([generator(s).normal(size=self.d) for s in children(seed, self.copies)])  # [K, d]
        L_test, L_train, G = [], [], []
        for t in range(steps + 1):
            r = w @ self.X.T - self.y  # [K, n] residuals
            grad = r @ self.X / len(self.y)  # gradient of 0.5 * mean squared error
            L_train.append(0.5 * np.mean(r ** 2, axis=1))
            L_test.append(0.5 * np.mean((w @ self.Xt.T - self.yt) ** 2, axis=1))
            G.append(np.sum(grad ** 2, axis=1))
            if t < steps:
                w = w - self.lr * grad
                if progress is not None:
                    progress(t + 1)  # steps completed so far
        return Trajectory({"L_test": np.stack(L_test, 1), "L_train": np.stack(L_train, 1), "G": np.stack(G, 1)})


def generalizes(m):
    """Claim: training drags the held-out error down (alpha of researcher -> trainer above 0)."""
    a = m.alignment("researcher", "trainer").alignment
    return Claim.compare("training on L_train lowers L_test: alpha(researcher -> trainer) > 0",
                         {"alpha": a.median}, margin=a.median, standard_error=a.standard_error,
                         rule="alpha against 2 standard errors")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--out", default="runs/own-model")
    args = ap.parse_args(argv)

    graph = DelegationGraph.chain(
        OptimizerNode("researcher", Objective("L_test", "squared error on held-out data"), role="designer"),
        OptimizerNode("trainer", Objective("L_train", "squared error on the training data"), role="base optimizer"),
        OptimizerNode("gd", Objective("G", "squared gradient norm"), role="gradient descent",
                      leaf=LinearRegressionGD(copies=args.copies)),
    )
    result = run_hierarchy(graph, steps=args.steps, seed=0, name="own-model", claims=[generalizes], progress=False)
    print(result.report.render())
    written = result.write(args.out)
    print(f"\nwrote {len(written)} files to {args.out}/; open {args.out}/report.html in a browser")
    try:
        frame = result.report.to_frame()
    except Exception as exc:  # pandas is optional
        print(f"(no frame: {exc})")
    else:
        print(frame[frame.figure == "alignment"].groupby("edge")["value"].describe().to_string())
    return result


if __name__ == "__main__":
    main()
