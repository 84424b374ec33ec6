-- New Crashlytics events of one export table (batch or _REALTIME) in [@start, @end), flattened for
-- crash_events, without the events already stored there (a re-run or the batch/realtime overlap imports
-- nothing twice). The source placeholder is the export table; issue_title, error_title and error_frames are
-- placeholders resolved at run time from the table's columns (real tables and the docs disagree: issue_title, errors vs
-- error). The event_timestamp range prunes the export's partitions and crash_events' own.
SELECT
  e.event_id,
  e.issue_id,
  ${issue_title} AS issue_title,
  e.error_type,
  e.event_timestamp,
  e.firebase_session_id AS session_id,
  e.installation_uuid AS installation_id,
  e.application.display_version AS app_version,
  e.exceptions[SAFE_OFFSET(0)].type AS exception_type,
  TO_JSON_STRING(e.exceptions[SAFE_OFFSET(0)].frames) AS exception_frames,
  ${error_title} AS error_title,
  ${error_frames} AS error_frames,
  TO_JSON_STRING(e.blame_frame) AS blame_frame,
  e.device.manufacturer AS device_manufacturer,
  e.device.model AS device_model,
  e.operating_system.display_version AS os_version,
  e.memory.used AS memory_used,
  e.memory.free AS memory_free,
  e.process_state
FROM ${source} AS e
WHERE e.event_timestamp >= @start AND e.event_timestamp < @end
  AND NOT EXISTS (
    SELECT 1
    FROM crash_events AS c
    WHERE c.event_id = e.event_id AND c.event_timestamp >= @start AND c.event_timestamp < @end
  )
QUALIFY ROW_NUMBER() OVER (PARTITION BY e.event_id ORDER BY e.event_timestamp) = 1
