-- Shared by the per-operation scripts: where to send, which credentials, and a machine-readable
-- summary line at the end of the run (http_throughput.py parses the line starting BENCH_JSON).
--
-- Set by http_throughput.py through the environment:
--   BENCH_PREFIX  path prefix of the API ("/api/v3" for the sandbox, "" for Prism)
--   BENCH_AUTH    the Authorization header ("bearer retailer-demo-token")
--   BENCH_CONVERSATION_ID, BENCH_UNTIL  ids and bounds taken from the seeded data
local common = {}

common.prefix = os.getenv("BENCH_PREFIX") or "/api/v3"
common.auth = os.getenv("BENCH_AUTH") or "bearer retailer-demo-token"
common.conversation_id = os.getenv("BENCH_CONVERSATION_ID") or "00000000-0000-4000-8000-000000000000"
common.until_time = os.getenv("BENCH_UNTIL") or "2024-01-01T00:00:30.000Z"

function common.json_headers()
  return { ["Authorization"] = common.auth, ["Content-Type"] = "application/json" }
end

function common.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect_errors":%.0f,'
      .. '"read_errors":%.0f,"write_errors":%.0f,"status_errors":%.0f,"timeouts":%.0f,'
      .. '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,"max_us":%.0f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end

return common
