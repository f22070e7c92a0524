# cadet on Google Cloud: one project's Cloud Audit Logs -> Pub/Sub push -> the cadet-azure container
# on Cloud Run -> signed webhook (or Slack / Teams).
#   terraform init
#   terraform apply -var project_id=my-project -var region=europe-west1 \
#     -var image=europe-west1-docker.pkg.dev/my-project/cadet/cadet-azure:TAG \
#     -var 'webhook_url=https://hooks.example.com/cadet'

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.8, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "cadet" {
  source = "../.."

  project_id = var.project_id
  region     = var.region
  image      = var.image

  sinks          = ["webhook"]
  webhook_url    = var.webhook_url
  webhook_format = var.webhook_format

  # IAP, serial-port and OS Config data-plane entries exist only with Data Access logs (billed).
  enable_data_access_logs = var.enable_data_access_logs

  alert_notification_channels = var.alert_notification_channels

  labels = { project = "cadet" }
}
