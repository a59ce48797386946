//! Keeps the Rust shape table in agreement with the CSV it was built from.

// Helpers outside `#[test]` functions are test code too; failing loudly is what they are for.
#![allow(clippy::unwrap_used, clippy::panic)]

use vnic_limits::table::SHAPES;
use vnic_limits::{Ocpus, ShapeKind, ShapeName, VnicRule, lookup};

const CSV: &str = include_str!("../data/shape-vnic-limits.csv");

/// Splits one CSV line into fields; the file quotes nothing, so commas only separate.
fn fields(line: &str) -> Vec<&str> {
    line.split(',').collect()
}

#[test]
fn table_matches_csv() {
    let mut lines = CSV.lines();
    assert_eq!(
        lines.next(),
        Some("shape,kind,ocpus,max_vnics,notes,source")
    );

    let rows: Vec<Vec<&str>> = lines.filter(|l| !l.is_empty()).map(fields).collect();
    assert_eq!(
        rows.len(),
        SHAPES.len(),
        "every CSV row has a table entry and no more"
    );

    for row in rows {
        let (name, kind, ocpus, max_vnics, source) = (row[0], row[1], row[2], row[3], row[5]);
        let spec = lookup(&name.parse::<ShapeName>().unwrap())
            .unwrap_or_else(|| panic!("{name} is in the CSV but not in the table"));
        assert_eq!(spec.source, source, "{name}: source");

        match kind {
            "fixed" | "bm" => {
                let expected_kind = if kind == "bm" {
                    ShapeKind::BareMetal
                } else {
                    ShapeKind::Fixed
                };
                assert_eq!(spec.kind, expected_kind, "{name}: kind");

                // "4 (doc) / 8 (API)": conflicts keep the lower value.
                let lowest = max_vnics
                    .split('/')
                    .map(|part| {
                        part.trim()
                            .split(' ')
                            .next()
                            .unwrap()
                            .parse::<u32>()
                            .unwrap()
                    })
                    .min()
                    .unwrap();
                assert_eq!(spec.rule, VnicRule::Fixed(lowest), "{name}: limit");
            }
            "flex" => {
                assert_eq!(spec.kind, ShapeKind::Flex, "{name}: kind");
                check_flex(name, ocpus, max_vnics, spec.rule);
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
}

fn check_flex(name: &str, ocpus: &str, max_vnics: &str, rule: VnicRule) {
    if ocpus.contains('|') {
        let configs: Vec<(u32, u32)> = ocpus
            .split('|')
            .zip(max_vnics.split('|'))
            .map(|(o, v)| (o.parse().unwrap(), v.parse().unwrap()))
            .collect();
        assert_eq!(
            rule,
            VnicRule::Configs(Box::leak(configs.into_boxed_slice())),
            "{name}"
        );
        return;
    }

    assert_eq!(ocpus, "per-ocpu rule", "{name}");
    match rule {
        VnicRule::PerOcpu { per_ocpu, min, max } => {
            assert_eq!((min, max), (2, 24), "{name}: bounds");
            let expected_per_ocpu = if max_vnics.starts_with("2 per OCPU") {
                2
            } else {
                1
            };
            assert_eq!(per_ocpu, expected_per_ocpu, "{name}: per OCPU");
            if per_ocpu == 1 {
                assert_eq!(max_vnics, "1 OCPU->2; n>=2 OCPUs->n; cap 24", "{name}");
            }
        }
        VnicRule::Unpublished { min, max } => {
            assert_eq!(max_vnics, format!("min {min}; max {max}"), "{name}");
        }
        other => panic!("{name}: unexpected rule {other:?}"),
    }
}

#[test]
fn flex_limits_stay_within_their_bounds_for_every_whole_ocpu_count() {
    for spec in SHAPES {
        if let VnicRule::PerOcpu { min, max, .. } = spec.rule {
            for whole in 1..=128 {
                let limit = spec
                    .max_vnics(Some(Ocpus::new(f64::from(whole)).unwrap()))
                    .unwrap();
                assert!(
                    (min..=max).contains(&limit),
                    "{}: {whole} OCPUs -> {limit}",
                    spec.name
                );
            }
        }
    }
}
