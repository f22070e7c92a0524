terraform {
  required_version = ">= 1.5"

  required_providers {
    # >= 6.8: `invoker_iam_disabled` on google_cloud_run_v2_service appeared in 6.8.0 (5.x rejects
    # the argument), and cadet sets it explicitly to false.
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
