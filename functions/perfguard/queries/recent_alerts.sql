-- The current state of the alerts of one metric type that are still open or investigating, or that were
-- triggered since @since (whatever their state): what the evaluator compares a new evaluation with.
SELECT
  id, alert_type, rule, metric_type, endpoint_or_operation, current_value, threshold_value, severity, status,
  TO_JSON_STRING(context) AS context, triggered_at, resolved_at, changed_at, changed_by
FROM performance_alerts_current
WHERE metric_type = @metric_type
  AND (status IN ('open', 'investigating') OR triggered_at >= @since)
ORDER BY triggered_at, id
