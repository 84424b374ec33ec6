# BigQuery: the dataset, one table per bigquery_schemas/*.json (laid out by layout.yaml) and one view per
# bigquery_schemas/views/*.sql. Nothing is copied from those files: they are read here (locals.tf), so the
# DuckDB store of the embedded stack and BigQuery cannot drift.

resource "google_bigquery_dataset" "perfguard" {
  dataset_id                 = var.dataset_id
  location                   = var.bigquery_location
  description                = "perfguard: performance metrics, per-minute histograms and alerts (partitions expire after ${local.partition_expiration_days} days)."
  delete_contents_on_destroy = false
}

resource "google_bigquery_table" "table" {
  for_each = local.tables

  dataset_id          = google_bigquery_dataset.perfguard.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering
  deletion_protection = var.deletion_protection

  # Every table: one partition per day of its event time, dropped by BigQuery after the retention
  # (layout.yaml's partition_expiration_days), which is why the cloud needs no retention job.
  time_partitioning {
    type          = "DAY"
    field         = each.value.partition_field
    expiration_ms = local.partition_expiration_ms
  }

  lifecycle {
    precondition {
      condition     = each.value.has_layout
      error_message = "bigquery_schemas/${each.key}.json has no entry under 'tables' in bigquery_schemas/layout.yaml."
    }
    precondition {
      condition     = contains([for column in each.value.schema : column.name if upper(column.type) == "TIMESTAMP"], coalesce(each.value.partition_field, "-"))
      error_message = "Table ${each.key}: layout.yaml's partition_field must name a TIMESTAMP column of its schema."
    }
  }
}

# Views name their tables as `${dataset}.table`; BigQuery views ignore the default dataset, so the
# placeholder becomes the quoted, project-qualified dataset (as perfguard.warehouse.schema.load_views does).
resource "google_bigquery_table" "view" {
  for_each = local.views

  dataset_id          = google_bigquery_dataset.perfguard.dataset_id
  table_id            = each.key
  deletion_protection = false

  view {
    query          = replace(each.value, "$${dataset}", "`${var.project_id}.${google_bigquery_dataset.perfguard.dataset_id}`")
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.table]
}
