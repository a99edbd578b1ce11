//! The `/` filter: substrings that must all match, `!text` that must not, `@cluster` scopes.

/// A parsed filter. Matching is case-insensitive: the words are lower-cased once, the texts
/// compared folded (see [`Filter::fields`]).
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

    /// Whether every row this filter keeps, `wider` keeps too (a word typed on, a word added),
    /// so this filter's table can be built from `wider`'s rows alone.
    pub fn narrows(&self, wider: &Filter) -> bool {
        // A word found in a text: every part of it is found there too.
        let include =
            (wider.include.iter()).all(|w| self.include.iter().any(|n| n.contains(w.as_str())));
        let exclude =
            (wider.exclude.iter()).all(|w| self.exclude.iter().any(|n| w.contains(n.as_str())));
        let clusters = wider.clusters.is_empty()
            || (!self.clusters.is_empty()
                && (self.clusters.iter())
                    .all(|n| wider.clusters.iter().any(|w| n.contains(w.as_str()))));
        include && exclude && clusters
    }

    /// Whether a Violations row with these texts matches.
    pub fn fields(&self, fields: &Fields<'_>) -> bool {
        self.include.iter().all(|w| fields.contain(w))
            && !self.exclude.iter().any(|w| fields.contain(w))
    }

    /// Whether a row with these texts matches (each searched on its own, case folded).
    pub fn texts(&self, texts: &[&str]) -> bool {
        let contain = |w: &String| texts.iter().any(|t| contains_folded(t, w));
        self.include.iter().all(contain) && !self.exclude.iter().any(contain)
    }
}

/// A Violations row's texts as the filter searches them, borrowed from its finding. The table
/// once searched one lower-cased copy of them joined with spaces (about 100 bytes a row); a
/// word has no space, so it never matched across two texts there: each is searched on its own.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub texts: [&'a str; 7],
    /// The object's kind and name, shown (and searched) as `kind/name`.
    pub kind: &'a str,
    pub name: &'a str,
}

impl Fields<'_> {
    fn contain(&self, word: &str) -> bool {
        if self.texts.iter().any(|t| contains_folded(t, word)) {
            return true;
        }
        if contains_folded(self.kind, word) || contains_folded(self.name, word) {
            return true;
        }
        if !word.contains('/') {
            return false;
        }
        if !self.kind.is_ascii() || !self.name.is_ascii() {
            // Rare: lower-cased as one text, exactly as shown.
            return format!("{}/{}", self.kind, self.name)
                .to_lowercase()
                .contains(word);
        }
        // Across `kind/name` without formatting it: the word's slash at the one between them,
        // what precedes it ending the kind, what follows starting the name.
        word.match_indices('/').any(|(at, _)| {
            let (kind, name, word) = (self.kind.as_bytes(), self.name.as_bytes(), word.as_bytes());
            let (before, after) = (&word[..at], &word[at + 1..]);
            kind.len() >= before.len()
                && name.len() >= after.len()
                && kind[kind.len() - before.len()..].eq_ignore_ascii_case(before)
                && name[..after.len()].eq_ignore_ascii_case(after)
        })
    }
}

/// Whether `text`, lower-cased, contains `word` (lower-case): without a copy when both are
/// ASCII, as Kubernetes names and the rules' messages are.
fn contains_folded(text: &str, word: &str) -> bool {
    if !text.is_ascii() {
        return text.to_lowercase().contains(word);
    }
    // An ASCII text lower-cased is ASCII: it cannot contain a word that is not.
    if !word.is_ascii() {
        return false;
    }
    let (text, word) = (text.as_bytes(), word.as_bytes());
    let Some((&first, rest)) = word.split_first() else {
        return true;
    };
    let last = text.len().saturating_sub(word.len());
    let mut from = 0;
    while from <= last && word.len() <= text.len() {
        let Some(at) = text[from..=last]
            .iter()
            .position(|b| b.to_ascii_lowercase() == first)
        else {
            return false;
        };
        let start = from + at;
        if text[start + 1..start + word.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_must_all_match_bang_excludes_and_at_scopes_clusters() {
        let f = Filter::parse("Payments !ledger @DEMO-b");
        assert!(f.texts(&["Payments", "Deployment/API"]));
        assert!(!f.texts(&["payments", "deployment/ledger"]));
        assert!(!f.texts(&["shop", "deployment/api"]));
        assert!(!f.texts(&["pay", "ments"]), "a word is found in one text");
        assert!(f.cluster("demo-b"));
        assert!(!f.cluster("demo-a"));
        assert!(Filter::parse("  ").is_empty());
        assert!(
            Filter::parse("! @").is_empty(),
            "a bare ! or @ filters nothing"
        );
    }

    #[test]
    fn a_filter_narrows_another_when_it_keeps_no_row_the_other_drops() {
        let narrows = |a: &str, b: &str| Filter::parse(a).narrows(&Filter::parse(b));
        for (narrower, wider) in [
            ("team-07", "team-0"),
            ("team-07 app", "team-07"),
            ("TEAM-07", "team"),
            ("x !ab", "x !abc"),
            ("@demo-a1", "@demo-a"),
            ("@demo-a", ""),
            ("app", "app"),
        ] {
            assert!(narrows(narrower, wider), "{narrower:?} narrows {wider:?}");
        }
        for (a, b) in [
            ("team-0", "team-07"),
            ("team-07", "team-07 app"),
            ("x !abc", "x !ab"),
            ("", "@demo-a"),
            ("@demo", "@demo-a"),
            ("app", "!app"),
        ] {
            assert!(!narrows(a, b), "{a:?} does not narrow {b:?}");
        }
    }

    #[test]
    fn a_rows_texts_match_case_insensitively_each_on_its_own_and_kind_slash_name_as_one() {
        let row = |namespace, name, message| Fields {
            texts: [
                namespace,
                "Restricted",
                "run-as-non-root",
                "high",
                "Deny",
                message,
                "",
            ],
            kind: "Deployment",
            name,
        };
        let api = row("Payments", "API-Gateway", "Container runs as ROOT");
        let matches = |text: &str, fields: &Fields<'_>| Filter::parse(text).fields(fields);
        for text in [
            "payments",
            "GATEWAY",
            "deployment/api",
            "ment/API-g",
            "root high",
        ] {
            assert!(matches(text, &api), "{text}");
        }
        for text in [
            "ledger",
            "!ROOT",
            "payments restricted-x",
            "/gateway",
            "payrestricted",
        ] {
            assert!(!matches(text, &api), "{text}");
        }
        // Texts that are not ASCII match as their lower-cased copy did.
        let non_ascii = row("Ärzte", "Größe", "Zugriff für ÄRZTE verweigert");
        for text in [
            "ärzte",
            "ÄRZTE",
            "GRÖSSE",
            "größe",
            "deployment/grö",
            "FÜR",
            "!ärzte",
        ] {
            assert_eq!(
                matches(text, &non_ascii),
                !text.starts_with('!') && text != "GRÖSSE",
                "{text}"
            );
        }
        assert!(
            !matches("für", &api),
            "an ASCII text never holds a word that is not"
        );
        assert!(!matches("deployment-x", &api) && !contains_folded("ab", "abc"));
    }
}
