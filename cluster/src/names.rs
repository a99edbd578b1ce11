//! Names and texts cut to a Kubernetes length limit without losing what tells them apart: the
//! head kept, the tail replaced by a hash of the whole text.

/// Hex digits of the hash that stands for the shortened tail.
pub const HASH_LEN: usize = 8;

/// `text` cut to at most `max` bytes (`max` > [`HASH_LEN`]) as
/// `<head>-<8 hex digits of a hash of text>`: the head is `text` lowercased, every character but
/// `a-z`, `0-9` and `-` replaced by `-`, without leading or trailing `-` (so the result is a
/// DNS-1123 label's characters). Stable across processes and releases; two texts that differ
/// anywhere, the cut part included, get different hashes.
pub fn with_hashed_tail(text: &str, max: usize) -> String {
    head_and_hash(text, max, format!("{:08x}", fnv1a(text) & 0xffff_ffff))
}

/// `<head>-<hash>` within `max` bytes, the head as [`with_hashed_tail`] cuts it from `text`;
/// `hash` alone when no character of the head is left. For callers that must use a given hash
/// (one the Helm chart computes too).
pub(crate) fn head_and_hash(text: &str, max: usize, hash: String) -> String {
    let head = dns_part(text, max.saturating_sub(hash.len() + 1));
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

/// `text` as it is when it has at most `max` bytes, else [`with_hashed_tail`].
pub fn fit(text: &str, max: usize) -> String {
    if text.len() <= max {
        text.to_owned()
    } else {
        with_hashed_tail(text, max)
    }
}

/// `text` lowercased, every character but `a-z`, `0-9` and `-` replaced by `-`, cut to `max`
/// characters, without leading or trailing `-`.
fn dns_part(text: &str, max: usize) -> String {
    let mut part: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .take(max)
        .collect();
    part.truncate(part.trim_end_matches('-').len());
    part.trim_start_matches('-').to_owned()
}

/// FNV-1a: a hash that is the same in every process and release (std's is randomly keyed).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_within_the_limit_is_kept_and_a_longer_one_is_cut_with_a_hash() {
        assert_eq!(fit("pod-1-0a1b2c3d", 128), "pod-1-0a1b2c3d");
        let long = format!("{}-0a1b2c3d", "p".repeat(253));
        let cut = fit(&long, 128);
        assert_eq!(cut.len(), 128);
        assert!(cut.starts_with(&"p".repeat(119)), "{cut}");
        // The same text, the same result; another suffix (another process), another one.
        assert_eq!(cut, fit(&long, 128));
        assert_ne!(cut, fit(&format!("{}-0a1b2c3e", "p".repeat(253)), 128));
        assert_eq!(with_hashed_tail("---", 20).len(), HASH_LEN);
    }
}
