//! Cancellation across processes, routed and authorised. A call that is still running a
//! moment after it started tells its caller which worker runs it (an *accepted* notice on the
//! caller's reply subject, naming this worker's cancel subject); a caller that cancels (or
//! drops, or times out) the call then sends the call's id there, with its headers. Only this
//! worker receives it, finds the call by its id in one lookup, and stops it if the authorize
//! hook lets the sender call that function.
//!
//! Nothing is remembered for calls that are not running: a cancel can only follow an accepted
//! notice, which follows the registration. The table holds one entry per running call that
//! sent a notice, so the concurrency limit bounds it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::registry::ServerFunction;
use crate::remote::{Caller, Policy};

/// The calls running on this worker that a caller may cancel, by id.
#[derive(Default)]
pub(crate) struct Cancels {
    running: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    function: &'static ServerFunction,
    cancel: oneshot::Sender<()>,
}

/// A running call's registration; removed when dropped.
pub(crate) struct Running<'a> {
    cancels: &'a Cancels,
    id: String,
}

impl Cancels {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the call `id` of `function`: the receiver fires when it is cancelled. `None`
    /// when a call with this id already runs here (a second request reusing an id cannot take
    /// over the first one's cancel).
    pub(crate) fn register(&self, id: &str, function: &'static ServerFunction) -> Option<(Running<'_>, oneshot::Receiver<()>)> {
        let mut running = self.lock();
        if running.contains_key(id) {
            return None;
        }
        let (cancel, cancelled) = oneshot::channel();
        running.insert(id.to_owned(), Entry { function, cancel });
        Some((Running { cancels: self, id: id.to_owned() }, cancelled))
    }

    /// A cancel for `id` sent by `caller`: stops the call if it runs here and the policy's
    /// authorize hook lets `caller` call its function. Whether it stopped one.
    pub(crate) fn cancel(&self, id: &str, caller: &mut Caller<'_>, policy: &Policy) -> bool {
        let Some(function) = self.lock().get(id).map(|entry| entry.function) else {
            return false;
        };
        // The hook is user code: never run under the lock.
        if policy.authorize(caller, function).is_err() {
            return false;
        }
        match self.lock().remove(id) {
            Some(entry) => entry.cancel.send(()).is_ok(),
            None => false,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.cancels.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::Cancels;
    use crate::registry::function::test_function;
    use crate::remote::{Caller, Refusal, Settings};

    #[test]
    fn a_cancel_stops_only_a_running_call_of_a_caller_the_hook_allows() {
        let function = test_function("cancels_probe");
        let open = Settings::with_prefix("rpc").check().unwrap();
        let headers = async_nats::HeaderMap::new();
        let mut anyone = Caller::nats(Some(&headers));
        let cancels = Cancels::default();

        let (running, mut cancelled) = cancels.register("a", function).unwrap();
        assert!(cancels.register("a", function).is_none(), "an id runs once");
        assert!(cancelled.try_recv().is_err());
        assert!(cancels.cancel("a", &mut anyone, &open));
        assert!(cancelled.try_recv().is_ok());
        drop(running);

        // Unknown ids leave nothing behind: a cancel storm costs a lookup each.
        for id in 0..10_000 {
            assert!(!cancels.cancel(&id.to_string(), &mut anyone, &open));
        }
        assert_eq!(cancels.len(), 0);

        // The hook decides who may cancel.
        let mut guarded = Settings::with_prefix("rpc");
        guarded.authorize = Some(std::sync::Arc::new(|caller: &mut Caller<'_>, _: &_| match caller.get("x-user") {
            Some(user) if user == "alice" => Ok(()),
            _ => Err(Refusal::Forbidden("not yours".into())),
        }));
        let guarded = guarded.check().unwrap();
        let (running, mut cancelled) = cancels.register("b", function).unwrap();
        assert!(!cancels.cancel("b", &mut anyone, &guarded));
        let mut alice = async_nats::HeaderMap::new();
        alice.insert("x-user", "alice");
        assert!(cancels.cancel("b", &mut Caller::nats(Some(&alice)), &guarded));
        assert!(cancelled.try_recv().is_ok());
        drop(running);
        assert_eq!(cancels.len(), 0);
    }
}
