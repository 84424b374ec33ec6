-- Releases of a metric type first seen in [start, end) within the day before @end: the deploys that
-- happened while a new alert's condition built up. A release seen earlier that day is not new, and neither is
-- one present since the first record of that day (nothing tells when it was deployed).
WITH day AS (
  SELECT release, timestamp
  FROM performance_metrics
  WHERE metric_type = @metric_type AND timestamp >= @since AND timestamp < @end
),
first_record AS (
  SELECT MIN(timestamp) AS first_seen FROM day
)
SELECT release, MIN(timestamp) AS first_seen, COUNT(*) AS count
FROM day
WHERE release IS NOT NULL
GROUP BY release
HAVING MIN(timestamp) >= @start AND MIN(timestamp) > (SELECT first_seen FROM first_record)
ORDER BY first_seen, release
