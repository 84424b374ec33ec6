-- Per user and UTC day of one GA4 shard (events_YYYYMMDD; choosing the shard is the partition filter), of
-- the apps in @apps: whether the user opened the app for the first time and whether they were active
-- (user_engagement or session_start, one definition for D1 and week 4): the input of the retention cohorts.
SELECT
  e.user_pseudo_id,
  DATE(TIMESTAMP_MICROS(e.event_timestamp)) AS day,
  LOGICAL_OR(e.event_name = 'first_open') AS first_open,
  LOGICAL_OR(e.event_name IN ('user_engagement', 'session_start')) AS active
FROM ${source} AS e
WHERE e.app_info.id IN UNNEST(@apps)
  AND e.event_name IN ('first_open', 'user_engagement', 'session_start')
GROUP BY e.user_pseudo_id, day
