"""Data preparation helpers."""
