//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): the syntax
//! tree this service works with, its parser and canonical text, and
//! in-memory evaluation against SCIM JSON. Compiling a filter to SQL lives in
//! `store::scim_query`.
//!
//! The parser is a small hand-written recursive descent rather than a wrapper
//! around the `scim_v2` crate: that crate's LALRPOP grammar folds the
//! whitespace around operators into its tokens, so its errors point at the
//! space before the offending word (in bytes, not characters) and name what
//! was expected as the grammar's regular expressions. A 400 `invalidFilter`
//! must tell an IdP administrator where the filter broke and what would have
//! been right, which needs our own positions and messages.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ScimError, ScimType};
pub use super::resolved::CompareOp;
use super::schema::{Attribute, Mutability, ResourceKind, Returned, Schema, Type, Uniqueness};

/// `urn:…:User:name.givenName`: an optional schema URN, an attribute name
/// and an optional sub-attribute. Names are kept as written; schema lookups
/// are case-insensitive.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub_attribute: Option<String>,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op value`; `value` is a JSON string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `attrPath pr`.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x.com"]`: some value of the
    /// multi-valued `attribute` matches `filter`, whose paths name its
    /// sub-attributes.
    ValuePath {
        attribute: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH operation's `path`: `attrPath`, or
/// `attrPath[valFilter]` optionally followed by `.subAttr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attribute: AttrPath,
    pub value_filter: Option<Filter>,
    /// The sub-attribute after a value filter: `emails[type eq "work"].value`.
    pub sub_attribute: Option<String>,
}

/// A filter or path that does not parse: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct SyntaxError {
    /// 0-based character offset into the text.
    pub position: usize,
    pub message: String,
}

/// How deeply parentheses, `not (…)` and value filters may nest. Real IdP
/// filters nest two or three levels; the bound keeps recursion (here, in
/// evaluation and in the SQL compiler) far from the stack's end.
pub const MAX_DEPTH: usize = 32;
/// How many attribute expressions one filter may hold: each becomes SQL.
pub const MAX_TERMS: usize = 200;

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Parses a filter: the full RFC 7644 §3.4.2.2 grammar, operators and
/// keywords in any case, `and` binding tighter than `or`.
pub fn parse_filter(text: &str) -> Result<Filter, SyntaxError> {
    let mut parser = Parser::new(text);
    parser.skip_ws();
    if parser.at_end() {
        return Err(parser.error(
            parser.pos,
            "expected a filter such as userName eq \"bjensen\", but the filter is empty",
        ));
    }
    let filter = parser.or(Context::Filter)?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(parser.error(
            parser.pos,
            "expected \"and\", \"or\" or the end of the filter",
        ));
    }
    Ok(filter)
}

/// Parses a PATCH path: `attrPath`, `attrPath[valFilter]` or
/// `attrPath[valFilter].subAttr`, URN-qualified or not.
pub fn parse_patch_path(text: &str) -> Result<PatchPath, SyntaxError> {
    let mut parser = Parser::new(text);
    parser.skip_ws();
    let (attribute, attribute_text) = parser.attr_path("an attribute path")?;
    let mut value_filter = None;
    let mut sub_attribute = None;
    if parser.peek() == Some('[') {
        let open = parser.pos;
        if attribute.sub_attribute.is_some() {
            return Err(parser.error(
                open,
                format!(
                    "a value filter follows an attribute, not a sub-attribute: write \
                     {}[…].{}",
                    AttrPath {
                        sub_attribute: None,
                        ..attribute.clone()
                    },
                    attribute.sub_attribute.as_deref().unwrap_or_default()
                ),
            ));
        }
        value_filter = Some(parser.bracketed(open, &attribute_text)?);
        if parser.peek() == Some('.') {
            parser.pos += 1;
            sub_attribute = Some(parser.sub_attribute_after_bracket()?);
        }
    }
    parser.skip_ws();
    if !parser.at_end() {
        let expected = if value_filter.is_some() {
            "expected \".subAttribute\" or the end of the path"
        } else {
            "expected \"[\" or the end of the path"
        };
        return Err(parser.error(parser.pos, expected));
    }
    Ok(PatchPath {
        attribute,
        value_filter,
        sub_attribute,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// A whole filter.
    Filter,
    /// Inside `attr[…]`: paths name sub-attributes, no further `[`.
    ValueFilter,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    terms: usize,
}

const OPERATOR_EXPECTED: &str =
    "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
const VALUE_EXPECTED: &str =
    "expected a value (a \"quoted string\", a number, true, false or null)";

impl Parser {
    fn new(text: &str) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
            terms: 0,
        }
    }

    fn error(&self, position: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            position,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    /// The run of name characters at `at` (letters, digits, `-`, `_`).
    fn word_at(&self, at: usize) -> (usize, String) {
        let mut end = at;
        while self
            .chars
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            end += 1;
        }
        (end, self.text(at, end))
    }

    /// Whether keyword `word` (`and`, `or`) stands at the cursor, whole.
    fn keyword_here(&self, word: &str) -> bool {
        let (end, found) = self.word_at(self.pos);
        found.eq_ignore_ascii_case(word) && end > self.pos
    }

    fn enter(&mut self, at: usize) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                at,
                format!(
                    "the filter nests deeper than {MAX_DEPTH} levels of parentheses, \
                     \"not (\" and value filters; simplify it"
                ),
            ));
        }
        Ok(())
    }

    /// `or` := `and` { "or" `and` }
    fn or(&mut self, context: Context) -> Result<Filter, SyntaxError> {
        let mut left = self.and(context)?;
        loop {
            let before = self.pos;
            self.skip_ws();
            if self.keyword_here("or") {
                self.pos += 2;
                let right = self.and(context)?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                self.pos = before;
                return Ok(left);
            }
        }
    }

    /// `and` := `term` { "and" `term` }
    fn and(&mut self, context: Context) -> Result<Filter, SyntaxError> {
        let mut left = self.term(context)?;
        loop {
            let before = self.pos;
            self.skip_ws();
            if self.keyword_here("and") {
                self.pos += 3;
                let right = self.term(context)?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                self.pos = before;
                return Ok(left);
            }
        }
    }

    /// `term` := "(" `or` ")" | "not" "(" `or` ")" | attribute expression
    fn term(&mut self, context: Context) -> Result<Filter, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(self.error(
                start,
                "expected an attribute name, \"(\" or \"not (\", but the filter ends here",
            )),
            Some('(') => {
                self.enter(start)?;
                self.pos += 1;
                let inner = self.or(context)?;
                self.close(')', start, "\"(\"")?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(_) => {
                let (end, word) = self.word_at(start);
                if word.eq_ignore_ascii_case("not") {
                    let mut after = end;
                    while self.chars.get(after).is_some_and(|c| c.is_whitespace()) {
                        after += 1;
                    }
                    if self.chars.get(after) == Some(&'(') {
                        self.enter(start)?;
                        self.pos = after + 1;
                        let inner = self.or(context)?;
                        self.close(')', after, "\"not (\"")?;
                        self.depth -= 1;
                        return Ok(Filter::Not(Box::new(inner)));
                    }
                }
                self.attribute_expression(context)
            }
        }
    }

    /// Expects `closer` after optional whitespace; `open` is where the
    /// construct it closes began.
    fn close(&mut self, closer: char, open: usize, what: &str) -> Result<(), SyntaxError> {
        self.skip_ws();
        if self.peek() == Some(closer) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(
                self.pos,
                format!(
                    "expected \"and\", \"or\" or \"{closer}\" to close the {what} opened at position {open}"
                ),
            ))
        }
    }

    /// `attrPath pr`, `attrPath op value`, or `attrPath[valFilter]`.
    fn attribute_expression(&mut self, context: Context) -> Result<Filter, SyntaxError> {
        let start = self.pos;
        let (path, path_text) = self.attr_path("an attribute name, \"(\" or \"not (\"")?;
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.error(
                start,
                format!("the filter has more than {MAX_TERMS} comparisons; split the query"),
            ));
        }
        if self.peek() == Some('[') {
            let open = self.pos;
            if context == Context::ValueFilter {
                return Err(self.error(
                    open,
                    "a value filter cannot contain another value filter (\"[\")",
                ));
            }
            if path.sub_attribute.is_some() {
                return Err(self.error(
                    open,
                    format!(
                        "a value filter follows an attribute, not a sub-attribute: \"{path_text}[\""
                    ),
                ));
            }
            let mut filter = self.bracketed(open, &path_text)?;
            if self.peek() == Some('.') {
                // `emails[type eq "work"].value eq "x"`: not in RFC 7644's
                // grammar, but Entra ID sends it. It means "an email of type
                // work whose value is x": the comparison joins the brackets.
                self.pos += 1;
                let sub = self.sub_attribute_after_bracket()?;
                let shown = format!("{path_text}[…].{sub}");
                let comparison = self.comparison(path_from_sub(sub), &shown)?;
                filter = Filter::And(Box::new(filter), Box::new(comparison));
            }
            return Ok(Filter::ValuePath {
                attribute: path,
                filter: Box::new(filter),
            });
        }
        self.comparison(path, &path_text)
    }

    /// `pr` or `op value` after attribute path `path` (shown as `path_text`).
    fn comparison(&mut self, path: AttrPath, path_text: &str) -> Result<Filter, SyntaxError> {
        self.skip_ws();
        let op_at = self.pos;
        let (op_end, word) = self.word_at(op_at);
        let op = match word.to_ascii_lowercase().as_str() {
            "pr" => {
                self.pos = op_end;
                return Ok(Filter::Present(path));
            }
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ if path_text.eq_ignore_ascii_case("not") => {
                return Err(self.error(op_at, "expected \"(\" after \"not\""));
            }
            _ => {
                return Err(self.error(op_at, format!("{OPERATOR_EXPECTED} after \"{path_text}\"")));
            }
        };
        self.pos = op_end;
        let value = self.value(&word)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `[` valFilter `]`, the cursor on the `[`.
    fn bracketed(&mut self, open: usize, attribute: &str) -> Result<Filter, SyntaxError> {
        self.enter(open)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(']') {
            return Err(self.error(
                self.pos,
                format!(
                    "expected a filter on the sub-attributes of \"{attribute}\" inside the brackets"
                ),
            ));
        }
        let filter = self.or(Context::ValueFilter)?;
        self.close(']', open, "\"[\"")?;
        self.depth -= 1;
        Ok(filter)
    }

    /// An attribute path; `expected` says what the caller wanted here, for
    /// the error when there is none. Returns the path and its text.
    fn attr_path(&mut self, expected: &str) -> Result<(AttrPath, String), SyntaxError> {
        let start = self.pos;
        let mut end = start;
        while self
            .chars
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':' | '.'))
        {
            end += 1;
        }
        if end == start {
            let message = if self.at_end() {
                format!("expected {expected}, but the text ends here")
            } else {
                format!("expected {expected}")
            };
            return Err(self.error(start, message));
        }
        let token = self.text(start, end);
        let (urn, rest_start) = if token.len() >= 4 && token[..4].eq_ignore_ascii_case("urn:") {
            // The URN runs to the last colon: `urn:…:2.0:User:manager.value`.
            let last_colon = self.chars[start..end]
                .iter()
                .rposition(|c| *c == ':')
                .unwrap_or(3);
            (
                Some(self.text(start, start + last_colon)),
                start + last_colon + 1,
            )
        } else {
            if let Some(colon) = self.chars[start..end].iter().position(|c| *c == ':') {
                return Err(self.error(
                    start + colon,
                    "unexpected \":\" in an attribute name (a schema URN starts with \"urn:\")",
                ));
            }
            (None, start)
        };
        if rest_start == end {
            return Err(self.error(
                end,
                format!(
                    "expected an attribute name after the schema URN \"{}:\"",
                    urn.unwrap_or_default()
                ),
            ));
        }
        // `name` or `name.sub`.
        let rest = &self.chars[rest_start..end];
        let dots: Vec<usize> = rest
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '.')
            .map(|(at, _)| rest_start + at)
            .collect();
        if dots.len() > 1 {
            return Err(self.error(
                dots[1],
                "an attribute path has at most one sub-attribute (name.subAttribute)",
            ));
        }
        let name_end = dots.first().copied().unwrap_or(end);
        let name = self.attribute_name(rest_start, name_end, "an attribute name")?;
        let sub_attribute = match dots.first() {
            Some(dot) => Some(self.attribute_name(
                dot + 1,
                end,
                &format!("a sub-attribute name after \"{}.\"", self.text(start, *dot)),
            )?),
            None => None,
        };
        self.pos = end;
        Ok((
            AttrPath {
                urn,
                name,
                sub_attribute,
            },
            token,
        ))
    }

    /// Checks `chars[from..to]` is an ATTRNAME (a letter, then letters,
    /// digits, `-` or `_`; `$ref` too).
    fn attribute_name(
        &self,
        from: usize,
        to: usize,
        expected: &str,
    ) -> Result<String, SyntaxError> {
        let mut at = from;
        if self.chars.get(at) == Some(&'$') && to > at + 1 {
            at += 1;
        }
        if at >= to || !self.chars[at].is_ascii_alphabetic() {
            return Err(self.error(at.min(to), format!("expected {expected}")));
        }
        if let Some(bad) = (at..to).find(|i| {
            let c = self.chars[*i];
            !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        }) {
            return Err(self.error(
                bad,
                format!("unexpected \"{}\" in an attribute name", self.chars[bad]),
            ));
        }
        Ok(self.text(from, to))
    }

    /// The `subAttr` after `]` in a PATCH path, the cursor after the dot.
    fn sub_attribute_after_bracket(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        let (end, _) = self.word_at(start);
        let end = if self.chars.get(start) == Some(&'$') {
            self.word_at(start + 1).0
        } else {
            end
        };
        let name =
            self.attribute_name(start, end.max(start), "a sub-attribute name after \"].\"")?;
        self.pos = end;
        Ok(name)
    }

    /// A comparison value after operator `op`.
    fn value(&mut self, op: &str) -> Result<Value, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('"') => self.string().map(Value::String),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let (end, word) = self.word_at(start);
                let value = match word.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => {
                        return Err(self.error(
                            start,
                            format!("{VALUE_EXPECTED} after \"{op}\" (strings need double quotes)"),
                        ));
                    }
                };
                self.pos = end;
                Ok(value)
            }
            _ => Err(self.error(start, format!("{VALUE_EXPECTED} after \"{op}\""))),
        }
    }

    /// A JSON string, the cursor on its opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(
                    open,
                    "the string that starts here is never closed: add the closing '\"'",
                ));
            };
            self.pos += 1;
            match c {
                '"' => {
                    // One rule for text from outside (no NUL, no control
                    // characters, a length cap), so that no backend gets a
                    // value it cannot bind or match.
                    return crate::text::check(
                        "the filter value",
                        &text,
                        crate::text::Kind::Name,
                        crate::text::MAX_FILTER_VALUE,
                    )
                    .map(|()| text)
                    .map_err(|err| self.error(open, err.to_string()));
                }
                '\\' => text.push(self.escape()?),
                c => text.push(c),
            }
        }
    }

    /// One escape sequence, the cursor after its backslash.
    fn escape(&mut self) -> Result<char, SyntaxError> {
        let backslash = self.pos - 1;
        let invalid = |parser: &Parser| {
            parser.error(
                backslash,
                "invalid escape in a string: use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX",
            )
        };
        let Some(c) = self.peek() else {
            return Err(invalid(self));
        };
        self.pos += 1;
        Ok(match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let high = self.hex4(backslash)?;
                if (0xD800..0xDC00).contains(&high) {
                    // A UTF-16 surrogate pair: `\uD83D\uDE00`.
                    let low_at = self.pos;
                    if self.chars.get(low_at) != Some(&'\\')
                        || self.chars.get(low_at + 1) != Some(&'u')
                    {
                        return Err(self.error(
                            backslash,
                            "a \\u escape of a high surrogate must be followed by \\u and a low surrogate",
                        ));
                    }
                    self.pos += 2;
                    let low = self.hex4(low_at)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(
                            self.error(low_at, "expected a low surrogate (\\uDC00–\\uDFFF)")
                        );
                    }
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code).ok_or_else(|| invalid(self))?
                } else {
                    char::from_u32(high).ok_or_else(|| {
                        self.error(backslash, "a lone low surrogate cannot stand in a string")
                    })?
                }
            }
            _ => return Err(invalid(self)),
        })
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, SyntaxError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16)).ok_or_else(|| {
                self.error(escape_at, "a \\u escape needs four hexadecimal digits")
            })?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    /// A JSON number.
    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        let digits = |parser: &mut Parser| {
            let from = parser.pos;
            while parser.peek().is_some_and(|c| c.is_ascii_digit()) {
                parser.pos += 1;
            }
            parser.pos > from
        };
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        if self.peek() == Some('0') {
            self.pos += 1;
        } else if !digits(self) {
            return Err(self.error(self.pos, "expected a digit in the number"));
        }
        if self.peek() == Some('.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.error(self.pos, "expected a digit after the decimal point"));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error(self.pos, "expected a digit in the exponent"));
            }
        }
        let text = self.text(start, self.pos);
        let integer = !text.contains(['.', 'e', 'E']);
        // Integers exactly when they fit; otherwise the correctly rounded
        // double (std's parser: serde_json's default one can be off by an
        // ulp, and the printed filter would then parse to another number).
        let number = match (text.parse::<i64>(), text.parse::<u64>()) {
            (Ok(value), _) if integer => Some(Value::from(value)),
            (_, Ok(value)) if integer => Some(Value::from(value)),
            _ => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
        };
        number.ok_or_else(|| self.error(start, format!("the number {text} is out of range")))
    }
}

fn path_from_sub(name: String) -> AttrPath {
    AttrPath {
        urn: None,
        name,
        sub_attribute: None,
    }
}

// ---------------------------------------------------------------------------
// Canonical text
// ---------------------------------------------------------------------------

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attribute {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl Filter {
    /// Binding strength: `or` < `and` < everything else.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }
}

/// Writes `child` of a binary operator of precedence `parent`, in
/// parentheses when it binds less tightly (or equally, on the right: both
/// operators associate to the left, so `a and (b and c)` keeps its shape).
fn write_operand(
    f: &mut fmt::Formatter<'_>,
    child: &Filter,
    parent: u8,
    right: bool,
) -> fmt::Result {
    let needs = child.precedence() < parent || (right && child.precedence() == parent);
    if needs {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

impl fmt::Display for Filter {
    /// Canonical text: lowercase operators, JSON values, parentheses only
    /// where precedence needs them. It parses back to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(left, right) | Filter::Or(left, right) => {
                let keyword = if matches!(self, Filter::And(..)) {
                    "and"
                } else {
                    "or"
                };
                write_operand(f, left, self.precedence(), false)?;
                write!(f, " {keyword} ")?;
                write_operand(f, right, self.precedence(), true)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { attribute, filter } => write!(f, "{attribute}[{filter}]"),
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attribute)?;
        if let Some(filter) = &self.value_filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attribute {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Resolution against the schemas
// ---------------------------------------------------------------------------

/// `schemas` (RFC 7643 §3): every resource has it, no schema lists it, and
/// RFC 7644 §3.4.2.2 lets clients filter on it.
pub static SCHEMAS: Attribute = Attribute {
    name: "schemas",
    kind: Type::Reference,
    multi_valued: true,
    required: true,
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &["uri"],
    sub_attributes: &[],
    description: "The schemas the resource uses.",
};

/// What an [`AttrPath`] names: the schema it belongs to (the core schema
/// for `id`, `externalId`, `meta` and `schemas`), the attribute, and the
/// sub-attribute. Names here are the schema's canonical spellings.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub schema: &'static Schema,
    pub attribute: &'static Attribute,
    pub sub_attribute: Option<&'static Attribute>,
}

impl Resolved {
    /// The attribute the value lives in: the sub-attribute if there is one.
    pub fn target(&self) -> &'static Attribute {
        self.sub_attribute.unwrap_or(self.attribute)
    }

    /// Whether the attribute belongs to an extension schema (and so lives
    /// under the schema's URN in the JSON).
    pub fn is_extension(&self, kind: ResourceKind) -> bool {
        !std::ptr::eq(self.schema, kind.schemas()[0])
    }
}

fn invalid_filter(detail: String) -> ScimError {
    ScimError::invalid(ScimType::InvalidFilter, detail)
}

impl AttrPath {
    /// Finds the attribute this path names on `kind` (case-insensitively).
    /// An attribute or sub-attribute no schema defines is `400
    /// invalidFilter`: RFC 7644 §3.12 gives that error for "the specified
    /// attribute and filter comparison combination is not supported", and
    /// nothing undefined can be compared reliably.
    pub fn resolve(&self, kind: ResourceKind) -> Result<Resolved, ScimError> {
        let core = kind.schemas()[0];
        let is_core_urn = self
            .urn
            .as_deref()
            .is_none_or(|urn| urn.eq_ignore_ascii_case(core.id));
        let found = if is_core_urn && self.name.eq_ignore_ascii_case("schemas") {
            Some((core, &SCHEMAS))
        } else if is_core_urn {
            kind.attribute(None, &self.name)
        } else {
            kind.attribute(self.urn.as_deref(), &self.name)
        };
        let Some((schema, attribute)) = found else {
            if let Some(urn) = &self.urn
                && !kind
                    .schemas()
                    .iter()
                    .any(|schema| schema.id.eq_ignore_ascii_case(urn))
            {
                let known: Vec<&str> = kind.schemas().iter().map(|schema| schema.id).collect();
                return Err(invalid_filter(format!(
                    "\"{self}\" names the schema {urn}, which {} resources do not use (they use {})",
                    kind.name(),
                    known.join(" and ")
                )));
            }
            return Err(invalid_filter(format!(
                "\"{self}\" is not an attribute of {} (see /Schemas for the attributes this \
                 service knows{})",
                kind.name(),
                if kind == ResourceKind::User && self.urn.is_none() {
                    "; enterprise attributes need their schema URN, e.g. \
                     urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
                } else {
                    ""
                }
            )));
        };
        let sub_attribute = match &self.sub_attribute {
            None => None,
            Some(_) if attribute.sub_attributes.is_empty() => {
                return Err(invalid_filter(format!(
                    "\"{self}\": {} has no sub-attributes",
                    attribute.name
                )));
            }
            Some(sub) => Some(attribute.sub_attribute(sub).ok_or_else(|| {
                let names: Vec<&str> = attribute
                    .sub_attributes
                    .iter()
                    .map(|sub| sub.name)
                    .collect();
                invalid_filter(format!(
                    "\"{self}\": {} has no sub-attribute \"{sub}\" (it has {})",
                    attribute.name,
                    names.join(", ")
                ))
            })?),
        };
        Ok(Resolved {
            schema,
            attribute,
            sub_attribute,
        })
    }

    /// Finds the sub-attribute of `parent` this path names inside a value
    /// filter (`emails[type eq "work"]`: `type` of `emails`).
    pub fn resolve_in(&self, parent: &'static Attribute) -> Result<&'static Attribute, ScimError> {
        if self.urn.is_some() || self.sub_attribute.is_some() {
            return Err(invalid_filter(format!(
                "\"{self}\" inside {}[…] must be a plain sub-attribute name of {}",
                parent.name, parent.name
            )));
        }
        parent.sub_attribute(&self.name).ok_or_else(|| {
            let names: Vec<&str> = parent.sub_attributes.iter().map(|sub| sub.name).collect();
            invalid_filter(if names.is_empty() {
                format!(
                    "{} has no sub-attributes to filter on with [\"{self}\" …]",
                    parent.name
                )
            } else {
                format!(
                    "{} has no sub-attribute \"{self}\" (it has {})",
                    parent.name,
                    names.join(", ")
                )
            })
        })
    }
}

/// The attribute a comparison applies to: `target`, or for a complex
/// attribute compared without a sub-attribute, its `value` sub-attribute
/// (`emails eq "x"` means `emails.value eq "x"`, as IdPs use it).
pub fn compared_attribute(
    target: &'static Attribute,
    shown: &dyn fmt::Display,
) -> Result<&'static Attribute, ScimError> {
    if target.kind != Type::Complex {
        return Ok(target);
    }
    target.sub_attribute("value").ok_or_else(|| {
        let example = target
            .sub_attributes
            .first()
            .map_or("value", |sub| sub.name);
        invalid_filter(format!(
            "\"{shown}\" is complex: compare one of its sub-attributes, e.g. {}.{example}",
            target.name
        ))
    })
}

/// Checks that `op value` can be applied to `attribute` (RFC 7644
/// §3.4.2.2): strings take strings, booleans `true`/`false` (also as the
/// strings Entra sends) with `eq`/`ne` only, dateTimes RFC 3339 strings
/// without `co`/`sw`/`ew`; `null` only with `eq`/`ne`.
pub fn check_comparison(
    attribute: &'static Attribute,
    shown: &dyn fmt::Display,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    if attribute.returned == Returned::Never {
        return Err(invalid_filter(format!(
            "\"{shown}\" cannot be used in a filter: it is never stored or returned"
        )));
    }
    if value.is_null() {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            Err(invalid_filter(format!(
                "\"{shown} {op} null\": null can only be compared with eq or ne"
            )))
        };
    }
    match attribute.kind {
        Type::Boolean => {
            if op != CompareOp::Eq && op != CompareOp::Ne {
                return Err(invalid_filter(format!(
                    "\"{shown}\" is a boolean: only eq, ne and pr apply to it, not {op} \
                     (RFC 7644 §3.4.2.2)"
                )));
            }
            if bool_value(value).is_none() {
                return Err(invalid_filter(format!(
                    "\"{shown}\" is a boolean: compare it with true or false, not {value}"
                )));
            }
        }
        Type::DateTime => {
            if op.is_substring() {
                return Err(invalid_filter(format!(
                    "\"{shown}\" is a dateTime: use eq, ne, gt, ge, lt or le, not {op}"
                )));
            }
            if date_time_value(value).is_none() {
                return Err(invalid_filter(format!(
                    "\"{shown}\" is a dateTime: compare it with an RFC 3339 time such as \
                     \"2024-05-01T00:00:00Z\", not {value}"
                )));
            }
        }
        Type::Binary => {
            return Err(invalid_filter(format!(
                "\"{shown}\" is binary and cannot be compared"
            )));
        }
        Type::Integer | Type::Decimal => {
            if !value.is_number() || op.is_substring() {
                return Err(invalid_filter(format!(
                    "\"{shown}\" is a number: compare it with a number using eq, ne, gt, ge, lt \
                     or le"
                )));
            }
        }
        Type::String | Type::Reference | Type::Complex => {
            if !value.is_string() {
                return Err(invalid_filter(format!(
                    "\"{shown}\" is a string: compare it with a \"quoted string\", not {value}"
                )));
            }
        }
    }
    Ok(())
}

/// A boolean, or a string spelling one in any case (`"True"`).
pub fn bool_value(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(value) => Some(*value),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An RFC 3339 time given as a JSON string.
pub fn date_time_value(value: &Value) -> Option<OffsetDateTime> {
    value
        .as_str()
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
}

impl Filter {
    /// Checks every path and comparison against `kind`'s schemas: the
    /// `400 invalidFilter` a filter naming an unknown attribute, comparing a
    /// boolean with `gt`, or a string with a number gets.
    pub fn check(&self, kind: ResourceKind) -> Result<(), ScimError> {
        match self {
            Filter::And(left, right) | Filter::Or(left, right) => {
                left.check(kind)?;
                right.check(kind)
            }
            Filter::Not(inner) => inner.check(kind),
            Filter::Present(path) => {
                let resolved = path.resolve(kind)?;
                never_returned(resolved.target(), path)
            }
            Filter::Compare { path, op, value } => {
                let resolved = path.resolve(kind)?;
                let compared = compared_attribute(resolved.target(), path)?;
                check_comparison(compared, path, *op, value)
            }
            Filter::ValuePath { attribute, filter } => {
                let resolved = attribute.resolve(kind)?;
                if resolved.sub_attribute.is_some() || resolved.attribute.kind != Type::Complex {
                    return Err(invalid_filter(format!(
                        "\"{attribute}[…]\": a value filter applies to a complex attribute such \
                         as emails"
                    )));
                }
                filter.check_within(resolved.attribute)
            }
        }
    }

    /// [`Filter::check`] for a value filter whose paths name sub-attributes
    /// of `parent` (`emails[type eq "work"]`, a PATCH path's filter).
    pub fn check_within(&self, parent: &'static Attribute) -> Result<(), ScimError> {
        match self {
            Filter::And(left, right) | Filter::Or(left, right) => {
                left.check_within(parent)?;
                right.check_within(parent)
            }
            Filter::Not(inner) => inner.check_within(parent),
            Filter::Present(path) => never_returned(path.resolve_in(parent)?, path),
            Filter::Compare { path, op, value } => {
                let sub = path.resolve_in(parent)?;
                check_comparison(sub, path, *op, value)
            }
            Filter::ValuePath { attribute, .. } => Err(invalid_filter(format!(
                "{}[…] cannot contain another value filter ({attribute}[…])",
                parent.name
            ))),
        }
    }
}

fn never_returned(attribute: &'static Attribute, shown: &AttrPath) -> Result<(), ScimError> {
    if attribute.returned == Returned::Never {
        return Err(invalid_filter(format!(
            "\"{shown}\" cannot be used in a filter: it is never stored or returned"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-memory evaluation
// ---------------------------------------------------------------------------

/// A JSON object's member by name: exactly, else case-insensitively
/// (RFC 7643 §2.1: attribute names are case-insensitive).
fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let object = object.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The values a path designates, multi-valued attributes flattened, nulls
/// left out.
fn flatten<'a>(value: Option<&'a Value>, into: &mut Vec<&'a Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => into.extend(items.iter().filter(|item| !item.is_null())),
        Some(value) => into.push(value),
    }
}

/// Whether a value counts as present for `pr`: not null, not an empty
/// string, array or object.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(members) => members.values().any(is_present),
        _ => true,
    }
}

/// What a comparison knows about the attribute it compares.
#[derive(Clone, Copy)]
struct Semantics {
    kind: Option<Type>,
    case_exact: bool,
}

impl Semantics {
    fn of(attribute: Option<&'static Attribute>) -> Semantics {
        Semantics {
            kind: attribute.map(|attribute| attribute.kind),
            case_exact: attribute.is_some_and(|attribute| attribute.case_exact),
        }
    }
}

/// Compares two strings as SCIM does: `case_exact` or not, and for
/// `gt`/`lt` lexicographically (by code point, after lowercasing when
/// case-insensitive). Shared with the SQL compiler for constant columns.
pub fn compare_strings(actual: &str, op: CompareOp, expected: &str, case_exact: bool) -> bool {
    let (actual, expected) = if case_exact {
        (actual.to_owned(), expected.to_owned())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Eq => actual == expected,
        CompareOp::Ne => actual != expected,
        CompareOp::Co => actual.contains(&expected),
        CompareOp::Sw => actual.starts_with(&expected),
        CompareOp::Ew => actual.ends_with(&expected),
        CompareOp::Gt => actual > expected,
        CompareOp::Ge => actual >= expected,
        CompareOp::Lt => actual < expected,
        CompareOp::Le => actual <= expected,
    }
}

fn ordering_holds(ordering: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// `actual op expected` for one (non-null) value.
fn compare_one(actual: &Value, op: CompareOp, expected: &Value, semantics: Semantics) -> bool {
    if semantics.kind == Some(Type::Boolean) || actual.is_boolean() {
        return match (bool_value(actual), bool_value(expected)) {
            (Some(actual), Some(expected)) => match op {
                CompareOp::Eq => actual == expected,
                CompareOp::Ne => actual != expected,
                _ => false,
            },
            _ => false,
        };
    }
    if semantics.kind == Some(Type::DateTime)
        && let (Some(actual), Some(expected)) = (date_time_value(actual), date_time_value(expected))
    {
        return ordering_holds(actual.cmp(&expected), op);
    }
    match (actual, expected) {
        (Value::String(actual), Value::String(expected)) => {
            compare_strings(actual, op, expected, semantics.case_exact)
        }
        (Value::Number(actual), Value::Number(expected)) => {
            match (actual.as_f64(), expected.as_f64()) {
                (Some(actual), Some(expected)) => actual
                    .partial_cmp(&expected)
                    .is_some_and(|ordering| ordering_holds(ordering, op)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// A comparison over the values a path designates, grouped by the element
/// of a multi-valued attribute they belong to (one group otherwise): it
/// holds when some element's value matches. An element (or a resource)
/// without the attribute is "not equal" to anything, so `ne` matches it —
/// the SQL compiler reads `ne` the same way. `eq null` means "not present",
/// `ne null` "present".
fn compare_groups(
    groups: &[Vec<&Value>],
    op: CompareOp,
    expected: &Value,
    semantics: Semantics,
) -> bool {
    if expected.is_null() {
        let present = groups.iter().flatten().any(|value| is_present(value));
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    if groups.is_empty() {
        return op == CompareOp::Ne;
    }
    groups.iter().any(|values| {
        if values.is_empty() {
            op == CompareOp::Ne
        } else {
            values
                .iter()
                .any(|value| compare_one(value, op, expected, semantics))
        }
    })
}

/// Where a path's values come from.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// A whole resource of `kind`.
    Resource(&'a Value, ResourceKind),
    /// One value of a multi-valued (or complex) attribute: paths name its
    /// sub-attributes.
    Element(&'a Value, Option<&'static Attribute>),
}

impl Filter {
    /// Whether the SCIM JSON `resource` of `kind` matches. Attributes are
    /// looked up case-insensitively; case-exactness and types come from the
    /// schema (an attribute it does not define compares as a
    /// case-insensitive string). Never fails: run [`Filter::check`] first to
    /// reject filters that make no sense.
    pub fn matches(&self, resource: &Value, kind: ResourceKind) -> bool {
        self.evaluate(Scope::Resource(resource, kind))
    }

    /// Whether one value of a multi-valued attribute matches this value
    /// filter, whose paths name `attribute`'s sub-attributes: the
    /// `type eq "work"` of `emails[type eq "work"]` against one email, or
    /// `value eq "…"` against one member. A simple (non-object) element is
    /// its own `value`.
    pub fn matches_value(&self, element: &Value, attribute: &'static Attribute) -> bool {
        self.evaluate(Scope::Element(element, Some(attribute)))
    }

    fn evaluate(&self, scope: Scope<'_>) -> bool {
        match self {
            Filter::And(left, right) => left.evaluate(scope) && right.evaluate(scope),
            Filter::Or(left, right) => left.evaluate(scope) || right.evaluate(scope),
            Filter::Not(inner) => !inner.evaluate(scope),
            Filter::Present(path) => {
                let (groups, _) = values_of(path, scope, false);
                groups.iter().flatten().any(|value| is_present(value))
            }
            Filter::Compare { path, op, value } => {
                let (groups, attribute) = values_of(path, scope, true);
                compare_groups(&groups, *op, value, Semantics::of(attribute))
            }
            Filter::ValuePath { attribute, filter } => {
                let Scope::Resource(resource, kind) = scope else {
                    return false;
                };
                let schema_attribute = attribute
                    .resolve(kind)
                    .ok()
                    .map(|resolved| resolved.attribute);
                let mut elements = Vec::new();
                flatten(lookup(resource, kind, attribute), &mut elements);
                elements
                    .iter()
                    .any(|element| filter.evaluate(Scope::Element(element, schema_attribute)))
            }
        }
    }
}

/// The value of `path`'s top-level attribute in `resource`.
fn lookup<'a>(resource: &'a Value, kind: ResourceKind, path: &AttrPath) -> Option<&'a Value> {
    let core = kind.schemas()[0].id;
    let container = match &path.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(core) => member(resource, urn)?,
        _ => resource,
    };
    member(container, &path.name)
}

/// The values `path` designates in `scope`, one group per element of a
/// multi-valued attribute (else one group), nulls left out; and the schema
/// attribute they are values of. With `comparing`, a complex value stands
/// for its `value` sub-attribute (`emails eq "x"` is `emails.value eq "x"`).
fn values_of<'a>(
    path: &AttrPath,
    scope: Scope<'a>,
    comparing: bool,
) -> (Vec<Vec<&'a Value>>, Option<&'static Attribute>) {
    let mut groups: Vec<Vec<&'a Value>> = Vec::new();
    let attribute = match scope {
        Scope::Resource(resource, kind) => {
            let resolved = path.resolve(kind).ok();
            let mut elements = Vec::new();
            flatten(lookup(resource, kind, path), &mut elements);
            match &path.sub_attribute {
                None => {
                    groups.extend(elements.into_iter().map(|element| vec![element]));
                    resolved.map(|resolved| resolved.attribute)
                }
                Some(sub) => {
                    for element in elements {
                        let mut values = Vec::new();
                        flatten(member(element, sub), &mut values);
                        groups.push(values);
                    }
                    resolved.and_then(|resolved| resolved.sub_attribute)
                }
            }
        }
        Scope::Element(element, parent) => {
            if path.urn.is_some() || path.sub_attribute.is_some() {
                return (groups, None);
            }
            let mut values = Vec::new();
            if element.is_object() {
                flatten(member(element, &path.name), &mut values);
            } else if path.name.eq_ignore_ascii_case("value") {
                values.push(element);
            }
            groups.push(values);
            let sub = parent.and_then(|parent| parent.sub_attribute(&path.name));
            sub.or(parent.filter(|parent| parent.sub_attributes.is_empty()))
        }
    };
    if comparing && groups.iter().flatten().any(|value| value.is_object()) {
        let value_sub = attribute.and_then(|attribute| attribute.sub_attribute("value"));
        let inner = groups
            .into_iter()
            .map(|values| {
                values
                    .into_iter()
                    .filter_map(|value| {
                        if value.is_object() {
                            member(value, "value")
                        } else {
                            Some(value)
                        }
                    })
                    .filter(|value| !value.is_null())
                    .collect()
            })
            .collect();
        return (inner, value_sub.or(attribute));
    }
    (groups, attribute)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::scim::ENTERPRISE_USER_SCHEMA;
    use crate::scim::schema::{GROUP, USER};

    fn path(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub_attribute: None,
        }
    }

    fn sub(name: &str, sub: &str) -> AttrPath {
        AttrPath {
            sub_attribute: Some(sub.to_owned()),
            ..path(name)
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn and(left: Filter, right: Filter) -> Filter {
        Filter::And(Box::new(left), Box::new(right))
    }

    fn or(left: Filter, right: Filter) -> Filter {
        Filter::Or(Box::new(left), Box::new(right))
    }

    fn not(inner: Filter) -> Filter {
        Filter::Not(Box::new(inner))
    }

    fn parse(text: &str) -> Filter {
        parse_filter(text).unwrap_or_else(|err| panic!("{text:?}: {err}"))
    }

    fn error(text: &str) -> SyntaxError {
        match parse_filter(text) {
            Ok(filter) => panic!("{text:?} parsed as {filter:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn every_operator_parses_in_any_case() {
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("NE", CompareOp::Ne),
            ("Co", CompareOp::Co),
            ("sW", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("GT", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("Le", CompareOp::Le),
        ] {
            assert_eq!(
                parse(&format!("title {word} \"x\"")),
                cmp(path("title"), op, json!("x")),
                "{word}"
            );
        }
        assert_eq!(parse("title PR"), Filter::Present(path("title")));
    }

    #[test]
    fn values_are_json() {
        assert_eq!(
            parse("active eq TRUE"),
            cmp(path("active"), CompareOp::Eq, json!(true))
        );
        assert_eq!(
            parse("active eq false"),
            cmp(path("active"), CompareOp::Eq, json!(false))
        );
        assert_eq!(
            parse("title eq Null"),
            cmp(path("title"), CompareOp::Eq, Value::Null)
        );
        assert_eq!(
            parse("n gt -1.5e3"),
            cmp(path("n"), CompareOp::Gt, json!(-1500.0))
        );
        assert_eq!(parse("n lt 10"), cmp(path("n"), CompareOp::Lt, json!(10)));
        assert_eq!(
            parse(r#"userName eq "a\"b\\c\/d\u00e9\ud83d\ude00""#),
            cmp(path("userName"), CompareOp::Eq, json!("a\"b\\c/dé😀"))
        );
        // Found by fuzzing: a big integer is the correctly rounded double,
        // so the printed filter parses back to the same number.
        let big = parse("n eq 2464888888888838886125987390004");
        assert_eq!(parse_filter(&big.to_string()).ok(), Some(big));
        // Escapes that spell control characters are refused (`crate::text`).
        for control in [
            r#"title eq "a\nb""#,
            r#"title eq "\u0000""#,
            "title eq \"\u{202e}\"",
        ] {
            let err = parse_filter(control).expect_err(control);
            assert!(err.message.contains("control character"), "{err}");
        }
        assert_eq!(
            parse("displayName eq \"Zoë  (x)\""),
            cmp(path("displayName"), CompareOp::Eq, json!("Zoë  (x)"))
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_both() {
        let a = || Filter::Present(path("a"));
        let b = || Filter::Present(path("b"));
        let c = || Filter::Present(path("c"));
        assert_eq!(parse("a pr or b pr and c pr"), or(a(), and(b(), c())));
        assert_eq!(parse("a pr and b pr or c pr"), or(and(a(), b()), c()));
        assert_eq!(parse("(a pr or b pr) and c pr"), and(or(a(), b()), c()));
        assert_eq!(parse("a pr AND b pr AND c pr"), and(and(a(), b()), c()));
        assert_eq!(parse("a pr and (b pr and c pr)"), and(a(), and(b(), c())));
        assert_eq!(parse("not (a pr) and b pr"), and(not(a()), b()));
        assert_eq!(parse("NOT(a pr or b pr)"), not(or(a(), b())));
        assert_eq!(parse("  ( ( a pr ) )  "), a());
    }

    #[test]
    fn paths_take_sub_attributes_urns_and_value_filters() {
        assert_eq!(
            parse("name.familyName co \"O'Malley\""),
            cmp(sub("name", "familyName"), CompareOp::Co, json!("O'Malley"))
        );
        assert_eq!(
            parse(&format!(
                "{ENTERPRISE_USER_SCHEMA}:manager.value eq \"26118915-6090\""
            )),
            cmp(
                AttrPath {
                    urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                    ..sub("manager", "value")
                },
                CompareOp::Eq,
                json!("26118915-6090")
            )
        );
        assert_eq!(
            parse("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\""),
            cmp(
                AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
                    ..path("userName")
                },
                CompareOp::Sw,
                json!("J")
            )
        );
        assert_eq!(
            parse(
                "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\"]"
            ),
            or(
                Filter::ValuePath {
                    attribute: path("emails"),
                    filter: Box::new(and(
                        cmp(path("type"), CompareOp::Eq, json!("work")),
                        cmp(path("value"), CompareOp::Co, json!("@example.com"))
                    )),
                },
                Filter::ValuePath {
                    attribute: path("ims"),
                    filter: Box::new(cmp(path("type"), CompareOp::Eq, json!("xmpp"))),
                }
            )
        );
        // Entra ID's `emails[type eq "work"].value eq "…"`.
        assert_eq!(
            parse("emails[type eq \"work\"].value eq \"a@x\""),
            Filter::ValuePath {
                attribute: path("emails"),
                filter: Box::new(and(
                    cmp(path("type"), CompareOp::Eq, json!("work")),
                    cmp(path("value"), CompareOp::Eq, json!("a@x"))
                )),
            }
        );
        assert_eq!(
            parse("emails[type eq \"work\" or primary eq true].value pr").to_string(),
            "emails[(type eq \"work\" or primary eq true) and value pr]"
        );
        assert_eq!(
            parse("members[value eq \"a\"] and members.$ref pr"),
            and(
                Filter::ValuePath {
                    attribute: path("members"),
                    filter: Box::new(cmp(path("value"), CompareOp::Eq, json!("a"))),
                },
                Filter::Present(sub("members", "$ref"))
            )
        );
    }

    #[test]
    fn errors_point_at_the_offending_character_and_say_what_was_expected() {
        let err = error("userName xx \"bjensen\"");
        assert_eq!(
            err.to_string(),
            "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \
             \"userName\" at position 9"
        );
        for (text, position, needle) in [
            ("", 0, "the filter is empty"),
            ("userName", 8, "comparison operator"),
            ("userName eq", 11, "expected a value"),
            ("userName eq bjensen", 12, "strings need double quotes"),
            ("userName eq \"bjensen", 12, "never closed"),
            ("userName eq \"a\\qb\"", 14, "invalid escape"),
            ("userName eq \"a\" and", 19, "attribute name"),
            (
                "userName eq \"a\" xor title pr",
                16,
                "expected \"and\", \"or\" or the end",
            ),
            (
                "(userName pr",
                12,
                "to close the \"(\" opened at position 0",
            ),
            (
                "emails[type eq \"work\"",
                21,
                "to close the \"[\" opened at position 6",
            ),
            ("emails[]", 7, "inside the brackets"),
            (
                "emails[type[value pr]]",
                11,
                "cannot contain another value filter",
            ),
            (
                "emails[type pr].value",
                21,
                "comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"emails[…].value\"",
            ),
            ("emails[type pr].", 16, "sub-attribute name after \"].\""),
            ("name.givenName.x pr", 14, "at most one sub-attribute"),
            ("name. pr", 5, "sub-attribute name after \"name.\""),
            ("1abc pr", 0, "attribute name"),
            ("foo:bar pr", 3, "urn:"),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User: pr",
                43,
                "after the schema URN",
            ),
            ("not userName pr", 4, "expected \"(\" after \"not\""),
            ("not (userName pr", 16, "\"not (\" opened at position 4"),
            ("n eq -", 6, "digit"),
            ("n eq 1.", 7, "decimal point"),
            ("n eq 1e", 7, "exponent"),
            ("n eq 1e999", 5, "out of range"),
            ("ü eq 1", 0, "attribute name"),
            ("title eq \"é\" ü", 13, "expected \"and\""),
        ] {
            let err = error(text);
            assert_eq!(err.position, position, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = format!(
            "{}a pr{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(error(&deep).message.contains("nests deeper"));
        let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        parse(&ok);
        let long = vec!["a pr"; MAX_TERMS + 1].join(" or ");
        assert!(error(&long).message.contains("more than"));
        // A huge input fails fast instead of overflowing the stack.
        let huge = "(".repeat(100_000);
        assert!(error(&huge).message.contains("nests deeper"));
        let huge_not = "not (".repeat(100_000);
        assert!(error(&huge_not).message.contains("nests deeper"));
    }

    #[test]
    fn patch_paths() {
        let parsed =
            |text: &str| parse_patch_path(text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
        assert_eq!(
            parsed("name.givenName"),
            PatchPath {
                attribute: sub("name", "givenName"),
                value_filter: None,
                sub_attribute: None
            }
        );
        assert_eq!(
            parsed("emails[type eq \"work\"].value"),
            PatchPath {
                attribute: path("emails"),
                value_filter: Some(cmp(path("type"), CompareOp::Eq, json!("work"))),
                sub_attribute: Some("value".to_owned()),
            }
        );
        assert_eq!(
            parsed("members[value eq \"2819c223\"]"),
            PatchPath {
                attribute: path("members"),
                value_filter: Some(cmp(path("value"), CompareOp::Eq, json!("2819c223"))),
                sub_attribute: None,
            }
        );
        let manager = parsed(&format!("{ENTERPRISE_USER_SCHEMA}:manager"));
        assert_eq!(
            manager.attribute.urn.as_deref(),
            Some(ENTERPRISE_USER_SCHEMA)
        );
        assert_eq!(manager.attribute.name, "manager");
        let manager_value = parsed(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value"));
        assert_eq!(
            manager_value.attribute.sub_attribute.as_deref(),
            Some("value")
        );
        assert_eq!(
            parsed("members[value eq \"x\"].$ref")
                .sub_attribute
                .as_deref(),
            Some("$ref")
        );
        for (text, position) in [
            ("", 0),
            ("emails[type eq \"work\"]value", 22),
            ("emails[type eq \"work\"].", 23),
            ("emails[type eq \"work\"].value.x", 28),
            ("name.givenName[x pr]", 14),
            ("emails x", 7),
            ("emails[type eq]", 14),
        ] {
            let err = parse_patch_path(text).expect_err(text);
            assert_eq!(err.position, position, "{text:?}: {err}");
        }
    }

    #[test]
    fn display_is_canonical() {
        let filter = parse("USERNAME Eq \"a\" OR (title pr AnD not (emails[Type EQ \"w\"]))");
        assert_eq!(
            filter.to_string(),
            "USERNAME eq \"a\" or title pr and not (emails[Type eq \"w\"])"
        );
        assert_eq!(
            parse("(a pr or b pr) and c pr").to_string(),
            "(a pr or b pr) and c pr"
        );
        assert_eq!(
            parse("a pr and (b pr and c pr)").to_string(),
            "a pr and (b pr and c pr)"
        );
        let patch = parse_patch_path("emails[type eq \"work\"].value").expect("path");
        assert_eq!(patch.to_string(), "emails[type eq \"work\"].value");
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Ext-1",
            "userName": "BJensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "active": true,
            "title": "",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                     "lastModified": "2024-06-01T12:00:00.500Z"},
            ENTERPRISE_USER_SCHEMA: {"department": "Tour", "manager": {"value": "m-1"}}
        })
    }

    fn user_matches(text: &str) -> bool {
        let filter = parse(text);
        filter
            .check(ResourceKind::User)
            .unwrap_or_else(|err| panic!("{text:?}: {err}"));
        filter.matches(&user(), ResourceKind::User)
    }

    #[test]
    fn evaluation_follows_the_schema() {
        for (text, expected) in [
            ("userName eq \"bjensen@EXAMPLE.com\"", true),
            ("USERNAME EQ \"bjensen@example.com\"", true),
            ("id eq \"2819C223-7F76-453A-919D-413861904646\"", false),
            ("id eq \"2819c223-7f76-453a-919d-413861904646\"", true),
            ("externalId eq \"ext-1\"", false),
            ("externalId eq \"Ext-1\"", true),
            ("name.familyName co \"ENS\"", true),
            ("name.familyName sw \"jen\"", true),
            ("name.familyName ew \"SEN\"", true),
            ("name.familyName ew \"jen\"", false),
            ("name.givenName gt \"alice\"", true),
            ("name.givenName lt \"alice\"", false),
            ("name.givenName ge \"BARBARA\"", true),
            ("name.givenName le \"barbara\"", true),
            ("active eq true", true),
            ("active eq \"False\"", false),
            ("active ne false", true),
            ("emails.value co \"jensen.org\"", true),
            ("emails co \"JENSEN.ORG\"", true),
            (
                "emails[type eq \"work\" and value co \"jensen.org\"]",
                false,
            ),
            ("emails[type eq \"home\" and value co \"jensen.org\"]", true),
            ("emails[not (type eq \"work\")]", true),
            ("emails.primary eq true", true),
            ("emails pr", true),
            ("emails.display pr", false),
            ("emails.type ne \"work\"", true),
            ("phoneNumbers[type eq \"work\"]", true),
            ("phoneNumbers.value eq \"555-555-8377\"", true),
            ("title pr", false),
            ("nickName pr", false),
            ("nickName ne \"x\"", true),
            ("nickName eq null", true),
            ("displayName ne null", true),
            ("not (nickName eq \"x\")", true),
            ("meta.created lt \"2024-01-01T00:00:01Z\"", true),
            ("meta.lastModified gt \"2024-06-01T12:00:00.4Z\"", true),
            ("meta.lastModified gt \"2024-06-01T14:00:00+02:00\"", true),
            ("meta.resourceType eq \"User\"", true),
            (
                "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
                true,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"tour\"",
                true,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m-1\"",
                true,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"m-1\"",
                true,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter ne \"x\"",
                true,
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"BJ\"",
                true,
            ),
            (
                "userName eq \"x\" or displayName co \"babs\" and active eq true",
                true,
            ),
            (
                "(userName eq \"x\" or displayName co \"babs\") and active eq false",
                false,
            ),
        ] {
            assert_eq!(user_matches(text), expected, "{text}");
        }
    }

    #[test]
    fn value_filters_match_one_element() {
        let emails = USER.attribute("emails").expect("emails");
        let filter = parse("type eq \"WORK\" and primary eq true");
        assert!(filter.matches_value(
            &json!({"value": "a@x", "type": "work", "primary": true}),
            emails
        ));
        assert!(!filter.matches_value(
            &json!({"value": "a@x", "type": "home", "primary": true}),
            emails
        ));
        let members = GROUP.attribute("members").expect("members");
        let filter = parse("value eq \"2819c223\"");
        filter.check_within(members).expect("valid");
        assert!(filter.matches_value(&json!({"value": "2819c223", "display": "b"}), members));
        assert!(!filter.matches_value(&json!({"value": "other"}), members));
        assert!(
            parse("type eq \"x\"").check_within(members).is_ok()
                && parse("colour eq \"x\"").check_within(members).is_err()
        );
    }

    #[test]
    fn checks_reject_what_cannot_be_compared() {
        for (text, needle) in [
            ("nosuch eq \"x\"", "not an attribute of User"),
            (
                "department eq \"x\"",
                "enterprise attributes need their schema URN",
            ),
            (
                "urn:example:custom:1.0:User:x eq \"y\"",
                "which User resources do not use",
            ),
            ("name.nosuch eq \"x\"", "has no sub-attribute \"nosuch\""),
            ("userName.x eq \"x\"", "has no sub-attributes"),
            ("active gt true", "only eq, ne and pr"),
            ("active eq \"yes\"", "compare it with true or false"),
            ("userName eq 5", "is a string"),
            ("meta.created eq \"yesterday\"", "RFC 3339"),
            ("meta.created co \"2024\"", "dateTime"),
            ("name eq \"x\"", "is complex"),
            ("password eq \"x\"", "never stored"),
            ("userName co null", "null can only be compared"),
            ("userName[value eq \"x\"]", "applies to a complex attribute"),
            ("emails[nosuch eq \"x\"]", "has no sub-attribute"),
        ] {
            let err = parse(text).check(ResourceKind::User).expect_err(text);
            assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter), "{text}");
            assert!(err.detail.contains(needle), "{text}: {}", err.detail);
        }
        parse("members.value eq \"x\" and displayName sw \"a\"")
            .check(ResourceKind::Group)
            .expect("valid on groups");
        assert!(
            parse("userName eq \"x\"")
                .check(ResourceKind::Group)
                .is_err()
        );
    }

    // ----- property tests -------------------------------------------------

    fn name_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_-]{0,7}".prop_filter("not a keyword", |name| {
            !["and", "or", "not"]
                .iter()
                .any(|kw| name.eq_ignore_ascii_case(kw))
        })
    }

    fn path_strategy(allow_urn: bool) -> impl Strategy<Value = AttrPath> {
        let urn = if allow_urn {
            prop_oneof![
                Just(None),
                Just(Some(ENTERPRISE_USER_SCHEMA.to_owned())),
                "urn:[a-z]{1,4}(:[a-zA-Z0-9.]{1,5}){0,3}".prop_map(Some),
            ]
            .boxed()
        } else {
            Just(None).boxed()
        };
        (
            urn,
            name_strategy(),
            prop::option::of(prop_oneof![name_strategy(), Just("$ref".to_owned())]),
        )
            .prop_map(|(urn, name, sub_attribute)| AttrPath {
                urn,
                name,
                sub_attribute,
            })
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        prop_oneof![
            // Filter values hold no control characters (`crate::text`).
            "\\PC{0,40}".prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            // Binary fractions: exact in decimal too, so the text round trip
            // cannot lose a last bit.
            (any::<i32>(), 0..8i32).prop_map(|(m, e)| Value::from(f64::from(m) / 2f64.powi(e))),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ]
    }

    fn op_strategy() -> impl Strategy<Value = CompareOp> {
        prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le),
        ]
    }

    fn filter_strategy(value_paths: bool) -> BoxedStrategy<Filter> {
        let leaf = prop_oneof![
            (path_strategy(true), op_strategy(), value_strategy())
                .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            path_strategy(true).prop_map(Filter::Present),
        ];
        let tree = leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        });
        if !value_paths {
            return tree.boxed();
        }
        let value_path = (path_strategy(true), filter_strategy(false))
            .prop_map(|(mut attribute, filter)| {
                attribute.sub_attribute = None;
                Filter::ValuePath {
                    attribute,
                    filter: Box::new(filter),
                }
            })
            .boxed();
        prop_oneof![
            3 => tree,
            1 => value_path.clone(),
            1 => (value_path, filter_strategy(false))
                .prop_map(|(l, r)| Filter::Or(Box::new(r), Box::new(l))),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn display_parses_back_to_the_same_tree(filter in filter_strategy(true)) {
            let text = filter.to_string();
            let back = parse_filter(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
            prop_assert_eq!(back, filter, "{}", text);
        }

        #[test]
        fn patch_paths_round_trip(
            attribute in path_strategy(true),
            filter in prop::option::of(filter_strategy(false)),
            sub_attribute in prop::option::of(name_strategy()),
        ) {
            let path = match filter {
                Some(filter) => PatchPath {
                    attribute: AttrPath { sub_attribute: None, ..attribute },
                    value_filter: Some(filter),
                    sub_attribute,
                },
                None => PatchPath { attribute, value_filter: None, sub_attribute: None },
            };
            let text = path.to_string();
            let back = parse_patch_path(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
            prop_assert_eq!(back, path, "{}", text);
        }

        #[test]
        fn arbitrary_input_never_panics(text in "\\PC{0,80}") {
            let _ = parse_filter(&text);
            let _ = parse_patch_path(&text);
        }

        #[test]
        fn filter_like_input_never_panics_and_errors_point_inside(
            text in "[a-zA-Z .:\\[\\]()\"\\\\0-9$-]{0,60}"
        ) {
            let errors = [parse_filter(&text).err(), parse_patch_path(&text).err()];
            for err in errors.into_iter().flatten() {
                prop_assert!(err.position <= text.chars().count(), "{:?}: {}", text, err);
            }
            if let Ok(filter) = parse_filter(&text) {
                let _ = filter.check(ResourceKind::User);
                let _ = filter.matches(&user(), ResourceKind::User);
                prop_assert_eq!(parse_filter(&filter.to_string()).ok(), Some(filter));
            }
        }
    }
}
