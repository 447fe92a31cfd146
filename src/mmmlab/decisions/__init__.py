"""Decisions from a fit: the budget optimizer and scenario plans, evaluated over every
posterior draw through the model's own response (`decisions.response`)."""

from mmmlab.decisions.inputs import PlanError
from mmmlab.decisions.optimizer import BudgetPlan, allocate, optimize
from mmmlab.decisions.outputs import write_plan, write_scenarios
from mmmlab.decisions.scenarios import ScenarioResult, scenario

__all__ = [
    "BudgetPlan",
    "PlanError",
    "ScenarioResult",
    "allocate",
    "optimize",
    "scenario",
    "write_plan",
    "write_scenarios",
]
