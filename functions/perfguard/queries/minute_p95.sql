-- Exact P95 and sample count per one-minute window over [start, end), per endpoint_or_operation and
-- overall (endpoint_or_operation NULL): the input of the threshold check.
WITH windows AS (
  SELECT endpoint_or_operation, TIMESTAMP_TRUNC(timestamp, MINUTE) AS minute, value
  FROM performance_metrics
  WHERE metric_type = @metric_type AND timestamp >= @start AND timestamp < @end
),
per_endpoint AS (
  SELECT
    endpoint_or_operation, minute, value,
    PERCENTILE_CONT(value, 0.95) OVER (PARTITION BY endpoint_or_operation, minute) AS p95
  FROM windows
),
overall AS (
  SELECT
    CAST(NULL AS STRING) AS endpoint_or_operation, minute, value,
    PERCENTILE_CONT(value, 0.95) OVER (PARTITION BY minute) AS p95
  FROM windows
)
SELECT endpoint_or_operation, minute, COUNT(*) AS count, ANY_VALUE(p95) AS p95
FROM per_endpoint
GROUP BY endpoint_or_operation, minute
UNION ALL
SELECT endpoint_or_operation, minute, COUNT(*) AS count, ANY_VALUE(p95) AS p95
FROM overall
GROUP BY endpoint_or_operation, minute
ORDER BY endpoint_or_operation, minute
