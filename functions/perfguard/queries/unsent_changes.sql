-- Alert state changes since @since, each with the channels that took it (ok rows of alert_notifications,
-- comma-separated): the notification dispatcher sends a change to the channels missing from `sent_to` once
-- its group's timers let it (perfguard.api.dispatch).
WITH sent AS (
  SELECT alert_id, alert_status, event_changed_at, STRING_AGG(DISTINCT channel, ',') AS channels
  FROM alert_notifications
  WHERE ok AND attempted_at >= @since
  GROUP BY alert_id, alert_status, event_changed_at
)
SELECT
  a.id, a.alert_type, a.rule, a.metric_type, a.endpoint_or_operation, a.current_value, a.threshold_value,
  a.severity, a.status, TO_JSON_STRING(a.context) AS context, a.triggered_at, a.resolved_at, a.changed_at,
  a.changed_by, COALESCE(s.channels, '') AS sent_to
FROM performance_alerts AS a
LEFT JOIN sent AS s ON s.alert_id = a.id AND s.alert_status = a.status AND s.event_changed_at = a.changed_at
WHERE a.changed_at >= @since
ORDER BY a.changed_at, a.id
