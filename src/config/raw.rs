//! The config file as written: a TOML tree whose every key and value keeps its byte span, so
//! each problem can name its line (STYLE 10).

use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::Problem;

/// A TOML table in document order.
pub type Table = Vec<(Spanned<String>, Spanned<Node>)>;

/// One TOML value, with spans on everything below it. A TOML date-time is refused at parse
/// time: no key takes one.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Spanned<Node>>),
    Table(Table),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v).map(Node::Int).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut table = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value()?;
            table.push((key, value));
        }
        Ok(Node::Table(table))
    }
}

impl Node {
    /// What this is, for "is X, not Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Bool(_) => "a boolean",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }
}

/// Byte offset → 1-based line number.
pub struct Lines {
    /// Byte offset at which each line starts.
    starts: Vec<usize>,
}

impl Lines {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let newlines = text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1);
        Lines { starts: std::iter::once(0).chain(newlines).collect() }
    }

    /// The line holding byte `offset` (the last line for an offset past the end).
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }

    /// The line a span starts on.
    pub fn of(&self, span: &Range<usize>) -> usize {
        self.line(span.start)
    }
}

/// Parses `text` into its root table, or the syntax error as a problem with its line.
pub fn parse(text: &str, lines: &Lines) -> Result<Table, Vec<Problem>> {
    match toml::from_str::<Node>(text) {
        Ok(Node::Table(root)) => Ok(root),
        // The TOML grammar makes the document a table; this arm only keeps the match total.
        Ok(other) => Err(vec![Problem {
            line: 1,
            what: format!("the file is {}, not a table", other.describe()),
            fix: "write `key = value` lines and [sections]".to_owned(),
        }]),
        Err(err) => Err(vec![syntax(&err, lines)]),
    }
}

/// A TOML syntax error as a problem, its message lines joined into one.
fn syntax(err: &toml::de::Error, lines: &Lines) -> Problem {
    let line = err.span().map_or(1, |span| lines.of(&span));
    // toml hands a date-time to a visitor as a map with this magic key; our key type then
    // fails. Say it in words.
    if err.message().contains("$__toml_private_datetime") {
        return Problem {
            line,
            what: "a date-time value, which no key takes".to_owned(),
            fix: "put it in quotes or remove it".to_owned(),
        };
    }
    let parts: Vec<&str> = err.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let message = parts.join("; ");
    Problem {
        line,
        what: format!("TOML syntax error: {message}"),
        fix: "fix the syntax (see https://toml.io); no other check ran".to_owned(),
    }
}
