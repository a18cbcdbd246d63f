"""In-context linear regression by linear self-attention: a mesa-optimizer that training finds.

von Oswald et al. (2023), "Transformers learn in-context by gradient descent";
definitions.md, "A mesa-optimizer found by gradient descent: in-context linear
regression". One idea per module:

* :mod:`~agents.in_context.tasks`: the task distribution (w ~ N(0, I), x ~ U(-a, a)), its
  deployment shifts as fields, seeded sampling;
* :mod:`~agents.in_context.attention`: the batched linear self-attention model over flat
  [K, P] parameters (forward, query loss and its gradient);
* :mod:`~agents.in_context.reference`: explicit gradient descent on L_ctx, the line search
  for eta*, the constructed weights;
* :mod:`~agents.in_context.implied`: the implied weight vector d y_hat / d x_q (exact);
* :mod:`~agents.in_context.match`: "is it an optimizer?" measured, and the rule;
* :mod:`~agents.in_context.training`: the base optimizer's leaf (the one training loop);
* :mod:`~agents.in_context.inner_run`: the mesa-optimizer's own run (damped repeated
  application), a leaf;
* :mod:`~agents.in_context.shifts`: the deployment families (input scale, noisy labels,
  distractor pairs) and the oracle reference predictor.
"""
