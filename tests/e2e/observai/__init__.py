"""The ObservAI hub, deployed once by the program (offline harness) to a fresh local target with
a Redis and a webhook alert channel, and tested by concern: API keys and tenant isolation,
ingest and retention, series and alerts, the export, the cache and the smoke tests."""
