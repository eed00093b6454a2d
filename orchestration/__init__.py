"""Dagster definitions: which assets exist, when they run and how they are checked."""
