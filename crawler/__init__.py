"""Arshif: an archiving news crawler for Arabic-language news sites."""

__version__ = "0.1.0"
