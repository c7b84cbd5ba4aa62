"""Foundations every layer may use: atomic file writes and argument validation with one-line errors."""
