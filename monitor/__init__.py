"""Kamerwacht: watches Dutch written parliamentary questions and flags changed answers."""

__version__ = "0.1.0"
