"""Runnable scenarios assembled from agents, and the `mesastack` command."""

from scenarios.machinery.api import run_hierarchy
from scenarios.machinery.monitor import Monitor
from scenarios.machinery.registry import RunOptions, ScenarioResult, get_scenario, list_scenarios, run_scenario

__all__ = ["run_hierarchy", "Monitor", "RunOptions", "ScenarioResult", "get_scenario", "list_scenarios", "run_scenario"]
