-- The notifications that went out since @since (ok rows), newest last: when each alert's group was last
-- notified, for the group timers of perfguard.api.dispatch (muted ones are told apart by their reference).
SELECT alert_id, channel, alert_status, reference, attempted_at
FROM alert_notifications
WHERE ok AND attempted_at >= @since
ORDER BY attempted_at, alert_id, channel
