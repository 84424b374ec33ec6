-- window_stats without the percentiles, for rules whose statistic is a count, a rate or a ratio (SLO burn
-- rates read days of events each minute): per window of @window_us microseconds over window starts in
-- [start, end), per endpoint_or_operation and overall (NULL). The TRUE placeholders marked selector, numerator
-- and denominator are replaced as in window_stats.sql.
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
)
SELECT
  endpoint_or_operation, minute, COUNT(*) AS count, AVG(value) AS mean, MIN(value) AS min, MAX(value) AS max,
  COUNTIF(in_numerator) AS numerator, COUNTIF(in_denominator) AS denominator
FROM selected
GROUP BY endpoint_or_operation, minute
UNION ALL
SELECT
  CAST(NULL AS STRING) AS endpoint_or_operation, minute, COUNT(*) AS count, AVG(value) AS mean,
  MIN(value) AS min, MAX(value) AS max, COUNTIF(in_numerator) AS numerator, COUNTIF(in_denominator) AS denominator
FROM selected
GROUP BY minute
ORDER BY endpoint_or_operation, minute
