# What the stack exposes: where to send metrics, where the data is, and who runs what.

output "function_urls" {
  description = "HTTPS endpoint of every HTTP function (perfguard.client appends /<name> to https://REGION-PROJECT.cloudfunctions.net)."
  value       = { for name, fn in google_cloudfunctions2_function.http : name => fn.url }
}

output "slack_interactivity_url" {
  description = "The Request URL for Interactivity & Shortcuts of the perfguard Slack app (docs/deploy.md, section 4)."
  value       = google_cloudfunctions2_function.http["slack_actions"].url
}

output "ingest_base_url" {
  description = "Base URL for PerfguardClient."
  value       = "https://${var.region}-${var.project_id}.cloudfunctions.net"
}

output "dataset" {
  description = "Project-qualified dataset of the tables and views (Looker Studio)."
  value       = "${var.project_id}.${google_bigquery_dataset.perfguard.dataset_id}"
}

output "tables" {
  description = "Tables and views in the dataset."
  value       = local.bigquery_objects
}

output "topics" {
  description = "Deployed Pub/Sub topics."
  value       = keys(google_pubsub_topic.topic)
}

output "event_triggers" {
  description = "Eventarc trigger of every event function deployment (one per topology subscription)."
  value       = { for name, fn in google_cloudfunctions2_function.event : name => fn.event_trigger[0].trigger }
}

output "dead_letter_subscriptions" {
  description = "Where undeliverable messages wait, per topology subscription."
  value       = { for name, sub in google_pubsub_subscription.dead_letter : name => sub.id }
}

output "service_accounts" {
  description = "Runtime service account of every role."
  value       = { for role, account in google_service_account.role : role => account.email }
}

output "secrets" {
  description = "Secret Manager secrets whose versions are added by hand (docs/deploy.md)."
  value       = { for name, secret in google_secret_manager_secret.secret : name => secret.secret_id }
}

output "canisters" {
  description = "Canisters the poller will watch (issue 5 passes them to its function)."
  value       = var.canisters
}
