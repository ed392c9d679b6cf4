"""Scrip engine: conditions, actions, templates, prepare/commit."""
