"""The task store: a small interface, SQLite by default."""
