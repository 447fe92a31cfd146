"""What decisions take from a person: `PlanError`, the one error for a plan, budget, bounds or
horizon that cannot be used, and the YAML files (bounds, plans) read with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class PlanError(ValueError):
    """A plan, its budget, bounds or horizon cannot be used; the message names the option,
    key, channel or period and says what to do."""


def read_yaml(path: str | Path, label: str) -> Any:
    """The content of the YAML file at `path`; PlanError names `label` (e.g. '--bounds
    b.yaml') when it is missing or not YAML."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise PlanError(f"{label}: no such file") from None
    except yaml.YAMLError as err:
        raise PlanError(f"{label}: not valid YAML: {err}") from None
