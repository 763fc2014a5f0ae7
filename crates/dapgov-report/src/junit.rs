//! JUnit XML, for CI dashboards: one test suite per pillar, one test case per check and
//! resource. A FAIL is a failure; a muted FAIL and a NOT_APPLICABLE are skipped, with why.
//! Only what the common JUnit schema (Ant, Surefire, Jenkins) allows is written.

use dapgov_audit::{Audit, Status};
use std::fmt::Write;

fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no form for other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn render(audit: &Audit) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = audit.findings.iter().filter(|f| f.is_failing()).count();
    let _ = writeln!(
        out,
        "<testsuites name=\"dapgov audit of {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"0\">",
        escaped(&audit.run.project),
        audit.findings.len()
    );
    for pillar in &audit.run.pillars {
        let findings: Vec<_> = audit
            .findings
            .iter()
            .filter(|f| f.pillar == *pillar)
            .collect();
        let failing = findings.iter().filter(|f| f.is_failing()).count();
        let skipped =
            findings.len() - failing - findings.iter().filter(|f| f.status == Status::Pass).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failing}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\" timestamp=\"{}\" hostname=\"{}\">",
            pillar.as_str(),
            findings.len(),
            escaped(&audit.run.generated_at),
            escaped(&format!("{} {}", audit.run.account_id, audit.run.region))
        );
        for f in findings {
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"0\"",
                pillar.as_str(),
                escaped(&f.check_id),
                escaped(&f.resource)
            );
            match (f.status, &f.muted) {
                (Status::Pass, _) => out.push_str("/>\n"),
                (Status::Fail, None) => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}: {}\n{}</failure>\n    </testcase>",
                        f.severity.as_str(),
                        escaped(&f.detail),
                        escaped(&f.title),
                        escaped(&f.detail),
                        escaped(&f.arn)
                    );
                }
                (Status::Fail, Some(reason)) => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"muted: {}\"/>\n    </testcase>",
                        escaped(reason)
                    );
                }
                (Status::NotApplicable, _) => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"not applicable: {}\"/>\n    </testcase>",
                        escaped(&f.detail)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_in_details_is_escaped_and_control_characters_dropped() {
        assert_eq!(
            super::escaped("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt; "
        );
    }
}
