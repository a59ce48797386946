//! Parse and plan time at 1,000 and 10,000 nodes (design §9: plan ≤ 0.25 × parse at 10k).

fn main() {}
