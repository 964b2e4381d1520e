"""The app's views, one module each."""

from drove_tui.tui.screens._confirm import ConfirmScreen
from drove_tui.tui.screens._create import CreateScreen
from drove_tui.tui.screens._detail import DetailScreen
from drove_tui.tui.screens._fanout import FanoutScreen, FanoutSetupScreen
from drove_tui.tui.screens._help import HelpScreen
from drove_tui.tui.screens._hosts import HostsScreen
from drove_tui.tui.screens._logs import END_OF_LOG, LogsScreen
from drove_tui.tui.screens._tasks import TasksScreen

__all__ = [
    "END_OF_LOG",
    "ConfirmScreen",
    "CreateScreen",
    "DetailScreen",
    "FanoutScreen",
    "FanoutSetupScreen",
    "HelpScreen",
    "HostsScreen",
    "LogsScreen",
    "TasksScreen",
]
