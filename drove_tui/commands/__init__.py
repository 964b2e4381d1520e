"""Headless subcommands.

Each module exposes register(subparsers, common) and never imports Textual.
"""
