"""Read the MFF long format (one value per row) into a `Dataset`.

An MFF file has the columns ``Period, Geography, Product, Campaign, Outlet, Creative,
VariableName, VariableValue``: each row is one value of one variable at one period and one
combination of levels. A level that does not apply is written ``-`` (or left blank). The reader
keeps the variables named in an `MffMap`, sums spend, exposure and target (and averages controls)
to one value per period × geo × channel, then builds the `Dataset` through the same checks as
the wide reader.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from mmmlab.data.columns import ColumnMap, model_from_yaml
from mmmlab.data.dataset import Dataset
from mmmlab.data.readers import MissingSpend, dataset_from_frame, read_table
from mmmlab.data.validation import (
    SourceFile,
    check_missing,
    check_non_negative,
    parse_dates,
    parse_labels,
    parse_numeric,
    require_columns,
)

LEVELS = ("Geography", "Product", "Campaign", "Outlet", "Creative")
MFF_COLUMNS = ("Period", *LEVELS, "VariableName", "VariableValue")
BLANK_LEVELS = frozenset({"", "-"})


class MffMap(BaseModel):
    """Which MFF variables play which role, and how rows are grouped.

    Attributes
    ----------
    target : the VariableName of the outcome (summed over the rows of a period and geo).
    spend : VariableNames of spend (channel named after the variable), or
        ``{channel: VariableName}``.
    exposure : ``{channel: VariableName}`` of impressions/clicks; channels not listed use spend.
    controls : VariableNames of controls (averaged over the rows of a period and geo).
    channel_levels : level columns ("Campaign", "Outlet", "Creative") that split a spend
        variable into several channels named ``channel/level`` (a blank level adds nothing).
    geos : "keep" makes each Geography a geo (blank everywhere means national); "sum" adds
        the geographies up to national data.
    product : keep only rows of this Product (and rows with a blank Product); None keeps all.
    date_format : strptime format of Period; None lets pandas infer it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    spend: list[str] | dict[str, str]
    exposure: dict[str, str] = {}
    controls: list[str] = []
    channel_levels: list[Literal["Campaign", "Outlet", "Creative"]] = []
    geos: Literal["keep", "sum"] = "keep"
    product: str | None = None
    date_format: str | None = None

    @field_validator("spend")
    @classmethod
    def _spend_not_empty(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        if not value:
            raise ValueError("give at least one spend VariableName")
        return value

    @model_validator(mode="after")
    def _roles_are_distinct(self) -> MffMap:
        unknown = [ch for ch in self.exposure if ch not in self.channel_variables]
        if unknown:
            raise ValueError(f"exposure names channel(s) {unknown} that are not spend channels")
        seen: dict[str, str] = {}
        for role, variable in self.roles():
            if variable in seen:
                raise ValueError(f"VariableName {variable!r} is both {seen[variable]} and {role}")
            seen[variable] = role
        return self

    @property
    def channel_variables(self) -> dict[str, str]:
        """``{channel: spend VariableName}``."""
        return dict(self.spend) if isinstance(self.spend, dict) else {v: v for v in self.spend}

    def roles(self) -> list[tuple[str, str]]:
        """``(role, VariableName)`` pairs: target, spend, exposure, control."""
        out = [("target", self.target)]
        out += [("spend", v) for v in self.channel_variables.values()]
        out += [("exposure", v) for v in self.exposure.values()]
        return out + [("control", v) for v in self.controls]

    @classmethod
    def from_yaml(cls, path: str | Path) -> MffMap:
        """Read an MFF map from a YAML mapping; errors name the file and the key."""
        return model_from_yaml(cls, path)


def read_mff(
    path: str | Path,
    mff_map: MffMap,
    *,
    name: str | None = None,
    fill_missing_spend: MissingSpend = "error",
    min_rows: int = 12,
) -> Dataset:
    """Read an MFF long file (CSV or Parquet) into a `Dataset`.

    Parameters
    ----------
    path : the file; never modified.
    mff_map : the roles of the variables.
    name : the dataset's label; defaults to the file name without extension.
    fill_missing_spend : "error" fails on a blank spend/exposure value or a period without a
        spend row; "zero" reads those as 0 and warns.
    min_rows : the fewest distinct periods accepted.

    Returns
    -------
    Dataset with channels in map order (split by `channel_levels`, levels sorted) and controls
    named after their VariableName.

    Raises
    ------
    DataFileError naming the file, the column (and VariableName) and the line or row.
    """
    frame, source = read_table(path)
    require_columns(
        frame, MFF_COLUMNS, source, f"An MFF file has the columns {', '.join(MFF_COLUMNS)}."
    )
    variables = parse_labels(frame, "VariableName", source, "VariableName")
    levels = {lv: frame[lv].astype(object).map(_level) for lv in LEVELS}
    role_of = {variable: role for role, variable in mff_map.roles()}
    for variable, role in role_of.items():
        _require_variable(variables, variable, role, source)
    keep = variables.isin(list(role_of))
    if mff_map.product is not None:
        if not (levels["Product"] == mff_map.product).any():
            raise source.error("Product", None, f"no row has Product {mff_map.product!r}.")
        keep &= levels["Product"].isin([mff_map.product, ""])
    frame, variables = frame[keep], variables[keep]
    levels = {lv: values[keep] for lv, values in levels.items()}
    fill = fill_missing_spend == "zero"
    long = pd.DataFrame(
        {
            "Period": parse_dates(frame, "Period", source, mff_map.date_format),
            "geo": _geos(levels["Geography"], mff_map.geos, source),
            "role": variables.map(role_of),
            "value": _values(frame, variables, role_of, source, fill),
        }
    )
    long["key"], spend_keys, exposure_keys, labels = _channel_keys(
        variables, levels, mff_map, source
    )
    wide = _pivot(long)
    wide = _fill_gaps(wide, long, labels, source, fill)
    panel = (wide["geo"] != "national").any()
    wide = wide.rename(columns={"geo": "Geography"}) if panel else wide.drop(columns="geo")
    columns = ColumnMap(
        date="Period",
        target=mff_map.target,
        spend=spend_keys,
        exposure=exposure_keys,
        controls=list(mff_map.controls),
        geo="Geography" if panel else None,
    )
    dataset = dataset_from_frame(
        wide,
        columns,
        source=replace(source, labels=labels),
        name=name or Path(path).stem,
        fill_missing_spend=fill_missing_spend,
        min_rows=min_rows,
    )
    record = {"path": source.path, "sha256": source.sha256, "format": "mff"}
    return replace(dataset, source={**record, "mff_map": mff_map.model_dump(mode="json")})


def _level(value: object) -> str:
    """A level cell as text, with ``-``, blank and missing all read as ""."""
    if pd.isna(value):
        return ""
    text = str(value).strip()
    return "" if text in BLANK_LEVELS else text


def _require_variable(variables: pd.Series, variable: str, role: str, source: SourceFile) -> None:
    if (variables == variable).any():
        return
    names = sorted(set(variables))
    close = difflib.get_close_matches(variable, names, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise source.error(
        "VariableName",
        None,
        f"no row has VariableName {variable!r} (the {role} in the MffMap). The file has: "
        f"{', '.join(names)}.{hint} Fix the MffMap.",
    )


def _values(
    frame: pd.DataFrame,
    variables: pd.Series,
    role_of: dict[str, str],
    source: SourceFile,
    fill: bool,
) -> pd.Series:
    """VariableValue as floats; blank and negative values checked per variable's role."""
    values = parse_numeric(frame, "VariableValue", source)
    for variable in sorted(set(variables)):
        role = role_of[variable]
        label = {"VariableValue": f"column 'VariableValue' (VariableName {variable!r})"}
        where = replace(source, labels=label)
        media = role in ("spend", "exposure")
        part = check_missing(
            values[variables == variable], "VariableValue", where, role, fill and media
        )
        if media:
            check_non_negative(part, "VariableValue", where, role)
        values.loc[part.index] = part
    return values


def _geos(geography: pd.Series, how: str, source: SourceFile) -> pd.Series:
    """Geo of each row: its Geography, or "national" when summed or blank everywhere."""
    blank = geography == ""
    if how == "sum" or blank.all():
        return pd.Series("national", index=geography.index, dtype=object)
    if blank.any():
        raise source.error(
            "Geography",
            int(geography.index[blank.to_numpy()].min()),
            "blank Geography in a file with geographies. Give every row its Geography, "
            "or set geos: sum in the MffMap to add them up to national data.",
        )
    return geography


def _channel_keys(
    variables: pd.Series, levels: dict[str, pd.Series], mff_map: MffMap, source: SourceFile
) -> tuple[pd.Series, dict[str, str], dict[str, str], dict[str, str]]:
    """Wide-column key of each row, and the channel → key maps of spend and exposure.

    Returns
    -------
    keys : (N,) the VariableName, with ``/level`` added to spend and exposure rows when
        `channel_levels` split them.
    spend_keys, exposure_keys : ``{channel: key}``.
    labels : ``{key: "VariableName 'x' (Outlet 'y')"}`` for error messages.
    """
    parts = [levels[lv] for lv in mff_map.channel_levels]
    suffix = pd.Series(
        ["/".join(p for p in row if p) for row in zip(*parts, strict=True)] if parts else "",
        index=variables.index,
        dtype=object,
    )
    channel_of = {v: ch for ch, v in mff_map.channel_variables.items()}
    exposure_of = {v: ch for ch, v in mff_map.exposure.items()}
    media = variables.isin(list(channel_of) + list(exposure_of)) & (suffix != "")
    keys = variables.where(~media, variables + "/" + suffix)
    level_names = "/".join(mff_map.channel_levels)
    labels = {}
    for key, variable, suf in sorted(set(zip(keys, variables, suffix, strict=True))):
        labels[key] = f"VariableName {variable!r}" + (f" ({level_names} {suf!r})" if suf else "")
    spend_keys: dict[str, str] = {}
    for channel, variable in mff_map.channel_variables.items():
        for suf in sorted(set(suffix[variables == variable])):
            spend_keys[f"{channel}/{suf}" if suf else channel] = keys[
                (variables == variable) & (suffix == suf)
            ].iloc[0]
    exposure_keys: dict[str, str] = {}
    for variable, channel in exposure_of.items():
        for suf in sorted(set(suffix[variables == variable])):
            rows = (variables == variable) & (suffix == suf)
            name = f"{channel}/{suf}" if suf else channel
            if name not in spend_keys:
                raise source.error(
                    "VariableName",
                    int(rows.index[rows.to_numpy()].min()),
                    f"exposure {variable!r} has {level_names} {suf!r} but the spend of channel "
                    f"{channel!r} has no rows with it. Give spend and exposure the same levels.",
                )
            exposure_keys[name] = keys[rows].iloc[0]
    return keys, spend_keys, exposure_keys, labels


def _pivot(long: pd.DataFrame) -> pd.DataFrame:
    """One row per (Period, geo), one column per key: sums, or means for controls.

    The index of the result is the first file row of each (Period, geo).
    """
    control = long["role"] == "control"
    cells = pd.concat(
        [
            long[~control].groupby(["Period", "geo", "key"])["value"].sum(),
            long[control].groupby(["Period", "geo", "key"])["value"].mean(),
        ]
    )
    wide = cells.unstack("key")
    first_row = long.index.to_series().groupby([long["Period"], long["geo"]]).min()
    rows = first_row.reindex(wide.index).to_numpy()
    wide = wide.reset_index()
    wide.columns.name = None
    return wide.set_axis(pd.Index(rows), axis=0)


def _fill_gaps(
    wide: pd.DataFrame, long: pd.DataFrame, labels: dict[str, str], source: SourceFile, fill: bool
) -> pd.DataFrame:
    """Fail on a (Period, geo) that lacks a variable, or read a lacking spend as 0 when `fill`."""
    roles = long.groupby("key")["role"].first()
    source = replace(source, labels=labels)
    for key in roles.index:
        lacking = wide[key].isna()
        if not lacking.any():
            continue
        media = roles[key] in ("spend", "exposure")
        row = int(wide.index[lacking.to_numpy()].min())
        period, geo = wide.loc[row, "Period"], wide.loc[row, "geo"]
        at = f"Period {period.date()}" + ("" if geo == "national" else f", Geography {geo!r}")
        if fill and media:
            source.warn(
                key, f"{int(lacking.sum())} period(s) without a row, first {at}; read as 0."
            )
            wide[key] = wide[key].fillna(0.0)
            continue
        todo = (
            "Add a row with 0, or read with fill_missing_spend='zero'."
            if media
            else "Add the row, or cut the file to the periods that have it."
        )
        raise source.error(key, row, f"no row for {at} (first row of that period). {todo}")
    return wide
