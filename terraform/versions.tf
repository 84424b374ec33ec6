# Terraform and provider versions, the state backend and the provider configuration.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # State lives in a GCS bucket created once by hand (docs/deploy.md, "State bucket"); its name is given at
  # init: terraform init -backend-config=bucket=BUCKET -backend-config=prefix=perfguard
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app         = "perfguard"
    environment = var.environment
    managed-by  = "terraform"
  }
}

# The project number names the Google-managed service agents (Pub/Sub's, for dead-lettering).
data "google_project" "this" {
  project_id = var.project_id
}
