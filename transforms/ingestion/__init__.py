"""Ingestion (docs/input-format.md): landed event files and reference data into the warehouse's `raw` schema.

This is the package's face: other domains and the Dagster assets import these names from here, never from
the modules behind it. A load runs them in this order: discovery (which files are new), readers (their
lines), validation (against event_schema, with instant_bounds, line_limits and strict_json), headers (files
whose columns are wrong), deduplication, publishing (into raw); loading drives them, one chunk per
transaction. Around them: raw_tables (the raw schema), reference (plans and FX rates), landed_state (files
edited after they were loaded) and outcome (what a load ended with).
"""

from transforms.ingestion.discovery import JSON_SUFFIXES, TABULAR_SUFFIXES, landed_files
from transforms.ingestion.event_schema import STREAMS
from transforms.ingestion.instant_bounds import HEAL_COMMAND, STRICT_JSON_RULES, InstantBounds, heal_stream
from transforms.ingestion.instant_bounds import REASON as IMPLAUSIBLE_INSTANT
from transforms.ingestion.line_limits import DEFAULT_MAX_LINE_BYTES
from transforms.ingestion.loading import load_stream
from transforms.ingestion.outcome import LandingError, LoadReport, NoValidEvents, require_subscription_events
from transforms.ingestion.raw_tables import ensure_raw_tables
from transforms.ingestion.reference import load_reference

__all__ = [
    "DEFAULT_MAX_LINE_BYTES", "HEAL_COMMAND", "IMPLAUSIBLE_INSTANT", "JSON_SUFFIXES", "STREAMS", "STRICT_JSON_RULES",
    "TABULAR_SUFFIXES", "InstantBounds", "LandingError", "LoadReport", "NoValidEvents", "ensure_raw_tables",
    "heal_stream", "landed_files", "load_reference", "load_stream", "require_subscription_events",
]
