-- Per-window statistics of the rows a rule selects, over window starts in [start, end), per
-- endpoint_or_operation and overall (endpoint_or_operation NULL): the input of every alert rule.
-- Windows are @window_us microseconds long, aligned on the Unix epoch. perfguard.warehouse.window_stats replaces the
-- three TRUE placeholders marked selector, numerator and denominator with the rule's label matchers (values
-- passed as parameters), so a rules file cannot inject SQL. `numerator` and `denominator` count the rows of a
-- ratio's two sides. A rule's `group_by` labels join the endpoint in its group (the expression marked group).
WITH selected AS (
  SELECT
    endpoint_or_operation /* group */ AS endpoint_or_operation,
    TIMESTAMP_ADD(TIMESTAMP '1970-01-01 00:00:00+00',
                  INTERVAL DIV(UNIX_MICROS(timestamp), @window_us) * @window_us MICROSECOND) AS minute,
    value,
    TRUE /* numerator */ AS in_numerator,
    TRUE /* denominator */ AS in_denominator
  FROM performance_metrics
  WHERE metric_type = @metric_type AND timestamp >= @start AND timestamp < @end
    AND TRUE /* selector */
),
per_endpoint AS (
  SELECT
    endpoint_or_operation, minute, value, in_numerator, in_denominator,
    PERCENTILE_CONT(value, 0.5) OVER (PARTITION BY endpoint_or_operation, minute) AS p50,
    PERCENTILE_CONT(value, 0.95) OVER (PARTITION BY endpoint_or_operation, minute) AS p95,
    PERCENTILE_CONT(value, 0.99) OVER (PARTITION BY endpoint_or_operation, minute) AS p99
  FROM selected
),
overall AS (
  SELECT
    minute, value, in_numerator, in_denominator,
    PERCENTILE_CONT(value, 0.5) OVER (PARTITION BY minute) AS p50,
    PERCENTILE_CONT(value, 0.95) OVER (PARTITION BY minute) AS p95,
    PERCENTILE_CONT(value, 0.99) OVER (PARTITION BY minute) AS p99
  FROM selected
)
SELECT
  endpoint_or_operation, minute, COUNT(*) AS count, AVG(value) AS mean, MIN(value) AS min, MAX(value) AS max,
  COUNTIF(in_numerator) AS numerator, COUNTIF(in_denominator) AS denominator,
  ANY_VALUE(p50) AS p50, ANY_VALUE(p95) AS p95, ANY_VALUE(p99) AS p99
FROM per_endpoint
GROUP BY endpoint_or_operation, minute
UNION ALL
SELECT
  CAST(NULL AS STRING) AS endpoint_or_operation, minute, COUNT(*) AS count, AVG(value) AS mean,
  MIN(value) AS min, MAX(value) AS max, COUNTIF(in_numerator) AS numerator, COUNTIF(in_denominator) AS denominator,
  ANY_VALUE(p50) AS p50, ANY_VALUE(p95) AS p95, ANY_VALUE(p99) AS p99
FROM overall
GROUP BY minute
ORDER BY endpoint_or_operation, minute
