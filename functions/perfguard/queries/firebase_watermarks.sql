-- The latest import of each Firebase export table since @since: its watermark (event time imported up to)
-- and when that import ran. Read at the start of each import run; @since bounds the state table's partitions.
SELECT source, MAX(watermark) AS watermark, MAX(imported_at) AS imported_at
FROM firebase_import_state
WHERE imported_at >= @since
GROUP BY source
