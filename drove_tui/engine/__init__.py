"""What we decide and remember: placement, the task lifecycle, the store, recovery."""
