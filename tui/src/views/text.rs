//! Short texts every screen formats the same way: ages, counts.

use k8s_openapi::jiff::Timestamp;

/// `42s`, `3m`, `1h12m`, `2d` since `then` (`0s` for the future).
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    duration(u64::try_from(secs).unwrap_or(0))
}

/// `42s`, `3m`, `1h12m`, `2d`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => {
            let minutes = secs % 3600 / 60;
            if minutes == 0 {
                format!("{}h", secs / 3600)
            } else {
                format!("{}h{minutes}m", secs / 3600)
            }
        }
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(180), "3m");
        assert_eq!(duration(3600 + 12 * 60), "1h12m");
        assert_eq!(duration(7200), "2h");
        assert_eq!(duration(3 * 86_400), "3d");
        let now = Timestamp::from_second(1_000).expect("timestamp");
        let later = Timestamp::from_second(2_000).expect("timestamp");
        assert_eq!(age(now, later), "0s");
    }
}
