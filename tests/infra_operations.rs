//! The Terraform modules keep their own copy of the operation list (Terraform cannot read
//! Rust): the EventBridge patterns come from `infra/aws/operations.json`, the Event Grid
//! advanced filter from `infra/azure/operations.json`, the Cloud Logging sink filter from
//! `infra/gcp/operations.json`. This test fails when they drift from the
//! core's tables, in either direction.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cadet_core::operations::{AWS_OPERATIONS, AZURE_BODY_ONLY, AZURE_OPERATIONS, GCP_OPERATIONS};
use serde_json::Value;

fn read(rel: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn eventbridge_pattern_matches_the_core_table() {
    let file = read("infra/aws/operations.json");
    let mut infra = BTreeSet::new();
    for (source, names) in file
        .as_object()
        .unwrap_or_else(|| panic!("object expected"))
    {
        let service = source
            .strip_prefix("aws.")
            .unwrap_or_else(|| panic!("source {source}"));
        for n in names.as_array().unwrap_or_else(|| panic!("array expected")) {
            infra.insert(format!(
                "{service}.amazonaws.com:{}",
                n.as_str().unwrap_or_default()
            ));
        }
    }
    let core: BTreeSet<String> = AWS_OPERATIONS
        .iter()
        .map(|o| format!("{}:{}", o.event_source, o.event_name))
        .collect();
    assert_eq!(
        infra, core,
        "infra/aws/operations.json and cadet_core::operations::AWS_OPERATIONS differ"
    );
}

#[test]
fn event_grid_filter_matches_the_core_table() {
    let file = read("infra/azure/operations.json");
    let infra: BTreeSet<String> = file
        .as_array()
        .unwrap_or_else(|| panic!("array expected"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    // Operations judged only from the Activity Log's request body stay out of the Event Grid
    // filter: its events carry no body, so each would be delivered only to be dropped.
    let core: BTreeSet<String> = AZURE_OPERATIONS
        .iter()
        .filter(|o| !AZURE_BODY_ONLY.contains(&o.name))
        .map(|o| o.name.to_string())
        .collect();
    assert!(AZURE_BODY_ONLY
        .iter()
        .all(|n| AZURE_OPERATIONS.iter().any(|o| o.name == *n)));
    assert_eq!(
        infra, core,
        "infra/azure/operations.json and cadet_core::operations::AZURE_OPERATIONS differ"
    );
    // Event Grid allows 25 values in one subscription's filters: beyond that the module splits
    // the operations into groups of 25, one subscription each.
    if infra.len() > 25 {
        let main = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("infra/azure/main.tf"),
        )
        .unwrap_or_else(|e| panic!("infra/azure/main.tf: {e}"));
        assert!(
            main.contains("chunklist(local.operations, 25)"),
            "{} operations exceed Event Grid's 25-value limit and infra/azure/main.tf does not split them",
            infra.len()
        );
    }
}

#[test]
fn log_sink_filter_matches_the_core_table() {
    let file = read("infra/gcp/operations.json");
    let infra: Vec<(String, String)> = file["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("`operations` array expected"))
        .iter()
        .map(|v| {
            (
                v["service"].as_str().unwrap_or_default().to_string(),
                v["method"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let core: Vec<(String, String)> = GCP_OPERATIONS
        .iter()
        .map(|o| (o.service.to_string(), o.method.to_string()))
        .collect();
    assert_eq!(
        infra, core,
        "infra/gcp/operations.json and cadet_core::operations::GCP_OPERATIONS differ"
    );
    // The sink filter is built from the file, not copied into it.
    let sink = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("infra/gcp/sink.tf"),
    )
    .unwrap_or_else(|e| panic!("infra/gcp/sink.tf: {e}"));
    assert!(
        sink.contains("operations.json"),
        "infra/gcp/sink.tf does not read operations.json"
    );
}
