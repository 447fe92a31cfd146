"""The experiment designer: which lift test to run next, from a fitted model's uncertainty
(`design`), and its files (`write_recommendations`). See docs/design.md."""

from mmmlab.design.designer import Recommendations, design
from mmmlab.design.inputs import DesignError
from mmmlab.design.outputs import write_recommendations

__all__ = ["DesignError", "Recommendations", "design", "write_recommendations"]
