use super::*;

const APPLE: &str = include_str!("../../../fixtures/vcard/apple_contact.vcf");
const GOOGLE: &str = include_str!("../../../fixtures/vcard/google_contacts.vcf");
const V4: &str = include_str!("../../../fixtures/vcard/v4_contact.vcf");
const NO_UID: &str = include_str!("../../../fixtures/vcard/no_uid.vcf");
const VCARD21: &str = include_str!("../../../fixtures/vcard/vcard21.vcf");
const BAD_UNTERMINATED: &str = include_str!("../../../fixtures/vcard/bad_unterminated.vcf");
const BAD_MISSING_FN: &str = include_str!("../../../fixtures/vcard/bad_missing_fn.vcf");

fn card(body: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:4.0\r\n{body}END:VCARD\r\n")
}

#[test]
fn validates_apple_card_with_photo_and_groups() {
    let card = validate_card(APPLE).unwrap();
    assert_eq!(
        card.uid.as_deref(),
        Some("8E4C1F3A-2B6D-4E9F-A1C3-5D7B9E0F2A4C")
    );
    assert_eq!(card.version, VcardVersion::V3);
    assert_eq!(card.formatted_name, "Anna Maria Gruber");
}

#[test]
fn validates_v4_card() {
    let card = validate_card(V4).unwrap();
    assert_eq!(
        card.uid.as_deref(),
        Some("urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1")
    );
    assert_eq!(card.version, VcardVersion::V4);
    assert_eq!(card.version.as_str(), "4.0");
    assert_eq!(card.formatted_name, "Sofia Lindqvist");
}

#[test]
fn validates_outlook_card_without_uid_and_with_bare_parameters() {
    let card = validate_card(NO_UID).unwrap();
    assert_eq!(card.uid, None);
    assert_eq!(card.formatted_name, "Chinedu Okafor");
}

#[test]
fn refuses_vcard_21_with_a_clear_message() {
    let err = validate_card(VCARD21).unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("2.1 is not supported"), "{err}");
    assert_eq!(split_cards(VCARD21).unwrap_err(), err);
}

#[test]
fn rejects_malformed_cards() {
    let cases: &[(String, usize, &str)] = &[
        (card(""), 1, "no FN"),
        (
            card("FN:x\r\n").replace("VERSION:4.0\r\n", ""),
            1,
            "no VERSION",
        ),
        (card("FN:x\r\n").replace("4.0", "5.0"), 2, "unsupported"),
        (card("FN:x\r\nVERSION:4.0\r\n"), 4, "twice"),
        (card("FN:x\r\nNOTE:a\r\nlost fold\r\n"), 5, "no ':'"),
        (
            card("FN:x\r\n") + &card("FN:y\r\n"),
            5,
            "content after END:VCARD",
        ),
        (
            card("FN:x\r\nBEGIN:VCARD\r\n"),
            4,
            "inside the vCard begun on line 1",
        ),
        (
            card("FN:x\r\n").replace("END:VCARD", "END:VCALENDAR"),
            4,
            "does not match",
        ),
        (
            "FN:x\r\n".to_string() + &card("FN:x\r\n"),
            1,
            "expected BEGIN:VCARD",
        ),
        (
            "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n".to_string(),
            1,
            "never closed",
        ),
        (String::new(), 1, "no BEGIN:VCARD"),
    ];
    for (text, line, needle) in cases {
        let err = validate_card(text).unwrap_err();
        assert_eq!(err.line, *line, "{err} in\n{text}");
        assert!(
            err.message.contains(needle),
            "{err:?} should mention {needle:?}"
        );
    }
}

#[test]
fn tolerates_sloppy_cards() {
    let sloppy = "\u{feff}begin:vcard\nversion:3.0 \nfn:Doe\\, Jane\nitem1.tel;type=cell:+1\n\nend:vcard\n\n";
    let parsed = validate_card(sloppy).unwrap();
    assert_eq!(parsed.formatted_name, "Doe, Jane");
    assert_eq!(parsed.version, VcardVersion::V3);
    // RFC 6350 allows several FN (one per language); the first one counts.
    let two = card("FN;LANGUAGE=en:John\r\nFN;LANGUAGE=de:Johann\r\n");
    assert_eq!(validate_card(&two).unwrap().formatted_name, "John");
}

#[test]
fn splits_google_export() {
    let cards = split_cards(GOOGLE).unwrap();
    assert_eq!(cards.len(), 3);
    assert_eq!(
        cards.iter().map(|c| c.line).collect::<Vec<_>>(),
        [1, 17, 26]
    );
    assert!(cards.iter().all(|c| c.uid.is_none()));
    let names: Vec<String> = cards
        .iter()
        .map(|c| validate_card(&c.vcard).unwrap().formatted_name)
        .collect();
    assert_eq!(
        names,
        [
            "Jane Doe",
            "Dr. Rajesh Iyer, PhD",
            "Plumber – Müller & Söhne"
        ]
    );
    // Folded lines stay folded.
    assert!(cards[2]
        .vcard
        .contains("ABCdefGHIjklMNOpqrSTUvwxYZ\r\n 0123456789abcdefg=s100\r\n"));
    assert!(cards[2].vcard.ends_with("END:VCARD\r\n"));
}

#[test]
fn splits_single_cards_into_themselves() {
    for (text, uid) in [
        (APPLE, Some("8E4C1F3A-2B6D-4E9F-A1C3-5D7B9E0F2A4C")),
        (V4, Some("urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1")),
        (NO_UID, None),
    ] {
        let cards = split_cards(text).unwrap();
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].uid.as_deref(), uid);
        assert_eq!(cards[0].line, 1);
        assert_eq!(
            validate_card(&cards[0].vcard).unwrap(),
            validate_card(text).unwrap()
        );
    }
    // The LF-only 4.0 file comes out with CRLF.
    assert_eq!(split_cards(V4).unwrap()[0].vcard, V4.replace('\n', "\r\n"));
    // A concatenation of all three.
    let all = format!("{APPLE}{V4}\n{NO_UID}");
    let cards = split_cards(&all).unwrap();
    assert_eq!(
        cards.iter().map(|c| c.line).collect::<Vec<_>>(),
        [1, 51, 68]
    );
}

#[test]
fn split_fails_on_the_first_bad_card_with_its_line() {
    let err = split_cards(BAD_UNTERMINATED).unwrap_err();
    assert_eq!(err.line, 10);
    assert!(err.message.contains("begun on line 6"), "{err}");

    let err = split_cards(BAD_MISSING_FN).unwrap_err();
    assert_eq!(err.line, 5);
    assert!(err.message.contains("no FN"), "{err}");

    let truncated = format!("{GOOGLE}BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Half\r\n");
    assert_eq!(split_cards(&truncated).unwrap_err().line, 36);
    let stray = format!("{GOOGLE}NOTE:stray\r\n");
    assert_eq!(split_cards(&stray).unwrap_err().line, 36);
    assert_eq!(split_cards("\r\n").unwrap_err().line, 1);
}

#[test]
fn vcard_parser_checks_v4_values_with_lines() {
    // GENDER takes a known sex letter; our own pass does not look at values.
    let text = format!("\n\n{}", card("FN:x\r\nNOTE:fine\r\nGENDER:Q\r\n"));
    assert!(validate_card(&text).is_ok());
    let err = split_cards(&text).unwrap_err();
    assert_eq!(err.line, 7, "{err}");
    assert!(err.message.contains("vcard_parser"), "{err}");

    // Where we are more tolerant than the crate, it is not asked.
    let late_version = "begin:vcard\nFN:x\nNOTE:a\n b\nversion:4.0 \nGENDER:M\nend:vcard\n";
    assert!(split_cards(late_version).is_ok());
    let err = split_cards(&late_version.replace("GENDER:M", "GENDER:Q")).unwrap_err();
    assert_eq!(err.line, 6, "{err}");
}

#[test]
fn with_uid_inserts_after_version() {
    let with = with_uid(NO_UID, "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b");
    assert!(with.starts_with(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b\r\nN;LANGUAGE"
    ));
    assert_eq!(
        with.len(),
        NO_UID.len() + "UID:3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b\r\n".len()
    );
    let card = validate_card(&with).unwrap();
    assert_eq!(
        card.uid.as_deref(),
        Some("3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b")
    );

    // LF cards get LF; an existing UID is replaced, not duplicated.
    let replaced = with_uid(V4, "new");
    assert!(replaced.starts_with("BEGIN:VCARD\nVERSION:4.0\nUID:new\nPRODID"));
    assert_eq!(replaced.matches("UID:").count(), 1);
    assert_eq!(
        validate_card(&replaced).unwrap().uid.as_deref(),
        Some("new")
    );

    // No line breaks can be smuggled in, and long UIDs are folded.
    let long = "x".repeat(100);
    let sneaky = with_uid(NO_UID, &format!("{long}\r\nFN:evil"));
    let card = validate_card(&sneaky).unwrap();
    assert_eq!(card.uid.as_deref(), Some(format!("{long}FN:evil").as_str()));
    assert_eq!(card.formatted_name, "Chinedu Okafor");
    assert!(sneaky.lines().all(|l| l.len() <= 76));

    // Without VERSION the UID goes after BEGIN.
    assert_eq!(
        with_uid("BEGIN:VCARD\nFN:x\nEND:VCARD", "u"),
        "BEGIN:VCARD\nUID:u\nFN:x\nEND:VCARD"
    );
}

/// The card validator is on the hot path too; a real Apple card with a
/// photo must not be slow because of the photo.
#[test]
fn validate_card_hot_path_many_times() {
    let per_call = crate::best_time_per_call(|| {
        let card = validate_card(std::hint::black_box(APPLE)).unwrap();
        assert_eq!(card.version, VcardVersion::V3);
    });
    eprintln!(
        "validate_card: {} bytes, {per_call:.2} us per call",
        APPLE.len()
    );
}

/// Real address books hold 4.0 cards whose N has fewer than five parts;
/// they import rather than fail the whole file.
#[test]
fn a_short_n_does_not_fail_an_import() {
    let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:short-n\r\nFN:John Doe\r\nN:Doe;John\r\nADR;TYPE=work:;;1 Main St;Springfield\r\nEND:VCARD\r\n";
    let cards = split_cards(text).unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].vcard, text, "the stored card is the card as given");
}

#[test]
fn kinds_beyond_rfc_6350s_four_are_not_refused() {
    // RFC 6869 registered `device`; x-names are allowed too.
    for kind in ["device", "x-robot"] {
        let text = format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:k\r\nKIND:{kind}\r\nFN:Beamer\r\nEND:VCARD\r\n"
        );
        assert_eq!(split_cards(&text).unwrap()[0].vcard, text);
    }
    // A value that is no token at all is still refused, on its line.
    let bad = card("UID:k\r\nKIND:not a kind\r\nFN:x\r\n");
    assert_eq!(split_cards(&bad).unwrap_err().line, 4);
}
