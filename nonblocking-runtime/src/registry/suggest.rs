//! "Did you mean ...?" for unknown names: the registered name closest by edit distance.

/// The candidate closest to `wanted`, if it is close enough to be a likely typo: at most a
/// third of the name's characters edited (and at least one), or equal ignoring case.
pub(crate) fn closest<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = if candidate.eq_ignore_ascii_case(wanted) {
                0
            } else {
                edit_distance(wanted, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("updte", "update"), 1);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["update", "delete", "billing.update"];
        assert_eq!(closest("updte", names), Some("update"));
        assert_eq!(closest("UPDATE", names), Some("update"));
        assert_eq!(closest("billing.updat", names), Some("billing.update"));
        assert_eq!(closest("frobnicate", names), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
    }
}
