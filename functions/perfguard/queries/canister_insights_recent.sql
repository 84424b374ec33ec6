-- The (canister, rule) insights recorded since @since: poll_canisters records an insight again only once
-- this window has passed, so a standing recommendation is not written every minute.
SELECT DISTINCT canister_id, rule
FROM canister_insights
WHERE generated_at >= @since
ORDER BY canister_id, rule
