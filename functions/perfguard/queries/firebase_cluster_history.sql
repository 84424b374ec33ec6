-- The app versions each cluster in @clusters crashed in before @before (since @since, crash_events'
-- partitions): whether a cluster of this import run is new, or back in a version it never crashed in.
SELECT cluster_id, STRING_AGG(DISTINCT COALESCE(app_version, 'unknown'), ',' ORDER BY COALESCE(app_version, 'unknown')) AS versions
FROM crash_events
WHERE event_timestamp >= @since
  AND imported_at < @before
  AND cluster_id IN UNNEST(@clusters)
GROUP BY cluster_id
ORDER BY cluster_id
