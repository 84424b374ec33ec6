# Cloud Functions (2nd gen, Python 3.12): every entry point of functions/main.py, all from one source
# archive. The archive (cloudbuild.yaml, step "package") holds functions/ at its root with
# requirements.txt (Cloud Functions installs exactly those pins) and bigquery_schemas/ beside them, where
# perfguard.warehouse.schema.default_schemas_dir finds it. Which functions and how big: locals.tf.

locals {
  runtime      = "python312"
  source_file  = "${local.repo_root}/${var.source_archive}"
  pubsub_event = "google.cloud.pubsub.topic.v1.messagePublished"

  # The settings every function starts with (perfguard.settings reads PERFGUARD_<NAME>, and PERFGUARD_<NAME>_FILE
  # from a file). Only names that are Settings fields, or such a name with _FILE: an unknown PERFGUARD_
  # variable stops the function at start (a test checks this).
  function_environment = {
    PERFGUARD_WAREHOUSE            = "bigquery"
    PERFGUARD_BUS                  = "pubsub"
    PERFGUARD_GCP_PROJECT          = var.project_id
    PERFGUARD_BIGQUERY_DATASET     = google_bigquery_dataset.perfguard.dataset_id
    PERFGUARD_BIGQUERY_LOCATION    = var.bigquery_location
    PERFGUARD_ENVIRONMENT          = var.environment
    PERFGUARD_RETENTION_DAYS       = tostring(local.partition_expiration_days)
    PERFGUARD_LATENCY_THRESHOLD_MS = tostring(var.kpi_targets.p95_latency_ms)
  }

  # Where notify_alert sends alerts: the non-secret half (the secret half is mounted below). Empty values
  # are left out, so the setting keeps its default (e.g. smtp_from) and an unset channel stays off.
  notification_environment = {
    for name, value in {
      PERFGUARD_SLACK_CHANNEL            = var.slack_channel
      PERFGUARD_SMTP_HOST                = var.smtp_host
      PERFGUARD_SMTP_PORT                = tostring(var.smtp_port)
      PERFGUARD_SMTP_STARTTLS            = var.smtp_starttls ? "yes" : "no"
      PERFGUARD_SMTP_USERNAME            = var.smtp_username
      PERFGUARD_SMTP_FROM                = var.smtp_from
      PERFGUARD_SMTP_TO                  = join(",", var.smtp_to)
      PERFGUARD_ALERT_WEBHOOK_URLS       = join(",", var.alert_webhook_urls)
      PERFGUARD_RUNBOOK_BASE_URL         = var.runbook_base_url
      PERFGUARD_ESCALATION_AFTER_MINUTES = tostring(var.escalation_after_minutes)
      PERFGUARD_ESCALATION_MENTION       = var.escalation_mention
      PERFGUARD_ESCALATION_EMAIL_TO      = join(",", var.escalation_email_to)
    } : name => value if value != ""
  }

  # What remediate_alert may do: off unless remediation_mode says otherwise. Empty values are left out, so
  # an unset webhook URL keeps the webhook actions unavailable.
  remediation_environment = {
    for name, value in {
      PERFGUARD_REMEDIATION_MODE        = var.remediation_mode
      PERFGUARD_REMEDIATION_WEBHOOK_URL = var.remediation_webhook_url
    } : name => value if value != ""
  }

  # Where the ICP agent reaches the canisters (the canister list is the canisters secret).
  canister_environment = {
    PERFGUARD_ICP_REPLICA_URL = var.icp.replica_url
    PERFGUARD_ICP_METRICS_URL = var.icp.metrics_url
  }

  # What import_firebase reads (the same datasets iam.tf lets the poller read); empty values keep the defaults.
  firebase_environment = {
    for name, value in {
      PERFGUARD_FIREBASE_PROJECT             = var.firebase_exports.project
      PERFGUARD_FIREBASE_CRASHLYTICS_DATASET = var.firebase_exports.crashlytics_dataset
      PERFGUARD_FIREBASE_SESSIONS_DATASET    = var.firebase_exports.sessions_dataset
      PERFGUARD_FIREBASE_PERFORMANCE_DATASET = var.firebase_exports.performance_dataset
      PERFGUARD_FIREBASE_ANALYTICS_DATASET   = var.firebase_exports.analytics_dataset
      PERFGUARD_FIREBASE_APP_IDS             = join(",", var.firebase_exports.app_ids)
    } : name => value if value != ""
  }

  # The cycles top-up's funding and caps (remediate_alert); without a wallet the action is unavailable.
  top_up_environment = {
    for name, value in {
      PERFGUARD_TOPUP_WALLET_CANISTER          = var.cycles_top_up.wallet_canister
      PERFGUARD_TOPUP_AMOUNT_CYCLES            = format("%d", var.cycles_top_up.amount_cycles)
      PERFGUARD_TOPUP_MAX_CYCLES_PER_DAY       = format("%d", var.cycles_top_up.max_cycles_per_day)
      PERFGUARD_TOPUP_MAX_PER_CANISTER_PER_DAY = format("%d", var.cycles_top_up.max_per_canister_per_day)
    } : name => value if value != ""
  }

  # Settings only one role's functions need, by service account (iam.tf).
  role_environment = {
    notifier = local.notification_environment
    remediator = merge(
      local.remediation_environment, local.canister_environment, local.top_up_environment,
      { for name, value in { PERFGUARD_SLACK_CHANNEL = var.slack_channel } : name => value if value != "" },
    )
    poller = merge(local.canister_environment, local.firebase_environment)
  }

  # Secrets are files: secret <name> (secrets.tf) is mounted at /etc/perfguard/<name>/<file>, and the
  # function gets that path in the secret's PERFGUARD_<NAME>_FILE, so values never pass through an
  # environment variable. A function mounts the secrets it reads (locals.tf) that can be mounted
  # (local.mountable_secrets: required, or listed in var.mounted_secrets).
  secret_mounts = {
    for name, secret in local.secrets : name => {
      path = "${local.secret_mount_root}/${replace(name, "_", "-")}"
      file = secret.file
      env  = { (secret.environment) = "${local.secret_mount_root}/${replace(name, "_", "-")}/${secret.file}" }
    }
  }
  function_secrets = {
    for name, spec in merge(local.http_functions, local.event_functions) :
    name => [for secret in spec.secrets : secret if contains(local.mountable_secrets, secret)]
  }

  # Everything a function's environment holds. THREADS: the functions framework's gunicorn threads, matched
  # to the request concurrency.
  function_environments = {
    for name, spec in merge(local.http_functions, local.event_functions) : name => merge(
      local.function_environment,
      try(local.role_environment[spec.account], {}),
      merge([for secret in local.function_secrets[name] : local.secret_mounts[secret].env]...),
      { THREADS = tostring(spec.concurrency) },
    )
  }
}

resource "google_storage_bucket" "sources" {
  name                        = "${var.project_id}-perfguard-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Archives are only read when a function is (re)built; a missing current one is re-uploaded by the
  # next plan (its name is its MD5), so old ones can go.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

# Named by content, so functions are rebuilt exactly when the archive changes (the package step builds it
# deterministically).
resource "google_storage_bucket_object" "source" {
  name   = "function-source-${filemd5(local.source_file)}.zip"
  bucket = google_storage_bucket.sources.name
  source = local.source_file
}

resource "google_cloudfunctions2_function" "http" {
  for_each = local.http_functions

  name        = each.key
  location    = var.region
  description = "perfguard HTTP function ${each.key} (functions/main.py)"

  build_config {
    runtime         = local.runtime
    entry_point     = each.key
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.role[each.value.account].email
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = "ALLOW_ALL" # callers are outside Google Cloud; IAM and API keys guard it
    all_traffic_on_latest_revision   = true

    environment_variables = local.function_environments[each.key]

    dynamic "secret_volumes" {
      for_each = local.function_secrets[each.key]
      content {
        mount_path = local.secret_mounts[secret_volumes.value].path
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_volumes.value].secret_id
        versions {
          version = "latest"
          path    = local.secret_mounts[secret_volumes.value].file
        }
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.accessor,
    google_project_iam_member.builder,
  ]
}

resource "google_cloudfunctions2_function" "event" {
  for_each = local.event_functions

  name        = each.key
  location    = var.region
  description = "perfguard CloudEvent function ${each.value.entry_point} on topic ${each.value.topic} (subscription ${each.key} of topology.yaml)"

  build_config {
    runtime         = local.runtime
    entry_point     = each.value.entry_point
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.role[each.value.account].email
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = "ALLOW_INTERNAL_ONLY" # only Eventarc delivers to it
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_environments[each.key]

    dynamic "secret_volumes" {
      for_each = local.function_secrets[each.key]
      content {
        mount_path = local.secret_mounts[secret_volumes.value].path
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_volumes.value].secret_id
        versions {
          version = "latest"
          path    = local.secret_mounts[secret_volumes.value].file
        }
      }
    }
  }

  # Eventarc: the topic's messagePublished events, pushed as CloudEvents by the events service account.
  # A failed run (the function raised, answered 5xx) is retried with backoff, then dead-lettered (pubsub.tf).
  event_trigger {
    trigger_region        = var.region
    event_type            = local.pubsub_event
    pubsub_topic          = google_pubsub_topic.topic[each.value.topic].id
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.events.email
  }

  lifecycle {
    # perfguard.settings refuses this at start, which would fail every notify_alert run; stop the plan instead.
    precondition {
      condition     = var.smtp_host == "" || length(var.smtp_to) > 0
      error_message = "smtp_host is set but smtp_to names no recipient: set smtp_to, or leave smtp_host empty."
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.accessor,
    google_project_iam_member.builder,
  ]
}
