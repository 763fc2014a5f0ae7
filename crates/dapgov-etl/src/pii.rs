//! Personal-information detection with check digits and context, and its redaction.
//!
//! Entity names follow AWS Glue's sensitive-data types where Glue has them. Patterns use
//! ASCII classes only (Unicode classes run far slower on accented text), one automaton holds
//! every pattern so the text is scanned once, and validators (Luhn, BC PHN mod 11, NANP rules,
//! context words) reject numbers that only look like identifiers.

use regex::Regex;
use regex_automata::{Anchored, Input, PatternID, meta};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The entity kinds are the spec's, so a policy can only name one the detector knows.
pub use dapgov_spec::PiiEntity as Entity;
/// What is done with a finding: the spec's `[etl.pii]` actions.
pub use dapgov_spec::PiiAction as Action;

/// Common given names (Canadian birth registries' most frequent), for PERSON_NAME.
const GIVEN_NAMES: &str = "james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald jason edward jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander patrick frank raymond jack dennis jerry tyler aaron jose adam nathan henry zachary douglas peter kyle noah ethan jeremy walter christian keith roger terry austin sean gerald carl harold dylan arthur lawrence jordan jesse bryan billy bruce gabriel joe logan alan juan albert willie elijah wayne randy vincent mason roy ralph bobby russell bradley philip eugene liam lucas oliver owen leo mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty sandra margaret ashley kimberly emily donna michelle carol amanda melissa deborah stephanie dorothy rebecca sharon laura cynthia amy kathleen angela shirley brenda emma anna pamela nicole samantha katherine christine helen debra rachel carolyn janet maria catherine heather diane olivia julie joyce victoria ruth virginia lauren kelly christina joan evelyn judith andrea hannah megan cheryl jacqueline martha madison teresa gloria sara janice ann kathryn abigail sophia frances jean alice judy isabella julia grace amber denise danielle marilyn beverly charlotte natalie theresa diana brittany doris kayla alexis lori marie chloe ava mia amelia harper aria priya wei jian li ming mei hui raj amit sanjay anjali neha arjun ravi sunita fatima mohammed ahmed ali omar yusuf aisha hiroshi yuki kenji sakura jin min seo hyun chen wang zhang liu yang huang zhao jane";

/// Last words that make a capitalised pair a place, not a person.
const PLACE_WORDS: [&str; 24] = [
    "Street", "Avenue", "Road", "Drive", "Way", "Park", "Hall", "Centre", "Center", "Theatre", "Library", "School", "Hospital", "Bridge",
    "Lake", "Yard", "Station", "Square", "Market", "Beach", "Island", "Building", "Tower", "Plaza",
];

static GIVEN: LazyLock<std::collections::HashSet<&'static str>> = LazyLock::new(|| GIVEN_NAMES.split_whitespace().collect());

struct Pattern {
    entity: Entity,
    re: Regex,
}

/// Each entity's pattern, in priority order (earlier wins where matches overlap).
pub const PATTERNS: &[(Entity, &str)] = &[
    (Entity::Email, r"(?-u)\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    (Entity::CreditCard, r"(?-u)\b(?:[0-9]{4}[ -]?){3}[0-9]{1,4}\b"),
    (Entity::Sin, r"(?-u)\b[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}\b"),
    (Entity::Phn, r"(?-u)\b9[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}\b"),
    (Entity::Phone, r"(?-u)(?:\+?1[ .-]?)?\(?\b[2-9][0-9]{2}\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}\b"),
    (Entity::IpAddress, r"(?-u)\b(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\b"),
    (Entity::Passport, r"(?-u)\b[A-Z]{2}[0-9]{6}\b"),
    (Entity::DriversLicence, r"(?-u)(?i:licen[cs]e|DL)[ a-zA-Z.:#-]{0,20}\b([0-9]{7})\b"),
    (Entity::PostalCode, r"(?-u)\b[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9]\b"),
    (
        Entity::StreetAddress,
        r"(?-u)\b[0-9]{1,5}(?:-[0-9]{1,5})? (?:[A-Z][a-z]+ |[0-9]{1,3}(?:st|nd|rd|th) ){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Boulevard|Blvd|Way|Place|Pl|Crescent|Cres|Lane|Court|Ct)\b\.?",
    ),
    (Entity::PersonName, r"(?-u)\b([A-Z][a-z]{1,15}) (?:[A-Z]\. )?([A-Z][a-z]{1,20}(?:-[A-Z][a-z]+)?)\b"),
];

/// Each pattern on its own, for the group of the licence pattern.
static PER_PATTERN: LazyLock<Vec<Pattern>> =
    LazyLock::new(|| PATTERNS.iter().map(|(e, p)| Pattern { entity: *e, re: Regex::new(p).expect("PII pattern compiles") }).collect());

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub entity: Entity,
    pub start: usize,
    pub end: usize,
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect()
}

pub fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d.iter().rev().enumerate().map(|(i, &x)| if i % 2 == 1 { let y = x as u32 * 2; if y > 9 { y - 9 } else { y } } else { x as u32 }).sum();
    !d.is_empty() && sum % 10 == 0
}

/// BC Personal Health Number: 10 digits starting with 9; check digit by mod 11 with weights.
pub fn bc_phn_valid(d: &[u8]) -> bool {
    if d.len() != 10 || d[0] != 9 {
        return false;
    }
    let weights = [2u32, 4, 8, 5, 10, 9, 7, 3];
    let sum: u32 = d[1..9].iter().zip(weights).map(|(&x, w)| (x as u32 * w) % 11).sum();
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

fn valid(entity: Entity, m: &str, text: &str, start: usize) -> bool {
    let d = digits(m);
    if matches!(entity, Entity::CreditCard | Entity::Sin | Entity::Phn | Entity::Phone) && inside_decimal(text, start, start + m.len()) {
        return false;
    }
    match entity {
        Entity::CreditCard => (13..=16).contains(&d.len()) && luhn(&d),
        Entity::Sin => d.len() == 9 && d[0] != 0 && d[0] != 8 && luhn(&d),
        // One bare 10-digit number in 11 that starts with 9 passes the check digit by chance:
        // unseparated, it needs a health-card word nearby.
        Entity::Phn => bc_phn_valid(&d) && (m.len() > 10 || near(text, start, &["phn", "health", "msp", "carecard", "care", "card", "medical"])),
        // Separators or a + sign make a phone number; a bare 10-digit run is too often an id.
        Entity::Phone => {
            // One dot and nothing else is a decimal number (`235.2995032`), not 235-299-5032.
            let decimal = m.bytes().filter(|b| !b.is_ascii_digit()).eq(std::iter::once(b'.'));
            !decimal && (m.bytes().any(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b'+')) || near(text, start, &["phone", "tel", "call", "callback", "cell", "mobile", "ph", "reach", "contact", "number", "text"]))
        }
        Entity::IpAddress => m.split('.').all(|p| p.len() == 1 || !p.starts_with('0')),
        Entity::Passport => near(text, start, &["passport"]),
        Entity::PersonName => {
            let first = m.split(' ').next().unwrap_or_default().to_ascii_lowercase();
            // "Queen Elizabeth Theatre", "Grace Hospital": a place named after a person.
            let last = m.rsplit(' ').next().unwrap_or_default();
            !PLACE_WORDS.contains(&last)
                && (GIVEN.contains(first.as_str()) || near(text, start, &["caller", "name", "customer", "resident", "mr", "mrs", "ms", "dr", "spoke"]))
        }
        _ => true,
    }
}

/// Is one of the context words, as a whole word, within 30 bytes before `at` and in the same
/// clause? ("calls" is not "call", "Drive" is not "Dr", and "caller Omar; work order 604..."
/// gives the work order no context.)
fn near(text: &str, at: usize, words: &[&str]) -> bool {
    let from = text[..at].char_indices().rev().nth(30).map(|(i, _)| i).unwrap_or(0);
    let mut window = &text[from..at];
    if let Some(i) = window.rfind([';', '\n', '|']) {
        window = &window[i + 1..];
    }
    window.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| words.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// All patterns in one automaton: one pass over the text finds the earliest candidate and the
/// highest-priority pattern matching there, instead of one pass per pattern.
static COMBINED: LazyLock<meta::Regex> = LazyLock::new(|| {
    meta::Regex::builder()
        .build_many(&PATTERNS.iter().map(|(_, p)| *p).collect::<Vec<_>>())
        .expect("PII patterns compile")
});

/// All findings in a text, in order, none overlapping. At the earliest candidate the
/// highest-priority pattern that matches there and passes its checks wins; a candidate that
/// fails them hides nothing that starts inside it ("Caller Maria Gonzalez").
pub fn scan(text: &str) -> Vec<Finding> {
    let pats = &*PER_PATTERN;
    let combined = &*COMBINED;
    let mut found: Vec<Finding> = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let Some(first) = combined.search(&Input::new(text).span(at..text.len())) else { break };
        let start = first.start();
        let mut accepted = None;
        // The pattern found first, then any lower-priority one that also matches here.
        for pid in first.pattern().as_usize()..pats.len() {
            let whole = if pid == first.pattern().as_usize() {
                first
            } else {
                let anchored = Input::new(text).span(start..text.len()).anchored(Anchored::Pattern(PatternID::new_unchecked(pid)));
                match combined.search(&anchored) {
                    Some(m) => m,
                    None => continue,
                }
            };
            let p = &pats[pid];
            // The licence pattern reports its group: the number after "licence".
            let m = if p.entity == Entity::DriversLicence {
                p.re.captures_at(&text[..whole.end()], whole.start()).and_then(|c| c.get(1)).map(|g| g.range()).unwrap_or(whole.range())
            } else {
                whole.range()
            };
            if valid(p.entity, &text[m.clone()], text, m.start) {
                accepted = Some((p.entity, m, whole.end()));
                break;
            }
        }
        match accepted {
            Some((entity, m, end)) => {
                found.push(Finding { entity, start: m.start, end: m.end });
                at = end.max(start + 1);
            }
            None => at = text[start..].char_indices().nth(1).map(|(i, _)| start + i).unwrap_or(text.len()),
        }
    }
    found
}

#[cfg(test)]
/// The detector as it was: one pass per pattern the prefilter reports. Kept to prove the
/// single pass finds the same.
pub(crate) fn scan_per_pattern(text: &str) -> Vec<Finding> {
    static SET: LazyLock<regex::RegexSet> = LazyLock::new(|| regex::RegexSet::new(PATTERNS.iter().map(|(_, p)| *p)).expect("PII patterns compile"));
    let (set, pats) = (&*SET, &*PER_PATTERN);
    let hits = set.matches(text);
    if !hits.matched_any() {
        return vec![];
    }
    let mut found: Vec<Finding> = Vec::new();
    for i in hits.iter() {
        let p = &pats[i];
        let mut at = 0;
        // `find_at` runs on the fast DFA engines; group captures are resolved only for the
        // one pattern that reports a group, and only within its match.
        while let Some(whole) = p.re.find_at(text, at) {
            // The licence pattern reports its group: the number after "licence".
            let m = if p.entity == Entity::DriversLicence {
                p.re.captures_at(&text[..whole.end()], whole.start()).and_then(|c| c.get(1)).unwrap_or(whole)
            } else {
                whole
            };
            if !valid(p.entity, m.as_str(), text, m.start()) {
                // A rejected candidate must not hide one that starts inside it ("Caller Maria Gonzalez").
                at = text[whole.start()..].char_indices().nth(1).map(|(i, _)| whole.start() + i).unwrap_or(text.len());
                continue;
            }
            at = whole.end().max(at + 1);
            if found.iter().any(|f| f.start < m.end() && m.start() < f.end) {
                continue;
            }
            found.push(Finding { entity: p.entity, start: m.start(), end: m.end() });
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

/// Replaces findings per entity policy. Hashes are keyed (HMAC-SHA256), so equal values
/// still join but cannot be reversed without the key.
pub struct Redactor {
    pub policy: BTreeMap<Entity, Action>,
    pub key: Vec<u8>,
}

impl Redactor {
    pub fn action(&self, e: Entity) -> Action {
        self.policy.get(&e).copied().unwrap_or(Action::Redact)
    }

    pub fn hash(&self, value: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(value.trim().to_lowercase().as_bytes());
        format!("h:{}", &hex::encode(mac.finalize().into_bytes())[..20])
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
pub fn masked_for_display(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let keep = (chars.len() / 5).clamp(1, 3);
    format!("{}{}{}", chars[..keep].iter().collect::<String>(), "*".repeat(chars.len() - 2 * keep), chars[chars.len() - keep..].iter().collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entities(t: &str) -> Vec<Entity> {
        scan(t).into_iter().map(|f| f.entity).collect()
    }

    #[test]
    fn finds_each_entity_type() {
        assert_eq!(entities("write to jane.doe@example.org"), vec![Entity::Email]);
        assert_eq!(entities("call 604-555-0199 after 5"), vec![Entity::Phone]);
        // Long decimals pass Luhn by chance; they are measurements, not card numbers.
        assert!(entities("0.714285714285714134").is_empty());
        assert!(entities("235.2995032").is_empty());
        assert_eq!(entities("call 604.555.0199"), vec![Entity::Phone]);
        assert!(entities("ratio 12.4539876543210987 today").is_empty());
        assert_eq!(entities("card 4111 1111 1111 1111."), vec![Entity::CreditCard]);
        assert_eq!(entities("card 4111 1111 1111 1111 on file"), vec![Entity::CreditCard]);
        assert_eq!(entities("SIN 130 692 544"), vec![Entity::Sin]);
        assert_eq!(entities("PHN 9698 658 215"), vec![Entity::Phn]);
        assert_eq!(entities("from 192.168.10.4"), vec![Entity::IpAddress]);
        assert_eq!(entities("passport AB123456"), vec![Entity::Passport]);
        assert_eq!(entities("driver licence no. 1234567"), vec![Entity::DriversLicence]);
        assert_eq!(entities("postal V6B 1A1"), vec![Entity::PostalCode]);
        assert_eq!(entities("lives at 453 West 12th Avenue"), vec![Entity::StreetAddress]);
        assert_eq!(entities("spoke with Maria Gonzalez today"), vec![Entity::PersonName]);
    }

    #[test]
    fn ids_counts_dates_and_bad_check_digits_survive() {
        for t in ["SR-2024-0012345", "1181 calls handled", "2024-07-31", "123456789", "4111 1111 1111 1112", "9698 658 216", "0.761206194", "ticket 1234567890"] {
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
        let r = Redactor {
            policy: BTreeMap::from([(Entity::Email, Action::Hash), (Entity::Phone, Action::Mask)]),
            key: b"k".to_vec(),
        };
        let out = r.redact_text("Reach Jane at jane@x.org or 604-555-0199");
        assert!(out.contains("h:") && out.contains("***-***-0199") && !out.contains("jane@x.org"), "{out}");
        assert_eq!(r.hash("A@B.com"), r.hash("a@b.com "));
        assert_eq!(masked_for_display("jane@x.org"), "ja******rg");
    }
}

#[cfg(test)]
mod single_pass_tests {
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
        assert!(differ.is_empty(), "{} differ, e.g. {:?}", differ.len(), &differ[..differ.len().min(3)]);
    }
}
