-- The latest runway_days and headroom_pct of each canister in [@start, @end) (rows of the canister poller):
-- the KPI status' cycles runway and memory headroom per canister.
SELECT endpoint_or_operation AS name, JSON_VALUE(tags, '$.measure') AS measure, value, timestamp
FROM performance_metrics
WHERE metric_type IN ('canister_cycles', 'memory_usage') AND source = 'canister_poller'
  AND timestamp >= @start AND timestamp < @end
  AND JSON_VALUE(tags, '$.measure') IN ('runway_days', 'headroom_pct')
QUALIFY ROW_NUMBER() OVER (PARTITION BY endpoint_or_operation, JSON_VALUE(tags, '$.measure') ORDER BY timestamp DESC) = 1
ORDER BY name, measure
