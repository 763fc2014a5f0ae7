-- The benchmark job, run as is by dapgov (DataFusion) and DuckDB, and expressed in Polars'
-- API by scripts/bench/peers.py: call records, typed, grouped by day into the platform's metrics.
SELECT date,
       COUNT(*) AS calls_offered,
       SUM(CASE WHEN outcome = 'handled' THEN 1 ELSE 0 END) AS calls_handled,
       SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS calls_abandoned,
       CAST(SUM(CASE WHEN outcome = 'handled' THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS call_handling_pct,
       CAST(SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS abandonment_rate,
       CAST(SUM(CASE WHEN outcome = 'handled' AND wait_seconds <= 60 THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS service_level,
       AVG(CASE WHEN outcome = 'handled' THEN wait_seconds END) AS average_speed_of_answer,
       AVG(handle_seconds) AS average_handle_seconds
FROM calls
GROUP BY date
ORDER BY date
