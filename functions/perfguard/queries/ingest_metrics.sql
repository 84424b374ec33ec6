-- Store a staged batch of validated metrics, idempotently, and add its new records to the per-minute
-- histograms. `staging_metrics` holds the batch (plus each record's histogram `bucket`); a record whose
-- id is already stored (a retried batch) or repeated within the batch is skipped, so it is counted once.
-- The timestamp range keeps the duplicate check on the batch's own partitions.
CREATE OR REPLACE TEMP TABLE new_metrics AS
SELECT s.*
FROM staging_metrics AS s
WHERE NOT EXISTS (
  SELECT 1
  FROM performance_metrics AS m
  WHERE m.id = s.id AND m.timestamp BETWEEN @min_timestamp AND @max_timestamp
)
QUALIFY ROW_NUMBER() OVER (PARTITION BY s.id ORDER BY s.timestamp) = 1;

INSERT INTO metric_rollups_1m
  (minute, metric_type, endpoint_or_operation, bucket, count, sum, min, max, error_count, timeout_count)
SELECT
  TIMESTAMP_TRUNC(timestamp, MINUTE), metric_type, endpoint_or_operation, bucket,
  COUNT(*), SUM(value), MIN(value), MAX(value),
  COUNTIF(outcome != 'ok'), COUNTIF(outcome = 'timeout')
FROM new_metrics
GROUP BY 1, 2, 3, 4;

INSERT INTO performance_metrics
  (id, metric_type, endpoint_or_operation, value, unit, percentile, timestamp, tags, outcome, source,
   release, environment, ingested_at)
SELECT
  id, metric_type, endpoint_or_operation, value, unit, percentile, timestamp, PARSE_JSON(tags), outcome, source,
  release, environment, ingested_at
FROM new_metrics;

SELECT COUNT(*) AS stored FROM new_metrics;
