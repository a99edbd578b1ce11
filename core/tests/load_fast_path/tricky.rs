//! Random documents from tricky fragments (YAML 1.1 scalars, keys the fast reader leaves to the
//! full one, flow collections, indicators, indentation slips): most go to the full reader, so
//! these test the fallback and the fast reader's refusals; see `clean` for the fast path itself.

use super::{Lcg, generated};

const KEYS: &[&str] = &[
    "a", "b", "name", "image", "y", "on", "1", "0x10", "1.5", "~", "<<", "'q'", "\"d\"", "a b",
    "a:b", "-k", "k#", "é", "'it''s'", "\"e\\n\"", "?", "null", "1e6", "a ",
];

const SCALARS: &[&str] = &[
    "x",
    "yes",
    "No",
    "0755",
    "08",
    "1_000",
    "1.5",
    "3.0",
    ".inf",
    "-.5",
    "~",
    "null",
    "",
    "'yes'",
    "\"on\"",
    "\"a\\\"b\"",
    "'a''b'",
    "a b",
    "a  b",
    "a: b",
    "a:b",
    "a #c",
    "a#c",
    "-",
    "- x",
    "-1",
    "0b11",
    "1e400",
    "http://x:1/",
    "[]",
    "{}",
    "[a, b]",
    "{a: 1, b: [c]}",
    "{a: 1,}",
    "[a: 1]",
    "{a}",
    "&x 1",
    "*x",
    "!!int 3",
    "|",
    ">",
    "@",
    "`",
    "%",
    "\"\\u0041\"",
    "'",
    "\"",
    "[a",
    "{a: [b}",
    "é",
    "caf\u{e9}",
    "{\"a\":\"b\"}",
    "18446744073709551616",
    "[a,b]",
    "{a: b c}",
    "[ a , b ]",
    "x # c: d",
    "::",
    "?x",
    ":x",
    "x\t",
    ",",
];

/// A random document of mappings and sequences, with fragments from the tables above and
/// random indentation slips.
fn generate(rng: &mut Lcg, out: &mut String, indent: usize, depth: usize) {
    let entries = 1 + rng.next() % 4;
    let sequence = rng.next().is_multiple_of(3);
    for _ in 0..entries {
        let slip = match rng.next() % 20 {
            0 => indent + 1,
            1 if indent > 0 => indent - 1,
            _ => indent,
        };
        let pad = " ".repeat(slip);
        let head = if sequence {
            format!("{pad}- ")
        } else {
            format!("{pad}{}:", rng.pick(KEYS))
        };
        out.push_str(&head);
        match rng.next() % 6 {
            0 if depth < 4 => {
                out.push('\n');
                let deeper = if sequence || rng.next().is_multiple_of(2) {
                    indent + 2
                } else {
                    indent
                };
                if !sequence && deeper == indent {
                    // A sequence at the key's own indentation.
                    let n = 1 + rng.next() % 3;
                    for _ in 0..n {
                        out.push_str(&format!("{pad}- {}\n", rng.pick(SCALARS)));
                    }
                } else {
                    generate(rng, out, deeper, depth + 1);
                }
            }
            1 if sequence && depth < 4 => {
                // A mapping that starts on the dash's line.
                out.push_str(&format!("{}: {}\n", rng.pick(KEYS), rng.pick(SCALARS)));
                generate(rng, out, indent + 2, depth + 1);
            }
            2 => {
                out.push_str(&format!(" {} # comment\n", rng.pick(SCALARS)));
            }
            3 => {
                out.push_str("\n\n# a comment line\n");
            }
            _ => {
                out.push(' ');
                out.push_str(rng.pick(SCALARS));
                out.push('\n');
            }
        }
    }
}

#[test]
fn generated_documents_read_the_same() {
    let fast = generated::run(18, 20_000, |rng, text| generate(rng, text, 0, 0));
    // Proves the generator reaches the fast path, so the comparison means something.
    assert!(
        fast > 1_000,
        "only {fast} generated documents took the fast path"
    );
}
