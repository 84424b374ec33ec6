-- Crash-free sessions per app, platform, version and UTC day of [@start, @end), from the crash_rate rows of
-- performance_metrics (the sessions export, or GA4 where there is none): sessions started and sessions
-- ended by a fatal crash. Fatal only, as Firebase counts.
SELECT
  JSON_VALUE(tags, '$.app') AS app,
  JSON_VALUE(tags, '$.platform') AS platform,
  JSON_VALUE(tags, '$.app_version') AS app_version,
  DATE(timestamp) AS day,
  COUNTIF(JSON_VALUE(tags, '$.event') = 'session_start') AS sessions,
  COUNTIF(JSON_VALUE(tags, '$.event') = 'fatal_crash') AS crashed_sessions
FROM performance_metrics
WHERE timestamp >= @start AND timestamp < @end
  AND metric_type = 'crash_rate' AND endpoint_or_operation = 'app_sessions' AND source = 'firebase_import'
GROUP BY app, platform, app_version, day
ORDER BY app, platform, app_version, day
