-- The current state of one silence (its latest row in the append-only log), or no row for an unknown id.
-- What expire_silence checks and copies.
SELECT id, TO_JSON_STRING(matchers) AS matchers, starts_at, ends_at, created_by, comment, changed_at, changed_by
FROM alert_silences_current
WHERE id = @id
