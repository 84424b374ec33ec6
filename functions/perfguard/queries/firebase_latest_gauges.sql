-- The latest value of each kpi: gauge row (user_journey rows of source firebase_import) in [@start, @end)
-- (performance_metrics' partitions), with its tags (sample_size): what the KPI dashboard shows.
SELECT endpoint_or_operation, value, TO_JSON_STRING(tags) AS tags, timestamp
FROM performance_metrics
WHERE timestamp >= @start AND timestamp < @end
  AND metric_type = 'user_journey' AND source = 'firebase_import' AND STARTS_WITH(endpoint_or_operation, 'kpi:')
QUALIFY ROW_NUMBER() OVER (PARTITION BY endpoint_or_operation ORDER BY timestamp DESC, id DESC) = 1
ORDER BY endpoint_or_operation
