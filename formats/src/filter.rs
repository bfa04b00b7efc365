//! What CalDAV and CardDAV queries share: `text-match` with its collations
//! (RFC 4790, RFC 5051) and match types (RFC 6352 §10.5.4), and the errors
//! a filter can be refused with.

use crate::xml::{Element, PropRequest, QName, DAV};

/// Why a query's filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The collation is not one this server implements: the
    /// `supported-collation` precondition.
    #[error("unsupported collation {0:?}")]
    UnsupportedCollation(String),
    /// An element or attribute value the filter grammar does not allow:
    /// the `supported-filter` precondition (or `valid-filter`).
    #[error("unsupported filter: {0}")]
    Unsupported(String),
    /// A filter that means nothing (e.g. a time range ending before it
    /// starts, or not in UTC): the `valid-filter` precondition.
    #[error("invalid filter: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;octet`: bytes as they are.
    Octet,
    /// `i;ascii-casemap`: ASCII letters compared without case.
    AsciiCasemap,
    /// `i;unicode-casemap` (RFC 5051): every character compared without
    /// case. Approximated by Unicode lowercasing, without the NFKD step.
    UnicodeCasemap,
}

impl Collation {
    pub fn parse(name: &str) -> Result<Collation, FilterError> {
        match name {
            "i;octet" => Ok(Collation::Octet),
            "i;ascii-casemap" => Ok(Collation::AsciiCasemap),
            "i;unicode-casemap" => Ok(Collation::UnicodeCasemap),
            other => Err(FilterError::UnsupportedCollation(other.to_string())),
        }
    }

    fn fold(self, text: &str) -> String {
        match self {
            Collation::Octet => text.to_string(),
            Collation::AsciiCasemap => text.to_ascii_lowercase(),
            Collation::UnicodeCasemap => text.to_lowercase(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl MatchType {
    pub fn parse(name: &str) -> Result<MatchType, FilterError> {
        match name {
            "equals" => Ok(MatchType::Equals),
            "contains" => Ok(MatchType::Contains),
            "starts-with" => Ok(MatchType::StartsWith),
            "ends-with" => Ok(MatchType::EndsWith),
            other => Err(FilterError::Unsupported(format!("match-type {other:?}"))),
        }
    }
}

/// A `text-match` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub match_type: MatchType,
    /// `negate-condition="yes"`.
    pub negate: bool,
    /// `text`, folded once by the collation.
    folded: String,
}

impl TextMatch {
    pub fn new(text: &str, collation: Collation, match_type: MatchType, negate: bool) -> Self {
        TextMatch {
            text: text.to_string(),
            collation,
            match_type,
            negate,
            folded: collation.fold(text),
        }
    }

    /// Reads a `text-match` element. An absent `collation` means
    /// `default_collation` (CardDAV: `i;unicode-casemap`, CalDAV:
    /// `i;ascii-casemap`); an absent `match-type` means contains.
    pub fn from_element(
        el: &Element,
        default_collation: Collation,
    ) -> Result<TextMatch, FilterError> {
        let attr = |name: &str| {
            el.attrs
                .iter()
                .find(|(n, _)| n.ns.is_empty() && n.local == name)
                .map(|(_, v)| v.as_str())
        };
        let collation = match attr("collation") {
            Some(name) => Collation::parse(name)?,
            None => default_collation,
        };
        let match_type = MatchType::parse(attr("match-type").unwrap_or("contains"))?;
        let negate = match attr("negate-condition").unwrap_or("no") {
            "yes" => true,
            "no" => false,
            other => {
                return Err(FilterError::Unsupported(format!(
                    "negate-condition {other:?}"
                )))
            }
        };
        Ok(TextMatch::new(&el.text(), collation, match_type, negate))
    }

    /// Whether `value` matches, negation applied.
    pub fn matches(&self, value: &str) -> bool {
        let value = self.collation.fold(value);
        let hit = match self.match_type {
            MatchType::Equals => value == self.folded,
            MatchType::Contains => value.contains(&self.folded),
            MatchType::StartsWith => value.starts_with(&self.folded),
            MatchType::EndsWith => value.ends_with(&self.folded),
        };
        hit != self.negate
    }
}

/// `test="anyof"` (the default) or `test="allof"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    AnyOf,
    AllOf,
}

impl Test {
    pub fn of(el: &Element) -> Result<Test, FilterError> {
        match el
            .attrs
            .iter()
            .find(|(n, _)| n.ns.is_empty() && n.local == "test")
            .map(|(_, v)| v.as_str())
        {
            None | Some("anyof") => Ok(Test::AnyOf),
            Some("allof") => Ok(Test::AllOf),
            Some(other) => Err(FilterError::Unsupported(format!("test {other:?}"))),
        }
    }

    /// Combines results; an empty set of conditions is true either way.
    pub fn combine(self, mut results: impl Iterator<Item = bool>) -> bool {
        match self {
            Test::AnyOf => {
                let mut any = false;
                let mut empty = true;
                for r in results.by_ref() {
                    empty = false;
                    any |= r;
                }
                any || empty
            }
            Test::AllOf => results.all(|r| r),
        }
    }
}

/// The `name` attribute of a filter element.
pub fn name_attr(el: &Element) -> Result<String, FilterError> {
    el.attrs
        .iter()
        .find(|(n, _)| n.ns.is_empty() && n.local == "name")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| FilterError::Unsupported(format!("{} without a name", el.name.local)))
}

/// An element this filter grammar does not know.
pub fn unknown(el: &QName) -> FilterError {
    FilterError::Unsupported(format!("unknown element {el}"))
}

/// A `param-filter` (RFC 4791 §9.7.3, RFC 6352 §10.5.2): the same in
/// CalDAV and CardDAV but for the namespace and the default collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    /// Uppercased parameter name.
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

impl ParamFilter {
    /// Reads a `param-filter` whose children are in namespace `ns`.
    pub fn parse(
        el: &Element,
        ns: &str,
        default_collation: Collation,
    ) -> Result<Self, FilterError> {
        let mut filter = ParamFilter {
            name: name_attr(el)?.to_ascii_uppercase(),
            is_not_defined: false,
            text_match: None,
        };
        for child in el.elements() {
            if child.is(ns, "is-not-defined") {
                filter.is_not_defined = true;
            } else if child.is(ns, "text-match") {
                filter.text_match = Some(TextMatch::from_element(child, default_collation)?);
            } else {
                return Err(unknown(&child.name));
            }
        }
        Ok(filter)
    }

    /// Whether a property whose values of this parameter are `values`
    /// passes.
    pub fn matches<'v>(&self, values: impl Iterator<Item = &'v str>) -> bool {
        let mut values = values.peekable();
        if self.is_not_defined {
            return values.peek().is_none();
        }
        match &self.text_match {
            None => values.peek().is_some(),
            Some(t) => values.into_iter().any(|v| t.matches(v)),
        }
    }
}

/// The properties a query REPORT asks for (`DAV:prop`, `allprop` or
/// `propname`; allprop when none), and the element named `data` among the
/// props (`calendar-data`, `address-data`), whose children select content.
pub fn report_props<'e>(
    root: &'e Element,
    data: (&str, &str),
) -> (PropRequest, Option<&'e Element>) {
    let mut props = PropRequest::AllProp {
        include: Vec::new(),
    };
    let mut data_element = None;
    for child in root.elements() {
        if child.is(DAV, "prop") {
            props = PropRequest::Prop(child.elements().map(|p| p.name.clone()).collect());
            data_element = child.elements().find(|p| p.is(data.0, data.1));
        } else if child.is(DAV, "propname") {
            props = PropRequest::PropName;
        }
    }
    (props, data_element)
}

/// vCard and iCalendar TEXT escapes resolved (`\,` `\;` `\n` `\\`), for
/// matching.
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collations_and_match_types() {
        let m = |text, c, t, n, v| TextMatch::new(text, c, t, n).matches(v);
        use Collation::*;
        use MatchType::*;
        assert!(m("ann", AsciiCasemap, Contains, false, "Joanne"));
        assert!(!m("ann", Octet, Contains, false, "JoANNe"));
        assert!(m("ÉMILE", UnicodeCasemap, Equals, false, "émile"));
        assert!(!m("ÉMILE", AsciiCasemap, Equals, false, "émile"));
        assert!(m("jo", AsciiCasemap, StartsWith, false, "John"));
        assert!(m("hn", AsciiCasemap, EndsWith, false, "John"));
        assert!(!m("jo", AsciiCasemap, EndsWith, false, "John"));
        assert!(m("x", AsciiCasemap, Contains, true, "John"));
        assert_eq!(
            Collation::parse("i;klingon"),
            Err(FilterError::UnsupportedCollation("i;klingon".into()))
        );
    }

    #[test]
    fn tests_combine() {
        assert!(Test::AnyOf.combine([false, true].into_iter()));
        assert!(!Test::AnyOf.combine([false, false].into_iter()));
        assert!(Test::AnyOf.combine(std::iter::empty()));
        assert!(!Test::AllOf.combine([true, false].into_iter()));
        assert!(Test::AllOf.combine(std::iter::empty()));
    }
}
