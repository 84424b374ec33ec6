-- The successful snapshots of the canisters @canister_ids polled in [@since, @until), oldest first: the
-- history poll_canisters derives burn, runway band, spikes and memory growth from.
SELECT
  canister_id, polled_at, cycles, idle_cycles_burned_per_day, module_hash, method_counters,
  wasm_memory_size, stable_memory_size
FROM canister_snapshots
WHERE polled_at >= @since AND polled_at < @until
  AND poll_status = 'ok' AND cycles IS NOT NULL
  AND canister_id IN UNNEST(@canister_ids)
ORDER BY canister_id, polled_at
