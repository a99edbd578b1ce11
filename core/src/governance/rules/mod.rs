//! Rule implementations, one module per family, plus the helpers they share.

pub mod best_practices;
#[cfg(test)]
mod ephemeral;
pub mod pss_baseline;
pub mod pss_restricted;
mod support;
#[cfg(test)]
pub(crate) mod testing;
