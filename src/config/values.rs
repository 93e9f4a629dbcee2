//! Typed getters for one section's values: each reports a wrong type or a bad value as a
//! problem on its line and returns `None` for it, so the walk goes on.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::net::CidrError;
use super::raw::Node;
use super::schema::{example, nearest, suggest_key, Schema};
use super::validate::{Checker, Section};
use super::{Cidr, Problem};

/// Typed getters: each reports a wrong type (or a bad value) and returns `None` for it.
impl Checker<'_> {
    /// Records a problem on the line where `span` starts.
    pub(super) fn problem(&mut self, span: &Range<usize>, what: String, fix: impl Into<String>) {
        self.problem_at(self.lines.of(span), what, fix);
    }

    /// Records a problem on `line`.
    pub(super) fn problem_at(&mut self, line: usize, what: String, fix: impl Into<String>) {
        self.problems.push(Problem { line, what, fix: fix.into() });
    }

    /// A key's value is there but says nothing (an empty string or list).
    pub(super) fn missing_value(&mut self, s: &Section, key: &str, fix: &str) {
        let line = s.get(key).map_or(s.line, |node| self.lines.of(&node.span()));
        self.problem_at(line, format!("{}{key} is empty", s.schema.prefix), fix);
    }

    /// Reports every key the section's schema does not have, with a suggestion.
    pub(super) fn unknown_keys(&mut self, s: &Section) {
        for (key, _) in s.table {
            let name = key.get_ref();
            if s.schema.keys.iter().any(|(known, _)| known == name) {
                continue;
            }
            let what = format!("unknown key `{name}` in {}", s.schema.name);
            let fix = suggest_key(s.schema, name);
            self.problem(&key.span(), what, fix);
        }
    }

    /// A required key: reported at the section's header when missing.
    pub(super) fn required(&mut self, s: &Section, key: &str) -> Option<()> {
        if s.get(key).is_some() {
            return Some(());
        }
        let what = format!("{} has no {key}", s.schema.name);
        self.problem_at(s.line, what, format!("add {}", example(s.schema, key)));
        None
    }

    /// Reports that `key` holds the wrong type of value.
    pub(super) fn wrong_type(&mut self, s: &Section, key: &str, node: &Spanned<Node>, expected: &str) {
        let what = format!("{}{key} is {}, not {expected}", s.schema.prefix, node.get_ref().describe());
        self.problem(&node.span(), what, format!("write it like {}", example(s.schema, key)));
    }

    /// A string.
    pub(super) fn string<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<(&'t str, Range<usize>)> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Str(value) => Some((value.as_str(), node.span())),
            _ => {
                self.wrong_type(s, key, node, "a string");
                None
            }
        }
    }

    /// `true` or `false`.
    pub(super) fn boolean(&mut self, s: &Section, key: &str) -> Option<bool> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Bool(value) => Some(*value),
            _ => {
                self.wrong_type(s, key, node, "true or false");
                None
            }
        }
    }

    /// An integer, with its span for range problems.
    pub(super) fn integer(&mut self, s: &Section, key: &str) -> Option<(i64, Range<usize>)> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Int(value) => Some((*value, node.span())),
            _ => {
                self.wrong_type(s, key, node, "an integer");
                None
            }
        }
    }

    /// An array of strings; a wrong element is reported and left out.
    pub(super) fn strings<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<Vec<(&'t str, Range<usize>)>> {
        let node = s.get(key)?;
        let Node::Array(items) = node.get_ref() else {
            self.wrong_type(s, key, node, "an array of strings");
            return None;
        };
        let mut strings = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                Node::Str(value) => strings.push((value.as_str(), item.span())),
                other => {
                    let what = format!("{}{key}[{i}] is {}, not a string", s.schema.prefix, other.describe());
                    self.problem(&item.span(), what, format!("write it like {}", example(s.schema, key)));
                }
            }
        }
        Some(strings)
    }

    /// Drops (and reports) empty strings.
    pub(super) fn non_empty(&mut self, s: &Section, key: &str, values: Vec<(&str, Range<usize>)>) -> Vec<String> {
        let mut kept = Vec::new();
        for (value, span) in values {
            if value.is_empty() {
                let fix = format!("remove it or write it like {}", example(s.schema, key));
                self.problem(&span, format!("{}{key} has an empty string", s.schema.prefix), fix);
            } else {
                kept.push(value.to_owned());
            }
        }
        kept
    }

    /// A string that must be one of `choices`.
    pub(super) fn choice<T: Copy>(
        &mut self,
        s: &Section,
        key: &str,
        (value, span): (&str, Range<usize>),
        choices: &[(&str, T)],
        noun: &str,
    ) -> Option<T> {
        if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == value) {
            return Some(*choice);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
        let fix = match quoted.as_slice() {
            [one, two] => format!("use {one} or {two}"),
            [rest @ .., last] if names.len() <= 3 => format!("use {} or {last}", rest.join(", ")),
            _ => match nearest(value, names.iter().copied()) {
                Some(near) => format!("did you mean \"{near}\"? (one of {})", names.join(", ")),
                None => format!("use one of {}", names.join(", ")),
            },
        };
        // A scalar reads `policy.mode = "x"`, an element of a list `policy.check: "x"`.
        let is = if s.get(key).is_some_and(|node| matches!(node.get_ref(), Node::Array(_))) { ":" } else { " =" };
        self.problem(&span, format!("{}{key}{is} {value:?} is not a {noun}", s.schema.prefix), fix);
        None
    }

    /// A string parsed with `FromStr`; `form` says what it should be, `fix` how to write it.
    pub(super) fn parsed<T: std::str::FromStr>(&mut self, s: &Section, key: &str, form: &str, fix: &str) -> Option<T> {
        let (value, span) = self.string(s, key)?;
        if let Ok(parsed) = value.parse() {
            return Some(parsed);
        }
        self.problem(&span, format!("{}{key} = {value:?} is not {form}", s.schema.prefix), fix);
        None
    }

    /// A file path: `~/` expanded against $HOME, then absolute (a daemon's working directory
    /// is not the user's).
    pub(super) fn path(&mut self, s: &Section, key: &str) -> Option<PathBuf> {
        let (value, span) = self.string(s, key)?;
        let dotted = format!("{}{key}", s.schema.prefix);
        let expanded = if value == "~" || value.starts_with("~/") {
            match self.home {
                Some(home) => home.join(value.get(2..).unwrap_or("")),
                None => {
                    self.problem(
                        &span,
                        format!("{dotted} = {value:?} needs $HOME, which is not set"),
                        "write the full path",
                    );
                    return None;
                }
            }
        } else {
            PathBuf::from(value)
        };
        if expanded.is_absolute() {
            return Some(expanded);
        }
        let what = if value.is_empty() {
            format!("{dotted} is empty")
        } else {
            format!("{dotted} = {value:?} is not a full path")
        };
        self.problem(&span, what, format!("write a path starting with / or ~/, like {}", example(s.schema, key)));
        None
    }

    /// A domain name, lowercased.
    pub(super) fn domain(&mut self, s: &Section, key: &str, (value, span): (&str, Range<usize>)) -> Option<String> {
        if is_domain(value) {
            return Some(value.to_ascii_lowercase());
        }
        let what = format!("{}{key}: {value:?} is not a domain name", s.schema.prefix);
        self.problem(&span, what, "write a domain such as \"example.com\" (IDNs in xn-- form, no @ or scheme)");
        None
    }

    /// An array of domain names, lowercased.
    pub(super) fn domains(&mut self, s: &Section, key: &str) -> Vec<String> {
        let values = self.strings(s, key).unwrap_or_default();
        values.into_iter().filter_map(|value| self.domain(s, key, value)).collect()
    }

    /// An array of IP addresses or networks.
    pub(super) fn cidrs(&mut self, s: &Section, key: &str) -> Vec<Cidr> {
        let mut cidrs = Vec::new();
        for (value, span) in self.strings(s, key).unwrap_or_default() {
            match value.parse() {
                Ok(cidr) => cidrs.push(cidr),
                Err(CidrError(fix)) => {
                    let what = format!("{}{key}: {value:?} is not an IP address or network", s.schema.prefix);
                    self.problem(&span, what, fix);
                }
            }
        }
        cidrs
    }

    /// A sub-table such as `[policy]`.
    pub(super) fn section<'t>(&mut self, s: &Section<'t>, key: &str, schema: &'static Schema) -> Option<Section<'t>> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Table(table) => Some(Section { table, schema, line: self.lines.of(&node.span()) }),
            _ => {
                self.wrong_type(s, key, node, "a table");
                None
            }
        }
    }

    /// An array of tables such as `[[imap]]`.
    pub(super) fn sections<'t>(&mut self, s: &Section<'t>, key: &str, schema: &'static Schema) -> Vec<Section<'t>> {
        let Some(node) = s.get(key) else { return Vec::new() };
        let Node::Array(items) = node.get_ref() else {
            self.wrong_type(s, key, node, "an array of tables");
            return Vec::new();
        };
        let mut sections = Vec::new();
        for item in items {
            match item.get_ref() {
                Node::Table(table) => sections.push(Section { table, schema, line: self.lines.of(&item.span()) }),
                other => {
                    let what = format!("{key} holds {}, not a table", other.describe());
                    self.problem(&item.span(), what, format!("write it like {}", example(s.schema, key)));
                }
            }
        }
        sections
    }
}

/// An ASCII domain name (RFC 1035 §2.3.1 labels, `_` allowed as DNS allows it in practice).
fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
