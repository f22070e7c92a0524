# ---------------------------------------------------------------------------
# Opt-in Data Access audit logs (enable_data_access_logs). Without them the sink never sees IAP
# AuthorizeUser (IAP TCP forwarding / SSH through IAP), serial-port connections, or OS Config's
# data-plane calls: Data Access logs are off by default and billed by volume.
#
# google_project_iam_audit_config is authoritative for its service: it replaces any audit
# configuration (log types, exempted members) already set on the project for iap.googleapis.com
# and osconfig.googleapis.com. Merge existing exemptions into your own configuration instead of
# enabling this if the project already has one.
#
# Only the services cadet reads get Data Access logs, not "allServices": turning them on for
# every service is a project-wide cost and volume decision for the project owner.
# ---------------------------------------------------------------------------

resource "google_project_iam_audit_config" "data_access" {
  for_each = var.enable_data_access_logs ? toset(var.data_access_log_services) : toset([])

  project = var.project_id
  service = each.value

  audit_log_config {
    log_type = "DATA_READ"
  }

  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
