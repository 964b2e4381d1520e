"""drove-tui: an agentless cluster manager for short-lived container tasks (Drove's task model)."""

__version__ = "0.1.0"
