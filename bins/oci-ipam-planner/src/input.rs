//! Reading a snapshot from a file or standard input, with errors that name the file.

use std::io::Read;
use std::path::Path;

use ipam_core::{Problem, Snapshot};

use crate::Error;

/// Reads and parses `path` (`-` is standard input); returns the display name and snapshot.
pub(crate) fn load(path: &Path) -> Result<(String, Snapshot), Error> {
    let (name, text) = if path.as_os_str() == "-" {
        let mut text = String::new();
        let name = "<stdin>".to_owned();
        match std::io::stdin().read_to_string(&mut text) {
            Ok(_) => (name, text),
            Err(source) => return Err(Error::ReadSnapshot { name, source }),
        }
    } else {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => (name, text),
            Err(source) => return Err(Error::ReadSnapshot { name, source }),
        }
    };

    let parsed = {
        let _span = tracing::info_span!("parse", bytes = text.len()).entered();
        ipam_core::parse_snapshot(&text)
    };

    match parsed {
        Ok(snapshot) => Ok((name, snapshot)),
        Err(ipam_core::Error::ParseSnapshot {
            field,
            line,
            column,
            problem,
        }) => Err(Error::ParseSnapshot {
            name,
            field,
            line,
            column,
            problem,
        }),
        Err(other) => Err(Error::ParseSnapshot {
            name,
            field: None,
            line: 0,
            column: 0,
            problem: other.to_string(),
        }),
    }
}

/// Fails with every consistency problem of `snapshot`, if it has any.
pub(crate) fn check(name: &str, snapshot: &Snapshot) -> Result<(), Error> {
    let problems = ipam_core::validate(snapshot);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckSnapshot {
            name: name.to_owned(),
            problems,
        })
    }
}

/// Reads, parses and validates `path`: planning an inconsistent snapshot would mislead.
pub(crate) fn load_valid(path: &Path) -> Result<Snapshot, Error> {
    let (name, snapshot) = load(path)?;
    check(&name, &snapshot)?;
    Ok(snapshot)
}

/// `file:line:column: field `path`: problem`, leaving out what is unknown.
pub(crate) fn describe_parse(
    name: &str,
    field: Option<&str>,
    line: usize,
    column: usize,
    problem: &str,
) -> String {
    let mut text = name.to_owned();
    if line > 0 {
        text.push_str(&format!(":{line}:{column}"));
    }
    if let Some(field) = field {
        text.push_str(&format!(": field `{field}`"));
    }
    text.push_str(": ");
    text.push_str(problem);
    text
}

/// A count line, then one line per problem.
pub(crate) fn describe_problems(name: &str, problems: &[Problem]) -> String {
    let mut text = format!(
        "{name}: the snapshot is inconsistent ({})",
        crate::render::count(problems.len() as u64, "problem", "problems")
    );
    for problem in problems {
        text.push_str(&format!("\n  {name}: {problem}"));
    }
    text
}
