-- The cycles top-ups executed or dry-run since @since (remediation_actions of the action @action), oldest
-- first: the caps per canister and per day, and the block after a top-up whose outcome is unknown
-- (perfguard.domain.canister_topup).
SELECT endpoint_or_operation, mode, outcome, detail, acted_at
FROM remediation_actions
WHERE action = @action AND acted_at >= @since AND mode IN ('executed', 'dry_run')
ORDER BY acted_at, alert_id
