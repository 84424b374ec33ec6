-- Journey steps from one GA4 shard into journey_events, in the warehouse: every event of the apps in @apps
-- with a journey_id parameter (journey, journey_id and step parameters; the event name when step is
-- missing), except the ones stored already (id = user, event time and name; a re-run adds nothing).
-- The STRPOS test is a cheap pre-filter (most events are not journey steps); EXISTS decides.
INSERT INTO journey_events
  (id, journey, journey_id, step, timestamp, user_id, session_id, app_version, platform, source, imported_at)
WITH steps AS (
  SELECT
    CONCAT('ga4:', e.user_pseudo_id, ':', CAST(e.event_timestamp AS STRING), ':', e.event_name) AS id,
    COALESCE((SELECT p.value.string_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'journey'), 'unknown')
      AS journey,
    (SELECT p.value.string_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'journey_id') AS journey_id,
    COALESCE((SELECT p.value.string_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'step'), e.event_name)
      AS step,
    TIMESTAMP_MICROS(e.event_timestamp) AS timestamp,
    e.user_pseudo_id AS user_id,
    CAST((SELECT p.value.int_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'ga_session_id') AS STRING)
      AS session_id,
    e.app_info.version AS app_version,
    e.platform
  FROM ${source} AS e
  WHERE e.event_timestamp >= @start_us AND e.event_timestamp < @end_us
    AND e.app_info.id IN UNNEST(@apps)
    AND STRPOS(TO_JSON_STRING(e.event_params), '"journey_id"') > 0
    AND EXISTS (SELECT 1 FROM UNNEST(e.event_params) AS p WHERE p.key = 'journey_id')
)
SELECT DISTINCT
  s.id, s.journey, s.journey_id, s.step, s.timestamp, s.user_id, s.session_id, s.app_version, s.platform,
  'ga4', @now
FROM steps AS s
WHERE s.journey_id IS NOT NULL
  AND NOT EXISTS (
    SELECT 1
    FROM journey_events AS j
    WHERE j.id = s.id AND j.timestamp >= @start AND j.timestamp < @end
  )
