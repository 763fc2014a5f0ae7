//! Property tests over the spec parser: any text, and the shipped spec with lines dropped,
//! duplicated or edited, ends in a spec or an error naming a place, never a panic.

use proptest::prelude::*;

fn shipped() -> String {
    dapgov_spec::init_text("van311", dapgov_spec::Target::Local).expect("the shipped spec")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text(text in "\\PC{0,400}") {
        let _ = dapgov_spec::Spec::parse(&text, "dapgov.toml");
    }

    #[test]
    fn the_shipped_spec_edited(drop in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
                               dup in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
                               edit in proptest::collection::vec((any::<prop::sample::Index>(), any::<usize>(), "[\\PC]{0,6}"), 0..4)) {
        let spec = shipped();
        let mut lines: Vec<String> = spec.lines().map(String::from).collect();
        for (line, at, text) in edit {
            let n = lines.len();
            let l = &mut lines[line.index(n)];
            let mut chars: Vec<char> = l.chars().collect();
            let i = at % (chars.len() + 1);
            chars.splice(i..(i + 1).min(chars.len()), text.chars());
            *l = chars.into_iter().collect();
        }
        for d in dup {
            let i = d.index(lines.len());
            lines.insert(i, lines[i].clone());
        }
        for d in drop {
            if !lines.is_empty() {
                let i = d.index(lines.len());
                lines.remove(i);
            }
        }
        if let Err(e) = dapgov_spec::Spec::parse(&lines.join("\n"), "dapgov.toml") {
            prop_assert!(e.to_string().starts_with("dapgov.toml"), "{e}");
        }
    }
}
