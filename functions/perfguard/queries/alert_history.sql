-- The state changes of the alerts of one group (@endpoint; NULL: the overall group) from @since on, plus,
-- for each alert still active at @since, its latest change before then: what notify_alert decides
-- inhibition (who is active at the event) and flapping (how often the rule opened) from. Oldest first.
SELECT id, rule, status, severity, changed_at
FROM performance_alerts
WHERE (@endpoint IS NULL AND endpoint_or_operation IS NULL) OR endpoint_or_operation = @endpoint
QUALIFY changed_at >= @since
  OR (
    status IN ('open', 'investigating')
    AND COALESCE(LEAD(changed_at) OVER (PARTITION BY id ORDER BY changed_at), @since) >= @since
  )
ORDER BY changed_at, id
