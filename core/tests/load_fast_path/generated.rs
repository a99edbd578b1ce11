//! The loop both generators ([`super::clean`] and [`super::tricky`]) run: each keeps its own
//! fragment tables (in their original order, so a seed gives the same documents as before).

use guardian_core::load;

use super::{Lcg, same};

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
