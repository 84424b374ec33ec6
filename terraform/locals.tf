# What perfguard deploys, derived from the repository's shared definition files, plus the sizing of every
# function. Nothing here references a variable, resource or data source: tests/terraform evaluates this file
# alone with `terraform console` (no provider needed) to check it against the code, so keep it that way.
#
#   bigquery_schemas/*.json + layout.yaml   -> local.tables (one BigQuery table each)
#   bigquery_schemas/views/*.sql            -> local.views (one BigQuery view each)
#   functions/perfguard/topology.yaml       -> local.topics, local.subscriptions, local.schedules
#   functions/main.py (checked by tests)    -> local.http_functions, local.event_functions
locals {
  repo_root     = "${path.module}/.." # relative, so plans made on any machine agree
  schemas_dir   = "${local.repo_root}/bigquery_schemas"
  topology_file = "${local.repo_root}/functions/perfguard/topology.yaml"

  # ---- BigQuery -------------------------------------------------------------------------------------------
  layout                    = yamldecode(file("${local.schemas_dir}/layout.yaml"))
  partition_expiration_days = local.layout.partition_expiration_days
  partition_expiration_ms   = local.partition_expiration_days * 24 * 60 * 60 * 1000

  # One table per schema file, laid out as layout.yaml says. A schema without a layout entry keeps
  # has_layout = false and fails the table's precondition (bigquery.tf) with the file's name.
  tables = {
    for file_name in fileset(local.schemas_dir, "*.json") :
    trimsuffix(file_name, ".json") => {
      schema          = jsondecode(file("${local.schemas_dir}/${file_name}"))
      has_layout      = contains(keys(local.layout.tables), trimsuffix(file_name, ".json"))
      description     = try(local.layout.tables[trimsuffix(file_name, ".json")].description, "")
      partition_field = try(local.layout.tables[trimsuffix(file_name, ".json")].partition_field, null)
      clustering      = try(local.layout.tables[trimsuffix(file_name, ".json")].clustering, [])
    }
  }

  # View SQL with its `${dataset}` placeholder; bigquery.tf replaces it with the project-qualified dataset.
  views = {
    for file_name in fileset("${local.schemas_dir}/views", "*.sql") :
    trimsuffix(file_name, ".sql") => file("${local.schemas_dir}/views/${file_name}")
  }

  # ---- Pub/Sub and Cloud Scheduler --------------------------------------------------------------------------
  topology = yamldecode(file(local.topology_file))

  # Every entry normalised to one shape (entries may omit local_only); merge() turns a missing or empty
  # section into {}.
  all_subscriptions = {
    for name, spec in merge({}, try(local.topology.subscriptions, null)) :
    name => { topic = spec.topic, function = spec.function, local_only = try(spec.local_only, false) }
  }
  all_schedules = {
    for name, spec in merge({}, try(local.topology.schedules, null)) :
    name => {
      cron       = spec.cron
      topic      = spec.topic
      payload    = jsonencode(try(spec.payload, {}))
      local_only = try(spec.local_only, false)
    }
  }

  # `local_only` entries exist only on the embedded stack (BigQuery expires partitions itself, so the
  # retention job and its tick are not deployed).
  subscriptions = { for name, spec in local.all_subscriptions : name => spec if !spec.local_only }
  schedules     = { for name, spec in local.all_schedules : name => spec if !spec.local_only }

  # A topic is deployed unless it is marked local_only, or it has subscriptions/schedules and every one of
  # them is local_only (nothing in the cloud would publish to it or read it). A topic with no subscription
  # and no schedule is one the code publishes to for a later consumer (performance-alerts), so it is kept.
  topic_users = {
    for topic in keys(merge({}, local.topology.topics)) : topic => concat(
      [for spec in values(local.all_subscriptions) : spec.local_only if spec.topic == topic],
      [for spec in values(local.all_schedules) : spec.local_only if spec.topic == topic],
    )
  }
  topics = {
    for topic, spec in merge({}, local.topology.topics) : topic => try(spec.description, "")
    if !try(spec.local_only, false) && !(length(local.topic_users[topic]) > 0 && alltrue(local.topic_users[topic]))
  }

  # ---- Cloud Functions (2nd gen) ----------------------------------------------------------------------------
  # Every @functions_framework.http function of functions/main.py, deployed under its own name so the
  # URL is https://REGION-PROJECT.cloudfunctions.net/<name>, as perfguard.client and the README expect.
  # `account` is the key of its service account in iam.tf; `secrets` are the keys of the Secret Manager
  # secrets (secrets.tf) it reads, each mounted as a file. Sizing, and why:
  http_functions = {
    # A batch is up to 10 MB / 10,000 records. Parsing and validating it holds roughly 10-20x the body in
    # Python objects, so 1 GiB fits the 4 concurrent batches of one vCPU (requests mostly wait on the
    # BigQuery load job and the ingest script, 2-10 s, hence concurrency). 120 s covers a slow BigQuery
    # moment; the client retries with the same ids, so a timeout never double-counts. 20 instances x 4
    # caps concurrent ingest transactions on performance_metrics at 80; clients back off on 429.
    record_performance_metric = {
      account         = "ingest"
      memory          = "1Gi"
      cpu             = "1"
      timeout_seconds = 120
      max_instances   = 20
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # Up to 10,000 rows a page serialised to JSON (a few MB): 512 MiB. Read by a few people and dashboards,
    # so 5 instances x 4 bounds what a runaway dashboard can spend on BigQuery.
    get_performance_data = {
      account         = "api"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 5
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # Percentiles are computed in BigQuery (exact up to 24 h) or merged from per-minute histograms in Python
    # (buckets x endpoints x intervals): 1 GiB and 120 s for a 90-day, 1-minute-interval request.
    get_performance_summary = {
      account         = "api"
      memory          = "1Gi"
      cpu             = "1"
      timeout_seconds = 120
      max_instances   = 5
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # One 15-minute minute_p95 query plus the recent alerts: small results.
    check_thresholds = {
      account         = "api"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 5
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # A handful of KPI queries; polled by dashboards, so small and bounded like the other readers.
    get_kpi_status = {
      account         = "api"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 5
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # The current alerts (performance_alerts_current, a small table), at most 1,000 rows: sized like the other
    # readers, which it is (a dashboard or an on-call bot polls it).
    get_alerts = {
      account         = "api"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 5
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # A person changes one alert: one alert_by_id query, one appended row, one publish. Called by hand or by
    # a chat bot, rarely, so 2 instances x 4 are plenty; changes on one instance are serialised anyway (the
    # evaluation lock of perfguard.api.alert_status).
    update_alert_status = {
      account         = "responder"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 2
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # People manage silences by hand or from a chat bot, rarely: one query and one appended row each,
    # sized like update_alert_status.
    create_silence = {
      account         = "responder"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 2
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # Ends one silence: one query and one row, like create_silence.
    expire_silence = {
      account         = "responder"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 2
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # The silences not yet expired (a small table): a reader like get_alerts.
    get_silences = {
      account         = "api"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      max_instances   = 5
      concurrency     = 4
      secrets         = ["api_keys"]
    }
    # Public (Slack cannot send a Google identity): every request is first checked against Slack's signature
    # (an HMAC of a body of at most 1 MB) before any BigQuery work, so 3 instances x 8 bound what unsigned
    # floods can cost. A click is one alert_by_id query, one row and one publish; Slack waits 3 s for the
    # answer and the outcome is also posted to the click's response_url, so 30 s only caps a slow moment.
    slack_actions = {
      account         = "responder"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 30
      max_instances   = 3
      concurrency     = 8
      secrets         = ["slack_signing_secret"]
    }
  }

  # Sizing per @functions_framework.cloud_event entry point of functions/main.py that has a deployed
  # subscription.
  event_function_settings = {
    # Two queries (15 minutes of minute_p95, recent alerts) and a few appended rows. One instance handling
    # one event at a time per subscription keeps evaluations of each path serial, so a burst of ingest
    # messages queues up (and coalesces: see perfguard.api.alerting) instead of fanning out into parallel
    # BigQuery scans. 120 s is twice the tick period; Pub/Sub retries what a busy instance refuses.
    evaluate_thresholds = {
      account         = "evaluator"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 120
      max_instances   = 1
      concurrency     = 1
      secrets         = []
    }
    # One alert change sent to every channel in turn (Slack, email, each webhook), each retrying for about a
    # minute (perfguard.notify.retry.RetryPolicy: tries start within 60 s, 10 s per request), around one
    # alert_notifications query and one appended row. A run cut short records nothing, so its redelivery would notify the channels
    # that already had it again: hence the longest timeout an event function may have (540 s; at most 5
    # webhook URLs, variables.tf). Changes are rare but one evaluation can open an alert per endpoint at
    # once, and a delivery mostly waits on the network: 8 concurrent deliveries on 2 instances take such a
    # burst without pushing messages back into Pub/Sub's retries toward the dead-letter topic.
    notify_alert = {
      account         = "notifier"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 540
      max_instances   = 2
      concurrency     = 8
      secrets         = ["slack_bot_token", "slack_webhook_url", "smtp_password"]
    }
    # Every minute (the evaluation tick): one escalation_candidates query (open alerts, a small view, at most
    # 100 rows), then for the few alerts due, one message per channel, each retrying for about a minute like
    # notify_alert, and one appended row. A failure is recorded and retried by the next tick, never raised,
    # so a run cut short only repeats its escalations; 300 s covers a slow channel or two. One instance
    # handling one tick at a time keeps ticks from escalating the same alert twice in parallel.
    escalate_alerts = {
      account         = "notifier"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 300
      max_instances   = 1
      concurrency     = 1
      secrets         = ["slack_bot_token", "slack_webhook_url", "smtp_password"]
    }
    # Every alert change, but only one that opens an alert acts: one remediation_history query (a few rows:
    # at most remediation_max_per_hour acts an hour) and one appended row, with each catalog action's webhook
    # bounded at about 20 s (perfguard.api.remediation.POLICY), so 120 s covers a catalog of a few actions.
    # One instance handling one event at a time: the rate limit, cooldowns and the once-per-alert check read
    # the audit rows before acting, and parallel deliveries would race past them.
    remediate_alert = {
      account         = "remediator"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 120
      max_instances   = 1
      concurrency     = 1
      # The cycles top-up: which canister, signed by whom, and its Slack notice.
      secrets = ["canisters", "icp_identity_pem", "slack_bot_token", "slack_webhook_url"]
    }
    # Every minute: each canister of canisters_file read over the network (canister_status through the ICP
    # agent, its /metrics page), canister_poll_concurrency at a time, each call within
    # canister_poll_timeout_seconds (bench/bench_canisters.py: 100 canisters answering in 100 ms take ~1 s);
    # then three small queries (7 h of snapshots of these canisters, an hour of their call records, recent
    # insights) and a few appends. One instance handling one tick at a time: two polls of the same minute
    # would both append snapshots. 120 s covers a poll where many canisters time out.
    poll_canisters = {
      account         = "poller"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 120
      max_instances   = 1
      concurrency     = 1
      secrets         = ["canisters", "icp_identity_pem"]
    }
    # Every 5 minutes: per export table a few queries over its streaming table's last 2 h (the daily tables at
    # most hourly, 3 days back), anti-joined on perfguard's own partitions, then a few appends and the
    # ingest of the new session rows (~2k a run at 1 M sessions a day). One instance handling one tick at a
    # time: two runs in parallel would both read past the same watermark (harmless, ids dedupe, but paid
    # twice). 540 s leaves room for the hourly daily-table pass after an outage; 1 GiB for the session rows.
    import_firebase = {
      account         = "poller"
      memory          = "1Gi"
      cpu             = "1"
      timeout_seconds = 540
      max_instances   = 1
      concurrency     = 1
      secrets         = []
    }
  }

  # One deployment per subscription: a 2nd gen function has one Eventarc trigger, and a topology
  # subscription is exactly one (topic -> entry point) delivery. The deployment takes the subscription's
  # name (e.g. evaluate-on-tick), so each delivery path has its own trigger, retries and dead letters.
  event_functions = {
    for name, spec in local.subscriptions : name => merge(local.event_function_settings[spec.function], {
      entry_point = spec.function
      topic       = spec.topic
    })
  }
}
