//! Reading a scenario file: the text to a [`Scenario`], and errors that say where.
//!
//! serde (through `serde_path_to_error`) gives the key path and the position where it
//! noticed the error; for a tagged value that is the start of its item, so the key's own line
//! is looked up in the text. The checks serde cannot make (an action at a point it cannot
//! fire at) are made here, with the same kind of error.

use std::path::Path;

use super::file::{Scenario, When};

/// A scenario file that could not be read: where, which key, why.
///
/// ```
/// use opencti_mock::Scenario;
/// let err = Scenario::from_yaml("name: x\ntitle: y\nfaults:\n  - when: { operation: workAdd }\n    do: { kind: delay, msec: 5 }\n", "x.yaml").unwrap_err();
/// assert_eq!((err.line, err.key.as_str()), (Some(5), "faults[0].do"));
/// assert!(err.to_string().starts_with("x.yaml:5:"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}{}{}: {key_part}{message}", line.map(|l| format!(":{l}")).unwrap_or_default(), column.filter(|_| line.is_some()).map(|c| format!(":{c}")).unwrap_or_default(), key_part = if key.is_empty() { String::new() } else { format!("`{key}`: ") })]
pub struct ScenarioError {
    /// The file (or the name given for the text).
    pub origin: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key path (`faults[1].when`), empty for the document itself.
    pub key: String,
    /// Why.
    pub message: String,
}

impl Scenario {
    /// Reads a scenario file.
    ///
    /// ```
    /// use opencti_mock::Scenario;
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("mine.yaml");
    /// std::fs::write(&file, "name: mine\ntitle: my platform\n").unwrap();
    /// assert_eq!(Scenario::load(&file).unwrap().name, "mine");
    /// let missing = Scenario::load(&dir.path().join("missing.yaml")).unwrap_err();
    /// assert!(missing.to_string().ends_with("missing.yaml: cannot read the file: No such file or directory (os error 2)"), "{missing}");
    /// ```
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            origin: path.display().to_string(),
            line: None,
            column: None,
            key: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Scenario::from_yaml(&text, &path.display().to_string())
    }

    /// Reads a scenario from YAML text; `origin` names it in errors.
    ///
    /// ```
    /// use opencti_mock::Scenario;
    /// let err = Scenario::from_yaml("name: x\ntitle: y\nprofile: \"8\"\n", "x.yaml").unwrap_err();
    /// assert_eq!((err.line, err.key.as_str()), (Some(3), "profile"));
    /// ```
    pub fn from_yaml(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let de = serde_norway::Deserializer::from_str(text);
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let location = inner.location();
            let mut message = inner.to_string();
            // serde_norway appends " at line L column C" and prefixes the path: both are
            // said in our own fields.
            if let Some(i) = message.rfind(" at line ") {
                message.truncate(i);
            }
            if let Some((path, rest)) = message.split_once(": ")
                && !path.is_empty()
                && key.starts_with(path)
            {
                message = rest.to_string();
            }
            let key = if key == "." { String::new() } else { key };
            // The key's own line when it is further down than where serde noticed (a tagged
            // value is read whole from the start of its item).
            let serde_line = location.as_ref().map(|l| l.line());
            let key_line = line_of_path(text, &key).filter(|k| serde_line.is_none_or(|s| *k > s));
            ScenarioError {
                origin: origin.to_string(),
                line: key_line.or(serde_line),
                column: if key_line.is_some() { None } else { location.as_ref().map(|l| l.column()) },
                key,
                message,
            }
        })?;
        scenario.check(text, origin)?;
        Ok(scenario)
    }

    /// The checks serde cannot make: each action at a trigger it can fire at.
    fn check(&self, text: &str, origin: &str) -> Result<(), ScenarioError> {
        for (i, fault) in self.faults.iter().enumerate() {
            let kind = fault.action.kind();
            let problem = match &fault.when {
                When::Operation { .. } if fault.action.acts_on_callback() => {
                    Some(format!("`{kind}` acts on a delivery to a callback: give it `when: {{ callback: N }}`"))
                }
                When::Callback { .. } if !fault.action.acts_on_callback() => {
                    Some(format!("`{kind}` does not act on a callback delivery: a `callback` trigger takes callback_status, callback_timeout or callback_slow"))
                }
                When::AfterPushes(_) | When::At(_) if fault.action.acts_on_request() || fault.action.acts_on_callback() => {
                    Some(format!("`{kind}` acts on a request: give it `when: {{ operation: NAME }}` (or `callback: N` for callback faults)"))
                }
                _ => None,
            };
            if let Some(message) = problem {
                return Err(ScenarioError {
                    origin: origin.to_string(),
                    line: line_of_path(text, &format!("faults[{i}].do")),
                    column: None,
                    key: format!("faults[{i}].do"),
                    message,
                });
            }
        }
        Ok(())
    }
}

/// The 1-based line of a key path (`faults[1].do`) in block-style YAML text, as far as it
/// can be followed: serde reports the position where it noticed an error, which for a
/// tagged value is the start of the enclosing item; the key the error names is more use to
/// the reader. Keys inside flow mappings (`{ a: 1 }`) are not followed (their line is the
/// line of the key holding them).
fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let column = |l: &str| l.len() - l.trim_start().len();
    let is_content = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    // The line reached and the column of the block holding what comes next.
    let (mut at, mut parent): (Option<usize>, Option<usize>) = (None, None);
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            // A key: the first line after `at` (or on it, after an item's dash) naming it
            // at a column deeper than the parent, before the parent block ends.
            let from = at.unwrap_or(0);
            let mut found = None;
            for (n, l) in lines.iter().enumerate().skip(from) {
                if !is_content(l) {
                    continue;
                }
                let mut col = column(l);
                let mut rest = l.trim_start();
                if n > from && parent.is_some_and(|p| col <= p) {
                    break;
                }
                while let Some(after) = rest.strip_prefix("- ") {
                    col += 2 + (after.len() - after.trim_start().len());
                    rest = after.trim_start();
                }
                if parent.is_none_or(|p| col > p) && rest.strip_prefix(key).is_some_and(|r| r.starts_with(':')) {
                    found = Some((n, col));
                    break;
                }
            }
            let (n, col) = found?;
            at = Some(n);
            parent = Some(col);
        }
        for index in indices.split(']').filter_map(|i| i.strip_prefix('[')) {
            // A list index: the `index`-th item (`- `) of the block under the line reached.
            let index: usize = index.parse().ok()?;
            let from = at.map_or(0, |a| a + 1);
            let mut seen = 0;
            let mut found = None;
            let mut item_col = None;
            for (n, l) in lines.iter().enumerate().skip(from) {
                if !is_content(l) {
                    continue;
                }
                let col = column(l);
                if parent.is_some_and(|p| col < p) || (parent == Some(col) && !l.trim_start().starts_with("- ")) {
                    break;
                }
                if l.trim_start().starts_with("- ") && item_col.is_none_or(|c| c == col) {
                    item_col = Some(col);
                    if seen == index {
                        found = Some((n, col));
                        break;
                    }
                    seen += 1;
                }
            }
            let (n, col) = found?;
            at = Some(n);
            parent = Some(col);
        }
    }
    at.map(|n| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_path_is_found_in_the_text() {
        let text = "name: t\n# a comment\nfaults:\n  - when: { at: 1s }\n    do: { kind: a }\n  - when:\n      operation: x\n    do:\n      kind: b\nlimits:\n  ingest_delay_ms: 3\n";
        assert_eq!(line_of_path(text, "faults[0].do"), Some(5));
        assert_eq!(line_of_path(text, "faults[1].when"), Some(6));
        assert_eq!(line_of_path(text, "faults[1].when.operation"), Some(7));
        assert_eq!(line_of_path(text, "faults[1].do.kind"), Some(9));
        assert_eq!(line_of_path(text, "limits.ingest_delay_ms"), Some(11));
        assert_eq!(line_of_path(text, "faults[2]"), None);
        assert_eq!(line_of_path(text, "profile"), None);
    }
}
