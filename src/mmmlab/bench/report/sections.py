"""The report's building blocks: titled sections of text, tables and figures.

Modules that contribute a part of the report (`accuracy`) build these; `document`
renders them as HTML and Markdown.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd


class Block(NamedTuple):
    """One piece of a section.

    Attributes
    ----------
    kind : str
        ``'text'``, ``'heading'``, ``'table'``, ``'figure'`` or ``'pre'``.
    content : Any
        The text, the DataFrame, or the figure name (a key of the figures mapping).
    """

    kind: str
    content: Any


class Section(NamedTuple):
    """A titled part of the report; ``anchor`` is its HTML id."""

    title: str
    anchor: str
    blocks: list[Block]


def table_or_note(frame: pd.DataFrame, note: str) -> Block:
    """The table, without a ``variant`` column that is blank throughout, or the note if empty."""
    if frame.empty:
        return Block("text", note)
    if "variant" in frame.columns and frame["variant"].fillna("").eq("").all():
        frame = frame.drop(columns="variant")
    return Block("table", frame)
