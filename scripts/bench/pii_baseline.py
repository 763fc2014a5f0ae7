r"""The Python baseline for PII scanning throughput: dapgov's own patterns (printed by
`dapgov pii patterns`), compiled with the `regex` module (Python's `re` has no Unicode classes such
as \p{L}), with the same check digits (Luhn for cards and SINs, mod 11 for BC PHNs) but
without dapgov's context rules. One core.

Usage: python pii_baseline.py PATTERNS.json FILE  ->  {"bytes", "seconds", "findings"} as JSON
"""

import json
import regex
import sys
import time


def digits(s):
    return [int(c) for c in s if c.isdigit()]


def luhn(d):
    total = sum(x if i % 2 == 0 else (x * 2 - 9 if x * 2 > 9 else x * 2) for i, x in enumerate(reversed(d)))
    return bool(d) and total % 10 == 0


def bc_phn(d):
    if len(d) != 10 or d[0] != 9:
        return False
    total = sum((x * w) % 11 for x, w in zip(d[1:9], [2, 4, 8, 5, 10, 9, 7, 3]))
    check = 11 - total % 11
    return check < 10 and check == d[9]


CHECKS = {
    "CREDIT_CARD": lambda d: 13 <= len(d) <= 16 and luhn(d),
    "CANADA_SOCIAL_INSURANCE_NUMBER": lambda d: len(d) == 9 and d[0] not in (0, 8) and luhn(d),
    "CANADA_PERSONAL_HEALTH_NUMBER": bc_phn,
}


def plain_boundaries(pattern):
    r"""dapgov's ASCII word boundaries (`(?-u:\b)`, `(?-u)`) as the plain ones Python's
    `regex` and RE2 (DuckDB) read."""
    return pattern.replace("(?-u:\\b)", "\\b").replace("(?-u)", "")


def main():
    patterns = [(entity, regex.compile(plain_boundaries(p))) for entity, p in json.load(open(sys.argv[1]))]
    text = open(sys.argv[2], encoding="utf-8").read()
    started = time.perf_counter()
    findings = 0
    for line in text.splitlines():
        for entity, rx in patterns:
            check = CHECKS.get(entity)
            for m in rx.finditer(line):
                if check is None or check(digits(m.group(0))):
                    findings += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"bytes": len(text.encode()), "seconds": seconds, "findings": findings}))


if __name__ == "__main__":
    main()
