//! A "clean" generator: documents drawn only from what the fast reader claims to read itself,
//! so most of them take the fast path and the comparison with the full reader tests it, with
//! now and then a fragment at one of its bounds (nesting 1 to 300 levels, implicit keys of 990
//! to 1030 source bytes with trailing spaces, escapes and doubled quotes, flow keys, `-` next
//! to each flow indicator), where a fast reader that reads too much disagrees with the full one.

use super::{Lcg, generated};

/// Keys that resolve to distinct JSON keys (`y` and `on` both mean `true`), so a mapping drawn
/// without repeats has no duplicate (which the fast reader leaves to the full one).
const KEYS: &[&str] = &[
    "a",
    "name",
    "image",
    "on",
    "1",
    "0x10",
    "1.5",
    "1e6",
    "'q'",
    "\"d\"",
    "a b",
    "a:b",
    "-k",
    "k#",
    "é",
    "'it''s'",
    "\"e\\n\"",
    "\"\\\\ \\/ \\t \\\"\"",
    "key  ",
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
    "a:b",
    "a #c",
    "a#c",
    "-1",
    "-x",
    "0b11",
    "http://x:1/",
    "[]",
    "{}",
    "[a, b]",
    "{a: 1, b: [c]}",
    "é",
    "[a,b]",
    "{a: b c}",
    "[ a , b ]",
    "x # c: d",
    "[-x, -1, x-]",
    "{\"k\\tk\": \"\\\\\", 'q''': -y}",
    "\"\\n\\t\\/\\\\\\\"\"",
];

/// Nesting depths about the fast reader's bound (64) and the full reader's (255).
const DEPTHS: &[usize] = &[1, 2, 5, 30, 63, 64, 65, 66, 254, 255, 256, 300];

/// A value at one of the bounds.
fn edge_value(rng: &mut Lcg) -> String {
    let n = DEPTHS[rng.next() % DEPTHS.len()];
    let indicator = [",", "[", "]", "{", "}"][rng.next() % 5];
    match rng.next() % 5 {
        0 => format!("{}{}", "[".repeat(n), "]".repeat(n)),
        1 => format!("{}1{}", "{k: ".repeat(n), "}".repeat(n)),
        2 => format!("[x, -{indicator} y]"),
        3 => format!("{{b: -{indicator}}}"),
        _ => format!("{{{}: 1}}", long_key(rng)),
    }
}

/// An implicit key of 990 to 1030 source bytes: plain, with trailing spaces, or quoted with
/// escapes or doubled quotes (whose values are shorter than their source).
fn long_key(rng: &mut Lcg) -> String {
    let len = 990 + rng.next() % 41;
    match rng.next() % 4 {
        0 => "k".repeat(len),
        1 => format!("{}{}", "k".repeat(len - 20), " ".repeat(20)),
        2 => format!("\"{}\"", "\\\\".repeat((len - 2) / 2)),
        _ => format!("'{}'", "''".repeat((len - 2) / 2)),
    }
}

/// A key not yet in `used` (the indices of the mapping's keys so far).
fn key(rng: &mut Lcg, used: &mut Vec<usize>) -> String {
    if rng.next().is_multiple_of(200) {
        return long_key(rng);
    }
    let mut i = rng.next() % KEYS.len();
    while used.contains(&i) {
        i = (i + 1) % KEYS.len();
    }
    used.push(i);
    KEYS[i].to_owned()
}

fn value(rng: &mut Lcg) -> String {
    if rng.next().is_multiple_of(100) {
        edge_value(rng)
    } else {
        rng.pick(SCALARS).to_owned()
    }
}

/// `n` nested one-key mappings, each indented one more, ending in a scalar.
fn deep_block(out: &mut String, indent: usize, n: usize) {
    for i in 0..n {
        out.push_str(&format!("{}k:\n", " ".repeat(indent + i)));
    }
    out.push_str(&format!("{}k: 1\n", " ".repeat(indent + n)));
}

/// A block collection at `indent`; `continued`: the keys of a mapping begun on a dash's line,
/// which this one goes on with.
fn generate(
    rng: &mut Lcg,
    out: &mut String,
    indent: usize,
    depth: usize,
    continued: Option<Vec<usize>>,
) {
    let entries = 1 + rng.next() % 4;
    let sequence = continued.is_none() && rng.next().is_multiple_of(3);
    let pad = " ".repeat(indent);
    let mut used = continued.unwrap_or_default();
    for _ in 0..entries {
        if sequence {
            out.push_str(&format!("{pad}- "));
        } else {
            out.push_str(&format!("{pad}{}:", key(rng, &mut used)));
        }
        match rng.next() % 6 {
            0 if depth < 4 => {
                out.push('\n');
                if !sequence && rng.next().is_multiple_of(3) {
                    // A sequence at the key's own indentation.
                    for _ in 0..1 + rng.next() % 3 {
                        out.push_str(&format!("{pad}- {}\n", value(rng)));
                    }
                } else if rng.next().is_multiple_of(100) {
                    deep_block(out, indent + 2, DEPTHS[rng.next() % DEPTHS.len()]);
                } else {
                    generate(rng, out, indent + 2, depth + 1, None);
                }
            }
            1 if sequence && depth < 4 => {
                // A mapping that starts on the dash's line.
                let mut used = Vec::new();
                out.push_str(&format!("{}: {}\n", key(rng, &mut used), value(rng)));
                generate(rng, out, indent + 2, depth + 1, Some(used));
            }
            2 => out.push_str(&format!(" {} # comment\n", value(rng))),
            _ => out.push_str(&format!(" {}\n", value(rng))),
        }
    }
}

#[test]
fn clean_generated_documents_read_the_same_and_take_the_fast_path() {
    let total = 20_000;
    let fast = generated::run(181_818, total, |rng, text| generate(rng, text, 0, 0, None));
    // The comparison means something only if the fast path read most documents.
    assert!(
        fast * 10 >= total * 9,
        "only {fast} of {total} clean documents took the fast path"
    );
}
