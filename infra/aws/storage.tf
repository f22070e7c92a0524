# ---------------------------------------------------------------------------
# Baseline store (CADET_STATE=dynamodb:<table>): the caller profiles scoring compares against.
# Schema contract with shared/state (dynamodb feature): hash key pk (S), range key sk (S), TTL
# attribute expires_at (epoch seconds, number).
# ---------------------------------------------------------------------------

resource "aws_dynamodb_table" "baseline" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}
