-- Mobile vitals per record kind, platform and app version over [@start, @end) from the records
-- import_firebase made of the Performance export (source firebase_performance): app start, custom traces and
-- screens' slow / frozen frame percentages (user_journey), requests per URL pattern (api_latency), with
-- exact P50/P90/P95 (PERCENTILE_CONT), the mean and, for requests, the success rate (codes 100-399).
WITH records AS (
  SELECT
    metric_type,
    endpoint_or_operation,
    COALESCE(JSON_VALUE(tags, '$.measure'), 'latency') AS measure,
    COALESCE(JSON_VALUE(tags, '$.platform'), 'unknown') AS platform,
    COALESCE(JSON_VALUE(tags, '$.app_version'), 'unknown') AS app_version,
    value,
    outcome
  FROM performance_metrics
  WHERE timestamp >= @start AND timestamp < @end AND source = 'firebase_performance'
),
ranked AS (
  SELECT
    *,
    PERCENTILE_CONT(value, 0.5) OVER (PARTITION BY endpoint_or_operation, measure, platform, app_version) AS p50,
    PERCENTILE_CONT(value, 0.9) OVER (PARTITION BY endpoint_or_operation, measure, platform, app_version) AS p90,
    PERCENTILE_CONT(value, 0.95) OVER (PARTITION BY endpoint_or_operation, measure, platform, app_version) AS p95
  FROM records
)
SELECT
  endpoint_or_operation,
  measure,
  platform,
  app_version,
  ANY_VALUE(metric_type) AS metric_type,
  COUNT(*) AS count,
  AVG(value) AS mean,
  ANY_VALUE(p50) AS p50,
  ANY_VALUE(p90) AS p90,
  ANY_VALUE(p95) AS p95,
  COUNTIF(outcome = 'ok') / COUNT(*) AS success_rate
FROM ranked
GROUP BY endpoint_or_operation, measure, platform, app_version
ORDER BY endpoint_or_operation, measure, platform, app_version
