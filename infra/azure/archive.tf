# ---------------------------------------------------------------------------
# Activity Log archive (archive_storage_account_id set): the archive account's Event Grid system
# topic -> BlobCreated of <archive_container>/…/PT1H.json -> the `archive` function, which reads
# each blob from its stored offset (functions/azure-function/src/archive.rs). `cadet backfill`
# puts history on the `archive` queue of the function's own storage account, read by the
# `archive-queue` function with the function's identity (Storage Queue Data Message Processor on
# that queue only).
# ---------------------------------------------------------------------------

locals {
  archive_enabled     = var.archive_storage_account_id != null
  archive_function_id = "${azurerm_linux_function_app.this.id}/functions/archive"
  # Settings of the archive functions: always present (the queue trigger's binding resolves its
  # queue name and connection at start), the functions disabled when no archive is configured.
  archive_app_settings = merge(
    {
      CADET_ARCHIVE_QUEUE                             = azurerm_storage_queue.archive.name
      CADET_ARCHIVE_QUEUE_CONNECTION__queueServiceUri = azurerm_storage_account.this.primary_queue_endpoint
      CADET_ARCHIVE_QUEUE_CONNECTION__credential      = "managedidentity"
      CADET_ARCHIVE_QUEUE_CONNECTION__clientId        = azurerm_user_assigned_identity.function.client_id
      CADET_ARCHIVE_CONTAINERS                        = var.archive_container
      "AzureWebJobs.archive.Disabled"                 = local.archive_enabled ? "false" : "true"
      "AzureWebJobs.archive-queue.Disabled"           = local.archive_enabled ? "false" : "true"
    },
    local.archive_enabled ? {
      CADET_ARCHIVE_CONNECTION_STRING = format(local.key_vault_reference, var.archive_connection_string_secret_id)
    } : {},
  )
}

resource "azurerm_storage_queue" "archive" {
  name                 = "archive"
  storage_account_name = azurerm_storage_account.this.name
}

resource "azurerm_role_assignment" "archive_queue_reader" {
  scope                = "${azurerm_storage_account.this.id}/queueServices/default/queues/${azurerm_storage_queue.archive.name}"
  role_definition_name = "Storage Queue Data Message Processor"
  principal_id         = azurerm_user_assigned_identity.function.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_eventgrid_system_topic" "archive" {
  count = local.archive_enabled ? 1 : 0

  name                = "${var.name_prefix}-archive-events"
  resource_group_name = var.resource_group_name
  location            = var.location
  source_resource_id  = var.archive_storage_account_id
  topic_type          = "Microsoft.Storage.StorageAccounts"

  identity {
    type = "SystemAssigned"
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.archive_connection_string_secret_id != null
      error_message = "archive_storage_account_id needs archive_connection_string_secret_id (the function reads the archive with it)."
    }
  }
}

resource "azurerm_role_assignment" "archive_topic_deadletter_writer" {
  count = local.archive_enabled ? 1 : 0

  scope                = azurerm_storage_container.deadletter.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.archive[0].identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_eventgrid_system_topic_event_subscription" "archive" {
  count = local.archive_enabled ? 1 : 0

  name                  = "${var.name_prefix}-archive"
  system_topic          = azurerm_eventgrid_system_topic.archive[0].name
  resource_group_name   = var.resource_group_name
  event_delivery_schema = "EventGridSchema"
  included_event_types  = ["Microsoft.Storage.BlobCreated"]

  subject_filter {
    subject_begins_with = "/blobServices/default/containers/${var.archive_container}/blobs/"
    subject_ends_with   = "PT1H.json"
  }

  azure_function_endpoint {
    function_id = local.archive_function_id
    # One blob per invocation: each is read from its own offset.
    max_events_per_batch = 1
  }

  retry_policy {
    max_delivery_attempts = var.max_delivery_attempts
    event_time_to_live    = var.event_time_to_live_minutes
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.this.id
    storage_blob_container_name = azurerm_storage_container.deadletter.name
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  depends_on = [
    time_sleep.function_indexing,
    azurerm_role_assignment.archive_topic_deadletter_writer,
  ]
}
