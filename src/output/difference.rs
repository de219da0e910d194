//! The keys in which two resolved scenarios differ: what a run directory's scenario.toml and
//! the scenario of a new run (or of a `--resume`) disagree on, as dotted paths with both values.

use std::fmt;

/// One key whose value differs between two resolved scenarios.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDifference {
    /// The dotted path of the key, e.g. `dynamics.dt`.
    pub key: String,
    /// Its value (TOML text) in the first scenario; `None` where the key is absent.
    pub old: Option<String>,
    /// Its value (TOML text) in the second scenario; `None` where the key is absent.
    pub new: Option<String>,
}

impl fmt::Display for KeyDifference {
    /// `dynamics.dt: 0.05 -> 0.01`, with `(absent)` for a missing key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{}: {} -> {}",
            self.key,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// The keys whose values differ between the resolved scenarios `old` and `new` (TOML text, as
/// [`Scenario::resolved_toml`](crate::scenario::Scenario::resolved_toml) writes it), sorted by
/// key. Tables are compared key by key; any other
/// value (arrays included) as a whole. Empty if the two are the same scenario, however their
/// keys are ordered.
///
/// # Errors
/// The TOML error, as text, if either is not a TOML document.
///
/// ```
/// use meanfield::output::difference::differing_keys;
///
/// let old = "name = \"quick\"\n[dynamics]\ndt = 0.05\n";
/// let new = "name = \"quick\"\n[dynamics]\ndt = 0.01\ntau = 0.1\n";
/// let differences = differing_keys(old, new)?;
/// let listed: Vec<String> = differences.iter().map(ToString::to_string).collect();
/// assert_eq!(listed, ["dynamics.dt: 0.05 -> 0.01", "dynamics.tau: (absent) -> 0.1"]);
/// # Ok::<(), String>(())
/// ```
pub fn differing_keys(old: &str, new: &str) -> Result<Vec<KeyDifference>, String> {
    let parse = |text: &str| text.parse::<toml::Table>().map_err(|e| e.to_string());
    let (old, new) = (parse(old)?, parse(new)?);
    let mut differences = Vec::new();
    compare_tables("", &old, &new, &mut differences);
    differences.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(differences)
}

fn compare_tables(
    prefix: &str,
    old: &toml::Table,
    new: &toml::Table,
    differences: &mut Vec<KeyDifference>,
) {
    let path = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    for (key, old_value) in old {
        compare_values(&path(key), Some(old_value), new.get(key), differences);
    }
    for (key, new_value) in new {
        if !old.contains_key(key) {
            compare_values(&path(key), None, Some(new_value), differences);
        }
    }
}

fn compare_values(
    key: &str,
    old: Option<&toml::Value>,
    new: Option<&toml::Value>,
    differences: &mut Vec<KeyDifference>,
) {
    match (old, new) {
        (Some(toml::Value::Table(old)), Some(toml::Value::Table(new))) => {
            compare_tables(key, old, new, differences);
        }
        // A table on one side only: each of its keys is absent on the other.
        (Some(toml::Value::Table(old)), None) => {
            compare_tables(key, old, &toml::Table::new(), differences);
        }
        (None, Some(toml::Value::Table(new))) => {
            compare_tables(key, &toml::Table::new(), new, differences);
        }
        _ => {
            let (old, new) = (old.map(value_text), new.map(value_text));
            if old != new {
                differences.push(KeyDifference {
                    key: key.to_string(),
                    old,
                    new,
                });
            }
        }
    }
}

/// A value as TOML text (strings quoted, floats in TOML's round-trip spelling).
fn value_text(value: &toml::Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_same_scenario_in_another_key_order_has_no_differences() {
        let old = "seed = 1\n[model]\nm = 12\nd = 3\n";
        let new = "seed = 1\n[model]\nd = 3\nm = 12\n";
        assert_eq!(differing_keys(old, new).unwrap(), Vec::new());
    }

    #[test]
    fn nested_keys_are_dotted_and_tables_on_one_side_list_their_keys() {
        let old = "[model]\nm = 12\n[init.a]\nstd = 1.0\n";
        let new = "[model]\nm = 16\n[record]\nfigures = false\n";
        let listed: Vec<String> = differing_keys(old, new)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "init.a.std: 1.0 -> (absent)",
                "model.m: 12 -> 16",
                "record.figures: (absent) -> false",
            ]
        );
    }

    #[test]
    fn text_that_is_not_toml_is_an_error() {
        assert!(differing_keys("m = ", "m = 1").is_err());
    }
}
