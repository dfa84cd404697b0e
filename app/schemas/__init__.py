"""Pydantic request and response models, by area."""
