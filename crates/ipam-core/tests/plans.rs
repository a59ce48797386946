//! The fixture suite: every `tests/plans/{pass,fail}/<case>/snapshot.json` is planned (pass)
//! or rejected (fail), and the outcome is compared with `<case>/outcome.snap` beside it.
//!
//! Pass cases must validate cleanly; their snapshot is the plan as JSON. Fail cases must be
//! rejected, either while parsing (the snapshot is the field path, line, column and message)
//! or by [`ipam_core::validate`] (the snapshot is every problem). Review changes with
//! `cargo insta review`.

use std::path::Path;

use ipam_core::{Snapshot, parse_snapshot, plan, validate};

/// Parses like the planner CLI does: errors carry the field path, line and column.
fn parse(text: &str) -> Result<Snapshot, String> {
    parse_snapshot(text).map_err(|err| err.to_string())
}

fn case_name(path: &Path) -> String {
    let dir = path.parent().and_then(Path::file_name).unwrap_or_default();
    dir.to_string_lossy().into_owned()
}

fn with_case_settings(path: &Path, check: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(path.parent().unwrap_or(path));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(path);
    settings.set_omit_expression(true);
    settings.remove_snapshot_suffix();
    settings.bind(check);
}

#[test]
fn pass_cases_plan_as_recorded() {
    insta::glob!("plans/pass/*/snapshot.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let snapshot = parse(&text).unwrap_or_else(|err| panic!("{}: {err}", case_name(path)));

        let problems = validate(&snapshot);
        assert!(problems.is_empty(), "{}: {problems:#?}", case_name(path));

        let plan = plan(&snapshot);
        assert_eq!(
            plan,
            ipam_core::plan(&snapshot),
            "planning is deterministic"
        );
        with_case_settings(path, || insta::assert_json_snapshot!("outcome", plan));
    });
}

#[test]
fn fail_cases_are_rejected_as_recorded() {
    insta::glob!("plans/fail/*/snapshot.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();

        let rejection: Vec<String> = match parse(&text) {
            Err(message) => vec![message],
            Ok(snapshot) => validate(&snapshot)
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        assert!(!rejection.is_empty(), "{} was accepted", case_name(path));

        with_case_settings(path, || insta::assert_yaml_snapshot!("outcome", rejection));
    });
}
