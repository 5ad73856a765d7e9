"""`specsoc sweep`'s reductions as rich tables: per combination of the other axes, the chosen point."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def render_reductions(console: Console, reduced: list) -> None:
    """One table per reduction: the group's axis values, the chosen values of the reduced axes, the metric and
    the point's index in the results file."""
    for reduction, rows in reduced:
        table = Table(title=f"{reduction.name} ({len(rows)} groups)", title_justify="left")
        columns = list(rows[0]) if rows else [*reduction.over, reduction.metric, "point"]
        for column in columns:
            chosen = column in reduction.over or column == reduction.metric
            table.add_column(column, justify="right", style="bold" if chosen else None)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        console.print(table)
