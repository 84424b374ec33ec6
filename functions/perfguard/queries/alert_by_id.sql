-- The current state of one alert (its latest row in the append-only log), or no row for an unknown id.
-- What a person's status change (API or Slack button) is checked against and copies its fields from.
SELECT
  id, alert_type, rule, metric_type, endpoint_or_operation, current_value, threshold_value, severity, status,
  TO_JSON_STRING(context) AS context, triggered_at, resolved_at, changed_at, changed_by
FROM performance_alerts_current
WHERE id = @alert_id
