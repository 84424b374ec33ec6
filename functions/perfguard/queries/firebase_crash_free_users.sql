-- Crash-free users per version and UTC day of [@start, @end) for one app table of the sessions export:
-- users (instance_id) whose sessions crashed (a FATAL crash_events row with the session's id) out of all
-- users with a session. Users are counted through sessions: installation_uuid and instance_id never match.
WITH s AS (
  SELECT DISTINCT
    session_id, instance_id, application.display_version AS app_version, DATE(event_timestamp) AS day
  FROM ${source}
  WHERE event_timestamp >= @start AND event_timestamp < @end AND event_type = 'SESSION_START'
),
f AS (
  SELECT DISTINCT session_id
  FROM crash_events
  WHERE event_timestamp >= @start AND event_timestamp < TIMESTAMP_ADD(@end, INTERVAL 1 DAY)
    AND error_type = 'FATAL' AND session_id IS NOT NULL
)
SELECT
  s.app_version,
  s.day,
  COUNT(DISTINCT s.instance_id) AS users,
  COUNT(DISTINCT IF(f.session_id IS NOT NULL, s.instance_id, NULL)) AS crashed_users
FROM s
LEFT JOIN f ON f.session_id = s.session_id
GROUP BY s.app_version, s.day
ORDER BY s.app_version, s.day
