"""callbot: the voice switchboard for French town halls."""

__version__ = "0.1.0"
