# Secret Manager: the secrets exist here, their values never do. Versions are added by hand
# (docs/deploy.md, "Secrets first" and "Notifications"); functions read them at start from a mounted file
# (PERFGUARD_<NAME>_FILE), never from a plain environment variable.
#
# Each key is the perfguard setting the secret holds (api_keys: the file of api_keys_file). `readers` are
# keys of the service accounts in iam.tf that may access it; which function mounts it is in locals.tf
# (`secrets` of each function). An `optional` secret is mounted only once var.mounted_secrets lists it,
# because mounting a secret that has no version fails the deployment; api_keys is required (docs/deploy.md).

locals {
  secrets = {
    api_keys = {
      secret_id   = "perfguard-api-keys"
      description = "API keys of the HTTP functions: a YAML list of {name, key, scopes} (docs/configuration.md)."
      readers     = ["ingest", "api", "responder"]
      optional    = false
      environment = "PERFGUARD_API_KEYS_FILE"
      file        = "api-keys.yaml"
    }
    slack_bot_token = {
      secret_id   = "perfguard-slack-bot-token"
      description = "Slack bot token (xoxb-..., chat:write) of the perfguard Slack app: notify_alert, the cycles top-up's notice and the Cloud Monitoring Slack channel."
      readers     = ["notifier", "remediator"]
      optional    = true
      environment = "PERFGUARD_SLACK_BOT_TOKEN_FILE"
      file        = "slack-bot-token"
    }
    slack_webhook_url = {
      secret_id   = "perfguard-slack-webhook-url"
      description = "Slack incoming webhook URL: notify_alert's Slack channel (and the cycles top-up's notice) when there is no bot token."
      readers     = ["notifier", "remediator"]
      optional    = true
      environment = "PERFGUARD_SLACK_WEBHOOK_URL_FILE"
      file        = "slack-webhook-url"
    }
    # Only slack_actions verifies Slack's requests; the notifier sends to Slack and never needs it.
    slack_signing_secret = {
      secret_id   = "perfguard-slack-signing-secret"
      description = "Slack signing secret of the perfguard Slack app: slack_actions verifies the alert buttons' requests with it."
      readers     = ["responder"]
      optional    = true
      environment = "PERFGUARD_SLACK_SIGNING_SECRET_FILE"
      file        = "slack-signing-secret"
    }
    smtp_password = {
      secret_id   = "perfguard-smtp-password"
      description = "Password of the SMTP account (smtp_username) notify_alert sends alert email with."
      readers     = ["notifier"]
      optional    = true
      environment = "PERFGUARD_SMTP_PASSWORD_FILE"
      file        = "smtp-password"
    }
    # The canisters poll_canisters reads and the cycles top-up funds (canisters_file, docs/canisters.md): a
    # file, and a function's only place for a file it may change without a deployment is a mounted secret.
    # PERFGUARD_CANISTERS_FILE is the setting itself (a path), like api_keys_file.
    canisters = {
      secret_id   = "perfguard-canisters"
      description = "The ICP canisters perfguard polls and may top up: the YAML of canisters_file (docs/canisters.md)."
      readers     = ["poller", "remediator"]
      optional    = true
      environment = "PERFGUARD_CANISTERS_FILE"
      file        = "canisters.yaml"
    }
    # The identity the ICP agent signs with: a controller of the canisters for canister_status, and of the
    # funding wallet for top-ups. Without it the agent is anonymous (status through a blackhole canister).
    icp_identity_pem = {
      secret_id   = "perfguard-icp-identity"
      description = "PEM of the ICP identity poll_canisters and the cycles top-up sign with (docs/canisters.md)."
      readers     = ["poller", "remediator"]
      optional    = true
      environment = "PERFGUARD_ICP_IDENTITY_PEM_FILE"
      file        = "identity.pem"
    }
  }

  # One directory per secret: a secret volume shadows its whole mount path.
  secret_mount_root = "/etc/perfguard"

  # The secrets the functions may mount: the required ones, and the optional ones that have a version.
  mountable_secrets = toset(concat(
    [for name, secret in local.secrets : name if !secret.optional],
    tolist(var.mounted_secrets),
  ))

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
