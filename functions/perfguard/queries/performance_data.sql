-- One page of stored metrics of one type in [start, end), oldest first, after the keyset cursor
-- (after_timestamp, after_id). Optional filter on endpoint_or_operation; tag filters are appended by
-- perfguard.api.query as `AND JSON_VALUE(tags, '$.<key>') = @tag_<n>` (keys are validated identifiers).
SELECT
  id, metric_type, endpoint_or_operation, value, unit, percentile, timestamp,
  TO_JSON_STRING(tags) AS tags, outcome, source, release, environment
FROM performance_metrics
WHERE metric_type = @metric_type
  AND timestamp >= @start AND timestamp < @end
  AND (@endpoint_or_operation IS NULL OR endpoint_or_operation = @endpoint_or_operation)
  AND (timestamp > @after_timestamp OR (timestamp = @after_timestamp AND id > @after_id))
  /*tag_filters*/
ORDER BY timestamp, id
LIMIT @limit
