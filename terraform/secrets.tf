# Secret Manager: the secrets exist here, their values never do. Versions are added by hand
# (docs/deploy.md, "Secrets"); functions read them at start from a mounted file, never from plain env.
# `readers` are keys of the service accounts in iam.tf that may access the secret.

locals {
  secrets = {
    api_keys = {
      secret_id   = "perfguard-api-keys"
      description = "API keys of the HTTP functions: a YAML list of {name, key, scopes} (docs/configuration.md)."
      readers     = ["ingest", "api"]
    }
    slack_bot_token = {
      secret_id   = "perfguard-slack-bot-token"
      description = "Slack bot token (xoxb-..., chat:write) of the perfguard Slack app: notifier (issue 4) and the Cloud Monitoring Slack channel."
      readers     = ["notifier"]
    }
    slack_webhook_url = {
      secret_id   = "perfguard-slack-webhook-url"
      description = "Slack incoming webhook URL, the notifier's fallback when no bot token is set (issue 4)."
      readers     = ["notifier"]
    }
    slack_signing_secret = {
      secret_id   = "perfguard-slack-signing-secret"
      description = "Slack signing secret, to verify acknowledgement button clicks from Slack (issue 4)."
      readers     = ["notifier"]
    }
  }

  secret_readers = merge([
    for name, secret in local.secrets : {
      for account in secret.readers : "${name}/${account}" => { secret = name, account = account }
    }
  ]...)
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = each.value.secret_id
  annotations = {
    description = each.value.description
  }

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_readers

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.role[each.value.account].email}"
}
