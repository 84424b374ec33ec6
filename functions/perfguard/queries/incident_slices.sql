-- The slices of a new alert's rows over [start, end), on its endpoint (@endpoint NULL: every endpoint), by
-- the attributes people investigate by: release, platform, canister and method. Per value: the record count,
-- mean, max and failures (outcome not ok), by attribute and value (the caller ranks them).
-- perfguard.api.incident_context replaces the TRUE placeholder marked selector with the rule's label matchers
-- (values passed as parameters).
WITH selected AS (
  SELECT
    value,
    outcome,
    release,
    JSON_VALUE(tags, '$.platform') AS platform,
    JSON_VALUE(tags, '$.canister_id') AS canister_id,
    JSON_VALUE(tags, '$.method') AS method
  FROM performance_metrics
  WHERE metric_type = @metric_type AND timestamp >= @start AND timestamp < @end
    AND (@endpoint IS NULL OR endpoint_or_operation = @endpoint)
    AND TRUE /* selector */
),
slices AS (
  SELECT 'release' AS attribute, release AS value, COUNT(*) AS count, AVG(value) AS mean, MAX(value) AS max,
         COUNTIF(outcome != 'ok') AS failures
  FROM selected WHERE release IS NOT NULL GROUP BY release
  UNION ALL
  SELECT 'platform' AS attribute, platform AS value, COUNT(*) AS count, AVG(value) AS mean, MAX(value) AS max,
         COUNTIF(outcome != 'ok') AS failures
  FROM selected WHERE platform IS NOT NULL GROUP BY platform
  UNION ALL
  SELECT 'canister_id' AS attribute, canister_id AS value, COUNT(*) AS count, AVG(value) AS mean, MAX(value) AS max,
         COUNTIF(outcome != 'ok') AS failures
  FROM selected WHERE canister_id IS NOT NULL GROUP BY canister_id
  UNION ALL
  SELECT 'method' AS attribute, method AS value, COUNT(*) AS count, AVG(value) AS mean, MAX(value) AS max,
         COUNTIF(outcome != 'ok') AS failures
  FROM selected WHERE method IS NOT NULL GROUP BY method
)
SELECT * FROM slices
ORDER BY attribute, value
