# IAM: one service account per function role, each with only what that role needs. No primitive role
# (owner/editor/viewer) and no BigQuery admin/dataOwner anywhere; BigQuery access is granted per table
# where the code allows it (tests/terraform checks all of this).

locals {
  # Runtime service accounts, by role. Roles whose functions arrive in later issues exist already so their
  # grants can be reviewed here as they are added.
  service_accounts = {
    ingest     = "perfguard ingest: record_performance_metric"
    api        = "perfguard read API: the get_* functions and check_thresholds"
    evaluator  = "perfguard evaluator: evaluate_thresholds"
    responder  = "perfguard responder: alert status changes and silences made by people"
    notifier   = "perfguard notifier: notify_alert (Slack, email and webhook notifications)"
    remediator = "perfguard remediator: remediate_alert (the allowlisted remediation actions)"
    poller     = "perfguard poller: canister polling and the Firebase export import (issues 5, 6)"
    analysis   = "perfguard analysis: scheduled regression, trend and capacity analysis"
  }

  # The HTTP functions anyone may call (allUsers as invoker). Each authenticates every request itself, and
  # its callers cannot send a Google identity token. Every other HTTP function admits only the authorized
  # group (tests/terraform fails on any other public grant).
  public_http_functions = toset([
    # Backends and apps send metrics with a perfguard API key (ingest scope) and hold no Google identity.
    "record_performance_metric",
    # Slack's interactivity requests (the alert buttons): Slack cannot send a Google identity token, and the
    # function rejects every request without a valid Slack signature (slack_signing_secret, at most 5
    # minutes old) before doing anything; without the secret it answers 503 to all.
    "slack_actions",
  ])

  readers_member = "group:${var.authorized_group}"

  # Project-level roles. bigquery.jobUser (run query and load jobs, billed to this project) exists only at
  # project level; data access is granted per table below.
  project_roles = {
    ingest     = ["roles/bigquery.jobUser"]
    api        = ["roles/bigquery.jobUser"]
    evaluator  = ["roles/bigquery.jobUser"]
    responder  = ["roles/bigquery.jobUser"]
    notifier   = ["roles/bigquery.jobUser"]
    remediator = ["roles/bigquery.jobUser"]
    poller     = ["roles/bigquery.jobUser"]
    analysis   = ["roles/bigquery.jobUser"]
  }

  # Every perfguard table and view.
  bigquery_objects = concat(keys(local.tables), keys(local.views))

  # Table-level BigQuery roles: account -> role -> tables or views.
  table_roles = {
    # ingest_metrics.sql reads performance_metrics (duplicate ids) and inserts into both tables.
    ingest = {
      "roles/bigquery.dataEditor" = ["performance_metrics", "metric_rollups_1m"]
    }
    # Reads 15 minutes of metrics and the current alerts; appends alert state changes.
    evaluator = {
      "roles/bigquery.dataEditor" = ["performance_alerts"]
      "roles/bigquery.dataViewer" = ["performance_metrics", "performance_alerts_current"]
    }
    # update_alert_status and slack_actions read one alert (alert_by_id.sql on the view, which reads
    # performance_alerts: dataEditor includes reading it) and append its new state.
    # create_silence and expire_silence append silence rows and read the current ones the same way.
    responder = {
      "roles/bigquery.dataEditor" = ["performance_alerts", "alert_silences"]
      "roles/bigquery.dataViewer" = ["performance_alerts_current", "alert_silences_current"]
    }
    # notify_alert reads the attempts made for an alert (alert_notifications.sql) and appends its own, and
    # reads the active silences (the view and, as a view needs, its table). escalate_alerts reads the open
    # alerts (escalation_candidates.sql: the view and its table) and the silences, and appends its attempts
    # to alert_escalations.
    notifier = {
      "roles/bigquery.dataEditor" = ["alert_notifications", "alert_escalations"]
      "roles/bigquery.dataViewer" = [
        "alert_silences", "alert_silences_current", "performance_alerts", "performance_alerts_current",
      ]
    }
    # remediate_alert reads its own audit rows (remediation_history.sql: rate limits, cooldowns, once per
    # alert) and appends one per action considered; the alert itself arrives in the event.
    remediator = {
      "roles/bigquery.dataEditor" = ["remediation_actions"]
    }
    # poll_canisters appends canister snapshots and insights (and reads them back: history, recent insights),
    # ingests its derived rows (ingest_metrics.sql: performance_metrics and the rollups), reads the canister
    # call records among the metrics, and appends/reads its spike alerts (recent_alerts.sql on the view).
    # import_firebase (same account) reads and appends its watermarks, crash events and cluster snapshots,
    # journey steps and A/B exposures, ingests the session / crash / performance rows and KPI gauges, and
    # reads the alerts it raised (firebase_raised_alerts.sql on the table); the exports are read per dataset
    # (firebase_export_reader below).
    poller = {
      "roles/bigquery.dataEditor" = [
        "canister_snapshots", "canister_insights", "performance_metrics", "metric_rollups_1m", "performance_alerts",
        "firebase_import_state", "crash_events", "crash_clusters", "journey_events", "ab_exposures",
      ]
      "roles/bigquery.dataViewer" = ["performance_alerts_current"]
    }
    # The read API serves every table and view.
    api = {
      "roles/bigquery.dataViewer" = local.bigquery_objects
    }
    # Analysis reads everything; the tables it writes (insights) get their grant when they exist.
    analysis = {
      "roles/bigquery.dataViewer" = local.bigquery_objects
    }
  }

  table_grants = merge([
    for account, roles in local.table_roles : merge([
      for role, objects in roles : {
        for object in objects : "${account}/${role}/${object}" => { account = account, role = role, object = object }
      }
    ]...)
  ]...)

  bigquery_table_ids = merge(
    { for name, table in google_bigquery_table.table : name => table.table_id },
    { for name, view in google_bigquery_table.view : name => view.table_id },
  )

  # Pub/Sub topics each account publishes to (perfguard.api.ingest.TOPIC, perfguard.api.alerting.ALERTS_TOPIC,
  # which perfguard.api.alert_status uses for people's changes). Eventarc push deliveries need no subscriber role.
  topic_publishers = {
    ingest    = ["metrics-ingested"]
    evaluator = ["performance-alerts"]
    responder = ["performance-alerts"]
    poller    = ["performance-alerts"] # poll_canisters' cycles spike alerts (record_alert_changes)
  }

  topic_grants = merge([
    for account, topics in local.topic_publishers : {
      for topic in topics : "${account}/${topic}" => { account = account, topic = topic }
    }
  ]...)

  firebase_project = coalesce(var.firebase_exports.project, var.project_id)
  firebase_export_datasets = {
    for kind, dataset in {
      crashlytics = var.firebase_exports.crashlytics_dataset
      sessions    = var.firebase_exports.sessions_dataset
      performance = var.firebase_exports.performance_dataset
      analytics   = var.firebase_exports.analytics_dataset
    } : kind => dataset if dataset != ""
  }
}

resource "google_service_account" "role" {
  for_each = local.service_accounts

  account_id   = "perfguard-${each.key}"
  display_name = each.value
}

# Eventarc delivers Pub/Sub messages to the event functions as this account (it only invokes them).
resource "google_service_account" "events" {
  account_id   = "perfguard-events"
  display_name = "perfguard Eventarc triggers: invokes the event functions"
}

# Builds the functions' containers instead of the project's default compute account (often an editor).
resource "google_service_account" "builder" {
  account_id   = "perfguard-builder"
  display_name = "perfguard function builds"
}

resource "google_project_iam_member" "role" {
  for_each = merge([
    for account, roles in local.project_roles : { for role in roles : "${account}/${role}" => { account = account, role = role } }
  ]...)

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.role[each.value.account].email}"
}

# Build logs, the build's source download and the image push to Artifact Registry.
resource "google_project_iam_member" "builder" {
  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_bigquery_table_iam_member" "role" {
  for_each = local.table_grants

  dataset_id = google_bigquery_dataset.perfguard.dataset_id
  table_id   = local.bigquery_table_ids[each.value.object]
  role       = each.value.role
  member     = "serviceAccount:${google_service_account.role[each.value.account].email}"
}

# The one dataset-wide write grant, and why: BigQueryWarehouse.ingest_metrics loads each batch into a
# staging table it creates (and deletes) in this dataset, and creating a table is checked on the dataset.
# dataEditor cannot change the dataset's access (not an admin role). It goes away when staging tables move
# to a dataset of their own (see docs/deploy.md, "Least privilege"). The accounts whose functions ingest:
# record_performance_metric, and the poller's canister poll and Firebase import (their derived rows).
resource "google_bigquery_dataset_iam_member" "ingest_staging" {
  for_each = toset(["ingest", "poller"])

  dataset_id = google_bigquery_dataset.perfguard.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.role[each.key].email}"
}

# Read access to the Firebase BigQuery exports for the import (issue 6). These datasets belong to Firebase,
# so access is granted on each of them, read-only.
resource "google_bigquery_dataset_iam_member" "firebase_export_reader" {
  for_each = local.firebase_export_datasets

  project    = local.firebase_project
  dataset_id = each.value
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.role["poller"].email}"
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_grants

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.role[each.value.account].email}"
}

# ---- Who may invoke which function --------------------------------------------------------------------------

# Only the allowlisted, self-authenticating functions of local.public_http_functions.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = local.public_http_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.http[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The ingest grant was a single resource before slack_actions became public: keep it in place, never
# removed and re-added (which would refuse metrics for a moment).
moved {
  from = google_cloud_run_v2_service_iam_member.public_ingest
  to   = google_cloud_run_v2_service_iam_member.public["record_performance_metric"]
}

# The read API and update_alert_status: only the authorized group. Callers send their Google identity
# token in X-Serverless-Authorization and their perfguard API key in Authorization (docs/deploy.md).
resource "google_cloud_run_v2_service_iam_member" "readers" {
  for_each = { for name in keys(local.http_functions) : name => name if !contains(local.public_http_functions, name) }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.http[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = local.readers_member
}

resource "google_cloud_run_v2_service_iam_member" "events" {
  for_each = local.event_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.event[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.events.email}"
}

# Pub/Sub signs the push requests' OIDC tokens as the events account. Projects created before April 2021
# lack this grant by default; it is given on this one account only.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.events.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# ---- The authorized group: Looker Studio and ad-hoc queries on the tables and views -------------------------

resource "google_bigquery_table_iam_member" "readers" {
  for_each = toset(local.bigquery_objects)

  dataset_id = google_bigquery_dataset.perfguard.dataset_id
  table_id   = local.bigquery_table_ids[each.key]
  role       = "roles/bigquery.dataViewer"
  member     = local.readers_member
}

resource "google_project_iam_member" "readers_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.readers_member
}
