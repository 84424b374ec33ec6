-- A/B exposures from one GA4 shard into ab_exposures, in the warehouse: each (experiment, variant, user) of
-- the apps in @apps from the user properties firebase_exp_<N> (string_value = zero-based variant) of their
-- session_start events (an exposure is a session started in the variant; reading every event would cost
-- 10x more for the same users), with the first such session, except the exposures stored already.
INSERT INTO ab_exposures (experiment, variant, user_pseudo_id, first_seen, imported_at)
WITH seen AS (
  SELECT
    SUBSTR(up.key, 14) AS experiment,
    up.value.string_value AS variant,
    e.user_pseudo_id,
    MIN(TIMESTAMP_MICROS(e.event_timestamp)) AS first_seen
  FROM ${source} AS e, UNNEST(e.user_properties) AS up
  WHERE e.event_timestamp >= @start_us AND e.event_timestamp < @end_us
    AND e.app_info.id IN UNNEST(@apps)
    AND e.event_name = 'session_start'
    AND STARTS_WITH(up.key, 'firebase_exp_')
    AND up.value.string_value IS NOT NULL
  GROUP BY 1, 2, 3
)
SELECT s.experiment, s.variant, s.user_pseudo_id, s.first_seen, @now
FROM seen AS s
WHERE NOT EXISTS (
  SELECT 1
  FROM ab_exposures AS a
  WHERE a.experiment = s.experiment AND a.variant = s.variant AND a.user_pseudo_id = s.user_pseudo_id
    AND a.first_seen >= TIMESTAMP_SUB(@start, INTERVAL 90 DAY)
)
