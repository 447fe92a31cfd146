"""`ColumnMap`: which column of a wide data file plays which role in the marketing mix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mmmlab.data.dataset import DatasetError

MapT = TypeVar("MapT", bound=BaseModel)


class ColumnMap(BaseModel):
    """Roles of the columns of a wide file: one row per date (per date × geo for panels).

    Attributes
    ----------
    date : column holding the period date.
    target : column holding the outcome (revenue, conversions, ...).
    spend : list of spend columns (the channel is named after its column) or
        ``{channel: column}``.
    exposure : ``{channel: column}`` of impressions/clicks; channels not listed use spend.
    controls : numeric control columns.
    categorical_controls : string columns one-hot encoded into controls named ``col=level``;
        the most frequent level is the reference and gets no column.
    geo : column with geo names for panel data; None means national data (geo "national").
    population : column with each geo's population (constant within a geo).
    date_format : strptime format of `date` (e.g. ``"%d/%m/%Y"``); None lets pandas infer it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: str
    target: str
    spend: list[str] | dict[str, str]
    exposure: dict[str, str] = {}
    controls: list[str] = []
    categorical_controls: list[str] = []
    geo: str | None = None
    population: str | None = None
    date_format: str | None = None

    @field_validator("spend")
    @classmethod
    def _spend_not_empty(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        if not value:
            raise ValueError("give at least one spend column")
        return value

    @model_validator(mode="after")
    def _roles_are_distinct(self) -> ColumnMap:
        channels = self.channel_columns
        unknown = [ch for ch in self.exposure if ch not in channels]
        if unknown:
            raise ValueError(
                f"exposure names channel(s) {unknown} that are not spend channels; "
                f"the channels are {list(channels)}"
            )
        seen: dict[str, str] = {}
        for role, column in self._roles():
            if column in seen:
                raise ValueError(
                    f"column {column!r} is used twice (as {seen[column]} and as {role}); "
                    "each column plays one role"
                )
            seen[column] = role
        return self

    def _roles(self) -> list[tuple[str, str]]:
        roles = [("date", self.date), ("target", self.target)]
        roles += [(f"spend of channel {ch!r}", col) for ch, col in self.channel_columns.items()]
        roles += [(f"exposure of channel {ch!r}", col) for ch, col in self.exposure.items()]
        roles += [("control", col) for col in self.controls]
        roles += [("categorical control", col) for col in self.categorical_controls]
        roles += [(key, getattr(self, key)) for key in ("geo", "population") if getattr(self, key)]
        return roles

    @property
    def channel_columns(self) -> dict[str, str]:
        """``{channel: spend column}`` in the order given."""
        if isinstance(self.spend, dict):
            return dict(self.spend)
        return {column: column for column in self.spend}

    @property
    def required_columns(self) -> list[str]:
        """Every column the file must have, in role order (date, target, spend, ...)."""
        return [column for _, column in self._roles()]

    @classmethod
    def from_yaml(cls, path: str | Path) -> ColumnMap:
        """Read a column map from a YAML mapping (keys as the fields of this class).

        Raises
        ------
        DatasetError
            Naming the file and the offending key when the file is missing, is not a YAML
            mapping, has an unknown key or a value of the wrong type.
        """
        return model_from_yaml(cls, path)


def model_from_yaml(model: type[MapT], path: str | Path) -> MapT:
    """Validate the YAML mapping in file `path` as a `model` (a pydantic model class).

    Raises
    ------
    DatasetError
        Naming the file and the key at fault.
    """
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: {model.__name__} file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot read it as YAML ({exc})") from None
    if not isinstance(raw, dict):
        keys = ", ".join(model.model_fields)
        raise DatasetError(
            f"{path}: expected a YAML mapping with keys among {keys}; got {type(raw).__name__}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(f"{path}: {describe_validation_error(exc, model)}") from None


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem of a pydantic error, each naming its key.

    Parameters
    ----------
    exc : the pydantic error.
    model : the model class, whose field names are listed for unknown keys.
    """
    lines = []
    for problem in exc.errors():
        key = ".".join(str(part) for part in problem["loc"])
        if not key:
            lines.append(str(problem["msg"]).removeprefix("Value error, "))
        elif problem["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            lines.append(f"unknown key {key!r}; allowed keys are: {allowed}")
        elif problem["type"] == "missing":
            lines.append(f"key {key!r} is required")
        else:
            lines.append(f"key {key!r}: {problem['msg']}")
    return "; ".join(lines)
