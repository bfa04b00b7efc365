use super::*;

const LITMUS: &str = "http://example.com/neon/litmus/";

fn parse_str(text: &str) -> Element {
    match parse(text.as_bytes()) {
        Ok(root) => root,
        Err(e) => panic!("{text:?} did not parse: {e}"),
    }
}

fn malformed(text: &str) -> String {
    match parse(text.as_bytes()) {
        Err(XmlError::Malformed(reason)) => reason,
        other => panic!("{text:?} should be malformed, got {other:?}"),
    }
}

fn text(s: &str) -> Node {
    Node::Text(s.to_string())
}

fn el(ns: &str, local: &str, children: Vec<Node>) -> Element {
    Element {
        name: QName::new(ns, local),
        attrs: Vec::new(),
        children,
    }
}

fn node(element: Element) -> Node {
    Node::Element(element)
}

fn names(list: &[(&str, &str)]) -> Vec<QName> {
    list.iter()
        .map(|(ns, local)| QName::new(ns, local))
        .collect()
}

fn assert_round_trips(element: &Element) {
    let xml = element.to_xml();
    assert!(!xml.contains("xmlns=\""), "default namespace used: {xml}");
    assert_eq!(parse(xml.as_bytes()).as_ref(), Ok(element), "{xml}");
}

fn nested(depth: usize) -> String {
    format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth))
}

// --- QName ---

#[test]
fn clark_notation_round_trips() {
    let name = QName::new(LITMUS, "prop0");
    assert_eq!(name.clark(), "{http://example.com/neon/litmus/}prop0");
    assert_eq!(QName::from_clark(&name.clark()), Some(name));
    assert_eq!(QName::from_clark("{}bare"), Some(QName::new("", "bare")));
    assert_eq!(QName::from_clark("bare"), Some(QName::new("", "bare")));
    assert_eq!(QName::from_clark("{DAV:}"), None);
    assert_eq!(QName::from_clark("{DAV:"), None);
    assert_eq!(QName::dav("getetag").to_string(), "{DAV:}getetag");
}

// --- parse: namespaces ---

#[test]
fn resolves_prefixed_and_default_namespaces() {
    let root = parse_str(
        r#"<D:propfind xmlns:D="DAV:" xmlns="urn:other"><D:prop><a/><D:b/></D:prop></D:propfind>"#,
    );
    assert!(root.is(DAV, "propfind"));
    let prop = root.child(DAV, "prop").unwrap();
    assert_eq!(child_names(prop), names(&[("urn:other", "a"), (DAV, "b")]));
}

#[test]
fn inner_declarations_shadow_outer_ones_and_go_out_of_scope() {
    let root = parse_str(
        r#"<a xmlns="urn:one" xmlns:p="urn:p1">
             <p:b xmlns:p="urn:p2"><c xmlns="urn:two"/></p:b>
             <p:d/><e/>
           </a>"#,
    );
    let names_found: Vec<_> = all_names(&root);
    assert_eq!(
        names_found,
        names(&[
            ("urn:one", "a"),
            ("urn:p2", "b"),
            ("urn:two", "c"),
            ("urn:p1", "d"),
            ("urn:one", "e")
        ])
    );
}

fn all_names(element: &Element) -> Vec<QName> {
    let mut out = vec![element.name.clone()];
    for child in element.elements() {
        out.extend(all_names(child));
    }
    out
}

fn child_names(element: &Element) -> Vec<QName> {
    element.elements().map(|e| e.name.clone()).collect()
}

#[test]
fn empty_default_namespace_declaration_means_no_namespace() {
    let root = parse_str(r#"<a xmlns="DAV:"><b xmlns=""><c/></b><d/></a>"#);
    assert_eq!(
        all_names(&root),
        names(&[(DAV, "a"), ("", "b"), ("", "c"), (DAV, "d")])
    );
    // No declaration at all: no namespace either.
    assert_eq!(parse_str("<plain/>").name, QName::new("", "plain"));
}

#[test]
fn attributes_resolve_their_own_prefix_and_never_take_the_default() {
    let root = parse_str(
        r#"<C:comp xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns="urn:default" xmlns:x="urn:x"
                   name="VEVENT" x:flag="yes" xml:lang="en-GB"/>"#,
    );
    assert_eq!(
        root.attrs,
        vec![
            (QName::new("", "name"), "VEVENT".to_string()),
            (QName::new("urn:x", "flag"), "yes".to_string()),
            (QName::new(XML_NS, "lang"), "en-GB".to_string()),
        ]
    );
    assert_eq!(root.attr("", "name"), Some("VEVENT"));
    assert_eq!(root.attr(XML_NS, "lang"), Some("en-GB"));
    assert_eq!(root.attr("", "missing"), None);
}

#[test]
fn the_xml_prefix_may_be_declared_to_its_own_namespace_only() {
    let root = parse_str(&format!(
        r#"<a xmlns:xml="{XML_NS}" xml:space="preserve"/>"#
    ));
    assert_eq!(root.attr(XML_NS, "space"), Some("preserve"));
    assert!(malformed(r#"<a xmlns:xml="urn:not-xml"/>"#).contains("xml"));
    assert!(malformed(r#"<a xmlns:xmlns="urn:x"/>"#).contains("xmlns"));
    assert!(malformed(&format!(r#"<a xmlns:p="{XML_NS}"/>"#)).contains("not allowed"));
}

#[test]
fn undeclared_prefixes_are_refused() {
    assert!(malformed("<D:propfind/>").contains("\"D\""));
    assert!(malformed(r#"<a xmlns:p="urn:p"><p:b/><q:c/></a>"#).contains("\"q\""));
    // A prefix declared on a sibling is out of scope.
    malformed(r#"<a><b xmlns:p="urn:p"/><p:c/></a>"#);
    // Attributes too.
    assert!(malformed(r#"<a q:attr="1"/>"#).contains("\"q\""));
    // Namespaces in XML 1.0 does not allow undeclaring a prefix.
    malformed(r#"<a xmlns:p="urn:p"><b xmlns:p=""/></a>"#);
}

#[test]
fn names_must_be_namespace_well_formed() {
    malformed(r#"<a xmlns:p="urn:p"><p:b:c/></a>"#);
    malformed("<:a/>");
    malformed(r#"<a xmlns:p="urn:p"><p:/></a>"#);
}

#[test]
fn namespace_xmlns_declarations_are_not_attributes() {
    let root = parse_str(r#"<a xmlns="urn:a" xmlns:b="urn:b" id="1"/>"#);
    assert_eq!(root.attrs, vec![(QName::new("", "id"), "1".to_string())]);
}

#[test]
fn one_attribute_twice_through_two_prefixes_is_refused() {
    assert!(malformed(r#"<a xmlns:p="urn:x" xmlns:q="urn:x" p:n="1" q:n="2"/>"#).contains("twice"));
    malformed(r#"<a n="1" n="2"/>"#);
}

#[test]
fn many_attributes_are_checked_for_duplicates_without_quadratic_cost() {
    let attributes = |n: usize| (0..n).map(|i| format!(" a{i}=\"{i}\"")).collect::<String>();
    let started = std::time::Instant::now();
    let root = parse_str(&format!("<a{}/>", attributes(20_000)));
    assert_eq!(root.attrs.len(), 20_000);
    let twice = format!("<a{} a7=\"again\"/>", attributes(20_000));
    assert!(malformed(&twice).contains("a7"));
    let declarations: String = (0..20_000)
        .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
        .collect();
    assert!(malformed(&format!("<a{declarations} xmlns:p5=\"urn:x\"/>")).contains("p5"));
    println!("20,000 attributes, three times: {:?}", started.elapsed());
}

#[test]
fn many_namespaces_in_one_property_round_trip() {
    let children: String = (0..5_000)
        .map(|i| format!("<p{i}:v xmlns:p{i}=\"urn:ns:{i}\">{i}</p{i}:v>"))
        .collect();
    let root = parse_str(&format!("<a>{children}</a>"));
    assert_eq!(root.elements().count(), 5_000);
    assert_eq!(
        root.elements().last().map(|e| e.name.clone()),
        Some(QName::new("urn:ns:4999", "v"))
    );
    assert_round_trips(&root);
}

// --- parse: text ---

#[test]
fn decodes_predefined_entities_and_character_references() {
    let root = parse_str("<a>&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;&#x1F600;</a>");
    assert_eq!(root.children, vec![text("<b> & \"c\" 'd' AB\u{1F600}")]);
}

#[test]
fn cdata_is_text_and_comments_and_processing_instructions_are_skipped() {
    let root = parse_str(
        "<?xml version=\"1.0\"?><!-- before --><?pi data?><a>one<![CDATA[ <two> & ]]><!-- c -->three<?x y?></a><!-- after -->",
    );
    assert_eq!(root.children, vec![text("one <two> & three")]);
}

#[test]
fn whitespace_between_elements_is_dropped_but_a_blank_value_is_kept() {
    let root = parse_str("<a>\n  <b>  </b>\n  <c> padded </c>\n</a>");
    assert_eq!(
        root.children,
        vec![
            node(el("", "b", vec![text("  ")])),
            node(el("", "c", vec![text(" padded ")])),
        ]
    );
}

#[test]
fn mixed_content_keeps_its_text_untrimmed() {
    let root = parse_str("<p>Hello <b>big</b> world</p>");
    assert_eq!(
        root.children,
        vec![
            text("Hello "),
            node(el("", "b", vec![text("big")])),
            text(" world")
        ]
    );
    assert_eq!(root.text(), "Hello big world");
}

#[test]
fn line_ends_are_normalised_but_escaped_carriage_returns_survive() {
    let root = parse_str("<a>one\r\ntwo\rthree&#13;\nfour</a>");
    assert_eq!(root.text(), "one\ntwo\nthree\r\nfour");
}

#[test]
fn attribute_values_are_normalised_like_xml_says() {
    let root = parse_str("<a v=\"one\ttwo\r\nthree&#9;&#10;&amp;&lt;\" w='single \"quoted\"'/>");
    assert_eq!(root.attr("", "v"), Some("one two three\t\n&<"));
    assert_eq!(root.attr("", "w"), Some("single \"quoted\""));
    malformed("<a v=\"&bogus;\"/>");
    malformed("<a v=\"a < b\"/>");
    malformed("<a v=\"&amp\"/>");
}

#[test]
fn a_byte_order_mark_and_surrounding_whitespace_are_accepted() {
    let root = parse_str("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<a/>\n\n");
    assert!(root.is("", "a"));
}

#[test]
fn text_with_high_unicode_is_kept() {
    let root = parse_str("<a>\u{10000}\u{10FFFD}\u{1F600} \u{4E2D}</a>");
    assert_eq!(root.text(), "\u{10000}\u{10FFFD}\u{1F600} \u{4E2D}");
}

// --- parse: refusals ---

#[test]
fn billion_laughs_is_refused_without_expansion() {
    let body = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>"#;
    let started = std::time::Instant::now();
    assert_eq!(parse(body.as_bytes()), Err(XmlError::Doctype));
    assert_eq!(parse_propfind(body.as_bytes()), Err(XmlError::Doctype));
    assert!(started.elapsed().as_secs() < 1);
}

#[test]
fn every_doctype_is_refused() {
    for body in [
        "<!DOCTYPE a><a/>",
        r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#,
        r#"<!DOCTYPE a SYSTEM "http://attacker.example/a.dtd"><a/>"#,
        "<!DOCTYPE>",
        "<!DOCTYPE a [",
        "<a/><!DOCTYPE a>",
    ] {
        assert_eq!(parse(body.as_bytes()), Err(XmlError::Doctype), "{body}");
    }
}

#[test]
fn unknown_entities_are_refused() {
    assert!(malformed("<a>&nbsp;</a>").contains("&nbsp;"));
    malformed("<a>&xxe;</a>");
    malformed("<a>AT&T</a>");
}

#[test]
fn character_references_must_name_xml_characters() {
    for body in [
        "<a>&#0;</a>",
        "<a>&#x1;</a>",
        "<a>&#xFFFE;</a>",
        "<a>&#xD800;</a>",
        "<a>&#x110000;</a>",
        "<a>&#;</a>",
        "<a>&#x;</a>",
        "<a>&#-5;</a>",
        "<a>&#x+41;</a>",
        "<a>&#12a;</a>",
    ] {
        malformed(body);
    }
}

#[test]
fn raw_control_characters_are_refused() {
    assert!(malformed("<a>bell\u{7}</a>").contains("U+0007"));
    malformed("<a v=\"\u{1}\"/>");
    malformed("<a><![CDATA[\u{0}]]></a>");
}

#[test]
fn mismatched_and_unclosed_tags_are_refused() {
    malformed("<a><b></a></b>");
    malformed("<a></b>");
    assert!(malformed("<a><b></b>").contains("not closed"));
    malformed("<a>");
    malformed("</a>");
    malformed("<a");
    malformed("<a><!-- never closed </a>");
}

#[test]
fn nesting_is_bounded() {
    assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
    assert_eq!(
        parse(nested(MAX_DEPTH + 1).as_bytes()),
        Err(XmlError::TooDeep)
    );
    // Refused as soon as the limit is passed, however deep it goes.
    assert_eq!(parse(nested(100_000).as_bytes()), Err(XmlError::TooDeep));
}

#[test]
fn one_root_element_and_nothing_else() {
    assert!(malformed("<a/><b/>").contains("more than one root"));
    assert!(malformed("<a/>trailing").contains("outside"));
    assert!(malformed("leading<a/>").contains("outside"));
    malformed("<a/>&amp;");
    malformed("<a/><![CDATA[x]]>");
    assert!(malformed("").contains("no root"));
    assert!(malformed("  \n ").contains("no root"));
    assert!(malformed("<!-- only a comment -->").contains("no root"));
}

#[test]
fn invalid_utf8_is_refused() {
    assert!(
        matches!(parse(b"<a>\xff\xfe</a>"), Err(XmlError::Malformed(m)) if m.contains("UTF-8"))
    );
    // UTF-16 is not accepted either.
    assert!(parse(b"\xff\xfe<\x00a\x00/\x00>\x00").is_err());
}

// --- Element helpers ---

#[test]
fn element_helpers_find_children_and_text() {
    let root = parse_str(
        r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href></D:response>
           <D:response><D:href>/b</D:href></D:response><D:sync-token>t1</D:sync-token></D:multistatus>"#,
    );
    assert_eq!(root.elements().count(), 3);
    assert_eq!(
        root.child(DAV, "sync-token").map(Element::text),
        Some("t1".into())
    );
    assert!(root.child(DAV, "nothing").is_none());
    assert!(root.child(CALDAV, "sync-token").is_none());
    assert_eq!(root.text(), "/a/bt1");
    assert_eq!(Element::new(QName::dav("x")).elements().count(), 0);
}

// --- to_xml ---

#[test]
fn to_xml_declares_prefixes_inside_the_fragment() {
    let element = el("http://example.com/ns", "foo", vec![text("a < b & c")]);
    assert_eq!(
        element.to_xml(),
        r#"<x0:foo xmlns:x0="http://example.com/ns">a &lt; b &amp; c</x0:foo>"#
    );
    assert_eq!(el("", "bare", vec![]).to_xml(), "<bare/>");
    assert_round_trips(&element);
}

#[test]
fn to_xml_keeps_no_namespace_children_out_of_any_namespace() {
    let root = parse_str(
        r#"<t:valnspace xmlns:t="http://example.com/neon/litmus/" xmlns="http://example.com/default"><foo xmlns=""><bar/></foo><baz/></t:valnspace>"#,
    );
    let xml = root.to_xml();
    assert_eq!(
        xml,
        r#"<x0:valnspace xmlns:x0="http://example.com/neon/litmus/" xmlns:x1="http://example.com/default"><foo><bar/></foo><x1:baz/></x0:valnspace>"#
    );
    assert_round_trips(&root);
}

#[test]
fn to_xml_round_trips_litmus_property_values() {
    for body in [
        // propvalnspace: the value is an element in another namespace.
        r#"<t:valnspace xmlns:t="http://example.com/neon/litmus/"><foo xmlns="bar"/></t:valnspace>"#,
        // prophighunicode.
        "<t:high-unicode xmlns:t=\"http://example.com/neon/litmus/\">\u{10000}</t:high-unicode>",
        // propnullns.
        r#"<nonamespace xmlns="">randomvalue</nonamespace>"#,
        // propwformed: a well-formed fragment as value.
        r#"<t:valnspace xmlns:t="http://example.com/neon/litmus/"><foo xmlns="bar"><baz>with &lt;markup&gt; &amp; entities</baz></foo></t:valnspace>"#,
        // propmanyns: several namespaces under one property.
        r#"<a:p xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"><b:x c:attr="1"><c:y/></b:x><b:z/></a:p>"#,
        // xml:lang and other attributes.
        r#"<D:displayname xmlns:D="DAV:" xml:lang="fr-CA" plain="v">Caf&#xE9; &quot;Ol&#xE9;&quot;</D:displayname>"#,
        // Same prefix meaning different namespaces at different depths.
        r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"><p:c xmlns:p="urn:1"/></p:b></p:a>"#,
        // Whitespace-only value, tab and newline in an attribute, CR.
        "<a>   </a>",
        "<a v=\"tab&#9;nl&#10;cr&#13;\">x&#13;\ny</a>",
        // Mixed content and an escaped namespace name.
        r#"<p:a xmlns:p="urn:x?a=1&amp;b=&quot;2&quot;">Hello <b>big</b> world</p:a>"#,
    ] {
        assert_round_trips(&parse_str(body));
    }
}

#[test]
fn to_xml_round_trips_hand_built_trees() {
    let element = Element {
        name: QName::new(CALDAV, "supported-calendar-component-set"),
        attrs: vec![(QName::new(XML_NS, "lang"), "de".into())],
        children: vec![
            node(Element {
                name: QName::new(CALDAV, "comp"),
                attrs: vec![(QName::new("", "name"), "VEVENT".into())],
                children: vec![],
            }),
            node(Element {
                name: QName::new("urn:other", "comp"),
                attrs: vec![(QName::new("urn:attr-ns", "name"), "VTODO".into())],
                children: vec![text("\u{1F600} 'quoted' \"double\"")],
            }),
        ],
    };
    let xml = element.to_xml();
    assert!(xml.contains(r#"xml:lang="de""#), "{xml}");
    assert!(!xml.contains("xmlns:xml"), "{xml}");
    assert_round_trips(&element);
}

#[test]
fn to_xml_output_embeds_anywhere() {
    let stored = parse_str(r#"<foo xmlns="">bar</foo>"#).to_xml();
    // Inside a document with a default namespace, the fragment still
    // means "no namespace" only if that default is undeclared: which is
    // why responses never declare one. Here: inside a prefixed document.
    let document = format!(r#"<D:prop xmlns:D="DAV:" xmlns:x0="urn:clash">{stored}</D:prop>"#);
    let root = parse_str(&document);
    assert_eq!(root.elements().next(), Some(&parse_str(&stored)));
    assert_eq!(child_names(&root), names(&[("", "foo")]));
}

// --- parse_propfind ---
// Real clients' bodies, whole, are fixture files: see tests/requests.rs.

#[test]
fn an_empty_propfind_is_allprop() {
    for body in ["", "  \r\n\t"] {
        assert_eq!(
            parse_propfind(body.as_bytes()),
            Ok(PropRequest::AllProp { include: vec![] })
        );
    }
}

#[test]
fn propfind_allprop_with_include_and_propname() {
    let body = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:allprop/><D:include><C:calendar-data/><D:supported-lock/></D:include></D:propfind>"#;
    assert_eq!(
        parse_propfind(body.as_bytes()),
        Ok(PropRequest::AllProp {
            include: names(&[(CALDAV, "calendar-data"), (DAV, "supported-lock")])
        })
    );
    // litmus sends these two.
    assert_eq!(
        parse_propfind(br#"<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><allprop/></propfind>"#),
        Ok(PropRequest::AllProp { include: vec![] })
    );
    assert_eq!(
        parse_propfind(br#"<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><propname/></propfind>"#),
        Ok(PropRequest::PropName)
    );
}

#[test]
fn propfind_ignores_unknown_elements() {
    let body = r#"<D:propfind xmlns:D="DAV:"><X:hint xmlns:X="urn:x"/><D:propname/><D:future/></D:propfind>"#;
    assert_eq!(parse_propfind(body.as_bytes()), Ok(PropRequest::PropName));
}

#[test]
fn an_empty_prop_asks_for_nothing() {
    assert_eq!(
        parse_propfind(br#"<D:propfind xmlns:D="DAV:"><D:prop/></D:propfind>"#),
        Ok(PropRequest::Prop(vec![]))
    );
}

#[test]
fn contradictory_or_foreign_propfinds_are_unexpected() {
    for body in [
        r#"<D:propfind xmlns:D="DAV:"/>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop><D:propname/></D:propfind>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:allprop/></D:propfind>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:propname/><D:include><D:getetag/></D:include></D:propfind>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include/><D:include/></D:propfind>"#,
        r#"<propfind><prop/></propfind>"#,
        r#"<D:propertyupdate xmlns:D="DAV:"/>"#,
    ] {
        assert!(
            matches!(
                parse_propfind(body.as_bytes()),
                Err(XmlError::Unexpected(_))
            ),
            "{body}: {:?}",
            parse_propfind(body.as_bytes())
        );
    }
    assert!(matches!(
        parse_propfind(b"<D:propfind xmlns:D=\"DAV:\">"),
        Err(XmlError::Malformed(_))
    ));
}

// --- parse_proppatch ---

#[test]
fn proppatch_from_litmus_propset() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:ns="http://example.com/neon/litmus/"><D:set><D:prop><ns:prop0>value0</ns:prop0><ns:prop1>value1</ns:prop1></D:prop></D:set></D:propertyupdate>"#;
    assert_eq!(
        parse_proppatch(body.as_bytes()),
        Ok(vec![
            PropertyUpdate::Set(el(LITMUS, "prop0", vec![text("value0")])),
            PropertyUpdate::Set(el(LITMUS, "prop1", vec![text("value1")])),
        ])
    );
}

#[test]
fn proppatch_keeps_set_and_remove_in_document_order() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:ns="http://example.com/neon/litmus/">
  <D:remove><D:prop><ns:prop0/><ns:prop1>ignored value</ns:prop1></D:prop></D:remove>
  <D:set><D:prop><ns:prop2>value2</ns:prop2></D:prop></D:set>
  <D:remove><D:prop><ns:prop2/></D:prop></D:remove>
</D:propertyupdate>"#;
    assert_eq!(
        parse_proppatch(body.as_bytes()),
        Ok(vec![
            PropertyUpdate::Remove(QName::new(LITMUS, "prop0")),
            PropertyUpdate::Remove(QName::new(LITMUS, "prop1")),
            PropertyUpdate::Set(el(LITMUS, "prop2", vec![text("value2")])),
            PropertyUpdate::Remove(QName::new(LITMUS, "prop2")),
        ])
    );
}

#[test]
fn proppatch_values_keep_their_namespaced_content() {
    // litmus propvalnspace / propwformed.
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<propertyupdate xmlns="DAV:"><set><prop><t:valnspace xmlns:t="http://example.com/neon/litmus/"><foo xmlns="bar"/></t:valnspace></prop></set></propertyupdate>"#;
    let updates = parse_proppatch(body.as_bytes()).unwrap();
    let expected = el(LITMUS, "valnspace", vec![node(el("bar", "foo", vec![]))]);
    assert_eq!(updates, vec![PropertyUpdate::Set(expected.clone())]);
    // Stored with to_xml and read back, it is the same value.
    let PropertyUpdate::Set(value) = &updates[0] else {
        unreachable!()
    };
    assert_eq!(parse(value.to_xml().as_bytes()), Ok(expected));
}

#[test]
fn proppatch_with_null_namespace_and_high_unicode() {
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\
<propertyupdate xmlns=\"DAV:\"><set><prop>\
<nonamespace xmlns=\"\">randomvalue</nonamespace>\
<high-unicode xmlns=\"http://example.com/neon/litmus/\">\u{10000}</high-unicode>\
</prop></set></propertyupdate>";
    assert_eq!(
        parse_proppatch(body.as_bytes()),
        Ok(vec![
            PropertyUpdate::Set(el("", "nonamespace", vec![text("randomvalue")])),
            PropertyUpdate::Set(el(LITMUS, "high-unicode", vec![text("\u{10000}")])),
        ])
    );
}

#[test]
fn proppatch_from_apple_calendar_keeps_attributes() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:propertyupdate xmlns:A="DAV:">
  <A:set>
    <A:prop>
      <B:calendar-color xmlns:B="http://apple.com/ns/ical/" symbolic-color="custom">#FF2968FF</B:calendar-color>
    </A:prop>
  </A:set>
</A:propertyupdate>"#;
    let updates = parse_proppatch(body.as_bytes()).unwrap();
    assert_eq!(
        updates,
        vec![PropertyUpdate::Set(Element {
            name: QName::new(APPLE_ICAL, "calendar-color"),
            attrs: vec![(QName::new("", "symbolic-color"), "custom".into())],
            children: vec![text("#FF2968FF")],
        })]
    );
}

#[test]
fn proppatch_from_thunderbird() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/">
  <D:set><D:prop><D:displayname>Work &amp; Play</D:displayname></D:prop></D:set>
  <D:set><D:prop><A:calendar-color>#3a87ad</A:calendar-color></D:prop></D:set>
</D:propertyupdate>"#;
    assert_eq!(
        parse_proppatch(body.as_bytes()),
        Ok(vec![
            PropertyUpdate::Set(el(DAV, "displayname", vec![text("Work & Play")])),
            PropertyUpdate::Set(el(APPLE_ICAL, "calendar-color", vec![text("#3a87ad")])),
        ])
    );
}

#[test]
fn proppatch_that_changes_nothing_is_unexpected() {
    for body in [
        r#"<D:propertyupdate xmlns:D="DAV:"/>"#,
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop/></D:set></D:propertyupdate>"#,
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set/></D:propertyupdate>"#,
        r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:getetag/></D:remove></D:propertyupdate>"#,
        r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#,
    ] {
        assert!(
            matches!(
                parse_proppatch(body.as_bytes()),
                Err(XmlError::Unexpected(_))
            ),
            "{body}: {:?}",
            parse_proppatch(body.as_bytes())
        );
    }
    assert!(matches!(parse_proppatch(b""), Err(XmlError::Malformed(_))));
}

// --- parse_mkcol / parse_mkcalendar ---

#[test]
fn mkcol_creating_a_calendar() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set>
    <D:prop>
      <D:resourcetype><D:collection/><C:calendar/></D:resourcetype>
      <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
    </D:prop>
  </D:set>
</D:mkcol>"#;
    let request = parse_mkcol(body.as_bytes()).unwrap();
    assert_eq!(
        request.resourcetype,
        names(&[(DAV, "collection"), (CALDAV, "calendar")])
    );
    assert_eq!(request.set.len(), 1);
    let comp = request.set[0].child(CALDAV, "comp").unwrap();
    assert_eq!(comp.attr("", "name"), Some("VTODO"));
}

#[test]
fn blank_collection_bodies_ask_for_defaults() {
    assert_eq!(parse_mkcol(b""), Ok(MkcolRequest::default()));
    assert_eq!(parse_mkcol(b" \n"), Ok(MkcolRequest::default()));
    assert_eq!(parse_mkcalendar(b""), Ok(MkcolRequest::default()));
    assert_eq!(
        parse_mkcol(br#"<D:mkcol xmlns:D="DAV:"/>"#),
        Ok(MkcolRequest::default())
    );
}

#[test]
fn mkcalendar_from_apple_calendar() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<B:mkcalendar xmlns:B="urn:ietf:params:xml:ns:caldav">
  <A:set xmlns:A="DAV:">
    <A:prop>
      <B:calendar-timezone><![CDATA[BEGIN:VCALENDAR
VERSION:2.0
END:VCALENDAR
]]></B:calendar-timezone>
      <D:calendar-order xmlns:D="http://apple.com/ns/ical/">1</D:calendar-order>
      <B:supported-calendar-component-set>
        <B:comp name="VEVENT"/>
      </B:supported-calendar-component-set>
      <D:calendar-color xmlns:D="http://apple.com/ns/ical/" symbolic-color="purple">#CC73E1FF</D:calendar-color>
      <A:displayname>Untitled</A:displayname>
      <B:calendar-free-busy-set>
        <NO/>
      </B:calendar-free-busy-set>
    </A:prop>
  </A:set>
</B:mkcalendar>"#;
    let request = parse_mkcalendar(body.as_bytes()).unwrap();
    assert!(request.resourcetype.is_empty());
    assert_eq!(
        request
            .set
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>(),
        names(&[
            (CALDAV, "calendar-timezone"),
            (APPLE_ICAL, "calendar-order"),
            (CALDAV, "supported-calendar-component-set"),
            (APPLE_ICAL, "calendar-color"),
            (DAV, "displayname"),
            (CALDAV, "calendar-free-busy-set"),
        ])
    );
    assert_eq!(
        request.set[0].text(),
        "BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n"
    );
    assert_eq!(
        request.set[5].children,
        // Unprefixed, and no default namespace in scope: no namespace.
        vec![node(el("", "NO", vec![]))]
    );
}

#[test]
fn collection_bodies_with_the_wrong_root_are_unexpected() {
    let mkcalendar = br#"<C:mkcalendar xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
    assert!(matches!(
        parse_mkcol(mkcalendar),
        Err(XmlError::Unexpected(_))
    ));
    let mkcol = br#"<D:mkcol xmlns:D="DAV:"/>"#;
    assert!(matches!(
        parse_mkcalendar(mkcol),
        Err(XmlError::Unexpected(_))
    ));
    let no_prop = br#"<D:mkcol xmlns:D="DAV:"><D:set/></D:mkcol>"#;
    assert!(matches!(parse_mkcol(no_prop), Err(XmlError::Unexpected(_))));
    assert_eq!(parse_mkcol(b"<!DOCTYPE x><x/>"), Err(XmlError::Doctype));
}

// --- parse_report ---

#[test]
fn later_sync_collection_with_limit_and_infinite_level() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:sync-token>
    http://reprise.example/sync/42
  </D:sync-token>
  <D:sync-level>infinite</D:sync-level>
  <D:limit><D:nresults> 100 </D:nresults></D:limit>
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
</D:sync-collection>"#;
    assert_eq!(
        parse_report(body.as_bytes()),
        Ok(Report::SyncCollection {
            token: "http://reprise.example/sync/42".into(),
            level_infinite: true,
            limit: Some(100),
            props: PropRequest::Prop(names(&[(DAV, "getetag"), (CALDAV, "calendar-data")])),
        })
    );
}

#[test]
fn sync_collection_defaults() {
    assert_eq!(
        parse_report(br#"<D:sync-collection xmlns:D="DAV:"/>"#),
        Ok(Report::SyncCollection {
            token: String::new(),
            level_infinite: false,
            limit: None,
            props: PropRequest::AllProp { include: vec![] },
        })
    );
}

#[test]
fn bad_sync_collections_are_unexpected() {
    for body in [
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-level>2</D:sync-level></D:sync-collection>"#,
        r#"<D:sync-collection xmlns:D="DAV:"><D:limit><D:nresults>-1</D:nresults></D:limit></D:sync-collection>"#,
        r#"<D:sync-collection xmlns:D="DAV:"><D:limit><D:nresults>many</D:nresults></D:limit></D:sync-collection>"#,
        r#"<D:sync-collection xmlns:D="DAV:"><D:limit/></D:sync-collection>"#,
        r#"<D:sync-collection xmlns:D="DAV:"><D:prop/><D:propname/></D:sync-collection>"#,
    ] {
        assert!(
            matches!(parse_report(body.as_bytes()), Err(XmlError::Unexpected(_))),
            "{body}: {:?}",
            parse_report(body.as_bytes())
        );
    }
}

#[test]
fn multiget_without_prop_is_allprop() {
    let body = r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:href>/a.ics</D:href></C:calendar-multiget>"#;
    assert_eq!(
        parse_report(body.as_bytes()),
        Ok(Report::CalendarMultiget {
            props: PropRequest::AllProp { include: vec![] },
            hrefs: vec!["/a.ics".into()],
            calendar_data: None,
        })
    );
}

#[test]
fn other_reports_come_back_whole() {
    let body = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20240101T000000Z" end="20240201T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
    let Ok(Report::Other(root)) = parse_report(body.as_bytes()) else {
        panic!("calendar-query should be Other");
    };
    assert!(root.is(CALDAV, "calendar-query"));
    let filter = root.child(CALDAV, "filter").unwrap();
    let vcalendar = filter.child(CALDAV, "comp-filter").unwrap();
    assert_eq!(vcalendar.attr("", "name"), Some("VCALENDAR"));
    assert!(matches!(parse_report(b""), Err(XmlError::Malformed(_))));
}

// --- escape ---

#[test]
fn escape_covers_markup_and_drops_what_xml_cannot_carry() {
    assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    assert_eq!(escape("line\r\nnext\ttab"), "line&#13;\nnext\ttab");
    assert_eq!(escape("bell\u{7}nul\u{0}esc\u{1b}."), "bellnulesc.");
    assert_eq!(escape("x\u{FFFE}y\u{FFFF}z\u{FFFD}"), "xyz\u{FFFD}");
    assert_eq!(
        escape("\u{10000}\u{F000}\u{FEFF}\u{FFFD}"),
        "\u{10000}\u{F000}\u{FEFF}\u{FFFD}"
    );
    assert_eq!(escape(""), "");
    assert_eq!(escape("plain"), "plain");
    assert_eq!(escape_attr("a\tb\nc\rd\"e"), "a&#9;b&#10;c&#13;d&quot;e");
}

#[test]
fn escaped_text_reads_back_as_itself() {
    let original = "BEGIN:VCALENDAR\r\nSUMMARY:<b> & \"q\" 'a'\r\n\tfolded\r\nEND:VCALENDAR\r\n";
    let root = parse_str(&format!(
        "<a v=\"{}\">{}</a>",
        escape_attr(original),
        escape(original)
    ));
    assert_eq!(root.text(), original);
    assert_eq!(root.attr("", "v"), Some(original));
}

// --- write_multistatus ---

fn prop(ns: &str, local: &str, value: Value) -> Property {
    Property {
        name: QName::new(ns, local),
        value,
    }
}

fn sample_multistatus() -> MultiStatus {
    let comp = |name: &str| Element {
        name: QName::new(CALDAV, "comp"),
        attrs: vec![(QName::new("", "name"), name.into())],
        children: vec![],
    };
    let dead = parse_str(
        r#"<t:valnspace xmlns:t="http://example.com/neon/litmus/" xml:lang="en"><foo xmlns="bar">v</foo></t:valnspace>"#,
    );
    MultiStatus {
        responses: vec![
            Response {
                href: "/dav/calendars/alice/home/".into(),
                body: ResponseBody::PropStats(vec![
                    PropStat {
                        status: 200,
                        props: vec![
                            prop(DAV, "displayname", Value::Text("Home & <Work>".into())),
                            prop(
                                DAV,
                                "resourcetype",
                                Value::Elements(vec![
                                    el(DAV, "collection", vec![]),
                                    el(CALDAV, "calendar", vec![]),
                                ]),
                            ),
                            prop(
                                CALDAV,
                                "supported-calendar-component-set",
                                Value::Elements(vec![comp("VEVENT"), comp("VTODO")]),
                            ),
                            prop(CALENDARSERVER, "getctag", Value::Text("\"ctag-1\"".into())),
                            prop(APPLE_ICAL, "calendar-color", Value::Text("#FF0000".into())),
                            prop(
                                CALDAV,
                                "calendar-home-set",
                                Value::Hrefs(vec!["/dav/calendars/alice/".into()]),
                            ),
                            prop(LITMUS, "valnspace", Value::Raw(dead.to_xml())),
                        ],
                    },
                    PropStat {
                        status: 404,
                        props: vec![
                            prop("http://example.com/ns", "foo", Value::Empty),
                            prop("", "nonamespace", Value::Empty),
                            prop(CARDDAV, "addressbook-description", Value::Empty),
                        ],
                    },
                ]),
            },
            Response {
                href: "/dav/calendars/alice/home/gone.ics".into(),
                body: ResponseBody::Status(404),
            },
        ],
        sync_token: Some("http://reprise.example/sync/7".into()),
    }
}

#[test]
fn multistatus_starts_with_the_fixed_prefixes() {
    let xml = write_multistatus(&MultiStatus::default());
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"DAV:\" \
         xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\" \
         xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:ical=\"http://apple.com/ns/ical/\">\
         </d:multistatus>"
    );
    assert!(parse_str(&xml).is(DAV, "multistatus"));
}

#[test]
fn multistatus_uses_fixed_prefixes_and_declares_others_locally() {
    let xml = write_multistatus(&sample_multistatus());
    for expected in [
        "<d:response><d:href>/dav/calendars/alice/home/</d:href><d:propstat><d:prop>",
        "<d:displayname>Home &amp; &lt;Work&gt;</d:displayname>",
        "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>",
        r#"<c:supported-calendar-component-set><c:comp name="VEVENT"/><c:comp name="VTODO"/></c:supported-calendar-component-set>"#,
        "<cs:getctag>&quot;ctag-1&quot;</cs:getctag>",
        "<ical:calendar-color>#FF0000</ical:calendar-color>",
        "<c:calendar-home-set><d:href>/dav/calendars/alice/</d:href></c:calendar-home-set>",
        r#"<x0:foo xmlns:x0="http://example.com/ns"/>"#,
        "<nonamespace/>",
        "<card:addressbook-description/>",
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>",
        "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>",
        "<d:href>/dav/calendars/alice/home/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>",
        "</d:response><d:sync-token>http://reprise.example/sync/7</d:sync-token></d:multistatus>",
    ] {
        assert!(xml.contains(expected), "missing {expected} in {xml}");
    }
    assert!(!xml.contains("xmlns=\""), "{xml}");
}

#[test]
fn written_multistatus_parses_back_to_the_same_structure() {
    let ms = sample_multistatus();
    let root = parse_str(&write_multistatus(&ms));
    assert!(root.is(DAV, "multistatus"));
    let responses: Vec<_> = root.elements().filter(|e| e.is(DAV, "response")).collect();
    assert_eq!(responses.len(), 2);
    assert_eq!(
        root.child(DAV, "sync-token").map(Element::text),
        Some("http://reprise.example/sync/7".into())
    );

    let first = responses[0];
    assert_eq!(
        first.child(DAV, "href").unwrap().text(),
        "/dav/calendars/alice/home/"
    );
    let propstats: Vec<_> = first.elements().filter(|e| e.is(DAV, "propstat")).collect();
    assert_eq!(propstats.len(), 2);
    let ok = propstats[0].child(DAV, "prop").unwrap();
    assert_eq!(
        child_names(ok),
        names(&[
            (DAV, "displayname"),
            (DAV, "resourcetype"),
            (CALDAV, "supported-calendar-component-set"),
            (CALENDARSERVER, "getctag"),
            (APPLE_ICAL, "calendar-color"),
            (CALDAV, "calendar-home-set"),
            (LITMUS, "valnspace"),
        ])
    );
    assert_eq!(
        ok.child(DAV, "displayname").unwrap().text(),
        "Home & <Work>"
    );
    assert_eq!(
        child_names(ok.child(DAV, "resourcetype").unwrap()),
        names(&[(DAV, "collection"), (CALDAV, "calendar")])
    );
    // The dead property comes back exactly as it was stored.
    let dead = ok.child(LITMUS, "valnspace").unwrap();
    assert_eq!(dead.attr(XML_NS, "lang"), Some("en"));
    assert_eq!(dead.children, vec![node(el("bar", "foo", vec![text("v")]))]);
    assert_eq!(
        propstats[0].child(DAV, "status").unwrap().text(),
        "HTTP/1.1 200 OK"
    );

    let missing = propstats[1].child(DAV, "prop").unwrap();
    assert_eq!(
        child_names(missing),
        names(&[
            ("http://example.com/ns", "foo"),
            ("", "nonamespace"),
            (CARDDAV, "addressbook-description"),
        ])
    );

    let gone = responses[1];
    assert_eq!(
        gone.child(DAV, "status").unwrap().text(),
        "HTTP/1.1 404 Not Found"
    );
    assert!(gone.child(DAV, "propstat").is_none());
}

#[test]
fn element_values_in_foreign_namespaces_declare_them_on_the_property() {
    let ms = MultiStatus {
        responses: vec![Response {
            href: "/a b/".into(),
            body: ResponseBody::PropStats(vec![PropStat {
                status: 200,
                props: vec![prop(
                    "urn:p",
                    "outer",
                    Value::Elements(vec![
                        Element {
                            name: QName::new("urn:q", "inner"),
                            attrs: vec![(QName::new("urn:r", "a"), "1".into())],
                            children: vec![node(el("", "bare", vec![text("t")]))],
                        },
                        el("urn:p", "again", vec![]),
                    ]),
                )],
            }]),
        }],
        sync_token: None,
    };
    let xml = write_multistatus(&ms);
    assert!(
        xml.contains(
            r#"<x0:outer xmlns:x0="urn:p" xmlns:x1="urn:q" xmlns:x2="urn:r"><x1:inner x2:a="1"><bare>t</bare></x1:inner><x0:again/></x0:outer>"#
        ),
        "{xml}"
    );
    assert!(!xml.contains("sync-token"));
    let root = parse_str(&xml);
    let outer = root
        .child(DAV, "response")
        .and_then(|r| r.child(DAV, "propstat"))
        .and_then(|p| p.child(DAV, "prop"))
        .and_then(|p| p.child("urn:p", "outer"))
        .unwrap();
    let inner = outer.child("urn:q", "inner").unwrap();
    assert_eq!(inner.attr("urn:r", "a"), Some("1"));
    assert_eq!(child_names(inner), names(&[("", "bare")]));
}

#[test]
fn text_values_keep_crlf_and_drop_invalid_characters() {
    let calendar = "BEGIN:VCALENDAR\r\nSUMMARY:a\u{1}b\r\nEND:VCALENDAR\r\n";
    let ms = MultiStatus {
        responses: vec![Response {
            href: "/x.ics".into(),
            body: ResponseBody::PropStats(vec![PropStat {
                status: 200,
                props: vec![prop(CALDAV, "calendar-data", Value::Text(calendar.into()))],
            }]),
        }],
        sync_token: None,
    };
    let root = parse_str(&write_multistatus(&ms));
    assert_eq!(
        root.text(),
        "/x.icsBEGIN:VCALENDAR\r\nSUMMARY:ab\r\nEND:VCALENDAR\r\nHTTP/1.1 200 OK"
    );
}

#[test]
fn status_lines_carry_reason_phrases() {
    for (code, phrase) in [
        (200, "OK"),
        (201, "Created"),
        (204, "No Content"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (409, "Conflict"),
        (412, "Precondition Failed"),
        (424, "Failed Dependency"),
        (500, "Internal Server Error"),
        (507, "Insufficient Storage"),
    ] {
        assert_eq!(reason_phrase(code), phrase);
        let ms = MultiStatus {
            responses: vec![Response {
                href: "/".into(),
                body: ResponseBody::Status(code),
            }],
            sync_token: None,
        };
        let expected = format!("<d:status>HTTP/1.1 {code} {phrase}</d:status>");
        assert!(write_multistatus(&ms).contains(&expected));
    }
    assert_eq!(reason_phrase(299), "");
}

#[test]
fn a_large_propfind_response_is_written_in_one_pass() {
    let responses: Vec<Response> = (0..2_000)
        .map(|i| Response {
            href: format!("/dav/calendars/alice/home/event-{i}.ics"),
            body: ResponseBody::PropStats(vec![
                PropStat {
                    status: 200,
                    props: vec![
                        prop(DAV, "getetag", Value::Text(format!("\"etag-{i}\""))),
                        prop(
                            DAV,
                            "getcontenttype",
                            Value::Text("text/calendar; charset=utf-8".into()),
                        ),
                        prop(DAV, "resourcetype", Value::Empty),
                        prop(
                            DAV,
                            "getlastmodified",
                            Value::Text("Mon, 01 Jan 2024 00:00:00 GMT".into()),
                        ),
                    ],
                },
                PropStat {
                    status: 404,
                    props: vec![prop(CALENDARSERVER, "getctag", Value::Empty)],
                },
            ]),
        })
        .collect();
    let ms = MultiStatus {
        responses,
        sync_token: Some("token".into()),
    };
    let started = std::time::Instant::now();
    let xml = write_multistatus(&ms);
    let elapsed = started.elapsed();
    println!(
        "write_multistatus: 2,000 responses, {} bytes in {:?}",
        xml.len(),
        elapsed
    );
    assert_eq!(xml.matches("<d:response>").count(), 2_000);
    let root = parse_str(&xml);
    assert_eq!(
        root.elements().filter(|e| e.is(DAV, "response")).count(),
        2_000
    );
}

// --- write_error ---

#[test]
fn error_bodies_name_one_precondition() {
    let xml = write_error(&QName::new(CALDAV, "valid-calendar-data"), &[]);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\"")
    );
    assert!(
        xml.ends_with("><c:valid-calendar-data/></d:error>"),
        "{xml}"
    );
    let root = parse_str(&xml);
    assert!(root.is(DAV, "error"));
    assert_eq!(
        child_names(&root),
        names(&[(CALDAV, "valid-calendar-data")])
    );

    let xml = write_error(&QName::new(CALDAV, "no-uid-conflict"), &["/x".to_string()]);
    assert!(
        xml.ends_with("><c:no-uid-conflict><d:href>/x</d:href></c:no-uid-conflict></d:error>"),
        "{xml}"
    );
    let root = parse_str(&xml);
    let conflict = root.child(CALDAV, "no-uid-conflict").unwrap();
    assert_eq!(conflict.child(DAV, "href").unwrap().text(), "/x");
}

#[test]
fn error_preconditions_in_other_namespaces_are_declared() {
    let xml = write_error(&QName::new("urn:custom", "quota"), &[]);
    assert!(
        xml.contains(r#"<x0:quota xmlns:x0="urn:custom"/>"#),
        "{xml}"
    );
    let root = parse_str(&xml);
    assert!(root.child("urn:custom", "quota").is_some());
    let xml = write_error(&QName::dav("need-privileges"), &["/a&b".to_string()]);
    assert!(xml.contains("<d:need-privileges><d:href>/a&amp;b</d:href></d:need-privileges>"));
}

#[test]
fn a_response_can_carry_a_precondition_with_its_status() {
    let ms = MultiStatus {
        responses: vec![Response {
            href: "/dav/addressbooks/a/default/".into(),
            body: ResponseBody::Error {
                status: 507,
                condition: QName::dav("number-of-matches-within-limits"),
            },
        }],
        sync_token: None,
    };
    let xml = write_multistatus(&ms);
    assert!(xml.contains(
        "<d:status>HTTP/1.1 507 Insufficient Storage</d:status><d:error><d:number-of-matches-within-limits/></d:error>"
    ), "{xml}");
    assert!(parse(xml.as_bytes()).is_ok());
}

#[test]
fn calendar_multiget_keeps_a_narrowing_calendar_data() {
    let body = r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="20240301T000000Z" end="20240316T000000Z"/></C:calendar-data></D:prop><D:href>/a.ics</D:href></C:calendar-multiget>"#;
    let Ok(Report::CalendarMultiget { calendar_data, .. }) = parse_report(body.as_bytes()) else {
        panic!("not a calendar-multiget")
    };
    let data = calendar_data.expect("the narrowing calendar-data is kept");
    assert!(data.is(CALDAV, "calendar-data"));
    assert!(data.elements().any(|e| e.is(CALDAV, "expand")));
}

#[test]
fn share_requests_name_sharees_and_their_access() {
    let body = br#"<?xml version="1.0" encoding="utf-8"?>
<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <CS:set><D:href>mailto:bob@example.com</D:href><CS:common-name>Bob</CS:common-name>
    <CS:summary>Work</CS:summary><CS:read-write/></CS:set>
  <CS:set><D:href> /dav/principals/groups/team@example.com/ </D:href><CS:read/></CS:set>
  <CS:remove><D:href>mailto:carol@example.com</D:href></CS:remove>
</CS:share>"#;
    let request = parse_share(body).unwrap();
    assert_eq!(
        request.set,
        vec![
            ShareSet {
                href: "mailto:bob@example.com".into(),
                read_write: true
            },
            ShareSet {
                href: "/dav/principals/groups/team@example.com/".into(),
                read_write: false
            },
        ]
    );
    assert_eq!(request.remove, vec!["mailto:carol@example.com".to_string()]);
    for bad in [
        &br#"<CS:share xmlns:CS="http://calendarserver.org/ns/"/>"#[..],
        br#"<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><CS:set><D:href>x</D:href></CS:set></CS:share>"#,
        br#"<CS:share xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><CS:remove/></CS:share>"#,
        br#"<D:share xmlns:D="DAV:"/>"#,
    ] {
        assert!(parse_share(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn principal_property_searches_keep_their_test_match_types_and_props() {
    let root = parse(
        br#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" test="anyof">
  <D:property-search><D:prop><D:displayname/></D:prop><D:match match-type="starts-with">Ali</D:match></D:property-search>
  <D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match>example</D:match></D:property-search>
  <D:prop><D:displayname/><C:calendar-user-type/></D:prop>
  <D:apply-to-principal-collection-set/>
</D:principal-property-search>"#,
    )
    .unwrap();
    let search = parse_principal_property_search(&root).unwrap();
    assert!(search.any);
    assert_eq!(search.searches.len(), 2);
    assert_eq!(search.searches[0].match_type, MatchType::StartsWith);
    assert_eq!(search.searches[0].text, "Ali");
    assert_eq!(
        search.searches[1].props,
        vec![QName::new(CALDAV, "calendar-user-address-set")]
    );
    assert_eq!(search.searches[1].match_type, MatchType::Contains);
    assert_eq!(
        search.props,
        PropRequest::Prop(vec![
            QName::dav("displayname"),
            QName::new(CALDAV, "calendar-user-type")
        ])
    );
    let empty = parse(
        br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop><D:match> </D:match></D:property-search></D:principal-property-search>"#,
    )
    .unwrap();
    assert!(parse_principal_property_search(&empty).is_err());
    // python caldav's shape: an empty prop, the wanted ones beside it.
    let caldav = parse(
        br#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop/><C:calendar-home-set/><D:displayname/></D:principal-property-search>"#,
    )
    .unwrap();
    let search = parse_principal_property_search(&caldav).unwrap();
    assert!(search.searches.is_empty());
    assert_eq!(
        search.props,
        PropRequest::Prop(vec![
            QName::new(CALDAV, "calendar-home-set"),
            QName::dav("displayname")
        ])
    );
}
