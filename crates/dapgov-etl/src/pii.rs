//! Personal-information detection with check digits and context, and its redaction.
//!
//! Entity names follow AWS Glue's sensitive-data types where Glue has them. One automaton
//! holds every pattern so the text is scanned once, and validators (Luhn, BC PHN mod 11, NANP
//! rules, context words, a gazetteer of given names) reject what only looks like personal
//! information. Letters are Unicode letters: names and e-mail addresses are written in every
//! script's Latin letters, with accents. Word boundaries stay ASCII (`(?-u:\b)`): a Unicode
//! boundary would turn off the fast engines on accented text, so patterns that start with a
//! letter consume the character before it instead. Text of ASCII alone, most notes, is scanned
//! by the same patterns cut to ASCII classes, whose automaton is far smaller (`ASCII_TIER`).

use regex::Regex;
use regex_automata::{Anchored, Input, meta};
use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

/// What is done with a finding: the spec's `[etl.pii]` actions.
pub use dapgov_spec::PiiAction as Action;
/// The entity kinds are the spec's, so a policy can only name one the detector knows.
pub use dapgov_spec::PiiEntity as Entity;

/// Given names from the 1990 US Census (public domain), without those that are also ordinary
/// English words ("will", "grant"), and common given names the census list lacks. See
/// `data/README.md`.
const GIVEN_NAMES: &str = include_str!("../../../data/gazetteer/given-names.txt");
/// Surnames from the 1990 US Census (public domain), likewise without ordinary words.
const SURNAMES: &str = include_str!("../../../data/gazetteer/surnames.txt");

static GIVEN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    GIVEN_NAMES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});
static SURNAME: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    SURNAMES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Words that make a run of capitalised words a place or an organisation, not a person:
/// "Queen Elizabeth Theatre", "David Lam Park", "customer Service Centre".
const NOT_PERSON_WORDS: [&str; 48] = [
    "Street",
    "Avenue",
    "Road",
    "Drive",
    "Way",
    "Park",
    "Hall",
    "Centre",
    "Center",
    "Theatre",
    "Library",
    "School",
    "Hospital",
    "Bridge",
    "Lake",
    "Yard",
    "Station",
    "Square",
    "Market",
    "Beach",
    "Island",
    "Building",
    "Tower",
    "Plaza",
    "Service",
    "Services",
    "Department",
    "Office",
    "Team",
    "Request",
    "Line",
    "Support",
    "Desk",
    "City",
    "Council",
    "Community",
    "Court",
    "Garden",
    "Gardens",
    "Pool",
    "Elementary",
    "Secondary",
    "Academy",
    "College",
    "University",
    "Church",
    "Arena",
    "Foundation",
];

/// A capitalised word with at least one lower-case letter (so "SR" and "PHN" are not names),
/// in any Latin-script spelling: "Łukasz", "O'Brien", "McDonald", "Nguyễn".
const WORD: &str = r"\p{Lu}[\p{L}\p{M}'’]*\p{Ll}\p{M}*";
/// Particles inside names: "María del Carmen", "Davi da Cunha", "Fergus Ó Treabhair".
const PARTICLE: &str = r"(?:da|das|de|del|della|den|der|des|di|die|do|dos|du|la|le|op|te|van|von|ter|ten|bin|ibn|al|el|y|Ó|Ní|Nic|Uí|Ua)";
/// Words that introduce a person in call notes, in the order the pattern tries them.
const CONTEXT_PHRASES: [&str; 32] = [
    "caller",
    "customer",
    "client",
    "resident",
    "complainant",
    "tenant",
    "homeowner",
    "owner",
    "requester",
    "requestor",
    "applicant",
    "mr",
    "mrs",
    "ms",
    "mx",
    "miss",
    "dr",
    "named",
    "name",
    "spoke with",
    "spoke to",
    "talked to",
    "talked with",
    "message for",
    "voicemail for",
    "signed",
    "regards",
    "thanks",
    "thank you",
    "sincerely",
    "cheers",
    "attn",
];

/// `CONTEXT_PHRASES` as a pattern, in any case.
fn context() -> String {
    format!("(?i:{})", CONTEXT_PHRASES.join("|"))
}

/// Does a word open one of `CONTEXT_PHRASES`? A pair starting with one ("Resident William")
/// is the context and the first name, and the name is the context pattern's to find whole.
fn opens_context(word: &str) -> bool {
    CONTEXT_PHRASES.iter().any(|p| {
        p.split(' ')
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    })
}
/// Verbs that follow a person in call notes ("Adaeze Nwachukwu called about it").
const PERSON_VERB: &str =
    r"(?:called|phoned|emailed|e-mailed|wrote|reported|asked|says|said|complained|requested)";
/// Street types written after the name ("Main Street", "52 AVE", "18e rue").
const STREET_TYPE: &str = r"(?i:street|st|avenue|ave|av|road|rd|drive|dr|boulevard|blvd|way|place|pl|crescent|cres|crt|court|ct|lane|ln|terrace|highway|hwy|parkway|pkwy|trail|trl|circle|cir|square|sq|gate|mews|row|close|walk|mall|grove|gardens|heights|line|sideroad|rue)";
/// Street types written before the name, as in Quebec ("rue Saint-Denis", "boulevard De Maisonneuve").
const STREET_TYPE_FIRST: &str = r"(?i:rue|avenue|av\.|boulevard|boul\.|chemin|ch\.|place|route|rang|montée|côte|allée|impasse|promenade)";
const DIRECTION: &str =
    r"(?:[NS][EW]|[NSEW]|North|South|East|West|Nord|Sud|Est|Ouest|NORTH|SOUTH|EAST|WEST)";

/// One to four name words, particles between and before them ("Ms. da Rosa").
fn full_name() -> String {
    let word = format!(r"{WORD}(?:-{WORD})*");
    format!(
        r"(?:{PARTICLE}[ \t]+)*{word}(?:[ \t]+(?:{PARTICLE}[ \t]+)*(?:{word}|\p{{Lu}}\.)){{0,3}}"
    )
}

fn street_address() -> String {
    let unit_first = r"(?:(?:(?i:unit|suite|apt\.?)[ \t]*)?[0-9]{1,5}[A-Za-z]?[ \t]*[-–][ \t]*)?";
    // "718 - 8th Avenue SW": a dash may stand between the number and the street.
    let number = r"[0-9]{1,6}[A-Za-z]?(?:,?[ \t]+|[ \t]*[-–][ \t]*)";
    let street_word =
        r"(?:\p{Lu}[\p{L}\p{M}'’.-]*|[0-9]{1,3}(?:st|nd|rd|th|e|er|a|b|ST|ND|RD|TH|A|B)?)";
    let unit_after =
        r"(?:,?[ \t]+(?:(?i:unit|suite|apt\.?|bureau)[ \t]*|#)[0-9A-Za-z]{1,6}(?-u:\b))?";
    let named_last = format!(
        r"(?:{DIRECTION}\.?[ \t]+)?(?:(?:{street_word}[ \t]+){{1,3}}{STREET_TYPE}(?-u:\b)\.?|Kingsway|Broadway|KINGSWAY|BROADWAY)(?:[ \t]+{DIRECTION}(?-u:\b))?"
    );
    let named_first = format!(
        r"{STREET_TYPE_FIRST}[ \t]+(?:(?:de|du|des|la|le|les|l'|d')[ \t]*){{0,2}}{street_word}(?:[ \t]+{street_word}){{0,2}}(?:[ \t]+(?:Est|Ouest|Nord|Sud)(?-u:\b))?"
    );
    // "#305-1234 Main St": the boundary comes after the number sign.
    format!(r"#?(?-u:\b){unit_first}{number}(?:{named_last}|{named_first}){unit_after}")
}

struct Pattern {
    entity: Entity,
    /// The pattern alone, for an anchored search where a higher-priority one was refused.
    alone: meta::Regex,
    /// Which part of a match the pattern reports (the name after "caller", the number after
    /// "licence"): its capture group, found from the match's shape, because resolving
    /// captures on the Unicode automata costs ~30 µs a finding.
    group: Group,
    /// A name found with no word introducing it counts only when it starts with a known
    /// given name or ends with a known surname.
    needs_known_name: bool,
    /// A name in lower case counts only when it starts with a known given name (the list
    /// holds none that are ordinary English words).
    needs_given_name: bool,
}

/// The pattern that finds names with no word introducing them.
const UNINTRODUCED_NAME: usize = 12;
/// The pattern that finds names in lower case after a word that introduces a person.
const LOWER_CASE_NAME: usize = 14;

/// Where a pattern's first capture group lies in its match.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Group {
    /// No group: the whole match.
    Whole,
    /// The last `n` bytes (`licence ... ([0-9]{7})`).
    TrailingDigits(usize),
    /// From the first digit or `#` (`lives at (1234 Main St)`).
    FromFirstDigit,
    /// After the context word and its separators (`caller: (Maria Lopez)`).
    AfterContext,
    /// After the character before the name (`(?:^|[^\p{L}...])(Maria Lopez)`).
    AfterBoundary,
    /// As `AfterBoundary`, without the verb that ends the match (`(Maria Lopez) called`).
    AfterBoundaryBeforeLastWord,
    /// After the context word, the first word and the second only if it is a known surname
    /// (`caller (john smith) about`, `spoke with (maria) about`).
    LowerCaseNameAfterContext,
}

/// The group of each pattern, by position in `PATTERNS`.
const GROUPS: [Group; 15] = [
    Group::Whole,
    Group::Whole,
    Group::Whole,
    Group::Whole,
    Group::Whole,
    Group::Whole,
    Group::Whole,
    Group::TrailingDigits(7),
    Group::Whole,
    Group::Whole,
    Group::FromFirstDigit,
    Group::AfterContext,
    Group::AfterBoundary,
    Group::AfterBoundaryBeforeLastWord,
    Group::LowerCaseNameAfterContext,
];

/// The context words and separators that open a match of the context-name pattern.
static CONTEXT_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^{}[.:,]?[ \t]+(?:(?:is|was)[ \t]+)?", context()))
        .expect("context prefix compiles")
});

impl Group {
    fn span(self, text: &str, whole: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let m = &text[whole.clone()];
        let boundary = || {
            if m.chars().next().is_some_and(char::is_alphabetic) {
                0
            } else {
                m.chars().next().map_or(0, char::len_utf8)
            }
        };
        let (a, b) = match self {
            Group::Whole => (0, m.len()),
            Group::TrailingDigits(n) => (m.len().saturating_sub(n), m.len()),
            Group::FromFirstDigit => (
                m.find(|c: char| c.is_ascii_digit() || c == '#')
                    .unwrap_or(0),
                m.len(),
            ),
            Group::AfterContext => (CONTEXT_PREFIX.find(m).map_or(0, |p| p.end()), m.len()),
            Group::AfterBoundary => (boundary(), m.len()),
            Group::AfterBoundaryBeforeLastWord => (
                boundary(),
                m.trim_end()
                    .rfind([' ', '\t'])
                    .map(|i| m[..i].trim_end().len())
                    .unwrap_or(m.len()),
            ),
            Group::LowerCaseNameAfterContext => {
                let from = CONTEXT_PREFIX.find(m).map_or(0, |p| p.end());
                let words: Vec<(usize, &str)> = m[from..]
                    .split_whitespace()
                    .map(|w| (w.as_ptr() as usize - m.as_ptr() as usize, w))
                    .collect();
                let end = match words.as_slice() {
                    [_, (at, second), ..] if is_surname(second) => at + second.len(),
                    [(at, first), ..] => at + first.len(),
                    [] => m.len(),
                };
                (from, end)
            }
        };
        whole.start + a..whole.start + b
    }
}

/// Each entity's pattern, in priority order (earlier wins where matches start together).
pub static PATTERNS: LazyLock<Vec<(Entity, String)>> = LazyLock::new(|| {
    let name = full_name();
    vec![
        // Any letters in the local part and the domain, and no boundary before it: a match
        // starts where the address does, so an e-mail is replaced whole or not at all.
        (Entity::Email, r"[\p{L}\p{N}\p{M}._%+'-]+@[\p{L}\p{N}\p{M}-]+(?:\.[\p{L}\p{N}\p{M}-]+)*\.\p{L}{2,}".into()),
        // Four groups of four, or American Express's 4-6-5.
        (Entity::CreditCard, r"(?-u)\b(?:(?:[0-9]{4}[ -]?){3}[0-9]{1,4}|3[47][0-9]{2}[ -]?[0-9]{6}[ -]?[0-9]{5})\b".into()),
        (Entity::Sin, r"(?-u)\b[0-9]{3}[ .-]?[0-9]{3}[ .-]?[0-9]{3}\b".into()),
        (Entity::Phn, r"(?-u)\b9[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}\b".into()),
        (Entity::Phone, r"(?-u)(?:\+?1[ .-]?)?\(?\b[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}\b".into()),
        (Entity::IpAddress, r"(?-u)\b(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\b".into()),
        (Entity::Passport, r"(?-u)\b[A-Z]{2}[0-9]{6}\b".into()),
        (Entity::DriversLicence, r"(?-u)(?i:licen[cs]e|DL)[ a-zA-Z.:#-]{0,20}\b([0-9]{7})\b".into()),
        // Either case, with a space, a dash or nothing between the halves.
        (Entity::PostalCode, r"(?-u)(?i:\b[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z][ -]?[0-9][ABCEGHJ-NPRSTV-Z][0-9]\b)".into()),
        (Entity::StreetAddress, street_address()),
        // After words that introduce an address, a number and a capitalised name are one,
        // typed or not ("lives at 3264 Mainway").
        (Entity::StreetAddress, format!(r"(?-u:\b)(?i:lives at|living at|resides at|residing at|located at|moved to|address is|address)[.:,]?[ \t]+({}|#?[0-9]{{1,6}}[A-Za-z]?,?[ \t]+\p{{Lu}}[\p{{L}}\p{{M}}'’.-]*(?:[ \t]+\p{{Lu}}[\p{{L}}\p{{M}}'’.-]*){{0,2}})", street_address())),
        // A name after a word that introduces a person, whatever its letters.
        (Entity::PersonName, format!(r"(?-u:\b){}[.:,]?[ \t]+(?:(?:is|was)[ \t]+)?({name})", context())),
        // A name anywhere, accepted when it starts with a known given name or ends with a
        // known surname.
        (Entity::PersonName, format!(r"(?:^|[^\p{{L}}\p{{N}}\p{{M}}'’@.-])({WORD}(?:-{WORD})?[ \t]+(?:\p{{Lu}}\.[ \t]+)?(?:{PARTICLE}[ \t]+)*{WORD}(?:-{WORD})?)")),
        // Two to four name words followed by what people do on the phone.
        (Entity::PersonName, format!(r"(?:^|[^\p{{L}}\p{{N}}\p{{M}}'’@.-])({WORD}(?:-{WORD})?(?:[ \t]+(?:{PARTICLE}[ \t]+)*{WORD}(?:-{WORD})?){{1,3}})[ \t]+{PERSON_VERB}(?-u:\b)")),
        // A name in lower case after a word that introduces a person ("spoke with john
        // smith"): the first word must be a known given name, the second is kept only when it
        // is a known surname.
        (Entity::PersonName, format!(r"(?-u:\b){}[.:,]?[ \t]+(?:(?:is|was)[ \t]+)?(\p{{Ll}}[\p{{L}}\p{{M}}'’-]*(?:[ \t]+\p{{Ll}}[\p{{L}}\p{{M}}'’-]*)?)", context())),
    ]
});

/// The patterns as they read ASCII text: every Unicode class cut to its ASCII letters and
/// digits. On a text of ASCII alone they match exactly what the Unicode patterns match, and
/// their automaton is a fraction of the size, so most notes, which are ASCII, scan at the
/// speed the detector had before it read accents.
static ASCII_PATTERNS: LazyLock<Vec<(Entity, String)>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(e, p)| {
            let ascii = p
                .replace(r"\p{L}\p{N}\p{M}", "A-Za-z0-9")
                .replace(r"\p{L}\p{M}", "A-Za-z")
                .replace(r"\p{L}{2,}", "[A-Za-z]{2,}")
                .replace(r"\p{Lu}", "[A-Z]")
                .replace(r"\p{Ll}", "[a-z]")
                .replace(r"\p{M}*", "")
                .replace('’', "");
            assert!(
                !ascii.contains(r"\p{"),
                "every Unicode class has its ASCII form: {ascii}"
            );
            (*e, ascii)
        })
        .collect()
});

/// One tier of the detector: the patterns compiled alone and all in one automaton.
struct Tier {
    /// Which slot of a thread's [`CACHES`] holds this tier's search caches.
    slot: usize,
    patterns: Vec<Pattern>,
    combined: meta::Regex,
}

/// A thread's search state for one tier. Each thread keeps its own: a regex shared across
/// threads hands its cache out from a shared pool, which the ETL's threads contend on.
struct TierCaches {
    combined: meta::Cache,
    alone: Vec<meta::Cache>,
}

thread_local! {
    static CACHES: std::cell::RefCell<[Option<TierCaches>; 2]> = const { std::cell::RefCell::new([None, None]) };
}

fn tier(slot: usize, patterns: &[(Entity, String)], cache: usize) -> Tier {
    let compiled = patterns
        .iter()
        .enumerate()
        .map(|(i, (e, p))| {
            let alone = meta::Regex::new(p).expect("PII pattern compiles");
            Pattern {
                entity: *e,
                group: GROUPS[i],
                needs_known_name: i == UNINTRODUCED_NAME,
                needs_given_name: i == LOWER_CASE_NAME,
                alone,
            }
        })
        .collect();
    let combined = meta::Regex::builder()
        .configure(meta::Config::new().hybrid_cache_capacity(cache))
        .build_many(&patterns.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>())
        .expect("PII patterns compile");
    Tier {
        slot,
        patterns: compiled,
        combined,
    }
}

static ASCII_TIER: LazyLock<Tier> = LazyLock::new(|| tier(0, &ASCII_PATTERNS, 2 << 20));
/// Unicode classes make a large automaton: with the default 2 MiB cache the lazy DFA keeps
/// clearing it and runs ~50× slower.
static UNICODE_TIER: LazyLock<Tier> = LazyLock::new(|| tier(1, &PATTERNS, 16 << 20));

/// Lower case with the accents of Latin letters removed, to look a name up in the gazetteer.
pub(crate) fn folded(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| {
            Some(match c {
                'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
                'ç' | 'ć' | 'č' => 'c',
                'ď' | 'đ' => 'd',
                'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'ễ' | 'ế' | 'ệ' | 'ề' => 'e',
                'ì'..='ï' | 'ī' | 'į' | 'ı' => 'i',
                'ł' | 'ľ' | 'ĺ' => 'l',
                'ñ' | 'ń' | 'ň' => 'n',
                'ò'..='ö' | 'ø' | 'ō' | 'ő' | 'ơ' | 'ồ' | 'ố' | 'ộ' | 'ờ' => 'o',
                'ř' => 'r',
                'ś' | 'š' | 'ş' | 'ș' => 's',
                'ť' | 'ţ' | 'ț' => 't',
                'ù'..='ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'ư' | 'ữ' | 'ứ' => 'u',
                'ý' | 'ÿ' => 'y',
                'ź' | 'ż' | 'ž' => 'z',
                '\'' | '’' | '-' => return None,
                c if ('\u{300}'..='\u{36f}').contains(&c) => return None,
                c => c,
            })
        })
        .collect()
}

/// Is this a known given name (any spelling of its accents)?
pub fn is_given_name(word: &str) -> bool {
    GIVEN.contains(folded(word).as_str())
}

fn is_surname(word: &str) -> bool {
    SURNAME.contains(folded(word).as_str())
}

fn names_a_place(words: &str) -> bool {
    words
        .split([' ', '\t', '-'])
        .any(|w| NOT_PERSON_WORDS.contains(&w))
}

/// Does the run of capitalised words after `end` name a place ("David Lam Park", "Sir
/// Matthew Begbie Elementary")?
fn place_follows(text: &str, end: usize) -> bool {
    text[end..]
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.trim_end_matches(|c: char| !c.is_alphanumeric()))
        .take_while(|w| w.chars().next().is_some_and(char::is_uppercase))
        .any(|w| NOT_PERSON_WORDS.contains(&w))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub entity: Entity,
    pub start: usize,
    pub end: usize,
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

pub fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x as u32 * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x as u32
            }
        })
        .sum();
    !d.is_empty() && sum.is_multiple_of(10)
}

/// BC Personal Health Number: 10 digits starting with 9; check digit by mod 11 with weights.
pub fn bc_phn_valid(d: &[u8]) -> bool {
    if d.len() != 10 || d[0] != 9 {
        return false;
    }
    let weights = [2u32, 4, 8, 5, 10, 9, 7, 3];
    let sum: u32 = d[1..9]
        .iter()
        .zip(weights)
        .map(|(&x, w)| (x as u32 * w) % 11)
        .sum();
    let check = 11 - (sum % 11);
    check < 10 && check == d[9] as u32
}

/// Digits that continue a decimal number (`0.714285714285714134`) are a measurement, not an id.
fn inside_decimal(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let before = start >= 2 && matches!(b[start - 1], b'.' | b',') && b[start - 2].is_ascii_digit();
    let after = end + 1 < b.len() && matches!(b[end], b'.' | b',') && b[end + 1].is_ascii_digit();
    before || after
}

fn valid(p: &Pattern, m: &str, text: &str, start: usize) -> bool {
    let d = digits(m);
    let end = start + m.len();
    if matches!(
        p.entity,
        Entity::CreditCard | Entity::Sin | Entity::Phn | Entity::Phone
    ) && inside_decimal(text, start, end)
    {
        return false;
    }
    match p.entity {
        Entity::CreditCard => (13..=16).contains(&d.len()) && luhn(&d),
        Entity::Sin => d.len() == 9 && d[0] != 0 && d[0] != 8 && luhn(&d),
        // One bare 10-digit number in 11 that starts with 9 passes the check digit by chance:
        // unseparated, it needs a health-card word nearby.
        Entity::Phn => {
            bc_phn_valid(&d)
                && (m.len() > 10
                    || near(
                        text,
                        start,
                        &[
                            "phn", "health", "msp", "carecard", "care", "card", "medical",
                        ],
                    ))
        }
        // Separators or a + sign make a phone number; a bare 10-digit run is too often an id.
        Entity::Phone => {
            // One dot and nothing else is a decimal number (`235.2995032`), not 235-299-5032.
            let decimal = m
                .bytes()
                .filter(|b| !b.is_ascii_digit())
                .eq(std::iter::once(b'.'));
            !decimal
                && (m
                    .bytes()
                    .any(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b'+'))
                    || near(
                        text,
                        start,
                        &[
                            "phone", "tel", "call", "callback", "cell", "mobile", "ph", "reach",
                            "contact", "number", "text",
                        ],
                    ))
        }
        Entity::IpAddress => m.split('.').all(|p| p.len() == 1 || !p.starts_with('0')),
        Entity::Passport => near(text, start, &["passport"]),
        Entity::PersonName => {
            // A name that runs into an e-mail address is the address's to replace, whole.
            let runs_into_email = text[end..]
                .split(char::is_whitespace)
                .next()
                .unwrap_or_default()
                .contains('@');
            // "Queen Elizabeth Theatre", "David Lam Park": a place named after a person.
            let place = names_a_place(m) || place_follows(text, end);
            let first = m.split([' ', '\t', '-']).next().unwrap_or_default();
            let last = m.rsplit([' ', '\t']).next().unwrap_or_default();
            let known =
                !opens_context(first) && (is_given_name(first) || last.split('-').any(is_surname));
            let given = !opens_context(first) && is_given_name(first);
            !runs_into_email
                && !place
                && (!p.needs_known_name || known)
                && (!p.needs_given_name || given)
        }
        _ => true,
    }
}

/// Is one of the context words, as a whole word, within 30 bytes before `at` and in the same
/// clause? ("calls" is not "call", "Drive" is not "Dr", and "caller Omar; work order 604..."
/// gives the work order no context.)
fn near(text: &str, at: usize, words: &[&str]) -> bool {
    let from = text[..at]
        .char_indices()
        .rev()
        .nth(30)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let mut window = &text[from..at];
    if let Some(i) = window.rfind([';', '\n', '|']) {
        window = &window[i + 1..];
    }
    window
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| words.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// All findings in a text, in order, none overlapping. All patterns are in one automaton: one
/// pass over the text finds the earliest candidate and the highest-priority pattern matching
/// there. At that candidate the highest-priority pattern that matches and passes its checks
/// wins; a candidate that fails them hides nothing that starts inside it ("Caller Maria
/// Gonzalez").
pub fn scan(text: &str) -> Vec<Finding> {
    scan_with(
        if text.is_ascii() {
            &ASCII_TIER
        } else {
            &UNICODE_TIER
        },
        text,
    )
}

fn scan_with(tier: &Tier, text: &str) -> Vec<Finding> {
    CACHES.with_borrow_mut(|caches| {
        let c = caches[tier.slot].get_or_insert_with(|| TierCaches {
            combined: tier.combined.create_cache(),
            alone: tier
                .patterns
                .iter()
                .map(|p| p.alone.create_cache())
                .collect(),
        });
        scan_cached(tier, c, text)
    })
}

fn scan_cached(tier: &Tier, caches: &mut TierCaches, text: &str) -> Vec<Finding> {
    let (pats, combined) = (&tier.patterns, &tier.combined);
    let mut found: Vec<Finding> = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let Some(first) =
            combined.search_with(&mut caches.combined, &Input::new(text).span(at..text.len()))
        else {
            break;
        };
        let start = first.start();
        let mut accepted = None;
        // The pattern found first, then any lower-priority one that also matches here.
        for (pid, p) in pats.iter().enumerate().skip(first.pattern().as_usize()) {
            let whole = if pid == first.pattern().as_usize() {
                first
            } else {
                match p.alone.search_with(
                    &mut caches.alone[pid],
                    &Input::new(text)
                        .span(start..text.len())
                        .anchored(Anchored::Yes),
                ) {
                    Some(m) => m,
                    None => continue,
                }
            };
            let m = p.group.span(text, whole.range());
            if valid(p, &text[m.clone()], text, m.start) {
                accepted = Some((p.entity, m, whole.end()));
                break;
            }
        }
        match accepted {
            Some((entity, m, end)) => {
                found.push(Finding {
                    entity,
                    start: m.start,
                    end: m.end,
                });
                at = end.max(start + 1);
            }
            None => {
                at = text[start..]
                    .char_indices()
                    .nth(1)
                    .map(|(i, _)| start + i)
                    .unwrap_or(text.len())
            }
        }
    }
    found
}

/// Each pattern as a `regex::Regex`, with its capture groups resolved by the capture engines:
/// the reference the scanner is tested against.
#[cfg(test)]
static REFERENCE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(_, p)| Regex::new(p).expect("PII pattern compiles"))
        .collect()
});

#[cfg(test)]
/// The detector as it was: one pass per pattern the prefilter reports. Kept to prove the
/// single pass finds the same.
pub(crate) fn scan_per_pattern(text: &str) -> Vec<Finding> {
    static SET: LazyLock<regex::RegexSet> = LazyLock::new(|| {
        regex::RegexSet::new(PATTERNS.iter().map(|(_, p)| p)).expect("PII patterns compile")
    });
    let (set, pats) = (&*SET, &UNICODE_TIER.patterns);
    let hits = set.matches(text);
    if !hits.matched_any() {
        return vec![];
    }
    let mut found: Vec<Finding> = Vec::new();
    for i in hits.iter() {
        let (p, re) = (&pats[i], &REFERENCE[i]);
        let mut at = 0;
        // `find_at` runs on the fast DFA engines; group captures are resolved only for the
        // one pattern that reports a group, and only within its match.
        while let Some(whole) = re.find_at(text, at) {
            let m = re
                .captures_at(&text[..whole.end()], whole.start())
                .and_then(|c| c.get(1))
                .unwrap_or(whole);
            if !valid(p, m.as_str(), text, m.start()) {
                // A rejected candidate must not hide one that starts inside it ("Caller Maria Gonzalez").
                at = text[whole.start()..]
                    .char_indices()
                    .nth(1)
                    .map(|(i, _)| whole.start() + i)
                    .unwrap_or(text.len());
                continue;
            }
            at = whole.end().max(at + 1);
            if found.iter().any(|f| f.start < m.end() && m.start() < f.end) {
                continue;
            }
            found.push(Finding {
                entity: p.entity,
                start: m.start(),
                end: m.end(),
            });
        }
    }
    found.sort_by_key(|f| f.start);
    found
}

/// Count findings per entity.
pub fn count(text: &str, into: &mut BTreeMap<Entity, u64>) {
    for f in scan(text) {
        *into.entry(f.entity).or_default() += 1;
    }
}

/// A column is classified as an entity when at least this share of its non-empty sampled
/// values are, whole, that entity (as Glue's classifyColumns does with its threshold).
pub const CLASSIFY_SHARE: f64 = 0.5;

/// The entity a column holds, judged from sampled values; every value of a classified column
/// is then replaced, not only those the detector recognises one by one. A column is that
/// entity when at least [`CLASSIFY_SHARE`] of its non-empty values are, whole, the entity; the
/// column's name is read as context ("caller_name" introduces a person). A column is also a
/// column of names when that share of its values are shaped like names (two to four
/// capitalised words, no place word) and at least one in five of those holds a known given
/// name or surname: the gazetteer tells a column of people from one of products, while the
/// names it does not know are protected with the rest.
pub fn classify_column(column: &str, values: &[&str]) -> Option<Entity> {
    let context: String = column
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut whole: BTreeMap<Entity, usize> = BTreeMap::new();
    let (mut non_empty, mut name_shaped, mut known_names) = (0usize, 0usize, 0usize);
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        non_empty += 1;
        let probe = format!("{context}: {v}");
        let offset = probe.len() - v.len();
        if let [f] = scan(&probe).as_slice()
            && f.start >= offset
            && (f.end - f.start) * 10 >= v.len() * 8
        {
            *whole.entry(f.entity).or_default() += 1;
        }
        if let Some(known) = name_shape(v) {
            name_shaped += 1;
            known_names += usize::from(known);
        }
    }
    let enough = |n: usize| n > 0 && n as f64 >= CLASSIFY_SHARE * non_empty as f64;
    let best = whole
        .iter()
        .max_by_key(|(_, n)| **n)
        .filter(|(_, n)| enough(**n))
        .map(|(e, _)| *e);
    best.or_else(|| {
        (enough(name_shaped) && known_names * 5 >= name_shaped).then_some(Entity::PersonName)
    })
}

/// Is the value shaped like a person's name ("Adaeze Nwachukwu", "NGUYEN, Thi Mai": two to
/// four capitalised words, particles between, no place word), and if so is one of its words a
/// known given name or surname?
fn name_shape(value: &str) -> Option<bool> {
    static NAME: LazyLock<Regex> = LazyLock::new(|| {
        let word = r"\p{Lu}[\p{L}\p{M}'’-]*";
        Regex::new(&format!(
            r"^{word},?(?:[ \t]+(?:{PARTICLE}[ \t]+)*(?:{word}|\p{{Lu}}\.)){{1,3}}$"
        ))
        .expect("name shape compiles")
    });
    if !NAME.is_match(value) || names_a_place(value) {
        return None;
    }
    Some(
        value
            .split([' ', '\t', ',', '-'])
            .any(|w| !w.is_empty() && (is_given_name(w) || is_surname(w))),
    )
}

/// Replaces findings per entity policy. Hashes are keyed (HMAC-SHA256), so equal values
/// still join but cannot be reversed without the key.
pub struct Redactor {
    policy: BTreeMap<Entity, Action>,
    /// The HMAC with its key already absorbed: each hash clones it rather than keying anew.
    keyed: hmac::Hmac<sha2::Sha256>,
}

impl Redactor {
    pub fn new(policy: BTreeMap<Entity, Action>, key: &[u8]) -> Redactor {
        use hmac::Mac;
        let keyed = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
        Redactor { policy, keyed }
    }

    pub fn action(&self, e: Entity) -> Action {
        self.policy.get(&e).copied().unwrap_or(Action::Redact)
    }

    pub fn hash(&self, value: &str) -> String {
        use hmac::Mac;
        let mut mac = self.keyed.clone();
        mac.update(value.trim().to_lowercase().as_bytes());
        format!("h:{}", hex::encode(&mac.finalize().into_bytes()[..10]))
    }

    pub fn replace_value(&self, e: Entity, value: &str) -> String {
        match self.action(e) {
            Action::Redact | Action::Drop => format!("[{}]", e.name()),
            Action::Hash => self.hash(value),
            Action::Mask => mask(value),
        }
    }

    /// Apply the policy to every finding in a free-text value.
    pub fn redact_text(&self, text: &str) -> String {
        let findings = scan(text);
        if findings.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in findings {
            out.push_str(&text[at..f.start]);
            out.push_str(&self.replace_value(f.entity, &text[f.start..f.end]));
            at = f.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Keep the last 4 alphanumerics, mask the rest (separators kept).
pub fn mask(value: &str) -> String {
    let total = value.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                seen += 1;
                if seen + 4 > total { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

/// Mask a value for display: never show it whole.
/// One piece of personal information found in a file, for `dapgov pii scan`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileFinding {
    /// The row in the file (1 is the header).
    pub row: i64,
    pub column: String,
    pub entity: &'static str,
    /// Masked: a scan's output never repeats what it found.
    pub value: String,
}

/// What a scan of a whole file found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FileScan {
    pub findings: Vec<FileFinding>,
    /// Findings by entity.
    pub totals: BTreeMap<&'static str, u64>,
    /// What reading the file warned about (an encoding guessed, ragged rows).
    pub warnings: Vec<String>,
}

/// Scan every field of a CSV or Excel file, record by record: findings are kept, rows are not.
pub fn scan_file(path: &std::path::Path) -> Result<FileScan, crate::EtlError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| crate::EtlError::input(&origin, format!("cannot be read: {e}")))?;
    let mut rows = crate::ingest::open(std::io::BufReader::new(file), &origin)?;
    let headers = rows.headers.clone();
    let mut out = FileScan::default();
    for record in &mut rows {
        let record = record?;
        for (column, v) in headers.iter().zip(record.fields.iter()) {
            let Some(v) = v else { continue };
            for f in scan(v) {
                *out.totals.entry(f.entity.name()).or_default() += 1;
                out.findings.push(FileFinding {
                    row: record.source_row,
                    column: column.clone(),
                    entity: f.entity.name(),
                    value: masked_for_display(&v[f.start..f.end]),
                });
            }
        }
    }
    out.warnings = rows.warnings();
    Ok(out)
}

pub fn masked_for_display(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep = (chars.len() / 5).clamp(1, 3);
    format!(
        "{}{}{}",
        chars[..keep].iter().collect::<String>(),
        "*".repeat(chars.len() - 2 * keep),
        chars[chars.len() - keep..].iter().collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entities(t: &str) -> Vec<Entity> {
        scan(t).into_iter().map(|f| f.entity).collect()
    }

    #[test]
    fn finds_each_entity_type() {
        assert_eq!(
            entities("write to jane.doe@example.org"),
            vec![Entity::Email]
        );
        assert_eq!(entities("call 604-555-0199 after 5"), vec![Entity::Phone]);
        // Long decimals pass Luhn by chance; they are measurements, not card numbers.
        assert!(entities("0.714285714285714134").is_empty());
        assert!(entities("235.2995032").is_empty());
        assert_eq!(entities("call 604.555.0199"), vec![Entity::Phone]);
        assert!(entities("ratio 12.4539876543210987 today").is_empty());
        assert_eq!(
            entities("card 4111 1111 1111 1111."),
            vec![Entity::CreditCard]
        );
        assert_eq!(
            entities("card 4111 1111 1111 1111 on file"),
            vec![Entity::CreditCard]
        );
        assert_eq!(entities("SIN 130 692 544"), vec![Entity::Sin]);
        assert_eq!(entities("PHN 9698 658 215"), vec![Entity::Phn]);
        assert_eq!(entities("from 192.168.10.4"), vec![Entity::IpAddress]);
        assert_eq!(entities("passport AB123456"), vec![Entity::Passport]);
        assert_eq!(
            entities("driver licence no. 1234567"),
            vec![Entity::DriversLicence]
        );
        assert_eq!(entities("postal V6B 1A1"), vec![Entity::PostalCode]);
        for written in ["v6b 1a1", "V6B1A1", "V6B-1A1"] {
            assert_eq!(
                entities(&format!("postal {written}")),
                vec![Entity::PostalCode],
                "{written}"
            );
        }
        assert_eq!(entities("SIN 130.692.544"), vec![Entity::Sin]);
        assert_eq!(
            entities("amex 3782 822463 10005 on file"),
            vec![Entity::CreditCard]
        );
        assert_eq!(
            entities("lives at 453 West 12th Avenue"),
            vec![Entity::StreetAddress]
        );
        assert_eq!(
            entities("spoke with Maria Gonzalez today"),
            vec![Entity::PersonName]
        );
    }

    fn found(t: &str) -> Vec<(Entity, &str)> {
        scan(t)
            .into_iter()
            .map(|f| (f.entity, &t[f.start..f.end]))
            .collect()
    }

    #[test]
    fn names_and_emails_in_any_latin_spelling_are_found_whole() {
        assert_eq!(
            found("écrire à zoë.łukasiewicz@bücher.example."),
            vec![(Entity::Email, "zoë.łukasiewicz@bücher.example")]
        );
        assert_eq!(
            found("reply to o'brien.niamh@exemple.québec"),
            vec![(Entity::Email, "o'brien.niamh@exemple.québec")]
        );
        assert_eq!(
            found("caller José Nuñez-García reported it"),
            vec![(Entity::PersonName, "José Nuñez-García")]
        );
        assert_eq!(
            found("Ms. Nguyễn called back"),
            vec![(Entity::PersonName, "Nguyễn")]
        );
        assert_eq!(
            found("spoke with María del Carmen Vargas today"),
            vec![(Entity::PersonName, "María del Carmen Vargas")]
        );
        assert_eq!(
            found("Thanks, Fergus Ó Treabhair"),
            vec![(Entity::PersonName, "Fergus Ó Treabhair")]
        );
        assert_eq!(
            found("my name is Oluwaseun Adeyemi"),
            vec![(Entity::PersonName, "Oluwaseun Adeyemi")]
        );
        // "William" is a surname too: the context word does not pair with it.
        assert_eq!(
            found("; Resident William Patterson will send photos"),
            vec![(Entity::PersonName, "William Patterson")]
        );
        // No word introduces it: a known given name does.
        assert_eq!(
            found("pothole; Ingrid Björklund called twice"),
            vec![(Entity::PersonName, "Ingrid Björklund")]
        );
        // In lower case, after a word that introduces a person, when it starts with a known
        // given name; the next word only if it is a surname.
        assert_eq!(
            found("spoke with john patterson about the pothole"),
            vec![(Entity::PersonName, "john patterson")]
        );
        assert_eq!(
            found("caller: maría about the noise"),
            vec![(Entity::PersonName, "maría")]
        );
        for t in [
            "caller said it was fine",
            "resident will call back",
            "spoke with the crew",
        ] {
            assert!(scan(t).is_empty(), "{t}: {:?}", found(t));
        }
        // A name that runs into an e-mail address leaves the address whole.
        assert_eq!(
            found("Maria Lópezo@example.org"),
            vec![(Entity::Email, "Lópezo@example.org")]
        );
    }

    #[test]
    fn canadian_street_addresses_in_their_common_forms() {
        for a in [
            "2150 W 41st Ave",
            "#305-1234 Main St",
            "555 West Broadway",
            "1234 Kingsway",
            "453 West 12th Avenue",
            "108 - 1550 Hartley Avenue",
            "405, rue Sainte-Catherine Est",
            "3000 Steeles Avenue East, Suite 700",
            "5090 ORBITOR DRIVE SUITE 1",
            "1730 McPherson Crt. Unit 35",
            "2275 E Hastings St",
        ] {
            let t = format!("damage in front of {a}; crew sent");
            assert_eq!(found(&t), vec![(Entity::StreetAddress, a)], "{t}");
        }
        // Introduced as an address, a street without a type is one too.
        for a in [
            "3264 Mainway",
            "3000 Steeles Avenue East, Suite 700",
            "405, rue Sainte-Catherine Est",
        ] {
            let t = format!("caller lives at {a}; crew sent");
            assert_eq!(found(&t), vec![(Entity::StreetAddress, a)], "{t}");
        }
    }

    #[test]
    fn places_named_after_people_and_street_names_survive() {
        for t in [
            "event at David Lam Park this weekend",
            "crew left from the Queen Elizabeth Theatre",
            "the Fraser Street closure continues",
            "customer Service Centre line was busy",
            "handled 1234 of 5678 calls",
            "Victoria Drive bike lane",
            "caller asked about Terry Fox Plaza",
            "SR-2024-0012345 opened 2024-07-31 at 10:15",
        ] {
            assert!(scan(t).is_empty(), "{t}: {:?}", found(t));
        }
    }

    #[test]
    fn columns_of_names_are_classified_whatever_their_header() {
        let names = [
            "Adaeze Nwachukwu",
            "Łukasz Zięcik",
            "Işin Şafak",
            "María del Carmen Vargas",
            "Tristan Renard",
            "Zsolt Szabó",
            "NGUYEN, Thi Mai",
            "Ikenna Nwosu",
            "",
        ];
        assert_eq!(
            classify_column("caller_name", &names),
            Some(Entity::PersonName)
        );
        assert_eq!(classify_column("contact", &names), Some(Entity::PersonName));
        assert_eq!(
            classify_column(
                "contact",
                &["jane@example.org", "émile.zola@exemple.ca", "n/a"]
            ),
            Some(Entity::Email)
        );
        let neighbourhoods = [
            "Kitsilano",
            "Mount Pleasant",
            "Grandview-Woodland",
            "Hastings-Sunrise",
            "Riley Park",
            "Arbutus Ridge",
            "West Point Grey",
            "Kensington-Cedar Cottage",
            "Strathcona",
            "Downtown",
        ];
        assert_eq!(classify_column("local_area", &neighbourhoods), None);
        assert_eq!(
            classify_column("queue", &["general", "sanitation", "streets", "parking"]),
            None
        );
        assert_eq!(
            classify_column(
                "venue",
                &[
                    "Queen Elizabeth Theatre",
                    "David Lam Park",
                    "Jack Poole Plaza"
                ]
            ),
            None
        );
    }

    #[test]
    fn ids_counts_dates_and_bad_check_digits_survive() {
        for t in [
            "SR-2024-0012345",
            "1181 calls handled",
            "2024-07-31",
            "123456789",
            "4111 1111 1111 1112",
            "9698 658 216",
            "0.761206194",
            "ticket 1234567890",
        ] {
            assert!(scan(t).is_empty(), "{t}: {:?}", scan(t));
        }
    }

    #[test]
    fn check_digits() {
        assert!(luhn(&digits("4111111111111111")));
        assert!(bc_phn_valid(&digits("9698658215")));
        assert!(!bc_phn_valid(&digits("9698658216")));
    }

    #[test]
    fn redaction_by_policy() {
        let r = Redactor::new(
            BTreeMap::from([(Entity::Email, Action::Hash), (Entity::Phone, Action::Mask)]),
            b"k",
        );
        // The keyed hash is HMAC-SHA256 over the trimmed, lower-cased value (RFC 4231 test 2).
        let jefe = Redactor::new(BTreeMap::new(), b"Jefe");
        assert_eq!(
            jefe.hash(" what do ya want for nothing? "),
            "h:5bdcc146bf60754e6a04"
        );
        let out = r.redact_text("Reach Jane at jane@x.org or 604-555-0199");
        assert!(
            out.contains("h:") && out.contains("***-***-0199") && !out.contains("jane@x.org"),
            "{out}"
        );
        assert_eq!(r.hash("A@B.com"), r.hash("a@b.com "));
        assert_eq!(masked_for_display("jane@x.org"), "ja******rg");
    }
}

#[cfg(test)]
mod single_pass_tests {
    /// Each group found from a match's shape is the group its pattern captures.
    #[test]
    fn group_spans_are_the_captured_groups() {
        let notes = crate::pii_eval::labelled_set(9, 3_000)
            .into_iter()
            .chain(crate::pii_eval::independent_set(9, 3_000));
        let mut checked = 0;
        for l in notes {
            for (p, re) in super::UNICODE_TIER
                .patterns
                .iter()
                .zip(super::REFERENCE.iter())
            {
                assert_eq!(
                    re.captures_len() > 1,
                    p.group != super::Group::Whole,
                    "{:?}",
                    p.entity
                );
                for c in re.captures_iter(&l.text) {
                    let (whole, group) = (
                        c.get(0).unwrap().range(),
                        c.get(1).map_or(c.get(0).unwrap().range(), |g| g.range()),
                    );
                    let span = p.group.span(&l.text, whole);
                    if p.group == super::Group::LowerCaseNameAfterContext {
                        // The group takes the second word; the span keeps it only if it is a surname.
                        assert!(
                            span.start == group.start && span.end <= group.end,
                            "{:?} in {}",
                            p.entity,
                            l.text
                        );
                    } else {
                        assert_eq!(span, group, "{:?} in {}", p.entity, l.text);
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// On ASCII text the ASCII tier finds exactly what the Unicode patterns find.
    #[test]
    fn the_ascii_tier_finds_what_the_unicode_patterns_find_on_ascii_text() {
        let notes = crate::pii_eval::labelled_set(5, 5_000)
            .into_iter()
            .chain(crate::pii_eval::independent_set(5, 5_000));
        let mut compared = 0;
        for l in notes.filter(|l| l.text.is_ascii()) {
            assert_eq!(
                super::scan_with(&super::ASCII_TIER, &l.text),
                super::scan_with(&super::UNICODE_TIER, &l.text),
                "{}",
                l.text
            );
            compared += 1;
        }
        assert!(compared > 8_000, "{compared}");
    }

    #[test]
    fn the_single_pass_finds_what_one_pass_per_pattern_found() {
        let set = crate::pii_eval::labelled_set(7, 20_000);
        let mut differ = vec![];
        for l in &set {
            let (a, b) = (super::scan(&l.text), super::scan_per_pattern(&l.text));
            if a != b {
                differ.push((l.text.clone(), a, b));
            }
        }
        assert!(
            differ.is_empty(),
            "{} differ, e.g. {:?}",
            differ.len(),
            &differ[..differ.len().min(3)]
        );
    }
}
