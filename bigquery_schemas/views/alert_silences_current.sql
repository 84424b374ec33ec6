-- The current state of every silence: its latest row in the append-only log (an expiry appends a row).
-- `${dataset}` is replaced by the dataset (Terraform) or the local schema (DuckDB).
SELECT *
FROM ${dataset}.alert_silences
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY changed_at DESC) = 1
