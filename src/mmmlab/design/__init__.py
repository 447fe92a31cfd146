"""The experiment designer: which lift test to run next, from a fitted model's uncertainty
(`design`), and its files (`write_recommendations`). See docs/design.md.

The package is callable, so ``mmmlab.design(fit, ...)`` is ``mmmlab.design.design(fit, ...)``
whether ``mmmlab.design`` was reached as the package or as the function.
"""

import sys
from types import ModuleType
from typing import Any

from mmmlab.design.designer import Recommendations, design
from mmmlab.design.inputs import DesignError
from mmmlab.design.outputs import write_recommendations

__all__ = ["DesignError", "Recommendations", "design", "write_recommendations"]


class _CallablePackage(ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Recommendations:
        return design(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
