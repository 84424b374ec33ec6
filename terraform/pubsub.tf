# Pub/Sub: the topics of functions/perfguard/topology.yaml (locals.tf decides which are deployed), and a
# dead-letter topic with an inspection subscription for every deployed subscription.
#
# Deliveries themselves are Eventarc triggers (functions.tf): each topology subscription is one event
# function deployment whose trigger owns a Pub/Sub push subscription on the topic, created by Eventarc.
# Neither the Eventarc API nor the provider can set a dead-letter policy on that subscription
# (hashicorp/terraform-provider-google#17697, #25069), so terraform_data.eventarc_delivery applies the
# procedure Google documents for it (Eventarc "Retry events": find the trigger's subscription, update it)
# after every change of the function.

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  name                       = each.key
  message_retention_duration = "86400s" # a day to replay from, e.g. after a bad deploy (seek)
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.subscriptions

  name = "${each.key}-dead-letter"
}

# Messages published to a topic without subscriptions are lost, so each dead-letter topic keeps its
# messages here for a week: inspect them (gcloud pubsub subscriptions pull), fix the cause, then replay.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.subscriptions

  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = "" # never expires while idle, which is its normal state
  }
}

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Retry policy of every delivery: exponential backoff from 10 s to 10 min, then the dead-letter topic
  # after alert_thresholds.dead_letter_max_delivery_attempts attempts.
  delivery_retry = {
    min_retry_delay       = "10s"
    max_retry_delay       = "600s"
    max_delivery_attempts = var.alert_thresholds.dead_letter_max_delivery_attempts
  }
}

# Pub/Sub's service agent forwards undeliverable messages: it publishes to the dead-letter topic (here) and
# acknowledges them on the source subscription (granted by terraform_data.eventarc_delivery, because that
# subscription's name is only known once Eventarc has created it).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.subscriptions

  topic  = google_pubsub_topic.dead_letter[each.key].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

# Runs where Terraform runs (Cloud Build's terraform step has gcloud; so does a workstation). Idempotent;
# re-run whenever the function (and so possibly its trigger and subscription) changes.
resource "terraform_data" "eventarc_delivery" {
  for_each = local.subscriptions

  triggers_replace = {
    trigger           = google_cloudfunctions2_function.event[each.key].event_trigger[0].trigger
    function_updated  = google_cloudfunctions2_function.event[each.key].update_time
    dead_letter_topic = google_pubsub_topic.dead_letter[each.key].id
    retry             = local.delivery_retry
  }

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      # TRIGGER is projects/P/locations/L/triggers/T
      IFS=/ read -r _ project _ location _ trigger <<<"$TRIGGER"
      subscription="$(gcloud eventarc triggers describe "$trigger" --project="$project" --location="$location" \
        --format='value(transport.pubsub.subscription)')"
      if [ -z "$subscription" ]; then
        echo "Eventarc trigger $TRIGGER has no Pub/Sub subscription yet" >&2
        exit 1
      fi
      gcloud pubsub subscriptions add-iam-policy-binding "$subscription" \
        --member="$PUBSUB_AGENT" --role=roles/pubsub.subscriber --quiet >/dev/null
      gcloud pubsub subscriptions update "$subscription" \
        --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" \
        --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" --quiet
    EOT
    environment = {
      TRIGGER               = self.triggers_replace.trigger
      DEAD_LETTER_TOPIC     = self.triggers_replace.dead_letter_topic
      PUBSUB_AGENT          = local.pubsub_service_agent
      MAX_DELIVERY_ATTEMPTS = tostring(local.delivery_retry.max_delivery_attempts)
      MIN_RETRY_DELAY       = local.delivery_retry.min_retry_delay
      MAX_RETRY_DELAY       = local.delivery_retry.max_retry_delay
    }
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher]
}
