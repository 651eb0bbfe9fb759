//! "Did you mean ...?" for unknown names: the registered name closest by edit distance.

/// A name longer than this gets no suggestion: the work per unknown name stays bounded.
const LONGEST_SUGGESTED: usize = 64;
/// At most this many candidates of a plausible length are compared with one unknown name.
const MOST_COMPARED: usize = 1_000;

/// The candidate closest to `wanted`, if it is close enough to be a likely typo: at most a
/// third of the name's characters edited (and at least one), or equal ignoring case.
///
/// The work is bounded whatever the input: a name over [`LONGEST_SUGGESTED`] characters is not
/// compared, candidates whose length alone puts them out of reach are skipped without a
/// distance, and at most [`MOST_COMPARED`] others are compared.
pub(crate) fn closest<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let length = wanted.chars().count();
    if length > LONGEST_SUGGESTED {
        return None;
    }
    let limit = (length / 3).max(1);
    candidates
        .into_iter()
        // The edit distance is at least the difference in length.
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= limit)
        .take(MOST_COMPARED)
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

/// Whether `name` could be a registered name: one or more of `[A-Za-z0-9_.-]`, the names the
/// macro accepts. Anything else is refused before it is looked up or compared.
#[cfg(any(test, feature = "http"))]
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}

/// Edit distance over chars where swapping two neighbours counts as one edit (optimal string
/// alignment): the typos people make are mostly one insertion, deletion, change or swap.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the (a.len() + 1) x (b.len() + 1) table: two back, one back, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
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
        assert_eq!(edit_distance("shuot", "shout"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["update", "delete", "billing.update"];
        assert_eq!(closest("updte", names), Some("update"));
        assert_eq!(closest("UPDATE", names), Some("update"));
        assert_eq!(closest("udpate", names), Some("update"));
        assert_eq!(closest("billing.updat", names), Some("billing.update"));
        assert_eq!(closest("frobnicate", names), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
        assert_eq!(closest(&"u".repeat(LONGEST_SUGGESTED + 1), names), None);
    }

    #[test]
    fn valid_names() {
        assert!(is_valid_name("billing.update-2_x"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("white space"));
        assert!(!is_valid_name("ünïcode"));
    }
}
