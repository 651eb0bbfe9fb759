//! [`Cell`]: where a call's progress waits for its handlers. It holds the latest value only (a
//! slow handler sees the latest, never a queue), and delivers one value at a time, in order,
//! from a small task while the call runs and, when the function is done, once more from the
//! call's own thread, so the last value reaches the handlers before the call's outcome does.
//! A handler attached after that gets the last value once, at once. A server instead pulls
//! from it ([`poll_report`](Cell::poll_report)), as fast as it can send frames to its caller.

use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use serde_json::Value;
use tokio::sync::Notify;

type Handler = Box<dyn FnMut(&Value) + Send>;

#[derive(Default)]
pub(crate) struct Cell {
    state: Mutex<State>,
    /// One delivery at a time, so values reach the handlers in the order they were reported.
    turn: Mutex<()>,
    wake: Notify,
}

#[derive(Default)]
struct State {
    /// The last value reported (shared, so that handing it on copies nothing).
    latest: Option<Arc<Value>>,
    /// `latest` has not been handed on yet.
    fresh: bool,
    handlers: Vec<Handler>,
    /// The function is done: nothing more will be reported.
    closed: bool,
    /// The delivering task runs.
    pumping: bool,
    /// A transport waiting for the next value to send.
    puller: Option<Waker>,
}

impl State {
    /// The latest value, if it was not handed on yet; handed on now.
    fn take_fresh(&mut self) -> Option<Arc<Value>> {
        if !mem::replace(&mut self.fresh, false) {
            return None;
        }
        self.latest.clone()
    }
}

impl Cell {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new value, replacing one not yet delivered.
    pub(crate) fn report(&self, value: Value) {
        let mut state = self.state();
        if state.closed {
            return;
        }
        // Kept even with nobody listening yet: a handler attached later gets it.
        state.latest = Some(Arc::new(value));
        state.fresh = true;
        let pumping = state.pumping;
        let puller = state.puller.take();
        drop(state);
        if let Some(puller) = puller {
            puller.wake();
        }
        if pumping {
            self.wake.notify_one();
        }
    }

    /// Adds a handler; the first one starts the delivering task. Once the function is done,
    /// the handler instead runs here, once, with the last value (if there was one): a call
    /// can finish before its caller had a chance to attach anything, and its result handlers,
    /// attached after this one, still run after it.
    pub(crate) fn attach(self: &Arc<Self>, mut handler: Handler) {
        let mut state = self.state();
        if state.closed {
            let last = state.latest.clone();
            drop(state);
            if let Some(last) = last {
                run(&mut handler, &last);
            }
            return;
        }
        state.handlers.push(handler);
        let start = !mem::replace(&mut state.pumping, true);
        let pending = state.fresh;
        drop(state);
        if start {
            let cell = Arc::clone(self);
            crate::runtime::spawn(async move {
                loop {
                    cell.wake.notified().await;
                    cell.deliver();
                    if cell.state().closed {
                        break;
                    }
                }
            });
        }
        if pending {
            self.wake.notify_one();
        }
    }

    /// The function is done: the last value goes to the handlers now, and nothing after it.
    pub(crate) fn close(&self) {
        let puller = {
            let mut state = self.state();
            state.closed = true;
            state.puller.take()
        };
        if let Some(puller) = puller {
            puller.wake();
        }
        self.deliver();
        self.wake.notify_one();
    }

    #[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
    /// For a transport sending the progress to its caller: the value reported since the last
    /// one it took, or `Pending` (waking it on the next report). One puller per cell.
    pub(crate) fn poll_report(&self, context: &mut Context<'_>) -> Poll<Arc<Value>> {
        let mut state = self.state();
        match state.take_fresh() {
            Some(value) => Poll::Ready(value),
            None => {
                state.puller = Some(context.waker().clone());
                Poll::Pending
            }
        }
    }

    #[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
    /// The value reported and not yet taken, if any: the last one, once the function is done.
    pub(crate) fn take_report(&self) -> Option<Arc<Value>> {
        self.state().take_fresh()
    }

    /// Hands the latest value, if not handed on yet, to every handler.
    fn deliver(&self) {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, mut handlers) = {
            let mut state = self.state();
            // Without handlers the value stays for a puller, or a handler attached later.
            if state.handlers.is_empty() {
                return;
            }
            match state.take_fresh() {
                Some(value) => (value, mem::take(&mut state.handlers)),
                None => return,
            }
        };
        // User code runs outside the state's lock: a handler may attach another one.
        for handler in &mut handlers {
            run(handler, &value);
        }
        let mut state = self.state();
        handlers.append(&mut state.handlers);
        state.handlers = handlers;
    }
}

fn run(handler: &mut Handler, value: &Value) {
    if let Err(panic) = crate::panic::catching(|| handler(value)) {
        tracing::error!(panic, "a progress handler panicked");
    }
}
