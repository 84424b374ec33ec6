-- The current state of the alerts whose status is in @statuses (a non-empty array), optionally of one
-- metric type (@metric_type NULL for all), newest trigger first, at most @limit (get_alerts).
SELECT
  id, alert_type, rule, metric_type, endpoint_or_operation, current_value, threshold_value, severity, status,
  TO_JSON_STRING(context) AS context, triggered_at, resolved_at, changed_at, changed_by
FROM performance_alerts_current
WHERE status IN UNNEST(@statuses)
  AND (@metric_type IS NULL OR metric_type = @metric_type)
ORDER BY triggered_at DESC, id
LIMIT @limit
