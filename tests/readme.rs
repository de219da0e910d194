//! The documentation's commands, run exactly as written: the README's quickstart and the
//! own-scenario walkthrough of docs/scenarios.md.
//!
//! The blocks to run are marked in the Markdown by a line `<!-- test:NAME ATTRIBUTES -->`
//! right before a fenced block. Attributes: `file=NAME` (the block is a file to write under
//! that name), `run` (the block holds commands, one a line), `out=DIR,DIR` (run directories
//! the commands must produce). A command's leading `meanfield` or `cargo run --release --` is
//! replaced by the binary built for this test; every other word of it that names a file of the
//! repository (such as `scenarios/quickstart.toml`) is copied into the scratch folder first,
//! so that the command runs there as it would in a checkout. The series.csv column table of
//! docs/scenarios.md (`test:series-columns`) is checked against the columns the runs write.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_meanfield");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The ways the documentation calls the binary.
const PROGRAM_SPELLINGS: [&str; 2] = ["cargo run --release --", "meanfield"];

/// Files every finished run directory with a teacher holds (README.md, "The run directory").
const RUN_FILES: [&str; 9] = [
    "scenario.toml",
    "series.csv",
    "summary.json",
    "particles_init.npy",
    "particles_final.npy",
    "teacher.npy",
    "measures.csv",
    "report.html",
    "plots/risk.png",
];

/// A block of a Markdown file marked `<!-- test:NAME ... -->`.
#[derive(Debug)]
struct Marked {
    /// The marker's words after `test:NAME`: `key=value` pairs and flags.
    attributes: Vec<String>,
    /// The lines between the marker and the next blank line, or the fenced block's body.
    body: String,
}

impl Marked {
    /// The value of attribute `key=value`, if given.
    fn value(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.attributes.iter().any(|a| a == flag)
    }

    /// The directories of `out=DIR,DIR`.
    fn outputs(&self) -> Vec<&str> {
        self.value("out")
            .map(|list| list.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

fn read_doc(relative: &str) -> String {
    let path = Path::new(MANIFEST_DIR).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every block of `markdown` marked `test:name`, in order. A marker must be followed (after
/// blank lines) by a fenced block or, for tables, by the table's lines.
fn marked_blocks(markdown: &str, name: &str) -> Vec<Marked> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(inner) = line
            .trim()
            .strip_prefix("<!--")
            .and_then(|l| l.strip_suffix("-->"))
        else {
            continue;
        };
        let mut words = inner.split_whitespace();
        if words.next() != Some(format!("test:{name}").as_str()) {
            continue;
        }
        let attributes = words.map(String::from).collect();
        let mut rest = lines[at + 1..]
            .iter()
            .skip_while(|l| l.trim().is_empty())
            .peekable();
        let first = rest.peek().copied().copied().unwrap_or_default();
        let body: Vec<&str> = if first.trim_start().starts_with("```") {
            rest.skip(1)
                .take_while(|l| !l.trim_start().starts_with("```"))
                .copied()
                .collect()
        } else {
            rest.take_while(|l| !l.trim().is_empty()).copied().collect()
        };
        assert!(
            !body.is_empty(),
            "the marker `test:{name}` on line {} is followed by nothing",
            at + 1
        );
        blocks.push(Marked {
            attributes,
            body: body.join("\n") + "\n",
        });
    }
    blocks
}

/// The command line with the binary in place of its leading program spelling.
fn with_binary(command: &str) -> String {
    for spelling in PROGRAM_SPELLINGS {
        if let Some(arguments) = command.strip_prefix(spelling)
            && (arguments.is_empty() || arguments.starts_with(' '))
        {
            return format!("'{BIN}'{arguments}");
        }
    }
    panic!("not a meanfield command (expected one of {PROGRAM_SPELLINGS:?}): {command}");
}

/// Copies into `directory` every word of `command` that names a file of the repository.
fn copy_repository_files(command: &str, directory: &Path) {
    for word in command.split_whitespace() {
        let source = Path::new(MANIFEST_DIR).join(word);
        if word.starts_with('-') || Path::new(word).is_absolute() || !source.is_file() {
            continue;
        }
        let target = directory.join(word);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
    }
}

/// Runs every command line of `block` in `directory` through `sh -c`, as a user would type it,
/// and asserts that each exits with status 0.
fn run_commands(block: &Marked, directory: &Path) {
    let commands: Vec<&str> = block
        .body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!commands.is_empty(), "no command in {block:?}");
    for command in commands {
        copy_repository_files(command, directory);
        let output = Command::new("sh")
            .arg("-c")
            .arg(with_binary(command))
            .current_dir(directory)
            .env("CI", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "`{command}` in {} exited with {:?}\nstdout:\n{}\nstderr:\n{}",
            directory.display(),
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Asserts that `run_dir` is the directory of a finished run (the files of [`RUN_FILES`], no
/// checkpoint) and returns the header of its series.csv.
fn check_run_directory(run_dir: &Path) -> Vec<String> {
    for name in RUN_FILES {
        let path = run_dir.join(name);
        assert!(path.is_file(), "{} is missing", path.display());
    }
    assert!(!run_dir.join("checkpoint").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["status"], "finished", "{}", run_dir.display());
    let series = std::fs::read_to_string(run_dir.join("series.csv")).unwrap();
    let header = series.lines().next().unwrap_or_default();
    assert!(
        series.lines().count() > 2,
        "{}: too few rows",
        run_dir.display()
    );
    header.split(',').map(String::from).collect()
}

/// Runs the blocks named `name` of `doc` in a fresh scratch folder: writes the `file=` blocks,
/// runs the `run` blocks, checks their `out=` run directories. Returns the series.csv headers.
fn run_marked(doc: &str, name: &str) -> Vec<Vec<String>> {
    let blocks = marked_blocks(&read_doc(doc), name);
    assert!(
        blocks.iter().any(|b| b.has_flag("run")),
        "{doc} has no block marked `test:{name} run`"
    );
    let directory = common::scratch_directory("readme", name);
    let mut headers = Vec::new();
    for block in &blocks {
        if let Some(file) = block.value("file") {
            std::fs::write(directory.join(file), &block.body).unwrap();
        }
        if block.has_flag("run") {
            run_commands(block, &directory);
            let outputs = block.outputs();
            assert!(
                !outputs.is_empty(),
                "{doc}: `test:{name} run` names no out="
            );
            for out in outputs {
                headers.push(check_run_directory(&directory.join(out)));
            }
        }
    }
    headers
}

/// The column names of the first column of the table marked `test:series-columns` of
/// docs/scenarios.md: every backquoted name of a row.
fn documented_columns() -> Vec<String> {
    let blocks = marked_blocks(&read_doc("docs/scenarios.md"), "series-columns");
    assert_eq!(blocks.len(), 1, "one `test:series-columns` table");
    let mut names = Vec::new();
    for row in blocks[0].body.lines().skip(2) {
        let first_cell = row
            .trim()
            .trim_start_matches('|')
            .split('|')
            .next()
            .unwrap();
        names.extend(first_cell.split('`').skip(1).step_by(2).map(String::from));
    }
    names
}

/// Whether `column` is the documented `name`, where `<i>` stands for a teacher index.
fn matches(name: &str, column: &str) -> bool {
    match name.split_once("<i>") {
        Some((prefix, suffix)) => column
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())),
        None => name == column,
    }
}

/// Asserts that every column of every header is documented.
fn assert_documented(headers: &[Vec<String>], documented: &[String]) {
    for column in headers.iter().flatten() {
        assert!(
            documented.iter().any(|name| matches(name, column)),
            "series.csv column `{column}` is not in the table of docs/scenarios.md: {documented:?}"
        );
    }
}

#[test]
fn readme_quickstart_runs_as_written() {
    let headers = run_marked("README.md", "quickstart");
    assert_eq!(headers.len(), 1, "the quickstart makes one run directory");
    assert_documented(&headers, &documented_columns());
}

#[test]
fn scenario_walkthrough_runs_as_written_and_documents_every_series_column() {
    let headers = run_marked("docs/scenarios.md", "walkthrough");
    let documented = documented_columns();
    assert!(documented.len() >= 10, "{documented:?}");
    assert_documented(&headers, &documented);
    // The walkthrough (online mode, a teacher) writes every column there is.
    for name in &documented {
        assert!(
            headers.iter().flatten().any(|column| matches(name, column)),
            "docs/scenarios.md documents `{name}`, which the walkthrough's runs did not write: \
             {headers:?}"
        );
    }
}
