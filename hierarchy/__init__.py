"""mesastack's core: build, run, measure, check and export a hierarchy of optimizers.

numpy, networkx and attrs only: this package never imports torch.

The names below are the public API, what a user imports to work with a hierarchy:

* **build**: :class:`DelegationGraph`, :class:`OptimizerNode`, :class:`Objective`, the
  :class:`Leaf` protocol and its :class:`Trajectory`, :class:`Produced` (a leaf built from
  another leaf's trained product);
* **run**: :func:`run_graph` (every chain, producers first);
* **measure**: :class:`Estimator`, :func:`measure` (-> :class:`Measurements`), the
  definitions as functions over arrays: :func:`capability` (Definition 1),
  :func:`alignment` and :func:`normalized_alignment` (Definition 2),
  :func:`delegation_product`, :func:`capability_robustness` / :func:`alignment_robustness`
  (Definition 3), :func:`capability_generalization` / :func:`alignment_generalization`
  (Definition 4) over a :class:`Family` of :class:`Perturbation` values (:class:`Identity`
  is the neutral one); the definitions of inner alignment over :class:`Evidence`
  (:func:`judge_all`);
* **report**: :func:`build_report` (-> :class:`Report`), :class:`Claim`, :class:`Table`;
* **check**: :func:`check_leaf`, :func:`check_graph`;
* **export**: :func:`annotated_graph`, :func:`write_graph`, :func:`read_graph`;
* **errors**: :class:`MesastackError` and its subclasses.

Everything else (estimates, figure classes, seeding, sweeps' trial store, inflection
detection, tail errors, verdicts, ...) stays importable from its own module
(``hierarchy.run.run_chain``, ``hierarchy.seeding.named_seed``, ``hierarchy.figures.Spread``, ...).
"""

from .alignment import alignment, normalized_alignment
from .capability import capability
from .check import check_graph
from .delegation import delegation_product
from .errors import (FormatError, GraphError, LeafError, MesastackError, NotFoundError, ObjectiveError, OutputError,
                     ParameterError, ProtocolError, ScenarioError)
from .estimator import Estimator
from .exports import annotated_graph, read_graph, write_graph
from .graph import DelegationGraph, OptimizerNode
from .inner_alignment import Evidence, judge_all
from .measure import Measurements, measure
from .objective import Objective
from .perturbation import Family, Identity, Perturbation
from .product import Produced
from .protocol import Leaf, check_leaf
from .report import Claim, Report, Table, build_report
from .robustness import (alignment_generalization, alignment_robustness, capability_generalization,
                         capability_robustness)
from .run import run_graph
from .trajectory import Trajectory

__all__ = [
    # build
    "DelegationGraph", "OptimizerNode", "Objective", "Leaf", "Trajectory", "Produced",
    # run
    "run_graph",
    # measure
    "Estimator", "measure", "Measurements", "capability", "alignment", "normalized_alignment", "delegation_product",
    "Family", "Perturbation", "Identity", "capability_robustness", "alignment_robustness",
    "capability_generalization", "alignment_generalization", "Evidence", "judge_all",
    # report
    "build_report", "Report", "Claim", "Table",
    # check
    "check_leaf", "check_graph",
    # export
    "annotated_graph", "write_graph", "read_graph",
    # errors
    "MesastackError", "ParameterError", "GraphError", "LeafError", "ObjectiveError", "ScenarioError", "FormatError",
    "OutputError", "NotFoundError", "ProtocolError",
]
