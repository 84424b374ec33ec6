-- The open alerts not yet escalated to level 1 since they were (last) opened, oldest opening first, at most
-- 100: what escalate_alerts checks on every tick (perfguard.domain.escalation decides which are due).
-- An ok alert_escalations row at or after the open row's changed_at marks the alert done; an alert
-- acknowledged and then handed back (investigating -> open) has a newer changed_at, so it escalates again.
-- `delivered_channels` lists the channels that already took a failed attempt, so a retry skips them.
WITH attempts AS (
  SELECT e.alert_id, LOGICAL_OR(e.ok) AS escalated, STRING_AGG(e.channels, ',') AS delivered
  FROM performance_alerts_current AS a
  JOIN alert_escalations AS e ON e.alert_id = a.id
  WHERE a.status = 'open' AND e.level = 1 AND e.escalated_at >= a.changed_at
  GROUP BY e.alert_id
)
SELECT
  a.id, a.alert_type, a.rule, a.metric_type, a.endpoint_or_operation, a.current_value, a.threshold_value,
  a.severity, a.status, TO_JSON_STRING(a.context) AS context, a.triggered_at, a.resolved_at, a.changed_at,
  a.changed_by, t.delivered AS delivered_channels
FROM performance_alerts_current AS a
LEFT JOIN attempts AS t ON t.alert_id = a.id
WHERE a.status = 'open' AND (t.escalated IS NULL OR NOT t.escalated)
ORDER BY a.changed_at, a.id
LIMIT 100
