//! A call's progress frames as they reach its caller: numbered by the worker, routed here by
//! the notice subscription, handed to the call's progress in order. A frame older than one
//! already handed on (reordered) is dropped; a gap in the numbers (a lost frame) is logged; the
//! call's answer says how many were sent, and the call waits for them before it ends, so the
//! last value still reaches the handlers before the result.

use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::stream_in::ItemQueue;
use crate::progress::Reporter;
use crate::remote::frames::Frame;

/// How long a call that has its answer waits for frames sent before it and not yet routed:
/// they were on the same connection, ahead of the answer, so this is only the routing task's
/// turn, unless one was lost.
const STRAGGLERS: Duration = Duration::from_secs(1);

pub(crate) struct Inbound {
    state: Mutex<State>,
    arrived: Notify,
    /// A stream's items, for a call whose function streams them.
    pub(crate) items: ItemQueue,
}

struct State {
    /// `None` once the call ended: frames after that are nobody's.
    reporter: Option<Arc<Reporter>>,
    /// The highest frame number handed on.
    last: u64,
    lost: u64,
    reordered: u64,
}

impl Inbound {
    pub(crate) fn new(reporter: Arc<Reporter>) -> Self {
        Inbound {
            state: Mutex::new(State { reporter: Some(reporter), last: 0, lost: 0, reordered: 0 }),
            arrived: Notify::new(),
            items: ItemQueue::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Frame number `seq` arrived with `payload`.
    pub(crate) fn frame(&self, seq: u64, payload: &[u8]) {
        let mut state = self.state();
        if seq <= state.last {
            state.reordered += 1;
            tracing::debug!(seq, last = state.last, "a progress frame arrived after a later one: dropped");
            return;
        }
        if seq > state.last + 1 {
            state.lost += seq - state.last - 1;
            tracing::warn!(from = state.last + 1, to = seq - 1, "progress frames were lost on the way");
        }
        state.last = seq;
        if let (Some(reporter), Some(Frame::Progress(value))) = (&state.reporter, Frame::parse(payload)) {
            if let Ok(value) = serde_json::from_str(value.get()) {
                // Under the lock: once `finish` has run, nothing reports any more.
                reporter.report(value);
            }
        }
        drop(state);
        self.arrived.notify_waiters();
    }

    /// The call has its answer, which says `sent` frames went before it: waits (briefly) for
    /// those not routed yet, then lets go of the call's progress, so nothing is reported after
    /// its result. Returns the frames lost and reordered.
    pub(crate) async fn finish(&self, sent: u64) -> (u64, u64) {
        let _ = tokio::time::timeout(STRAGGLERS, async {
            loop {
                let mut arrived = pin!(self.arrived.notified());
                arrived.as_mut().enable();
                if self.state().last >= sent {
                    return;
                }
                arrived.await;
            }
        })
        .await;
        let mut state = self.state();
        if state.last < sent {
            state.lost += sent - state.last;
            tracing::warn!(sent, arrived = state.last, "the last progress frames were lost on the way");
        }
        state.reporter = None;
        (state.lost, state.reordered)
    }

    /// Lets go of the call's progress (the call ended without an answer that counts frames).
    pub(crate) fn close(&self) {
        self.state().reporter = None;
    }
}

/// A call's [`Inbound`], closed when the call ends however it ends: the reporter is dropped in
/// the call's own task, before its outcome, never later in the routing task.
pub(crate) struct Closing(pub(crate) Arc<Inbound>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::frames;

    fn frame(value: u64) -> Vec<u8> {
        frames::progress(&value.into())
    }

    #[tokio::test]
    async fn reordered_frames_are_dropped_and_lost_ones_counted() {
        let (reporter, cell) = crate::progress::channel();
        let inbound = Inbound::new(reporter);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        cell.attach(Box::new(move |value| record.lock().unwrap().push(value.as_u64().unwrap())));
        for seq in [1, 2, 4, 3, 5] {
            inbound.frame(seq, &frame(seq * 10));
            tokio::task::yield_now().await;
        }
        // Seven were sent: 6 and 7 never came (3 came late and was dropped).
        let (lost, reordered) = tokio::time::timeout(Duration::from_secs(5), inbound.finish(7)).await.unwrap();
        assert_eq!((lost, reordered), (1 + 2, 1));
        inbound.frame(8, &frame(80));
        drop(inbound);
        // Every value handed on was newer than the one before, and none came after `finish`.
        let seen = seen.lock().unwrap();
        assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
        assert!(!seen.contains(&30) && !seen.contains(&80), "{seen:?}");
    }

    #[tokio::test]
    async fn finish_waits_for_frames_still_on_their_way() {
        let (reporter, _cell) = crate::progress::channel();
        let inbound = Arc::new(Inbound::new(reporter));
        let late = Arc::clone(&inbound);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            late.frame(1, &frame(1));
            late.frame(2, &frame(2));
        });
        assert_eq!(inbound.finish(2).await, (0, 0));
    }
}
