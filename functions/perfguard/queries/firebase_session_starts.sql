-- New sessions of one Firebase sessions export table (batch or _REALTIME) started in [@start, @end): one row
-- per session_id, without the sessions whose crash_rate row (id fb_session_<session_id>) is stored already.
-- The event_timestamp range prunes the export's partitions and performance_metrics'.
SELECT
  s.session_id,
  s.instance_id,
  s.event_timestamp,
  s.application.display_version AS app_version
FROM ${source} AS s
WHERE s.event_timestamp >= @start AND s.event_timestamp < @end
  AND s.event_type = 'SESSION_START'
  AND NOT EXISTS (
    SELECT 1
    FROM performance_metrics AS m
    WHERE m.id = CONCAT('fb_session_', s.session_id) AND m.timestamp >= @start AND m.timestamp < @end
      AND m.metric_type = 'crash_rate' AND m.endpoint_or_operation = 'app_sessions'  -- clustering prunes
  )
QUALIFY ROW_NUMBER() OVER (PARTITION BY s.session_id ORDER BY s.event_timestamp) = 1
