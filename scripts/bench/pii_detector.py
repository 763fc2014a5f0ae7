"""PII detection and protection for the peers' pipelines (scripts/bench/pipeline.py), in
Python: dapgov's own patterns (`dapgov pii patterns`), compiled with the `regex`
module, the check digits of pii_baseline.py, and the phone rule (separators make a phone
number). It leaves out what dapgov checks beyond a pattern: the name gazetteer, places named
after people, words near a number. So the two name patterns that need the gazetteer (a name
anywhere, a lower-case name after a context word) are not used here: a lighter job than
dapgov's, which favours the peers.

Actions are dapgov.toml's [etl.pii]: a keyed hash ('h:' and 20 hex digits of SHA-256 over the
key and the trimmed lower-case value, where dapgov uses HMAC-SHA256), a mask keeping the last
four letters or digits, or the entity's name in brackets.
"""

import hashlib
import json

import regex

from pii_baseline import CHECKS, digits, plain_boundaries

ACTIONS = {
    "PERSON_NAME": "hash", "EMAIL": "hash", "PHONE_NUMBER": "mask", "STREET_ADDRESS": "redact",
    "CANADA_POSTAL_CODE": "mask", "CREDIT_CARD": "redact", "IP_ADDRESS": "mask",
    "CANADA_SOCIAL_INSURANCE_NUMBER": "redact", "CANADA_PERSONAL_HEALTH_NUMBER": "redact",
    "CANADA_PASSPORT_NUMBER": "redact", "CANADA_DRIVING_LICENSE": "redact",
}
# The keyed hash's key: the peers' own, as dapgov's is its platform's.
KEY = b"peer-pipeline-hash-key"


def ascii_form(pattern):
    """A pattern as it reads ASCII text (dapgov does the same): every Unicode class cut to its
    ASCII letters and digits, a far smaller automaton for the text most values are."""
    for unicode, ascii in [(r"\p{L}\p{N}\p{M}", "A-Za-z0-9"), (r"\p{L}\p{M}", "A-Za-z"), (r"\p{L}{2,}", "[A-Za-z]{2,}"),
                           (r"\p{Lu}", "[A-Z]"), (r"\p{Ll}", "[a-z]"), (r"\p{M}*", ""), ("\u2019", "")]:
        pattern = pattern.replace(unicode, ascii)
    assert r"\p{" not in pattern, pattern
    return pattern


def prefilters(path):
    """One regex of every pattern, for a regex engine to flag the values the detector must
    read: (for ASCII values, for any value)."""
    patterns = [p for _, p in load_patterns(path)]
    return "|".join(f"(?:{ascii_form(p)})" for p in patterns), "|".join(f"(?:{p})" for p in patterns)


def load_patterns(path):
    """[(entity, pattern)] in dapgov's order of priority, without the gazetteer's names."""
    found = json.load(open(path))
    names = [i for i, (e, _) in enumerate(found) if e == "PERSON_NAME"]
    # dapgov's four name patterns, in order: after a context word, anywhere (gazetteer),
    # before a verb of speech, lower case after a context word (gazetteer).
    skip = {names[1], names[3]} if len(names) == 4 else set()
    return [(e, p) for i, (e, p) in enumerate(found) if i not in skip]


def keyed_hash(value):
    return "h:" + hashlib.sha256(KEY + value.strip().lower().encode()).hexdigest()[:20]


def mask(value):
    total = sum(1 for c in value if c.isascii() and c.isalnum())
    seen, out = 0, []
    for c in value:
        if c.isascii() and c.isalnum():
            seen += 1
            out.append(c if seen + 4 > total else "*")
        else:
            out.append(c)
    return "".join(out)


def replace_value(entity, value):
    action = ACTIONS.get(entity, "redact")
    if action == "hash":
        return keyed_hash(value)
    if action == "mask":
        return mask(value)
    return f"[{entity}]"


def valid(entity, m):
    d = digits(m)
    check = CHECKS.get(entity)
    if check is not None and not check(d):
        return False
    if entity == "PHONE_NUMBER":
        return any(c in m for c in " -.(+") and not (sum(1 for c in m if not c.isdigit()) == 1 and "." in m)
    return True


class Detector:
    def __init__(self, patterns_json):
        plain = [(e, plain_boundaries(p)) for e, p in load_patterns(patterns_json)]
        self.patterns = [(e, regex.compile(p)) for e, p in plain]
        # Leftmost-first, as dapgov's single automaton: where the next finding may start.
        self.combined = regex.compile("|".join(f"(?:{p})" for _, p in plain))

    def scan(self, text):
        """[(entity, start, end)]: leftmost first, the earlier pattern first at one start."""
        found, at = [], 0
        while at < len(text):
            first = self.combined.search(text, at)
            if first is None:
                break
            start = first.start()
            accepted = None
            for entity, rx in self.patterns:
                m = rx.match(text, start)
                if m is None:
                    continue
                span = m.span(1) if rx.groups else m.span()
                if span[0] >= 0 and valid(entity, text[span[0]:span[1]]):
                    accepted = (entity, span[0], span[1], m.end())
                    break
            if accepted is None:
                at = start + 1
                continue
            found.append(accepted[:3])
            at = max(accepted[3], start + 1)
        return found

    def redact(self, text):
        """The text with each finding replaced by its action, and the findings' entities."""
        findings = self.scan(text)
        out, at = [], 0
        for entity, s, e in findings:
            out.append(text[at:s])
            out.append(replace_value(entity, text[s:e]))
            at = e
        out.append(text[at:])
        return "".join(out), [f[0] for f in findings]
