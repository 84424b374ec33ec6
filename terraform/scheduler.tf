# Cloud Scheduler: one job per deployed schedule of functions/perfguard/topology.yaml, publishing its payload
# to its topic exactly as perfguard.local.scheduler does on the embedded stack (same JSON body, same
# `source` and `schedule` attributes). Cron times are UTC on both.

resource "google_cloud_scheduler_job" "schedule" {
  for_each = local.schedules

  name        = each.key
  region      = var.region
  description = "perfguard schedule ${each.key} (topology.yaml) -> topic ${each.value.topic}"
  schedule    = each.value.cron
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic[each.value.topic].id
    data       = base64encode(each.value.payload)
    attributes = {
      source   = "scheduler"
      schedule = each.key
    }
  }
}
