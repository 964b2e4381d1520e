"""The app's own widgets."""

from drove_tui.tui.widgets._log_view import LogView
from drove_tui.tui.widgets._row_table import Cell, Column, RowTable
from drove_tui.tui.widgets._status import StatusLine

__all__ = ["Cell", "Column", "LogView", "RowTable", "StatusLine"]
