-- Journey steps from the user_journey records of performance_metrics (tags journey, journey_id, step) in
-- [@start, @end) into journey_events, in the warehouse, except the ones stored already and perfguard's own
-- KPI gauges (source firebase_import): GA4 and backend records of one journey id become one journey.
INSERT INTO journey_events
  (id, journey, journey_id, step, timestamp, user_id, session_id, app_version, platform, source, imported_at)
SELECT
  CONCAT('pm:', m.id),
  JSON_VALUE(m.tags, '$.journey'),
  JSON_VALUE(m.tags, '$.journey_id'),
  JSON_VALUE(m.tags, '$.step'),
  m.timestamp,
  CAST(NULL AS STRING),
  CAST(NULL AS STRING),
  JSON_VALUE(m.tags, '$.app_version'),
  JSON_VALUE(m.tags, '$.platform'),
  'performance_metrics',
  @now
FROM performance_metrics AS m
WHERE m.timestamp >= @start AND m.timestamp < @end
  AND m.metric_type = 'user_journey' AND m.source != 'firebase_import'
  AND JSON_VALUE(m.tags, '$.journey') IS NOT NULL
  AND JSON_VALUE(m.tags, '$.journey_id') IS NOT NULL
  AND JSON_VALUE(m.tags, '$.step') IS NOT NULL
  AND NOT EXISTS (
    SELECT 1
    FROM journey_events AS j
    WHERE j.id = CONCAT('pm:', m.id) AND j.timestamp >= @start AND j.timestamp < @end
  )
