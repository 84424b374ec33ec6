# Inputs of the stack. Example values: terraform.tfvars.example. No variable holds a secret: secret values
# are added to Secret Manager by hand (docs/deploy.md) and never pass through Terraform files.

variable "project_id" {
  description = "Google Cloud project that runs perfguard."
  type        = string
}

variable "region" {
  description = "Region of the functions, Eventarc triggers, Scheduler jobs and the source bucket."
  type        = string
  default     = "us-central1"
}

variable "bigquery_location" {
  description = "Location of the perfguard dataset. Use the location of the Firebase export datasets: BigQuery cannot join across locations."
  type        = string
  default     = "US"
}

variable "dataset_id" {
  description = "BigQuery dataset holding perfguard's tables and views."
  type        = string
  default     = "perfguard"
}

variable "environment" {
  description = "Environment stored on records that do not name one (PERFGUARD_ENVIRONMENT), and a label on every resource."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.environment))
    error_message = "environment must be a lowercase label value, e.g. production or staging."
  }
}

variable "source_archive" {
  description = "The functions' source archive, relative to the repository root (built by cloudbuild.yaml's package step)."
  type        = string
  default     = "build/function-source.zip"
}

variable "authorized_group" {
  description = "Google group of the people allowed to call the read API and to read the tables and views (Looker Studio), e.g. perf-team@example.com."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.authorized_group))
    error_message = "authorized_group must be a group email address such as perf-team@example.com."
  }
}

variable "slack_channel" {
  description = "Slack channel for perfguard's alerts (notify_alert posts there with the bot token) and for the alerts about perfguard itself, e.g. #perf-alerts."
  type        = string

  validation {
    condition     = can(regex("^#[a-z0-9_-]+$", var.slack_channel))
    error_message = "slack_channel must look like #perf-alerts."
  }
}

variable "slack_team" {
  description = "Slack workspace (team) id or name for the Cloud Monitoring Slack channel; empty omits it."
  type        = string
  default     = ""
}

variable "monitoring_slack_enabled" {
  description = "Create the Cloud Monitoring Slack notification channel from the bot token in Secret Manager. Set to true once the token has a version (docs/deploy.md); until then the alert policies notify only extra_notification_channels."
  type        = bool
  default     = false
}

variable "extra_notification_channels" {
  description = "Further Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) for the self-monitoring alerts, e.g. an on-call email."
  type        = list(string)
  default     = []
}

variable "mounted_secrets" {
  description = "The optional secrets of secrets.tf that have a version in Secret Manager, so the functions that read them mount them: any of slack_bot_token, slack_webhook_url, slack_signing_secret, smtp_password, canisters, icp_identity_pem. Mounting a secret without a version fails the deployment, so add the version first (docs/deploy.md). An unlisted secret's setting stays empty: that channel (or the Slack buttons) is off. Names, not values."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.mounted_secrets : contains(["slack_bot_token", "slack_webhook_url", "slack_signing_secret", "smtp_password", "canisters", "icp_identity_pem"], name)])
    error_message = "mounted_secrets may name only slack_bot_token, slack_webhook_url, slack_signing_secret, smtp_password, canisters and icp_identity_pem (api_keys is always mounted)."
  }
}

variable "runbook_base_url" {
  description = "Where the repository's files are browsable; alert messages link <this>/runbooks/<rule>.md, e.g. https://github.com/OWNER/perfguard/blob/main. Empty links the bare path."
  type        = string
  default     = ""

  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://[^\\s]+$", var.runbook_base_url))
    error_message = "runbook_base_url must be an https:// URL (the repository root, without /runbooks), or empty."
  }
}

variable "smtp_host" {
  description = "SMTP server for alert email, e.g. smtp.example.com; empty sends no email. Its password is the perfguard-smtp-password secret."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "SMTP port: 587 (submission, with STARTTLS) or 465 (implicit TLS). Google Cloud blocks outbound port 25."
  type        = number
  default     = 587

  validation {
    condition     = var.smtp_port > 0 && var.smtp_port < 65536 && var.smtp_port != 25 && floor(var.smtp_port) == var.smtp_port
    error_message = "smtp_port must be a TCP port other than 25 (blocked for outbound traffic in Google Cloud): 587 or 465."
  }
}

variable "smtp_starttls" {
  description = "Upgrade the SMTP connection with STARTTLS (ignored on port 465, which is TLS from the start)."
  type        = bool
  default     = true
}

variable "smtp_username" {
  description = "SMTP user name, if the server needs a login (the password is the perfguard-smtp-password secret)."
  type        = string
  default     = ""
}

variable "smtp_from" {
  description = "Sender address of alert email; empty keeps perfguard's default (perfguard@localhost, which most servers refuse)."
  type        = string
  default     = ""

  validation {
    condition     = var.smtp_from == "" || can(regex("^[^@\\s,]+@[^@\\s,]+$", var.smtp_from))
    error_message = "smtp_from must be one email address such as perfguard@example.com."
  }
}

variable "smtp_to" {
  description = "Recipients of alert email; empty sends none."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.smtp_to : can(regex("^[^@\\s,]+@[^@\\s,]+$", address))])
    error_message = "Each smtp_to entry must be one email address such as oncall@example.com."
  }
}

variable "escalation_after_minutes" {
  description = "An open alert nobody acknowledges within this many minutes escalates (critical ones at once)."
  type        = number
  default     = 15

  validation {
    condition     = var.escalation_after_minutes >= 1 && floor(var.escalation_after_minutes) == var.escalation_after_minutes
    error_message = "escalation_after_minutes must be a whole number of minutes, at least 1."
  }
}

variable "escalation_mention" {
  description = "Slack mention put at the top of an escalation, e.g. <!subteam^S0ONCALL> for the on-call group."
  type        = string
  default     = ""
}

variable "escalation_email_to" {
  description = "Extra recipients of escalation email (the on-call group), besides smtp_to."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.escalation_email_to : can(regex("^[^@\\s,]+@[^@\\s,]+$", address))])
    error_message = "Each escalation_email_to entry must be one email address such as oncall@example.com."
  }
}

variable "alert_webhook_urls" {
  description = "URLs that get every alert as Alertmanager webhook v4 JSON (PagerDuty, Opsgenie, an Alertmanager receiver). They sit in plain view in the function's configuration and the Terraform state, so they must carry no credential: no user:password@, no query string, no Slack webhook (use the perfguard-slack-webhook-url secret). At most 5: notify_alert sends to each in turn within its timeout (locals.tf)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.alert_webhook_urls) <= 5
    error_message = "At most 5 alert_webhook_urls: notify_alert sends to the channels one after another within its 540 s timeout."
  }

  validation {
    condition     = alltrue([for url in var.alert_webhook_urls : can(regex("^https://[^/@?#\\s,]+(/[^?#\\s,]*)?$", url))])
    error_message = "Each alert_webhook_urls entry must be an https:// URL without user:password@, query string, fragment or comma (a credential in it would be readable in the function's configuration)."
  }

  validation {
    condition     = alltrue([for url in var.alert_webhook_urls : !strcontains(lower(url), "hooks.slack.com")])
    error_message = "A Slack incoming webhook URL is a secret: put it in the perfguard-slack-webhook-url secret and list slack_webhook_url in mounted_secrets."
  }
}

variable "remediation_mode" {
  description = "Automated remediation (remediate_alert): off, dry_run (decide and record in remediation_actions, do nothing) or on."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["off", "dry_run", "on"], var.remediation_mode)
    error_message = "remediation_mode must be off, dry_run or on."
  }
}

variable "remediation_webhook_url" {
  description = "URL the webhook remediation actions post to (functions/perfguard/remediation.yaml); empty makes them unavailable. It sits in plain view in the function's configuration and the Terraform state, so it must carry no credential: no user:password@, no query string, no Slack webhook."
  type        = string
  default     = ""

  validation {
    condition     = var.remediation_webhook_url == "" || can(regex("^https://[^/@?#\\s,]+(/[^?#\\s,]*)?$", var.remediation_webhook_url))
    error_message = "remediation_webhook_url must be an https:// URL without user:password@, query string, fragment or comma (a credential in it would be readable in the function's configuration)."
  }

  validation {
    condition     = !strcontains(lower(var.remediation_webhook_url), "hooks.slack.com")
    error_message = "A Slack incoming webhook URL is a secret: remediation posts to a receiver that acts, not to Slack."
  }
}

variable "canisters" {
  description = "ICP canisters to poll (issue 5): principal id and a display name."
  type = list(object({
    id   = string
    name = string
  }))
  default = []

  validation {
    condition     = alltrue([for c in var.canisters : can(regex("^[a-z0-9]{5}(-[a-z0-9]{5}){3}-[a-z0-9]{3}$", c.id))])
    error_message = "Each canister id must be a canister principal such as rrkah-fqaaa-aaaaa-aaaaq-cai."
  }
}

variable "icp" {
  description = "Where poll_canisters and the cycles top-up reach the canisters: the ICP API boundary the agent calls, and the URL of a canister's Prometheus page ({canister_id} is filled in). The canister list is the canisters secret."
  type = object({
    replica_url = optional(string, "https://icp-api.io")
    metrics_url = optional(string, "https://{canister_id}.raw.icp0.io/metrics")
  })
  default = {}

  validation {
    condition     = startswith(var.icp.replica_url, "https://") && startswith(var.icp.metrics_url, "https://")
    error_message = "icp.replica_url and icp.metrics_url must be https:// URLs."
  }
}

variable "cycles_top_up" {
  description = "The cycles_top_up remediation action (it acts only when remediation_mode is on): the cycles wallet canister that funds it (empty: the action is unavailable), the cycles one top-up sends, and its caps."
  type = object({
    wallet_canister          = optional(string, "")
    amount_cycles            = optional(number, 5000000000000)
    max_cycles_per_day       = optional(number, 20000000000000)
    max_per_canister_per_day = optional(number, 2)
  })
  default = {}

  validation {
    condition     = var.cycles_top_up.wallet_canister == "" || can(regex("^[a-z0-9]{5}(-[a-z0-9]{5}){3}-[a-z0-9]{3}$", var.cycles_top_up.wallet_canister))
    error_message = "cycles_top_up.wallet_canister must be a canister principal such as rrkah-fqaaa-aaaaa-aaaaq-cai, or empty."
  }

  validation {
    condition     = var.cycles_top_up.amount_cycles > 0 && var.cycles_top_up.max_cycles_per_day >= var.cycles_top_up.amount_cycles && var.cycles_top_up.max_per_canister_per_day >= 1
    error_message = "cycles_top_up needs amount_cycles > 0, max_cycles_per_day >= amount_cycles and max_per_canister_per_day >= 1."
  }
}

variable "kpi_targets" {
  description = "KPI targets (DESIGN.md). perfguard reads p95_latency_ms today (PERFGUARD_LATENCY_THRESHOLD_MS); the others are fixed in perfguard.domain.kpi until they become settings, and are rejected here if changed, so no one believes a target is in force when it is not."
  type = object({
    p95_latency_ms                 = optional(number, 2000)
    crash_free_sessions_pct        = optional(number, 99.5)
    swap_success_pct               = optional(number, 90)
    swap_completion_median_minutes = optional(number, 30)
    d1_retention_pct               = optional(number, 25)
    retention_4w_pct               = optional(number, 15)
    cycles_runway_days             = optional(number, 30)
    memory_headroom_pct            = optional(number, 25)
  })
  default = {}

  validation {
    condition     = var.kpi_targets.p95_latency_ms > 0
    error_message = "kpi_targets.p95_latency_ms must be positive."
  }

  validation {
    condition = (
      var.kpi_targets.crash_free_sessions_pct == 99.5 && var.kpi_targets.swap_success_pct == 90 &&
      var.kpi_targets.swap_completion_median_minutes == 30 && var.kpi_targets.d1_retention_pct == 25 &&
      var.kpi_targets.retention_4w_pct == 15 && var.kpi_targets.cycles_runway_days == 30 &&
      var.kpi_targets.memory_headroom_pct == 25
    )
    error_message = "Only kpi_targets.p95_latency_ms is configurable so far; the other targets are the defaults of perfguard.domain.kpi until perfguard reads them from settings."
  }
}

variable "firebase_exports" {
  description = "The Firebase BigQuery export datasets the import (poller) service account may read and import_firebase imports; an empty name is skipped (the import keeps its default name, and GA4 stays off). project defaults to project_id; app_ids are the package / bundle ids to import (empty: the setting's default). See docs/deploy.md, 'Firebase exports'."
  type = object({
    project             = optional(string, "")
    crashlytics_dataset = optional(string, "")
    sessions_dataset    = optional(string, "")
    performance_dataset = optional(string, "")
    analytics_dataset   = optional(string, "")
    app_ids             = optional(list(string), [])
  })
  default = {}
}

variable "deletion_protection" {
  description = "Protect the BigQuery tables from `terraform destroy` and from replacement."
  type        = bool
  default     = true
}

variable "alert_thresholds" {
  description = "When the self-monitoring alerts fire."
  type = object({
    function_errors_per_5min          = optional(number, 5)
    rejecting_requests_per_10min      = optional(number, 10)
    evaluator_silence_seconds         = optional(number, 300)
    dead_letter_messages              = optional(number, 0)
    dead_letter_max_delivery_attempts = optional(number, 5)
  })
  default = {}

  validation {
    condition     = var.alert_thresholds.dead_letter_max_delivery_attempts >= 5 && var.alert_thresholds.dead_letter_max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts before dead-lettering."
  }
}
