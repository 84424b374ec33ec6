"""The warehouse port and its adapters: DuckDB (embedded default) and BigQuery.

Queries live once, in BigQuery Standard SQL, under `perfguard/queries/`; the DuckDB adapter runs them
through sqlglot. Table schemas live once, in `bigquery_schemas/`.
"""
