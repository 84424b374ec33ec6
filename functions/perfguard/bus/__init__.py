"""The bus port and its adapters: in-process topics (embedded default) and Google Cloud Pub/Sub."""
