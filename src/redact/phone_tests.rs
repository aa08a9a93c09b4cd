//! Table-driven tests of the phone detector: per locale, the formats its national numbering
//! plan publishes (ITU-T E.164 country code, trunk prefix, area-code and subscriber lengths),
//! written the ways people write them; then extensions, context words and near misses.

use super::*;
use crate::redact::context::{DEFAULT_BLOOM, DEFAULT_WORDS};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn found(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    phone(text.as_bytes(), DEFAULT_WORDS, &DEFAULT_BLOOM, &mut out);
    out.iter().map(|s| &text[s.start..s.end]).collect()
}

/// (locale, the plan the formats come from, numbers as written nationally and internationally).
/// The 20 most populous countries first, then the European locales of the context words.
const LOCALES: &[(&str, &str, &[&str])] = &[
    (
        "IN",
        "TRAI National Numbering Plan 2003: trunk 0, STD code 2–4 digits, 10-digit mobiles from 6–9",
        &["98765 43210", "098765 43210", "+91 98765 43210", "011 2345 6789", "022-23456789", "0124-4567890", "(0290)-073151", "(0448) 106620", "0181-921625"],
    ),
    (
        "CN",
        "MIIT numbering plan: trunk 0, area code 2–3 digits, 11-digit mobiles from 13–19",
        &["010 1234 5678", "021-12345678", "0755-12345678", "0755 8765 4321", "138 0013 8000", "+86 138 0013 8000", "+86 10 1234 5678"],
    ),
    (
        "US",
        "NANP (ATIS INC): NPA-NXX-XXXX, N = 2–9, country code 1",
        &[
            "(415) 555-0132",
            "415-555-0132",
            "415.555.0132",
            "415 555 0132",
            "1-800-555-0100",
            "1 (800) 555-0100",
            "+1 415 555 0132",
            "+1-692-261-9915",
            "001-692-261-9915",
            "001 415 555 0132",
        ],
    ),
    (
        "ID",
        "Indonesia numbering plan: trunk 0, area code 1–3 digits, mobiles 08xx",
        &["021-1234-5678", "(021) 12345678", "0812-3456-7890", "0812 3456 7890", "+62 812 3456 7890"],
    ),
    (
        "PK",
        "PTA numbering plan: trunk 0, area code 2–4 digits, mobiles 03xx + 7",
        &["0300 1234567", "0300-1234567", "042 35761234", "(042) 3576 1234", "+92 300 1234567"],
    ),
    (
        "NG",
        "NCC National Numbering Plan: trunk 0, mobiles 070x/080x/081x/090x + 7",
        &["0803 123 4567", "0803-123-4567", "0803 1234567", "01 234 5678", "+234 803 123 4567"],
    ),
    (
        "BR",
        "Anatel PGCN: area code 2 digits 11–99, 8-digit landlines, 9-digit mobiles from 9",
        &["(11) 91234-5678", "(11) 1234-5678", "11 91234-5678", "31 4156-8429", "(011) 91234-5678", "+55 11 91234-5678", "+55 (31) 4156-8429"],
    ),
    ("BD", "BTRC numbering plan: trunk 0, mobiles 01x + 8", &["01712-345678", "01712 345678", "01712 345 678", "02-9123456", "+880 1712-345678"]),
    (
        "RU",
        "Rossvyaz plan: trunk 8, area code 3–5 digits, 10-digit national numbers",
        &["8 (495) 123-45-67", "8 495 123-45-67", "8-912-345-67-89", "(495) 123-45-67", "+7 (495) 123-45-67", "+7 912 345-67-89"],
    ),
    ("ET", "ETA numbering plan: trunk 0, area code 2 digits, mobiles 09 + 8", &["011 551 1234", "091 123 4567", "0911 23 45 67", "+251 91 123 4567"]),
    (
        "MX",
        "IFT Plan Técnico de Numeración (2019): 10-digit national numbers, no trunk prefix",
        &["55 1234 5678", "(55) 1234-5678", "222 123 4567", "(222) 123-4567", "+52 55 1234 5678"],
    ),
    (
        "JP",
        "MIC numbering plan: trunk 0, 10-digit landlines, 11-digit mobiles 070/080/090",
        &["03-1234-5678", "(03) 1234-5678", "06-1234-5678", "011-123-4567", "0123-45-6789", "090-1234-5678", "+81 3-1234-5678", "+81 90-1234-5678"],
    ),
    ("EG", "NTRA numbering plan: trunk 0, Cairo 02 + 8, mobiles 01x + 8", &["02 2345 6789", "010 1234 5678", "0100 123 4567", "+20 10 1234 5678"]),
    ("PH", "NTC numbering plan: trunk 0, Manila 02 + 8, mobiles 09xx + 7", &["(02) 8123 4567", "0917 123 4567", "0917-123-4567", "+63 917 123 4567"]),
    ("CD", "ARPTC numbering plan: trunk 0, mobiles 08x/09x + 7", &["081 234 5678", "0812 345 678", "+243 81 234 5678"]),
    (
        "VN",
        "MIC Vietnam numbering plan: trunk 0, Hanoi 024 + 8, 10-digit mobiles",
        &["024 3825 1234", "028 3822 1234", "091 234 56 78", "0912 345 678", "0912.345.678", "+84 912 345 678"],
    ),
    ("IR", "CRA numbering plan: trunk 0, Tehran 021 + 8, mobiles 09xx + 7", &["021 1234 5678", "0912 345 6789", "+98 912 345 6789"]),
    (
        "TR",
        "BTK numbering plan: trunk 0, area code 3 digits, 10-digit national numbers",
        &["0212 123 45 67", "0532 123 45 67", "(0212) 123 45 67", "0 (532) 123 45 67", "+90 532 123 45 67"],
    ),
    (
        "DE",
        "BNetzA Nummernplan: trunk 0, Vorwahl 2–5 digits, DIN 5008 grouping",
        &[
            "030 12345678",
            "030/12345678",
            "030-12345678",
            "(030) 12345678",
            "0221 1234567",
            "06221 123456",
            "0151 23456789",
            "0171/1234567",
            "030 / 1234567",
            "0049 30 12345678",
            "+49 30 12345678",
            "+49 (0)30 12345678",
            "+4915112345678",
        ],
    ),
    ("TH", "NBTC numbering plan: trunk 0, Bangkok 02 + 7, mobiles 06/08/09 + 8", &["02 123 4567", "081 234 5678", "08-1234-5678", "+66 81 234 5678"]),
    (
        "GB",
        "Ofcom National Telephone Numbering Plan: trunk 0, 10-digit national numbers",
        &[
            "020 7946 0958",
            "(020) 7946 0958",
            "0161 496 0000",
            "01632 960123",
            "01632 960 123",
            "07700 900123",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "0044 20 7946 0958",
        ],
    ),
    (
        "FR",
        "ARCEP plan de numérotation: trunk 0, 10 digits in pairs",
        &["01 23 45 67 89", "01.23.45.67.89", "01-23-45-67-89", "06 12 34 56 78", "+33 6 12 34 56 78", "+33 1 23 45 67 89", "0033 1 23 45 67 89"],
    ),
    (
        "IT",
        "AGCOM Piano di numerazione: landlines keep the 0, mobiles 3xx, 9–11 digits",
        &["06 6988 1234", "02 12345678", "0444 123456", "333 123 4567", "333 1234567", "+39 06 6988 1234", "+39 333 123 4567"],
    ),
    ("ES", "CNMC Plan nacional de numeración: 9 digits, no trunk prefix", &["912 345 678", "91 234 56 78", "612 34 56 78", "612 345 678", "+34 612 345 678"]),
    ("PT", "ANACOM Plano Nacional de Numeração: 9 digits, no trunk prefix", &["21 234 5678", "912 345 678", "+351 912 345 678"]),
    (
        "NL",
        "ACM Nummerplan: trunk 0, 10-digit national numbers",
        &["020 123 4567", "020-1234567", "(020) 123 4567", "06 12345678", "06-12345678", "0511 123456", "088 9521238", "+31 6 12345678", "+31 (0)20 123 4567"],
    ),
];

#[test]
fn every_locale_format_is_found_whole() {
    for (locale, _plan, numbers) in LOCALES {
        for n in *numbers {
            let text = format!("Kontakt / contact: {n}, merci.");
            assert_eq!(found(&text), [*n], "{locale}: {n}");
            let text = format!("({n})");
            assert_eq!(found(&text), [*n], "{locale} in parentheses: {n}");
        }
    }
    assert!(LOCALES.len() >= 20);
}

#[test]
fn extensions_belong_to_the_number() {
    for n in [
        "514.369.5136x74193",
        "+1-692-261-9915x2825",
        "(212) 555-0199 ext. 12",
        "415-555-0132 x 7",
        "020 7946 0958 ext 204",
        "+49 30 12345678, ext. 55",
        "001-692-261-9915x2825",
    ] {
        assert_eq!(found(&format!("call {n} today")), [n], "{n}");
    }
    assert_eq!(found("415-555-0132 xylophone"), ["415-555-0132"]);
    assert_eq!(found("415-555-0132 extra 12"), ["415-555-0132"]);
}

#[test]
fn context_words_make_bare_numbers_phones() {
    let cases = [
        ("phone: 0958072439", "0958072439"),
        ("Tel. 4567890", "4567890"),
        ("mobile 9876543210", "9876543210"),
        ("call me on 07036185623 tonight", "07036185623"),
        ("Telefon: 03012345678", "03012345678"),
        ("Handy 01701234567", "01701234567"),
        ("Tél : 0612345678", "0612345678"),
        ("téléphone 0123456789", "0123456789"),
        ("teléfono: 612345678", "612345678"),
        ("celular 11912345678", "11912345678"),
        ("telemóvel 912345678", "912345678"),
        ("cellulare 3331234567", "3331234567"),
        ("mobiel: 0612345678", "0612345678"),
        ("bel me op 0201234567", "0201234567"),
        ("mera number 9876543210 hai", "9876543210"),
        ("WhatsApp: 5511912345678", "5511912345678"),
        ("Tel. Nr. 030 1234 567 8", "030 1234 567 8"),
        ("fax 0221-12 34 56 7", "0221-12 34 56 7"),
        ("tel:+4930123456", "+4930123456"),
        ("Tel.:030123456", "030123456"),
    ];
    for (text, want) in cases {
        assert_eq!(found(text), [want], "{text}");
    }
}

#[test]
fn near_misses_are_not_phones() {
    let misses = [
        "Order 4155550132, on 2024-03-15 at 10:30:00, v1.2.3, $1,234.56, id 550e8400-e29b-41d4-a716-446655440000",
        "ts 1700000000, ORD-415-555-0132, 192.168.10.200, 192.168.10.20, 3.14159, build 10.0.19045.3803",
        "serial 0123-4567-8901 and serial 1234-5678-9012, ISBN 978-3-16-148410-0, due 05/03/2024, 15.03.2024",
        "Rechnung 2024-0042-17, Bestellnummer 30012345678, Artikel 0815 4711, Kundennummer 00012345",
        "phone 2 of 3, call at 10:30, Telefon am 15.03.2024, mobile app 2.3.1, fax from 1998, Tel. 12 34",
        "PO 0012345678, version 0.12.3456, account 01234567, 12 345 678 units, 1 234 567,89 EUR",
        "nota fiscal 351.021.671, 12.345.678 Einwohner, ordine 06411/2019, CPF 007.682.125-35, serial 0058-4569-5275, 824 995,12 €",
        "reach me at 170.238.40.172 or phone: 9.85.36.245, tel. 12.03.2024, Tel. 2024-03-15",
    ];
    for m in misses {
        assert!(found(m).is_empty(), "{m}: {:?}", found(m));
    }
}

#[test]
fn operator_context_words_replace_the_defaults() {
    let Ok(w) = crate::redact::context::compile(&["direct line".into()]) else { return };
    let mut out = Vec::new();
    phone(b"direct line 4567890 or phone: 0958072439", &w.list, &w.bloom, &mut out);
    assert_eq!(out, [Span { start: 12, end: 19 }]);
}

/// Known ambiguities (docs/redaction.md): other numbers in a phone's exact shape are phones.
#[test]
fn known_ambiguities_are_phones() {
    assert_eq!(found("SIREN 732 829 320"), ["732 829 320"], "a French SIREN in the Spanish grouping");
    assert_eq!(found("serial 0812-3456-7890"), ["0812-3456-7890"], "a serial in Indonesia's mobile grouping");
    assert_eq!(found("fax 4711234"), ["4711234"], "any 7–15 digits after a context word");
}
