//! The fast reader against the full one, differentially: every document of the bench corpus,
//! every YAML file of the repository, the loader's own test inputs (each with the reader it must
//! take) and generated sets (random documents from tricky fragments, see [`tricky`], "clean" ones that mostly
//! take the fast path, see [`clean`], and random mutations of the corpus) must load to the same
//! value, or fail with the same error and line, through `load::parse` (fast path first) and
//! `load::parse_full` (the full reader alone). Source locations come from `LineIndex` over the
//! text, which no reader touches, so equal values mean equal findings at equal lines.

#[path = "load_fast_path/clean.rs"]
mod clean;
#[path = "../benches/corpus/mod.rs"]
mod corpus;
#[path = "load_fast_path/generated.rs"]
mod generated;
#[path = "load_fast_path/tricky.rs"]
mod tricky;

use std::path::Path;

use guardian_core::load;

/// Both paths on one document: the same `Result`, value or error (message and line).
fn same(text: &str) {
    let fast = load::parse(text, 7);
    let full = load::parse_full(text, 7);
    assert_eq!(
        format!("{fast:?}"),
        format!("{full:?}"),
        "the readers disagree on:\n{text}"
    );
    if let Some(value) = load::parse_fast(text) {
        assert_eq!(
            full.ok().as_ref(),
            Some(&value),
            "the fast reader disagrees on:\n{text}"
        );
    }
}

#[test]
fn the_corpus_reads_the_same_and_takes_the_fast_path() {
    for text in corpus::corpus(1_000) {
        same(&text);
        // Otherwise the fast path would be untested here, and no faster.
        assert!(load::parse_fast(&text).is_some(), "not fast:\n{text}");
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            yaml_files(&path, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_yaml_file_of_the_repository_reads_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    assert!(files.len() >= 10, "found only {files:?}");
    let mut fast = 0;
    let mut documents = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (_, doc) in load::split(&text) {
            same(doc);
            documents += 1;
            fast += usize::from(load::parse_fast(doc).is_some());
        }
    }
    // Helm templates and CRDs use block scalars and templates: those go to the full reader.
    assert!(
        fast * 2 >= documents,
        "{fast} of {documents} took the fast path"
    );
}

/// The inputs of the loader's own unit tests and the hardening cases: YAML 1.1 scalars, keys,
/// merges, aliases, duplicates, errors.
/// Which reader a case must take: the fast one, or the full one it falls back to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reader {
    Fast,
    Full,
}

use Reader::{Fast, Full};

const CASES: &[(Reader, &str)] = &[
    (
        Full,
        "a: yes\nb: 'yes'\nc: \"on\"\nd: off\ne: 0755\nf: ~\ng: |\n  no\n",
    ),
    (Fast, "a: 3.0\nb: 1.5\nc: 1e3"),
    (Full, "a: .inf"),
    (Fast, "1: a\nyes: b\n1.5: c\n0x10: d\n1e6: e\n"),
    (Full, "~: a"),
    (Full, "? [a]\n: b"),
    (
        Full,
        "base: &b {x: 1, w: 2}\nm:\n  <<: *b\n  z: 3\nq: {'<<': 1}\n",
    ),
    (Full, "a: &a {x: 1}\nm:\n  <<: *a\n  x: 2\n"),
    (Full, "m:\n  <<: 1\n"),
    (Full, "a: &x [1, 2]\nb: *x\n"),
    (Full, "a: &x [*x]\n"),
    (Full, "a: 1\nb: 2\na: 3\n"),
    (Full, "a: 1\nb: [unclosed\nc: 3\n"),
    (
        Fast,
        "kind: Pod\nspec:\n  hostNetwork: on\n  containers:\n  - name: a\n    securityContext: {privileged: yes}\n",
    ),
    (Full, "a: |\n  --- not a marker\nb: 1\n"),
    (Full, "b: 2\nc: [unclosed\nd: 3\n"),
    (Full, "b: 2\nc: 3\nb: 4\n"),
    (Fast, "a: 18446744073709551616\n"),
    (Full, "18446744073709551615: a\n"),
    (
        Fast,
        "a: 1_000\nb: 0b101\nc: -0x10\nd: +12\ne: 08\nf: 1e400\ng: 2001-12-14\nh: 12:30\n",
    ),
    (Full, "a: b: c\n"),
    (Full, "a: b:\n"),
    (Fast, "a:b: c\n"),
    (Full, "a\n"),
    (Full, "- a\n- b: 1\n  c: 2\n-\n  - x\n- - y\n"),
    (Fast, "a:\n- 1\n- 2\nb: 3\n"),
    (Full, "a:\n  - 1\n - 2\n"),
    (Full, "a: 1\n  b: 2\n"),
    (Full, "a: foo\n  bar\n"),
    (
        Full,
        "a: 'it''s'\nb: \"q\\\"x\\\\y\\n\\t\\/\"\nc: \"\\u00e9\"\n",
    ),
    (Full, "a: \"x\" # c\nb: 'y'#c\n"),
    (Fast, "a: {b: 1, c: [x, 'y', \"z\"], d: {}}\ne: []\n"),
    (Full, "a: {b: 1,}\n"),
    (Full, "a: [a: 1]\n"),
    (Full, "a: {b}\n"),
    (Full, "a: {b: }\n"),
    (Fast, "a: {url: http://x:80/y}\n"),
    (Full, "a: [1, 2\n  , 3]\n"),
    (
        Fast,
        "a:   \n  # comment\n  b: 1 # trailing\n# col zero\n  c: 2\n",
    ),
    (Full, "a: 1\n\tb: 2\n"),
    (Full, "a: 1\r\nb: 2\r\n"),
    (Full, "\u{feff}a: 1\n"),
    (Full, "a: caf\u{e9}\nb: x\u{85}y\n"),
    (Fast, "  a: 1\n  b: 2\n"),
    (Full, "  a: 1\nb: 2\n"),
    (Full, "a: !!str 1\n"),
    (Full, "a: !custom x\n"),
    (Full, "a: >\n  folded\n"),
    (Full, "a: %x\n"),
    (Full, "'a' : 1\n"),
    (Full, "\"a\": 1\n\"a\": 2\n"),
    (Full, "a: -\n"),
    (Full, "a: - b\n"),
    (Fast, "a: -1\nb: -.5\nc: -x\n"),
    (Full, "<<: {a: 1}\n"),
    (Fast, "a: null\nb: Null\nc:\nd: ''\n"),
    (Fast, "key with spaces: v\nkey  : v2\n"),
    (Fast, "a: [b, [c, [d]]]\n"),
    (Fast, "a: {\"b\": \"c\"}\n"),
    (Full, "a: {\"b\":\"c\"}\n"),
    (Fast, "a: [\"b\",\"c\"]\n"),
    (Fast, "-\n-\n"),
    (Fast, "- # c\n  a: 1\n"),
    (Fast, "a:\n-\n  b: 1\n"),
    (Full, "a: 1\n...\n"),
    (Full, "a: 1\n--- \nb: 2\n"),
    (Full, "%YAML 1.1\n---\na: 1\n"),
    (Full, "a: [b, c] x\n"),
    (Full, "a: \"unclosed\n"),
    (Full, "a: 'multi\n  line'\n"),
    (Fast, "a: 0o17\nb: 0x1F\nc: 1.2.3\nd: 0x\n"),
    (Full, "y: 1\nn: 2\non: 3\n"),
    (Fast, "1.0: a\n"),
    (Full, "a: @x\n"),
    (Full, "a: `x\n"),
    (Fast, "a: x # c: d\n"),
    (Full, "a#b: c\nd #e: f\n"),
    (Full, "? a\n"),
    (Full, ": a\n"),
    (Full, "a: :x\n"),
    (Full, "a: ?x\n"),
    (Full, "[a]: b\n"),
    (Full, "a,b: c\n"),
    (Fast, "-   name: a\n    image: b\n-  c: 1\n   d: 2\n"),
    (Fast, "a:\n    - x\n    - y\nb:\n  - z\n"),
    (Fast, "- a: 1\n  b:\n  - c\n  d: {}\n"),
    (Full, "a: {b: 1, b: 2}\n"),
    (Fast, "a: [{b: 1}, {c: [2, 3]}]\n"),
    (Full, "a: 'x' y\n"),
    (Fast, "a: \"\"\nb: ''''\n"),
    (Full, "a: [-, b]\n"),
    (Full, "a: {b: -}\n"),
    (Full, "- [x, -]\n"),
    (Fast, "a: [-x, x-, -1]\n"),
];

/// Keys about YAML's 1024-character limit for implicit keys, which counts the source from the
/// key's start to its `:` (trailing spaces, escapes and quotes included), in block and flow.
#[test]
fn long_keys_read_the_same() {
    for len in [990, 1000, 1001, 1024, 1025, 1100] {
        let k = "k".repeat(len);
        same(&format!("{k}: 1\n"));
        same(&format!("\"{k}\": 1\n"));
        same(&format!("a: {{{k}: 1}}\n"));
        same(&format!("a: {{'{k}': 1}}\n"));
        same(&format!("- {k}: 1\n"));
    }
    for len in [480, 500, 520] {
        same(&format!(
            "{}{}: 1\n",
            "k".repeat(2 * len - 30),
            " ".repeat(30)
        ));
        same(&format!("\"{}\": 1\n", "\\\\".repeat(len)));
        same(&format!("'{}': 1\n", "''".repeat(len)));
        same(&format!("a: {{\"{}\": 1}}\n", "\\n".repeat(len)));
    }
    // Well under the limit, keys stay on the fast path.
    assert!(load::parse_fast(&format!("{}: 1\n", "k".repeat(900))).is_some());
}

/// The full reader stops at 255 levels of block or flow nesting; the fast one must never read
/// what it rejects, nor recurse without bound (a stack overflow kills `check` and the console).
#[test]
fn deep_nesting_reads_the_same_and_never_overflows() {
    let flow = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
    let flow_maps = |n: usize| format!("a: {}1{}\n", "{k: ".repeat(n), "}".repeat(n));
    let block = |n: usize| {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!("{}k:\n", " ".repeat(i)));
        }
        text + &format!("{}k: 1\n", " ".repeat(n))
    };
    let items = |n: usize| {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!("{}-\n", " ".repeat(2 * i)));
        }
        text + &format!("{}- x\n", " ".repeat(2 * n))
    };
    for n in [1, 10, 30, 63, 64, 65, 200, 254, 255, 256, 300] {
        same(&flow(n));
        same(&flow_maps(n));
        same(&block(n));
        same(&items(n));
        same(&format!(
            "{}a: {}\n",
            block(n).trim_end_matches("k: 1\n"),
            flow(n)
        ));
    }
    // Ordinary depths stay on the fast path.
    assert!(load::parse_fast(&flow(30)).is_some());
    assert!(load::parse_fast(&block(30)).is_some());
    // 100,000 brackets on one line: an error, not a crash.
    let deep = flow(100_000);
    same(&deep);
    assert!(load::parse(&deep, 1).is_err());
    assert!(load::parse(&format!("a: {}\n", "[".repeat(100_000)), 1).is_err());
}

/// In flow context a plain scalar cannot start with `-` followed by a flow indicator.
#[test]
fn a_dash_before_a_flow_indicator_reads_the_same() {
    for indicator in [',', '[', ']', '{', '}'] {
        same(&format!("a: [-{indicator} b]\n"));
        same(&format!("a: [b, -{indicator}]\n"));
        same(&format!("a: {{b: -{indicator}}}\n"));
        same(&format!("- [x, -{indicator}\n"));
        same(&format!("a: -{indicator}\n"));
    }
    for case in ["a: [-, b]\n", "a: {b: -}\n", "- [x, -]\n", "a: [-x, -1]\n"] {
        same(case);
    }
    assert!(load::parse_fast("a: [-x, -1]\n").is_some());
}

#[test]
fn the_loaders_own_cases_read_the_same() {
    for &(reader, case) in CASES {
        same(case);
        let took = if load::parse_fast(case).is_some() {
            Fast
        } else {
            Full
        };
        assert_eq!(took, reader, "on:\n{case}");
    }
}

/// A tiny deterministic generator, so a failure is reproducible from its seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() % items.len()]
    }
}

/// Characters that change what a line means, for mutations.
const MUTATIONS: &[&str] = &[
    " ", "  ", ":", ": ", "-", "- ", "#", " #", "'", "\"", "[", "]", "{", "}", ",", "&a ", "*a",
    "!", "|", ">", "\\", "\t", "\n", "?", "%", "@", "\u{e9}", "\u{a0}", "---", "...", "~",
];

#[test]
fn mutated_corpus_documents_read_the_same() {
    let mut rng = Lcg(1818);
    let docs = corpus::corpus(40);
    let mut fast = 0;
    let rounds = 6_000;
    for round in 0..rounds {
        let mut text = docs[round % docs.len()].clone();
        for _ in 0..1 + rng.next() % 3 {
            let mut at = rng.next() % text.len();
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.next() % 3 {
                0 => text.insert_str(at, rng.pick(MUTATIONS)),
                1 => {
                    let mut end = (at + 1 + rng.next() % 3).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 1).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, rng.pick(MUTATIONS));
                }
            }
        }
        same(&text);
        fast += usize::from(load::parse_fast(&text).is_some());
    }
    // About a third stay on the fast path (2,000 at this seed): those test it, not only the
    // fallback.
    assert!(
        fast * 4 >= rounds,
        "only {fast} of {rounds} mutated documents took the fast path"
    );
}
