//! Keeps `docs/snapshot.schema.json` identical to the schema generated from the Rust types.
//!
//! Regenerate after changing the snapshot types with
//! `UPDATE_SCHEMA=1 cargo test -p ipam-core --test schema`.

use std::path::Path;

#[test]
fn checked_in_schema_matches_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/snapshot.schema.json");
    let generated = serde_json::to_string_pretty(&ipam_core::snapshot_schema()).unwrap() + "\n";

    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }

    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale; run `UPDATE_SCHEMA=1 cargo test -p ipam-core --test schema`",
        path.display()
    );
}

#[test]
fn schema_rejects_unknown_fields_everywhere() {
    let schema = ipam_core::snapshot_schema();
    let defs = schema["$defs"].as_object().unwrap();

    assert_eq!(schema["additionalProperties"], false);
    for name in ["Policy", "Subnet", "Node", "NodeIpam", "Vnic"] {
        assert_eq!(defs[name]["additionalProperties"], false, "{name}");
    }
}
