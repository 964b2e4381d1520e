"""The Textual front door."""
