-- Which of the alert ids in @ids were ever raised since @since (performance_alerts' partitions): a crash
-- cluster alert is raised once per episode id, whatever its current status.
SELECT DISTINCT id
FROM performance_alerts
WHERE changed_at >= @since AND id IN UNNEST(@ids)
