//! The `/` filter: substrings that must all match, `!text` that must not, `@cluster` scopes.

/// A parsed filter. Matching is case-insensitive on the row's pre-lowered text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// As typed, for the title.
    pub text: String,
    include: Vec<String>,
    exclude: Vec<String>,
    clusters: Vec<String>,
}

impl Filter {
    pub fn parse(text: &str) -> Filter {
        let mut filter = Filter {
            text: text.to_owned(),
            ..Filter::default()
        };
        for word in text.split_whitespace() {
            let word = word.to_lowercase();
            if let Some(cluster) = word.strip_prefix('@') {
                if !cluster.is_empty() {
                    filter.clusters.push(cluster.to_owned());
                }
            } else if let Some(not) = word.strip_prefix('!') {
                if !not.is_empty() {
                    filter.exclude.push(not.to_owned());
                }
            } else {
                filter.include.push(word);
            }
        }
        filter
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.clusters.is_empty()
    }

    /// Whether every row's text matches (no words to find or exclude).
    pub fn any_text(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether rows of this cluster can match (`@name`: the context contains `name`).
    pub fn cluster(&self, context: &str) -> bool {
        if self.clusters.is_empty() {
            return true;
        }
        let context = context.to_lowercase();
        self.clusters.iter().any(|c| context.contains(c.as_str()))
    }

    /// Whether a row whose lower-cased text is `haystack` matches.
    pub fn text(&self, haystack: &str) -> bool {
        self.include.iter().all(|w| haystack.contains(w.as_str()))
            && !self.exclude.iter().any(|w| haystack.contains(w.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_must_all_match_bang_excludes_and_at_scopes_clusters() {
        let f = Filter::parse("Payments !ledger @DEMO-b");
        assert!(f.text("payments deployment/api"));
        assert!(!f.text("payments deployment/ledger"));
        assert!(!f.text("shop deployment/api"));
        assert!(f.cluster("demo-b"));
        assert!(!f.cluster("demo-a"));
        assert!(Filter::parse("  ").is_empty());
        assert!(
            Filter::parse("! @").is_empty(),
            "a bare ! or @ filters nothing"
        );
    }
}
