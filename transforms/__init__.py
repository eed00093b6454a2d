"""Plain Python, Polars and DuckDB transforms: no Dagster imports, unit-testable on small tables."""
