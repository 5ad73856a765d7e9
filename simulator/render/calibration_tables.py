"""`specsoc calibrate` and `specsoc validate`: measured against predicted token rates, and fitted values."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def render_rates(console: Console, title: str, rows: list[tuple[str, str, float, float]]) -> None:
    """Rows of (where, test, measured tok/s, predicted tok/s), with the signed error and the MAPE."""
    table = Table(title=title, title_justify="left")
    for col in ("measurement", "test", "measured tok/s", "predicted tok/s", "error"):
        table.add_column(col, justify="left" if col in ("measurement", "test") else "right")
    for where, test, measured, predicted in rows:
        table.add_row(where, test, f"{measured:.2f}", f"{predicted:.2f}", f"{100 * (predicted / measured - 1):+.1f}%")
    console.print(table)
    if rows:
        mape = 100 * sum(abs(p / m - 1) for _w, _t, m, p in rows) / len(rows)
        console.print(f"mean absolute percentage error (MAPE): {mape:.1f}% over {len(rows)} measurement"
                      + ("s" if len(rows) != 1 else ""))


def render_values(console: Console, rows: list[tuple[str, str, str]]) -> None:
    """Rows of (quantity, value with unit, source)."""
    table = Table(title="Fitted values", title_justify="left")
    for col in ("quantity", "value", "source"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
