-- Sessions and fatal crashes from one GA4 shard (events_YYYYMMDD or events_intraday_YYYYMMDD), the fallback
-- when an app has no Firebase sessions export: session_start events and app_exception events with fatal = 1,
-- of the apps in @apps, keyed by user_pseudo_id and ga_session_id. GA sessions are not Firebase sessions,
-- so these rates differ from the console's. Choosing the shard is GA4's partition filter.
SELECT
  e.event_name,
  e.user_pseudo_id,
  (SELECT p.value.int_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'ga_session_id') AS ga_session_id,
  TIMESTAMP_MICROS(e.event_timestamp) AS event_time,
  e.app_info.id AS app,
  e.app_info.version AS app_version,
  e.platform
FROM ${source} AS e
WHERE e.event_timestamp >= @start_us AND e.event_timestamp < @end_us
  AND e.app_info.id IN UNNEST(@apps)
  AND (
    e.event_name = 'session_start'
    OR (
      e.event_name = 'app_exception'
      AND EXISTS (SELECT 1 FROM UNNEST(e.event_params) AS p WHERE p.key = 'fatal' AND p.value.int_value = 1)
    )
  )
