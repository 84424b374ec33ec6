-- New Performance Monitoring rows of one export table in [@start, @end): app starts and custom traces
-- (DURATION_TRACE), screen traces and network requests, flattened, with a deterministic id (the export has
-- no key: a hash of the table and the row's identifying fields), without the rows whose records are stored
-- already. The partition_filter placeholder adds _PARTITIONTIME >= the start's day on BigQuery (the export is
-- ingestion-time partitioned, and a row is loaded after it happened); the embedded store has none.
WITH flat AS (
  SELECT
    CONCAT('fbperf_', TO_HEX(MD5(CONCAT(
      @table, '|', CAST(UNIX_MICROS(p.event_timestamp) AS STRING), '|', COALESCE(p.event_type, ''), '|',
      COALESCE(p.event_name, ''), '|', COALESCE(p.device_name, ''), '|',
      COALESCE(CAST(p.trace_info.duration_us AS STRING), ''), '|',
      COALESCE(CAST(p.network_info.response_completed_time_us AS STRING), '')
    )))) AS id,
    p.event_timestamp,
    p.event_type,
    p.event_name,
    p.app_display_version AS app_version,
    p.os_version,
    p.country,
    p.radio_type,
    p.trace_info.duration_us AS duration_us,
    p.trace_info.screen_info.slow_frame_ratio AS slow_frame_ratio,
    p.trace_info.screen_info.frozen_frame_ratio AS frozen_frame_ratio,
    p.network_info.response_code AS response_code,
    p.network_info.request_http_method AS http_method,
    p.network_info.response_completed_time_us AS response_time_us
  FROM ${source} AS p
  WHERE p.event_timestamp >= @start AND p.event_timestamp < @end ${partition_filter}
    AND p.event_type IN ('DURATION_TRACE', 'SCREEN_TRACE', 'NETWORK_REQUEST')
)
SELECT f.*
FROM flat AS f
WHERE NOT EXISTS (
  SELECT 1
  FROM performance_metrics AS m
  WHERE m.id = CONCAT(f.id, IF(f.event_type = 'SCREEN_TRACE', '_slow', ''))
    AND m.timestamp >= @start AND m.timestamp < @end
)
