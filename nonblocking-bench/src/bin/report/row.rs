//! A row of the report: ours against its baseline, and the target the ratio must meet.

/// What the ratio must be.
#[derive(Clone, Copy)]
pub enum Bound {
    /// A cost: at most this many times the baseline.
    AtMost(f64),
    /// A throughput: at least this share of the baseline.
    AtLeast(f64),
    /// A peer shown for comparison, with no target.
    Peer,
}

impl Bound {
    /// Where the chart draws the target's tick.
    pub fn line(self) -> Option<f64> {
        match self {
            Bound::AtMost(line) | Bound::AtLeast(line) => Some(line),
            Bound::Peer => None,
        }
    }
}

pub struct Row {
    pub name: String,
    pub ours: String,
    pub base: String,
    pub ratio: f64,
    pub target: String,
    pub bound: Bound,
}

impl Row {
    /// A cost row: met when the ratio is at most `limit`.
    pub fn new(
        name: &str,
        ours: String,
        base: String,
        ratio: f64,
        target: &str,
        limit: f64,
    ) -> Row {
        Row::bounded(name, ours, base, ratio, target, Bound::AtMost(limit))
    }

    pub fn bounded(
        name: &str,
        ours: String,
        base: String,
        ratio: f64,
        target: &str,
        bound: Bound,
    ) -> Row {
        Row {
            name: name.into(),
            ours,
            base,
            ratio,
            target: target.into(),
            bound,
        }
    }

    /// Whether the target is met; `None` for a peer.
    pub fn met(&self) -> Option<bool> {
        match self.bound {
            Bound::AtMost(limit) => Some(self.ratio <= limit),
            Bound::AtLeast(floor) => Some(self.ratio >= floor),
            Bound::Peer => None,
        }
    }
}
