-- Per endpoint_or_operation (and per time bucket when @interval_us > 0) over [start, end): count,
-- mean, min, max, exact P50/P95/P99 (PERCENTILE_CONT: linear interpolation, numpy's default), error and
-- timeout rates. Exact percentiles need every value, so this reads the raw table: used up to 24 h.
WITH ranged AS (
  SELECT
    endpoint_or_operation,
    IF(@interval_us > 0,
       TIMESTAMP_ADD(TIMESTAMP '1970-01-01 00:00:00+00',
                     INTERVAL DIV(UNIX_MICROS(timestamp), @interval_us) * @interval_us MICROSECOND),
       CAST(NULL AS TIMESTAMP)) AS bucket_start,
    value,
    outcome
  FROM performance_metrics
  WHERE metric_type = @metric_type
    AND timestamp >= @start AND timestamp < @end
    AND (@endpoint_or_operation IS NULL OR endpoint_or_operation = @endpoint_or_operation)
),
ranked AS (
  SELECT
    *,
    PERCENTILE_CONT(value, 0.5) OVER (PARTITION BY endpoint_or_operation, bucket_start) AS p50,
    PERCENTILE_CONT(value, 0.95) OVER (PARTITION BY endpoint_or_operation, bucket_start) AS p95,
    PERCENTILE_CONT(value, 0.99) OVER (PARTITION BY endpoint_or_operation, bucket_start) AS p99
  FROM ranged
)
SELECT
  endpoint_or_operation,
  bucket_start,
  COUNT(*) AS count,
  AVG(value) AS mean,
  MIN(value) AS min,
  MAX(value) AS max,
  ANY_VALUE(p50) AS p50,
  ANY_VALUE(p95) AS p95,
  ANY_VALUE(p99) AS p99,
  COUNTIF(outcome != 'ok') AS error_count,
  COUNTIF(outcome = 'timeout') AS timeout_count
FROM ranked
GROUP BY endpoint_or_operation, bucket_start
ORDER BY endpoint_or_operation, bucket_start
