-- The current state of every alert: its latest row in the append-only log.
-- `${dataset}` is replaced by the dataset (Terraform) or the local schema (DuckDB).
SELECT *
FROM ${dataset}.performance_alerts
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY changed_at DESC) = 1
