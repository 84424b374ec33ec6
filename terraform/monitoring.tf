# Cloud Monitoring: the monitoring watches itself. Four alert policies (function errors, evaluator silence,
# dead letters, rejected records) notify the Slack channel that perfguard's own alerts go to.
#
# 2nd gen functions run as Cloud Run services, so their request metrics are run.googleapis.com/* on
# cloud_run_revision, keyed by the service name (the function name, lowercased, `_` as `-`).

locals {
  http_services  = { for name, fn in google_cloudfunctions2_function.http : name => basename(fn.service_config[0].service) }
  event_services = { for name, fn in google_cloudfunctions2_function.event : name => basename(fn.service_config[0].service) }
  all_services   = concat(values(local.http_services), values(local.event_services))
  evaluator_services = [
    for name, spec in local.event_functions : local.event_services[name] if spec.entry_point == "evaluate_thresholds"
  ]
  ingest_service = local.http_services["record_performance_metric"]

  # The line perfguard.api.ingest logs for a batch with rejected records:
  #   rejected N of M records from key K; first: <error>
  # (tests/terraform checks this pattern against the format string in the code).
  rejected_records_pattern = "rejected [0-9]+ of [0-9]+ records from key "

  notification_channels = concat(google_monitoring_notification_channel.slack[*].id, var.extra_notification_channels)

  runbook_note = "Runbooks: runbooks/ in the perfguard repository; deployment and operations: docs/deploy.md."
}

# The Slack bot token is read from Secret Manager at apply time (it never appears in a file, but Terraform
# state holds it: keep the state bucket restricted). Enable once the secret has a version.
data "google_secret_manager_secret_version" "slack_bot_token" {
  count = var.monitoring_slack_enabled ? 1 : 0

  secret = google_secret_manager_secret.secret["slack_bot_token"].id
}

resource "google_monitoring_notification_channel" "slack" {
  count = var.monitoring_slack_enabled ? 1 : 0

  display_name = "perfguard ${var.slack_channel}"
  type         = "slack"
  labels       = merge({ channel_name = var.slack_channel }, var.slack_team == "" ? {} : { team = var.slack_team })

  sensitive_labels {
    auth_token = data.google_secret_manager_secret_version.slack_bot_token[0].secret_data
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  display_name          = "perfguard: function errors"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "5xx responses of a perfguard function"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "metric.type = \"run.googleapis.com/request_count\"",
        "metric.labels.response_code_class = \"5xx\"",
        "resource.labels.service_name = one_of(${join(", ", [for s in local.all_services : "\"${s}\""])})",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.function_errors_per_5min
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A perfguard function answered more than ${var.alert_thresholds.function_errors_per_5min} errors (5xx) in 5 minutes. Its logs (Cloud Run service $${resource.label.service_name}) name the cause; a failing event function is retried and then dead-lettered. ${local.runbook_note}"
  }
}

resource "google_monitoring_alert_policy" "evaluator_silent" {
  display_name          = "perfguard: evaluator silent"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "No successful evaluate_thresholds run"
    condition_absent {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "metric.type = \"run.googleapis.com/request_count\"",
        "metric.labels.response_code_class = \"2xx\"",
        "resource.labels.service_name = one_of(${join(", ", [for s in local.evaluator_services : "\"${s}\""])})",
      ])
      duration = "${var.alert_thresholds.evaluator_silence_seconds}s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "evaluate_thresholds has not completed for ${var.alert_thresholds.evaluator_silence_seconds} s although Cloud Scheduler ticks every minute: threshold alerts are not being raised. Check the Scheduler job, the evaluation-ticks topic, the Eventarc trigger and the evaluator's logs. ${local.runbook_note}"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "perfguard: dead-lettered messages"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "Messages waiting in a dead-letter subscription"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"pubsub_subscription\"",
        "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\"",
        "resource.labels.subscription_id = one_of(${join(", ", [for s in google_pubsub_subscription.dead_letter : "\"${s.name}\""])})",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.dead_letter_messages
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.subscription_id"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Messages failed ${var.alert_thresholds.dead_letter_max_delivery_attempts} deliveries and were dead-lettered into $${resource.label.subscription_id}. Pull one to see it, fix the function, then replay (docs/deploy.md, 'Dead letters'). ${local.runbook_note}"
  }
}

# One point per ingest request that rejected records, labelled by the API key's name.
resource "google_logging_metric" "rejected_records" {
  name        = "perfguard/ingest_requests_with_rejected_records"
  description = "record_performance_metric requests that rejected at least one record (log line 'rejected N of M records from key K; first: ...'), by API key name."
  filter = join(" AND ", [
    "resource.type = \"cloud_run_revision\"",
    "resource.labels.service_name = \"${local.ingest_service}\"",
    "textPayload =~ \"${local.rejected_records_pattern}\"",
  ])

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "key"
      value_type  = "STRING"
      description = "Name of the API key that sent the batch."
    }
  }

  label_extractors = {
    key = "REGEXP_EXTRACT(textPayload, \"from key ([^;]+); first: \")"
  }
}

resource "google_monitoring_alert_policy" "rejected_records" {
  display_name          = "perfguard: records rejected at ingest"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "Ingest requests with rejected records"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.rejected_records.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.rejecting_requests_per_10min
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.key"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.alert_thresholds.rejecting_requests_per_10min} ingest requests in 10 minutes from API key $${metric.label.key} had records rejected: a sender is broken (wrong units, timestamps in ms, unknown metric types). The ingest log lines say why. ${local.runbook_note}"
  }
}
