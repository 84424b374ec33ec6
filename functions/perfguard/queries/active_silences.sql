-- The current state of the silences that end after @at (active at @at, or pending), soonest end first:
-- what notify_alert checks an alert event against (@at = the event's changed_at) and get_silences lists
-- (@at = now; the epoch for every silence kept). Each silence lasts at most 30 days, so the set is small.
SELECT id, TO_JSON_STRING(matchers) AS matchers, starts_at, ends_at, created_by, comment, changed_at, changed_by
FROM alert_silences_current
WHERE ends_at > @at
ORDER BY ends_at, id
