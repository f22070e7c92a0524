# ---------------------------------------------------------------------------
# Event Grid: the subscription's ARM events (Microsoft.Resources.Subscriptions system topic,
# location Global) -> the function's `detect` Event Grid trigger, filtered to the operations the
# core supports, with retries and blob dead-lettering.
# ---------------------------------------------------------------------------

resource "azurerm_eventgrid_system_topic" "subscription" {
  count = var.existing_system_topic == null ? 1 : 0

  name                = "${var.name_prefix}-arm-events"
  resource_group_name = var.resource_group_name
  location            = "Global"
  source_resource_id  = local.subscription_scope
  topic_type          = "Microsoft.Resources.Subscriptions"

  # Used to write dead letters (Storage Blob Data Contributor on the dead-letter container only).
  identity {
    type = "SystemAssigned"
  }

  tags = var.tags
}

data "azurerm_eventgrid_system_topic" "existing" {
  count = var.existing_system_topic == null ? 0 : 1

  name                = var.existing_system_topic.name
  resource_group_name = var.existing_system_topic.resource_group_name
}

resource "azurerm_role_assignment" "topic_deadletter_writer" {
  count = var.existing_system_topic == null ? 1 : 0

  scope                = azurerm_storage_container.deadletter.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.subscription[0].identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "time_sleep" "topic_rbac_propagation" {
  count = var.existing_system_topic == null ? 1 : 0

  create_duration = var.rbac_propagation_wait
  depends_on      = [azurerm_role_assignment.topic_deadletter_writer]
}

# Event Grid allows 25 advanced-filter values per subscription in total, so the operations of
# operations.json are split into groups of 25, one subscription each ("<prefix>-detect",
# "<prefix>-detect-1", …), all delivering to the same function.
moved {
  from = azurerm_eventgrid_system_topic_event_subscription.detect
  to   = azurerm_eventgrid_system_topic_event_subscription.detect["0"]
}

resource "azurerm_eventgrid_system_topic_event_subscription" "detect" {
  for_each = local.operation_groups

  name                  = each.key == "0" ? "${var.name_prefix}-detect" : "${var.name_prefix}-detect-${each.key}"
  system_topic          = var.existing_system_topic == null ? azurerm_eventgrid_system_topic.subscription[0].name : var.existing_system_topic.name
  resource_group_name   = var.existing_system_topic == null ? var.resource_group_name : var.existing_system_topic.resource_group_name
  event_delivery_schema = "EventGridSchema"
  included_event_types  = var.included_event_types

  azure_function_endpoint {
    function_id          = local.detect_function_id
    max_events_per_batch = var.max_events_per_batch
  }

  # One string_in filter on data.operationName with this group's operations (at most 25). Event
  # Grid string comparisons are case-insensitive, so "microsoft.compute/virtualmachines/runcommand/action"
  # matches too: the canonical case in operations.json is for the core's table, not for Event Grid.
  advanced_filter {
    string_in {
      key    = "data.operationName"
      values = each.value
    }
  }

  retry_policy {
    max_delivery_attempts = var.max_delivery_attempts
    event_time_to_live    = var.event_time_to_live_minutes
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.this.id
    storage_blob_container_name = azurerm_storage_container.deadletter.name
  }

  dynamic "dead_letter_identity" {
    for_each = var.existing_system_topic == null ? [1] : []
    content {
      type = "SystemAssigned"
    }
  }

  lifecycle {
    precondition {
      condition     = length(each.value) <= 25
      error_message = "Event Grid allows at most 25 advanced-filter values per subscription; group ${each.key} has ${length(each.value)}."
    }
  }

  depends_on = [
    time_sleep.function_indexing,
    time_sleep.topic_rbac_propagation,
  ]
}
