-- The remediation actions recorded since @since, oldest first: what remediate_alert checks before acting
-- (perfguard.domain.remediation): an (alert_id, action) already executed or dry-run is not repeated, the
-- acts of the last hour count toward remediation_max_per_hour, and those of an alert identity (rule and
-- endpoint) within an action's cooldown hold it back. Skipped rows decide none of that, so they stay here.
SELECT alert_id, action, rule, endpoint_or_operation, mode, acted_at
FROM remediation_actions
WHERE acted_at >= @since AND mode IN ('executed', 'dry_run')
ORDER BY acted_at, alert_id, action
