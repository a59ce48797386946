//! The `oci-ipam-node` binary.

fn main() {}
