-- Per cluster and app version, the fatal crashes of [@start, @end): crashed sessions (the event when there is
-- no session) and users, with the sessions that version started in the window (the session_start rows of
-- performance_metrics): the velocity alert's share of sessions.
WITH crashes AS (
  SELECT
    cluster_id, app, platform, COALESCE(app_version, 'unknown') AS app_version,
    COUNT(DISTINCT COALESCE(session_id, event_id)) AS crashed_sessions,
    COUNT(DISTINCT installation_id) AS users
  FROM crash_events
  WHERE event_timestamp >= @start AND event_timestamp < @end AND error_type = 'FATAL'
  GROUP BY cluster_id, app, platform, app_version
),
sessions AS (
  SELECT
    JSON_VALUE(tags, '$.app') AS app,
    JSON_VALUE(tags, '$.platform') AS platform,
    JSON_VALUE(tags, '$.app_version') AS app_version,
    COUNT(*) AS sessions
  FROM performance_metrics
  WHERE timestamp >= @start AND timestamp < @end
    AND metric_type = 'crash_rate' AND endpoint_or_operation = 'app_sessions'
    AND JSON_VALUE(tags, '$.event') = 'session_start'
  GROUP BY app, platform, app_version
)
SELECT c.cluster_id, c.app, c.platform, c.app_version, c.crashed_sessions, c.users, COALESCE(s.sessions, 0) AS sessions
FROM crashes AS c
LEFT JOIN sessions AS s ON s.app = c.app AND s.platform = c.platform AND s.app_version = c.app_version
ORDER BY c.cluster_id, c.app_version
