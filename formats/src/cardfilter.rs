//! CardDAV `addressbook-query` (RFC 6352 §8.6, §10.5): the request, its
//! filter, and whether a vCard matches it.

pub use crate::filter::ParamFilter;
use crate::filter::{
    name_attr, report_props, unescape_text, unknown, Collation, FilterError, Test, TextMatch,
};
use crate::vcard::CardProperty;
use crate::xml::{Element, PropRequest, QName, CARDDAV};

/// A parsed `addressbook-query` REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressbookQuery {
    pub props: PropRequest,
    /// `address-data` with `<C:prop name="..."/>` children: only these
    /// properties are returned. None: the whole card.
    pub address_data_props: Option<Vec<String>>,
    pub filter: CardFilter,
    /// `<C:limit><C:nresults>`.
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFilter {
    pub test: Test,
    pub prop_filters: Vec<PropFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// Uppercased property name.
    pub name: String,
    pub test: Test,
    pub is_not_defined: bool,
    pub text_matches: Vec<TextMatch>,
    pub param_filters: Vec<ParamFilter>,
}

/// Reads the REPORT body's root element (`{CARDDAV}addressbook-query`).
pub fn parse_addressbook_query(root: &Element) -> Result<AddressbookQuery, FilterError> {
    if !root.is(CARDDAV, "addressbook-query") {
        return Err(unknown(&root.name));
    }
    let (props, data) = report_props(root, (CARDDAV, "address-data"));
    let mut address_data_props = None;
    if let Some(data) = data {
        let selected: Vec<String> = data
            .elements()
            .filter(|e| e.is(CARDDAV, "prop"))
            .map(|e| name_attr(e).map(|n| n.to_ascii_uppercase()))
            .collect::<Result<_, _>>()?;
        if !selected.is_empty() {
            address_data_props = Some(selected);
        }
    }
    let mut filter = None;
    let mut limit = None;
    for child in root.elements() {
        if child.is(CARDDAV, "filter") {
            filter = Some(parse_filter(child)?);
        } else if child.is(CARDDAV, "limit") {
            let n = child
                .child(CARDDAV, "nresults")
                .ok_or_else(|| FilterError::Unsupported("limit without nresults".into()))?;
            limit = Some(
                n.text()
                    .trim()
                    .parse()
                    .map_err(|_| FilterError::Unsupported(format!("nresults {:?}", n.text())))?,
            );
        }
    }
    Ok(AddressbookQuery {
        props,
        address_data_props,
        filter: filter.ok_or_else(|| FilterError::Unsupported("no filter".into()))?,
        limit,
    })
}

fn parse_filter(el: &Element) -> Result<CardFilter, FilterError> {
    let prop_filters = el
        .elements()
        .map(|child| {
            if child.is(CARDDAV, "prop-filter") {
                parse_prop_filter(child)
            } else {
                Err(unknown(&child.name))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(CardFilter {
        test: Test::of(el)?,
        prop_filters,
    })
}

fn parse_prop_filter(el: &Element) -> Result<PropFilter, FilterError> {
    let mut filter = PropFilter {
        name: name_attr(el)?.to_ascii_uppercase(),
        test: Test::of(el)?,
        is_not_defined: false,
        text_matches: Vec::new(),
        param_filters: Vec::new(),
    };
    for child in el.elements() {
        match (child.name.ns.as_str(), child.name.local.as_str()) {
            (CARDDAV, "is-not-defined") => filter.is_not_defined = true,
            (CARDDAV, "text-match") => filter
                .text_matches
                .push(TextMatch::from_element(child, Collation::UnicodeCasemap)?),
            (CARDDAV, "param-filter") => filter.param_filters.push(ParamFilter::parse(
                child,
                CARDDAV,
                Collation::UnicodeCasemap,
            )?),
            _ => return Err(unknown(&child.name)),
        }
    }
    Ok(filter)
}

impl CardFilter {
    /// Whether a card's properties pass the filter (RFC 6352 §10.5).
    pub fn matches(&self, card: &[CardProperty]) -> bool {
        self.test
            .combine(self.prop_filters.iter().map(|f| f.matches(card)))
    }
}

impl PropFilter {
    fn matches(&self, card: &[CardProperty]) -> bool {
        let mut instances = card.iter().filter(|p| p.name == self.name).peekable();
        if self.is_not_defined {
            return instances.peek().is_none();
        }
        if self.text_matches.is_empty() && self.param_filters.is_empty() {
            return instances.peek().is_some();
        }
        instances.any(|p| {
            let value = unescape_text(&p.value);
            let texts = self.text_matches.iter().map(|t| t.matches(&value));
            let params = self.param_filters.iter().map(|f| {
                f.matches(
                    p.params
                        .iter()
                        .filter(|(n, _)| *n == f.name)
                        .map(|(_, v)| v.as_str()),
                )
            });
            self.test.combine(texts.chain(params))
        })
    }
}

/// The card with only the selected properties (plus BEGIN, END, VERSION
/// and UID, without which it is no vCard), CRLF-terminated.
pub fn select_properties(card: &[CardProperty], selected: &[String]) -> String {
    let mut out = String::new();
    for p in card {
        let structural = matches!(p.name.as_str(), "BEGIN" | "END" | "VERSION" | "UID");
        if structural || selected.contains(&p.name) {
            out.push_str(&p.raw);
            out.push_str("\r\n");
        }
    }
    out
}

/// The `address-data` property name.
pub fn address_data() -> QName {
    QName::new(CARDDAV, "address-data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcard::properties;
    use crate::xml::parse;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann\r\nFN:Ann O'Neil\r\n\
N:O'Neil;Ann;;;\r\nitem1.EMAIL;TYPE=INTERNET,WORK:ann@work.example\r\n\
TEL;CELL:+33 6 12 34 56 78\r\nNOTE:likes\\, commas\r\nEND:VCARD\r\n";

    fn query(filter: &str) -> AddressbookQuery {
        let body = format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
               <D:prop><D:getetag/><C:address-data><C:prop name="FN"/><C:prop name="email"/></C:address-data></D:prop>
               {filter}<C:limit><C:nresults>5</C:nresults></C:limit></C:addressbook-query>"#
        );
        parse_addressbook_query(&parse(body.as_bytes()).unwrap()).unwrap()
    }

    fn matches(filter: &str) -> bool {
        query(filter).filter.matches(&properties(CARD).unwrap())
    }

    #[test]
    fn reads_the_request() {
        let q = query(r#"<C:filter/>"#);
        assert_eq!(q.limit, Some(5));
        assert_eq!(
            q.address_data_props,
            Some(vec!["FN".to_string(), "EMAIL".to_string()])
        );
        assert!(matches!(q.props, PropRequest::Prop(ref p) if p.len() == 2));
        assert_eq!(q.filter.test, Test::AnyOf);
    }

    #[test]
    fn filters_by_text_params_and_absence() {
        assert!(matches(r#"<C:filter/>"#));
        assert!(matches(
            r#"<C:filter><C:prop-filter name="FN"><C:text-match>ann</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(!matches(
            r#"<C:filter><C:prop-filter name="FN"><C:text-match match-type="starts-with">neil</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(matches(
            r#"<C:filter><C:prop-filter name="EMAIL"><C:text-match match-type="ends-with">@WORK.example</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(!matches(
            r#"<C:filter><C:prop-filter name="EMAIL"><C:text-match collation="i;octet" match-type="ends-with">@WORK.example</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(matches(
            r#"<C:filter><C:prop-filter name="NOTE"><C:text-match match-type="equals">likes, commas</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(matches(
            r#"<C:filter><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter></C:filter>"#
        ));
        assert!(!matches(
            r#"<C:filter><C:prop-filter name="FN"><C:is-not-defined/></C:prop-filter></C:filter>"#
        ));
        assert!(matches(
            r#"<C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match></C:param-filter></C:prop-filter></C:filter>"#
        ));
        // vCard 3 writes TEL;CELL: the bare word is a TYPE.
        assert!(matches(
            r#"<C:filter><C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:text-match match-type="equals">cell</C:text-match></C:param-filter></C:prop-filter></C:filter>"#
        ));
        assert!(!matches(
            r#"<C:filter><C:prop-filter name="FN"><C:text-match negate-condition="yes">ann</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(!matches(
            r#"<C:filter test="allof"><C:prop-filter name="FN"/><C:prop-filter name="NICKNAME"/></C:filter>"#
        ));
        assert!(matches(
            r#"<C:filter test="anyof"><C:prop-filter name="FN"/><C:prop-filter name="NICKNAME"/></C:filter>"#
        ));
        assert!(!matches(
            r#"<C:filter><C:prop-filter name="FN" test="allof"><C:text-match>ann</C:text-match><C:text-match>bob</C:text-match></C:prop-filter></C:filter>"#
        ));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let bad = |filter: &str| {
            let body = format!(
                r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">{filter}</C:addressbook-query>"#
            );
            parse_addressbook_query(&parse(body.as_bytes()).unwrap())
        };
        assert!(matches!(
            bad(
                r#"<C:filter><C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:filter>"#
            ),
            Err(FilterError::UnsupportedCollation(_))
        ));
        assert!(matches!(
            bad(r#"<C:filter><C:time-range/></C:filter>"#),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            bad(r#"<C:filter><C:prop-filter/></C:filter>"#),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(bad(""), Err(FilterError::Unsupported(_))));
    }

    #[test]
    fn selects_properties_keeping_the_card_valid() {
        let card = properties(CARD).unwrap();
        let selected = select_properties(&card, &["FN".to_string()]);
        assert_eq!(
            selected,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann\r\nFN:Ann O'Neil\r\nEND:VCARD\r\n"
        );
        assert!(crate::vcard::validate_card(&selected).is_ok());
    }
}
