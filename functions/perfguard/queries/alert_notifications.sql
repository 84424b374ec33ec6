-- The notifications already attempted for one alert since @since, oldest first: tells the notifier what
-- was delivered (so a redelivered event is not sent twice) and where (the Slack message to update).
SELECT channel, alert_status, event_changed_at, ok, reference, error, attempted_at
FROM alert_notifications
WHERE alert_id = @alert_id AND attempted_at >= @since
ORDER BY attempted_at
