"""mesastack's core: objectives, delegation graphs, runs and trajectories, measures, reports, exports.

numpy, networkx and attrs only: this package never imports torch.
"""

from .alignment import AlignmentEstimate, alignment, normalized_alignment
from .capability import CapabilityEstimate, capability, capability_finite, capability_limit
from .delegation import ProductCheck, delegation_product
from .errors import (FormatError, GraphError, LeafError, MesastackError, ObjectiveError, OutputError,
                     ParameterError, ScenarioError)
from .estimator import Estimator
from .figures import AlignmentFigure, CapabilityFigure, ProductFigure, Spread
from .graph import DelegationGraph, OptimizerNode
from .measure import Measurements, measure
from .objective import Objective
from .perturbation import Family, Identity, Perturbation, compose
from .protocol import Leaf, check_leaf
from .report import Claim, Report, Table, build_report
from .robustness import (Robustness, alignment_generalization, alignment_robustness, capability_generalization,
                         capability_robustness, harris_inner_alignment, relative_change)
from .run import ChainRun, run_chain, run_graph
from .trajectory import Trajectory
from .seeding import named_seed

__all__ = [
    "AlignmentEstimate", "alignment", "normalized_alignment", "CapabilityEstimate", "capability",
    "capability_finite", "capability_limit", "ProductCheck", "delegation_product", "FormatError", "GraphError",
    "LeafError", "MesastackError", "ObjectiveError", "OutputError", "ParameterError", "ScenarioError", "Estimator",
    "AlignmentFigure", "CapabilityFigure", "ProductFigure", "Spread", "DelegationGraph", "OptimizerNode",
    "Measurements", "measure", "Objective", "Leaf", "check_leaf", "Claim", "Report", "Table", "build_report",
    "Family", "Identity", "Perturbation", "compose", "Robustness", "alignment_generalization",
    "alignment_robustness", "capability_generalization", "capability_robustness", "harris_inner_alignment",
    "relative_change", "ChainRun", "named_seed", "run_chain", "run_graph", "Trajectory",
]
