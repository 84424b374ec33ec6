-- The api_latency records of canister calls in [@start, @end) (those tagged canister_id), with the tags the
-- per-method figures use: method, call type, reject code, instructions and the cross-canister pair.
SELECT
  JSON_VALUE(tags, '$.canister_id') AS canister_id,
  COALESCE(JSON_VALUE(tags, '$.method'), endpoint_or_operation) AS method,
  COALESCE(JSON_VALUE(tags, '$.call_type'), 'update') AS call_type,
  value AS latency_ms,
  outcome,
  JSON_VALUE(tags, '$.reject_code') AS reject_code,
  JSON_VALUE(tags, '$.instructions') AS instructions,
  JSON_VALUE(tags, '$.caller_canister') AS caller_canister,
  JSON_VALUE(tags, '$.callee_canister') AS callee_canister
FROM performance_metrics
WHERE metric_type = 'api_latency' AND timestamp >= @start AND timestamp < @end
  AND JSON_VALUE(tags, '$.canister_id') IN UNNEST(@canister_ids)
ORDER BY timestamp, id
