-- One summary per cluster in @clusters over its events since @since (crash_events' partitions): first and
-- last seen, the versions, events, sessions and users, and a representative stack (the same for most events
-- of a cluster, since the cluster is keyed on its first in-app frames).
SELECT
  cluster_id,
  MAX(issue_id) AS issue_id,
  MAX(issue_title) AS title,
  MAX(error_type) AS error_type,
  MAX(exception_type) AS exception_type,
  MAX(app) AS app,
  MAX(platform) AS platform,
  MIN(event_timestamp) AS first_seen,
  MAX(event_timestamp) AS last_seen,
  STRING_AGG(DISTINCT COALESCE(app_version, 'unknown'), ',' ORDER BY COALESCE(app_version, 'unknown')) AS versions,
  COUNT(*) AS events,
  COUNT(DISTINCT session_id) AS sessions,
  COUNT(DISTINCT installation_id) AS users,
  MAX(top_frames) AS representative_stack
FROM crash_events
WHERE event_timestamp >= @since AND cluster_id IN UNNEST(@clusters)
GROUP BY cluster_id
ORDER BY cluster_id
