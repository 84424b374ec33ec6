"""Firebase BigQuery exports (Crashlytics, sessions, Performance Monitoring, GA4): their tables and the import."""
