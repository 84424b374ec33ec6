-- Events of each cluster in @clusters since @since by device model, OS version, free-memory band and process
-- state: what an alert shows to tell a device- or memory-bound crash from a code bug.
WITH events AS (
  SELECT
    cluster_id,
    COALESCE(device_model, 'unknown') AS device_model,
    COALESCE(os_version, 'unknown') AS os_version,
    COALESCE(process_state, 'unknown') AS process_state,
    CASE
      WHEN memory_free IS NULL THEN 'unknown'
      WHEN memory_free < 268435456 THEN '< 256 MiB free'
      WHEN memory_free < 1073741824 THEN '256 MiB - 1 GiB free'
      ELSE '>= 1 GiB free'
    END AS memory
  FROM crash_events
  WHERE event_timestamp >= @since AND cluster_id IN UNNEST(@clusters)
)
SELECT cluster_id, 'device_model' AS dimension, device_model AS value, COUNT(*) AS events
FROM events GROUP BY cluster_id, device_model
UNION ALL
SELECT cluster_id, 'os_version' AS dimension, os_version AS value, COUNT(*) AS events
FROM events GROUP BY cluster_id, os_version
UNION ALL
SELECT cluster_id, 'memory' AS dimension, memory AS value, COUNT(*) AS events
FROM events GROUP BY cluster_id, memory
UNION ALL
SELECT cluster_id, 'process_state' AS dimension, process_state AS value, COUNT(*) AS events
FROM events GROUP BY cluster_id, process_state
ORDER BY cluster_id, dimension, events DESC, value
