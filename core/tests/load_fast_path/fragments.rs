//! The fragments both generators ([`super::clean`] and [`super::tricky`]) draw from, and the
//! loop that runs a generator: each adds its own fragments to these.

use guardian_core::load;

use super::{Lcg, same};

/// Keys both generators use.
pub const KEYS: &[&str] = &[
    "a", "name", "image", "on", "1", "0x10", "1.5", "1e6", "'q'", "\"d\"", "a b", "a:b", "-k",
    "k#", "é", "'it''s'", "\"e\\n\"",
];

/// Scalars both generators use.
pub const SCALARS: &[&str] = &[
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
];

/// Shared fragments and a generator's own, drawn from as one list.
#[derive(Debug, Clone, Copy)]
pub struct Fragments {
    pub shared: &'static [&'static str],
    pub own: &'static [&'static str],
}

impl Fragments {
    pub fn count(self) -> usize {
        self.shared.len() + self.own.len()
    }

    pub fn get(self, i: usize) -> &'static str {
        self.shared
            .get(i)
            .copied()
            .unwrap_or_else(|| self.own[i - self.shared.len()])
    }

    pub fn pick(self, rng: &mut Lcg) -> &'static str {
        self.get(rng.next() % self.count())
    }
}

/// Compares the readers on `total` documents from `generate`, seeded with `seed`; returns how
/// many of them the fast reader read itself.
pub fn run(seed: u64, total: usize, mut generate: impl FnMut(&mut Lcg, &mut String)) -> usize {
    let mut rng = Lcg(seed);
    let mut fast = 0;
    for _ in 0..total {
        let mut text = String::new();
        generate(&mut rng, &mut text);
        same(&text);
        fast += usize::from(load::parse_fast(&text).is_some());
    }
    fast
}
