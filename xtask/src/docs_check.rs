//! `cargo xtask docs-check`: every command the user documentation shows must exist.
//!
//! The check reads the shell blocks (```` ```sh ````, `bash`, `shell`, `console`) of the
//! documents in [`DOCUMENTS`], finds each invocation of `oci-ipam-operator`,
//! `oci-ipam-planner`, `oci-ipam-node` (directly, by path, after `--` as in `kubectl exec`, or
//! through `cargo run -p NAME --`) and `cargo xtask`, and checks offline that every
//! subcommand and every flag it uses exists, in the position it is used (a flag of the
//! operator's top level written after its subcommand is refused, as clap refuses it).
//!
//! What exists comes from the command definitions themselves:
//! - `cargo xtask`: this crate's own clap definition ([`crate::Cli`]);
//! - the three binaries: built once (`cargo build --bins`), then asked for `--help`, and each
//!   subcommand for its own `--help`. Only the planner's and the node agent's definitions are
//!   private to their `main.rs`, so reading clap's help text is the one way that covers all
//!   three alike.
//!
//! A failure names the document, the line and the unknown flag or subcommand.
//!
//! Known shortcoming: only names are checked, not values (`--format jsn` passes) nor
//! positional arguments, and the binaries' help is read in clap's default layout, so a
//! custom help template would need [`CommandSpec::from_help`] to follow it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

use crate::process::{Failure, Result, cargo, run, workspace_root};

/// The documents whose commands are checked, relative to the workspace root.
pub(crate) const DOCUMENTS: [&str; 4] = [
    "README.md",
    "README.zh-CN.md",
    "docs/quickstart.md",
    "docs/quickstart.zh-CN.md",
];

/// The binaries whose invocations are checked.
const BINARIES: [&str; 3] = ["oci-ipam-operator", "oci-ipam-planner", "oci-ipam-node"];

/// Options for `cargo xtask docs-check`: it takes none.
#[derive(clap::Args)]
pub(crate) struct Args {}

/// Checks every command of [`DOCUMENTS`]; fails listing each unknown flag or subcommand.
pub(crate) fn docs_check(_args: &Args) -> Result {
    let root = workspace_root();

    let mut invocations = Vec::new();
    for document in DOCUMENTS {
        let text = fs::read_to_string(root.join(document))
            .map_err(|err| Failure(format!("docs-check: reading {document}: {err}")))?;
        invocations.extend(invocations_in(document, &text));
    }

    let specs = command_specs(&root)?;

    let mut problems = Vec::new();
    for invocation in &invocations {
        if let Some(spec) = specs.get(&invocation.program) {
            problems.extend(check(invocation, spec));
        }
    }

    if problems.is_empty() {
        eprintln!(
            "xtask: docs-check: {} command(s) in {} document(s) use only real subcommands and \
             flags",
            invocations.len(),
            DOCUMENTS.len()
        );
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("{problem}");
        }
        Err(Failure(format!(
            "docs-check: {} unknown flag(s) or subcommand(s) in the documentation",
            problems.len()
        )))
    }
}

/// One command found in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// The document, as named in [`DOCUMENTS`].
    pub(crate) file: String,
    /// The 1-based line where the command starts.
    pub(crate) line: usize,
    /// `oci-ipam-operator`, `oci-ipam-planner`, `oci-ipam-node` or `cargo xtask`.
    pub(crate) program: String,
    /// The arguments after the program.
    pub(crate) args: Vec<String>,
}

/// The shell commands of `text`'s shell blocks that invoke a checked program.
pub(crate) fn invocations_in(file: &str, text: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    for (line, command) in shell_commands(text) {
        for segment in split_segments(&words(&command)) {
            if let Some((program, args)) = invocation(&segment) {
                found.push(Invocation {
                    file: file.to_owned(),
                    line,
                    program,
                    args,
                });
            }
        }
    }
    found
}

/// What a fenced block holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    /// `sh`, `bash`, `shell`, `zsh`: every line is a command (a `$ ` prompt is dropped).
    Shell,
    /// `console`: lines after a `$ ` prompt are commands, the rest is output.
    Console,
    /// Anything else: not read.
    Other,
}

/// The commands of the shell blocks of a Markdown text, each with its first line number:
/// prompts (`$ `) and comments stripped, continuation lines (`\`) joined.
fn shell_commands(text: &str) -> Vec<(usize, String)> {
    let mut commands = Vec::new();
    let mut fence: Option<(String, Block)> = None;
    let mut pending: Option<(usize, String)> = None;

    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();

        let Some((marker, block)) = &fence else {
            if let Some(marker) = fence_marker(trimmed) {
                let info = trimmed[marker.len()..].trim().to_ascii_lowercase();
                let block = match info.split_whitespace().next().unwrap_or("") {
                    "sh" | "bash" | "shell" | "zsh" => Block::Shell,
                    "console" => Block::Console,
                    _ => Block::Other,
                };
                fence = Some((marker, block));
            }
            continue;
        };

        if trimmed.starts_with(marker.as_str()) && trimmed[marker.len()..].trim().is_empty() {
            commands.extend(pending.take());
            fence = None;
            continue;
        }
        if *block == Block::Other {
            continue;
        }

        let mut content = trimmed;
        if pending.is_none() {
            match content.strip_prefix("$ ") {
                Some(rest) => content = rest,
                None if *block == Block::Console => continue,
                None => {}
            }
        }

        let content = strip_comment(content);
        let (content, continues) = match content.trim_end().strip_suffix('\\') {
            Some(head) => (head.to_owned(), true),
            None => (content.trim_end().to_owned(), false),
        };
        let (start, mut command) = pending.take().unwrap_or((index + 1, String::new()));
        command.push(' ');
        command.push_str(&content);
        if continues {
            pending = Some((start, command));
        } else if !command.trim().is_empty() {
            commands.push((start, command));
        }
    }
    commands
}

/// The fence that opens a code block (three or more backticks or tildes), if `line` opens one.
fn fence_marker(line: &str) -> Option<String> {
    let first = line.chars().next()?;
    if first != '`' && first != '~' {
        return None;
    }
    let count = line.chars().take_while(|&c| c == first).count();
    (count >= 3).then(|| first.to_string().repeat(count))
}

/// `line` without a trailing `# comment` (a `#` that starts a word outside quotes).
fn strip_comment(line: &str) -> String {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return line[..at].to_owned(),
            None => {}
        }
        previous = c;
    }
    line.to_owned()
}

/// Splits a command into words as a shell would, for the cases documentation uses: single
/// and double quotes, backslash escapes, and the operators `|`, `||`, `&&`, `;` as words.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = command.chars().peekable();

    while let Some(c) = chars.next() {
        match quote {
            Some(open) if c == open => quote = None,
            Some('"') if c == '\\' => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            Some(_) => word.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                '\\' => {
                    if let Some(next) = chars.next() {
                        word.push(next);
                    }
                    in_word = true;
                }
                '<' | '>' => {
                    // A file descriptor number right before the operator belongs to it (`2>`).
                    if in_word && !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
                        word.clear();
                    } else if in_word {
                        words.push(std::mem::take(&mut word));
                    }
                    in_word = false;
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    if chars.peek() == Some(&'&') {
                        chars.next();
                        while chars.next_if(|c| c.is_ascii_digit() || *c == '-').is_some() {}
                        words.push(REDIRECT_DONE.to_owned());
                    } else {
                        words.push(REDIRECT.to_owned());
                    }
                }
                '&' if chars.peek() == Some(&'>') => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                    chars.next();
                    words.push(REDIRECT.to_owned());
                }
                '|' | '&' | ';' => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                    let mut operator = c.to_string();
                    if c != ';' && chars.peek() == Some(&c) {
                        chars.next();
                        operator.push(c);
                    }
                    words.push(operator);
                }
                c if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                c => {
                    word.push(c);
                    in_word = true;
                }
            },
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A redirection whose target is the next word (`>`, `>>`, `<`, `2>`, `&>`), as [`words`]
/// marks it; the NUL keeps it apart from a quoted `>` argument.
const REDIRECT: &str = "\0redirect";

/// A redirection that names its target itself (`2>&1`).
const REDIRECT_DONE: &str = "\0redirect-done";

/// The simple commands of a word list, split at `|`, `||`, `&&`, `&` and `;`, without their
/// redirections.
fn split_segments(words: &[String]) -> Vec<Vec<String>> {
    words
        .split(|word| matches!(word.as_str(), "|" | "||" | "&&" | "&" | ";"))
        .map(|segment| {
            let mut kept = Vec::new();
            let mut words = segment.iter();
            while let Some(word) = words.next() {
                match word.as_str() {
                    REDIRECT => {
                        words.next();
                    }
                    REDIRECT_DONE => {}
                    _ => kept.push(word.clone()),
                }
            }
            kept
        })
        .filter(|segment| !segment.is_empty())
        .collect()
}

/// The checked program a simple command runs, with its arguments.
///
/// The program must stand where a command stands: first (after `VAR=value` assignments and
/// `sudo`/`env`/`time`/`exec`), or right after a `--` (as in `kubectl exec POD -- CMD`). A
/// resource name such as `deploy/oci-ipam-operator` or a Lease name is not an invocation.
fn invocation(segment: &[String]) -> Option<(String, Vec<String>)> {
    let assignment = |word: &String| word.contains('=') && !word.starts_with('-');
    let wrapper =
        |word: &String| matches!(word.as_str(), "sudo" | "env" | "time" | "exec" | "nohup");
    let start = segment
        .iter()
        .position(|word| !assignment(word) && !wrapper(word))
        .unwrap_or(segment.len());
    let words = segment.get(start..)?;

    if words.first().map(String::as_str) == Some("cargo") {
        return cargo_invocation(&words[1..]);
    }

    let mut positions = vec![0];
    positions.extend(
        words
            .iter()
            .enumerate()
            .filter(|(_, word)| word.as_str() == "--")
            .map(|(at, _)| at + 1),
    );
    positions.into_iter().find_map(|at| {
        let program = binary_name(words.get(at)?)?;
        Some((program.to_owned(), words[at + 1..].to_vec()))
    })
}

/// `cargo xtask ARGS`, or `cargo run [-p|--package|--bin] NAME ... -- ARGS` for a binary.
fn cargo_invocation(words: &[String]) -> Option<(String, Vec<String>)> {
    match words.first().map(String::as_str) {
        Some("xtask") => Some(("cargo xtask".to_owned(), words[1..].to_vec())),
        Some("run") => {
            let separator = words.iter().position(|word| word == "--");
            let options = &words[..separator.unwrap_or(words.len())];
            let program = options.windows(2).find_map(|pair| {
                matches!(pair[0].as_str(), "-p" | "--package" | "--bin")
                    .then(|| BINARIES.iter().find(|name| **name == pair[1]))
                    .flatten()
            })?;
            let args = separator.map_or_else(Vec::new, |at| words[at + 1..].to_vec());
            Some(((*program).to_owned(), args))
        }
        _ => None,
    }
}

/// The checked binary `word` names: its bare name, or a path to it in a build or install
/// directory (`target/debug/`, `target/release/`, `.../bin/`).
fn binary_name(word: &str) -> Option<&'static str> {
    BINARIES.iter().copied().find(|name| {
        if word == *name {
            return true;
        }
        let Some(parent) = word
            .strip_suffix(name)
            .and_then(|rest| rest.strip_suffix('/'))
        else {
            return false;
        };
        let directory = parent.rsplit('/').next().unwrap_or(parent);
        matches!(directory, "debug" | "release" | "bin")
    })
}

/// What one command or subcommand accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CommandSpec {
    /// Long flags (without `--`), each with whether it takes a value.
    pub(crate) long: BTreeMap<String, bool>,
    /// Short flags, each with whether it takes a value.
    pub(crate) short: BTreeMap<char, bool>,
    /// Subcommands by name.
    pub(crate) subcommands: BTreeMap<String, CommandSpec>,
}

impl CommandSpec {
    /// The spec of a clap command definition, its subcommands included.
    ///
    /// The definition is read as declared, not built: building runs clap's debug assertions
    /// over every subcommand, and a mistake in one subcommand's definition must not stop the
    /// check of the others. The flags and the `help` subcommand clap adds when it builds are
    /// added here the same way.
    pub(crate) fn from_clap(command: &clap::Command) -> Self {
        let mut spec = Self::declared(command);
        if command.get_version().is_some() {
            spec.long.entry("version".to_owned()).or_insert(false);
            spec.short.entry('V').or_insert(false);
        }
        spec
    }

    fn declared(command: &clap::Command) -> Self {
        let mut spec = Self::default();
        spec.long.insert("help".to_owned(), false);
        spec.short.insert('h', false);
        for arg in command.get_arguments() {
            let takes_value = arg.get_action().takes_values();
            if let Some(long) = arg.get_long() {
                spec.long.insert(long.to_owned(), takes_value);
            }
            for alias in arg.get_all_aliases().unwrap_or_default() {
                spec.long.insert(alias.to_owned(), takes_value);
            }
            if let Some(short) = arg.get_short() {
                spec.short.insert(short, takes_value);
            }
        }
        for sub in command.get_subcommands() {
            spec.subcommands
                .insert(sub.get_name().to_owned(), Self::declared(sub));
        }
        if !spec.subcommands.is_empty() {
            spec.subcommands
                .entry("help".to_owned())
                .or_insert_with(Self::default);
        }
        spec
    }

    /// The flags and subcommand names in clap's help text (`--help`), without subcommands'
    /// own flags (their help is a separate text).
    pub(crate) fn from_help(help: &str) -> (Self, Vec<String>) {
        let mut spec = Self::default();
        let mut subcommands = Vec::new();
        let mut section = "";

        for line in help.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let item = line.trim_start();
            match section {
                "Options:" if indent <= 6 && item.starts_with('-') => {
                    let (short, long) = option_line(item);
                    if let Some((name, takes_value)) = long {
                        spec.long.insert(name, takes_value);
                    }
                    if let Some((name, takes_value)) = short {
                        spec.short.insert(name, takes_value);
                    }
                }
                "Commands:" if indent == 2 => {
                    if let Some(name) = item.split_whitespace().next() {
                        subcommands.push(name.trim_end_matches(',').to_owned());
                    }
                }
                _ => {}
            }
        }
        (spec, subcommands)
    }
}

/// The short and long flag an option line of clap's help declares, each with whether it
/// takes a value: `-o, --output <OUTPUT>`, `--release-excess-ips`, `-h, --help`.
#[allow(clippy::type_complexity)]
fn option_line(item: &str) -> (Option<(char, bool)>, Option<(String, bool)>) {
    let declaration = item.split("  ").next().unwrap_or(item);
    let takes_value = declaration.contains(" <") || declaration.contains("=<");
    let mut short = None;
    let mut long = None;
    for part in declaration.split([',', ' ']) {
        if let Some(name) = part.strip_prefix("--") {
            let name = name.split(['=', '[']).next().unwrap_or(name);
            if !name.is_empty() {
                long = Some((name.to_owned(), takes_value));
            }
        } else if let Some(name) = part.strip_prefix('-') {
            let mut chars = name.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                short = Some((c, takes_value));
            }
        }
    }
    (short, long)
}

/// An unknown flag or subcommand in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Where the command is.
    pub(crate) file: String,
    /// Its line.
    pub(crate) line: usize,
    /// The command as written (program, subcommands, flag).
    pub(crate) command: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}`: {}",
            self.file, self.line, self.command, self.message
        )
    }
}

/// Checks one invocation's subcommands and flags against `spec`.
pub(crate) fn check(invocation: &Invocation, spec: &CommandSpec) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut spec = spec;
    let mut path = invocation.program.clone();
    let mut chosen = false;
    let mut args = invocation.args.iter().peekable();
    let mut problem = |path: &str, message: String| {
        problems.push(Problem {
            file: invocation.file.clone(),
            line: invocation.line,
            command: path.to_owned(),
            message,
        });
    };

    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if let Some(flag) = arg.strip_prefix("--") {
            let (name, inline_value) = match flag.split_once('=') {
                Some((name, _)) => (name, true),
                None => (flag, false),
            };
            match spec.long.get(name) {
                Some(&takes_value) => {
                    if takes_value && !inline_value {
                        args.next();
                    }
                }
                None => {
                    problem(
                        &path,
                        format!(
                            "unknown flag --{name}; `{path}` accepts {}",
                            accepted(spec.long.keys().map(|long| format!("--{long}")))
                        ),
                    );
                    // Its value, if it takes one, is not a subcommand to look up.
                    if !inline_value
                        && args.peek().is_some_and(|next| {
                            !next.starts_with('-') && !spec.subcommands.contains_key(*next)
                        })
                    {
                        args.next();
                    }
                }
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|rest| !rest.is_empty()) {
            for (at, short) in shorts.char_indices() {
                match spec.short.get(&short) {
                    Some(&takes_value) => {
                        if takes_value {
                            if at + short.len_utf8() == shorts.len() {
                                args.next();
                            }
                            break;
                        }
                    }
                    None => {
                        problem(&path, format!("unknown flag -{short}"));
                        break;
                    }
                }
            }
        } else if !chosen && !spec.subcommands.is_empty() {
            match spec.subcommands.get(arg.as_str()) {
                Some(sub) => {
                    spec = sub;
                    path = format!("{path} {arg}");
                }
                None => {
                    problem(
                        &path,
                        format!(
                            "unknown subcommand {arg}; `{path}` has {}",
                            accepted(spec.subcommands.keys().cloned())
                        ),
                    );
                    break;
                }
            }
            chosen = spec.subcommands.is_empty();
        }
    }
    problems
}

fn accepted(names: impl Iterator<Item = String>) -> String {
    let names: Vec<String> = names.collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// What each checked program accepts: `cargo xtask` from its clap definition, the binaries
/// from their help texts (built once).
fn command_specs(root: &Path) -> Result<BTreeMap<String, CommandSpec>> {
    let mut specs = BTreeMap::new();
    specs.insert(
        "cargo xtask".to_owned(),
        CommandSpec::from_clap(&crate::Cli::command()),
    );

    let mut build = cargo();
    build.args(["build", "--quiet", "--locked", "--bins"]);
    for binary in BINARIES {
        build.args(["-p", binary]);
    }
    run("docs-check: build the binaries", &mut build)?;

    let directory = target_dir(root).join("debug");
    for binary in BINARIES {
        let path = directory.join(binary);
        specs.insert(binary.to_owned(), spec_from_binary(&path, &[])?);
    }
    Ok(specs)
}

/// The spec of `binary SUBCOMMANDS...`, read from `--help`, recursing into subcommands.
fn spec_from_binary(binary: &Path, subcommands: &[String]) -> Result<CommandSpec> {
    let output = Command::new(binary)
        .args(subcommands)
        .arg("--help")
        .output()
        .map_err(|err| Failure(format!("docs-check: running {}: {err}", binary.display())))?;
    if !output.status.success() {
        return Err(Failure(format!(
            "docs-check: `{} {} --help` failed ({})",
            binary.display(),
            subcommands.join(" "),
            output.status
        )));
    }
    let help = String::from_utf8_lossy(&output.stdout);

    let (mut spec, names) = CommandSpec::from_help(&help);
    for name in names {
        let sub = if name == "help" {
            CommandSpec::default()
        } else {
            let mut path = subcommands.to_vec();
            path.push(name.clone());
            spec_from_binary(binary, &path)?
        };
        spec.subcommands.insert(name, sub);
    }
    Ok(spec)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# Title

```sh
cargo xtask demo     # a comment
oci-ipam-planner capacity examples/snapshot.json --format json
```

Output, not commands:

```text
oci-ipam-planner --not-a-command
```

```console
$ kubectl -n kube-system exec deploy/oci-ipam-operator -- \
    oci-ipam-operator --cluster-name prod check
OK    output line
$ kubectl get lease oci-ipam-operator -o yaml
```

```bash
OCI_IPAM_LOG=debug cargo run -p oci-ipam-planner -- plan x.json | head -3
./target/debug/oci-ipam-node --node-name "a b" --mtu=1500 && echo done
```
"#;

    fn found() -> Vec<(usize, String, Vec<String>)> {
        invocations_in("doc.md", DOC)
            .into_iter()
            .map(|inv| (inv.line, inv.program, inv.args))
            .collect()
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn extracts_invocations_from_shell_blocks_only() {
        assert_eq!(
            found(),
            vec![
                (4, "cargo xtask".to_owned(), strings(&["demo"])),
                (
                    5,
                    "oci-ipam-planner".to_owned(),
                    strings(&["capacity", "examples/snapshot.json", "--format", "json"])
                ),
                (
                    15,
                    "oci-ipam-operator".to_owned(),
                    strings(&["--cluster-name", "prod", "check"])
                ),
                (
                    22,
                    "oci-ipam-planner".to_owned(),
                    strings(&["plan", "x.json"])
                ),
                (
                    23,
                    "oci-ipam-node".to_owned(),
                    strings(&["--node-name", "a b", "--mtu=1500"])
                ),
            ]
        );
    }

    #[test]
    fn redirections_are_not_arguments() {
        let words = words("oci-ipam-operator --log-format text 2> /tmp/op.log >>out 2>&1 <in");
        let segments = split_segments(&words);

        assert_eq!(
            segments,
            vec![strings(&["oci-ipam-operator", "--log-format", "text"])]
        );
        assert_eq!(
            split_segments(&super::words("grep '>' x.txt &> /dev/null")),
            vec![strings(&["grep", ">", "x.txt"])]
        );
    }

    #[test]
    fn resource_names_are_not_invocations() {
        let words = words("kubectl logs deploy/oci-ipam-operator --tail 5");

        assert_eq!(invocation(&words), None);
    }

    fn planner() -> CommandSpec {
        let help = "Plan OCI IPAM offline from a snapshot\n\n\
            Usage: oci-ipam-planner <COMMAND>\n\n\
            Commands:\n  \
              plan      Show what the operator would do\n            \
                        continued description\n  \
              capacity  Show capacity\n  \
              help      Print this message\n\n\
            Options:\n  \
              -h, --help\n          Print help\n  \
              -V, --version\n          Print version\n";
        let (mut spec, names) = CommandSpec::from_help(help);
        assert_eq!(names, strings(&["plan", "capacity", "help"]));

        let sub = "Usage: oci-ipam-planner plan [OPTIONS] <SNAPSHOT>\n\n\
            Arguments:\n  <SNAPSHOT>\n          The snapshot file\n\n\
            Options:\n      \
                --format <FORMAT>\n          Output format\n\n          \
                Possible values:\n          - table: Aligned columns\n  \
              -h, --help\n          Print help\n";
        let (plan, _) = CommandSpec::from_help(sub);
        spec.subcommands.insert("plan".to_owned(), plan.clone());
        spec.subcommands.insert("capacity".to_owned(), plan);
        spec.subcommands
            .insert("help".to_owned(), CommandSpec::default());
        spec
    }

    fn problems(args: &[&str]) -> Vec<String> {
        let invocation = Invocation {
            file: "docs/quickstart.md".to_owned(),
            line: 7,
            program: "oci-ipam-planner".to_owned(),
            args: strings(args),
        };
        check(&invocation, &planner())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn help_text_gives_flags_with_their_values() {
        let spec = planner();

        assert_eq!(spec.long.get("version"), Some(&false));
        assert_eq!(spec.short.get(&'h'), Some(&false));
        assert_eq!(spec.subcommands["plan"].long.get("format"), Some(&true));
        assert!(!spec.subcommands["plan"].long.contains_key("table"));
    }

    #[test]
    fn known_flags_and_subcommands_pass() {
        assert!(problems(&["plan", "--format", "json", "snap.json"]).is_empty());
        assert!(problems(&["capacity", "--format=table", "-"]).is_empty());
        assert!(problems(&["--help"]).is_empty());
    }

    #[test]
    fn an_unknown_flag_is_named_with_file_and_line() {
        assert_eq!(
            problems(&["plan", "--formt", "json", "snap.json"]),
            vec![
                "docs/quickstart.md:7: `oci-ipam-planner plan`: unknown flag --formt; \
                 `oci-ipam-planner plan` accepts --format, --help"
                    .to_owned()
            ]
        );
        assert_eq!(problems(&["plan", "-x"]).len(), 1);
    }

    #[test]
    fn an_unknown_subcommand_is_named() {
        let found = problems(&["capacty", "snap.json"]);

        assert_eq!(found.len(), 1);
        assert!(found[0].contains("unknown subcommand capacty"), "{found:?}");
    }

    #[test]
    fn a_subcommand_flag_before_the_subcommand_is_refused() {
        assert_eq!(
            problems(&["--format", "json", "plan", "snap.json"]).len(),
            1
        );
    }

    #[test]
    fn the_help_parser_agrees_with_clap_definitions() {
        #[derive(clap::Parser)]
        #[command(name = "probe", version)]
        struct Probe {
            /// A value flag.
            #[arg(long, short = 'o', default_value = "-")]
            output: String,
            /// A switch.
            #[arg(long)]
            release_excess_ips: bool,
            #[command(subcommand)]
            command: Option<Sub>,
        }
        #[derive(clap::Subcommand)]
        enum Sub {
            /// Plan.
            Plan {
                /// Format.
                #[arg(long, value_enum, default_value_t = Format::Table)]
                format: Format,
            },
            /// Check.
            Check,
        }
        #[derive(Clone, Copy, clap::ValueEnum)]
        enum Format {
            /// For people.
            Table,
            /// For programs.
            Json,
        }

        let mut command = <Probe as CommandFactory>::command();
        let from_clap = CommandSpec::from_clap(&command);

        command.build();
        let (mut from_help, names) =
            CommandSpec::from_help(&command.render_long_help().to_string());
        for name in names {
            let sub = match command.find_subcommand_mut(&name) {
                Some(sub) if name != "help" => {
                    CommandSpec::from_help(&sub.render_long_help().to_string()).0
                }
                _ => CommandSpec::default(),
            };
            from_help.subcommands.insert(name, sub);
        }

        assert_eq!(from_help, from_clap);
        assert_eq!(from_clap.long.get("output"), Some(&true));
        assert_eq!(from_clap.long.get("release-excess-ips"), Some(&false));
        assert!(from_clap.subcommands.contains_key("help"));
    }

    #[test]
    fn cargo_xtask_definition_is_read_without_building_it() {
        let spec = CommandSpec::from_clap(&crate::Cli::command());

        assert!(spec.subcommands.contains_key("demo"));
        assert!(spec.subcommands.contains_key("docs-check"));
        assert_eq!(spec.subcommands["gen"].long.get("check"), Some(&false));
    }
}
