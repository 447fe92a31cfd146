"""Command-line options made from settings fields: the default, range and help of each come
from where the setting is declared (`mmmlab.inference.settings`)."""

from __future__ import annotations

from typing import Any

import typer
from pydantic.fields import FieldInfo


def _bound(field: FieldInfo, kind: str) -> float | None:
    """The field's bound of `kind` ('ge', 'gt', 'le' or 'lt'), None if it has none."""
    return next((getattr(m, kind) for m in field.metadata if hasattr(m, kind)), None)


def setting_option(field: FieldInfo, *names: str) -> Any:
    """A typer option with `field`'s description as help and its range. Closed bounds are
    click's `min`/`max` (it names the option and shows the range in --help); open bounds
    are checked by a callback with the same message."""
    low, high = _bound(field, "gt"), _bound(field, "lt")
    callback = None
    if low is not None or high is not None:
        text = " < ".join(str(b) for b in (low, "x", high) if b is not None)

        def callback(value: Any) -> Any:
            if (low is not None and not value > low) or (high is not None and not value < high):
                raise typer.BadParameter(f"{value} is not in the range {text}.")
            return value

    return typer.Option(
        *names,
        min=_bound(field, "ge"),
        max=_bound(field, "le"),
        callback=callback,
        help=field.description,
    )
