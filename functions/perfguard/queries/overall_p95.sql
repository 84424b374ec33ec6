-- P95 and sample count of one metric type over [start, end), every endpoint together (KPI dashboard).
WITH ranked AS (
  SELECT value, PERCENTILE_CONT(value, 0.95) OVER () AS p95
  FROM performance_metrics
  WHERE metric_type = @metric_type AND timestamp >= @start AND timestamp < @end
)
SELECT COUNT(*) AS count, ANY_VALUE(p95) AS p95
FROM ranked
