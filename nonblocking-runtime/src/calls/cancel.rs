//! One way to cancel anything: the [`Cancel`] trait, the [`cancel`] function and the
//! [`CancelOnDrop`] guard.

use std::fmt;
use std::ops::Deref;

/// Something that can be stopped: an [`AsyncCall`](crate::AsyncCall), a
/// [`RepeatRef`](crate::RepeatRef), a [`DeferRef`](crate::DeferRef), or an `Option` of one.
///
/// Cancelling is idempotent and a no-op once the target finished.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::calls::Cancel;
/// use nonblocking_runtime::{call_async, defer};
/// use std::time::Duration;
///
/// // Anything cancellable, in one list.
/// let pending: Vec<Box<dyn Cancel>> = vec![
///     Box::new(call_async(std::future::pending::<()>())),
///     Box::new(defer(|| println!("never"), Duration::from_secs(60))),
/// ];
/// pending.iter().for_each(|target| target.cancel());
/// ```
pub trait Cancel {
    /// Stops the target; see each implementor for what that means for work already running.
    fn cancel(&self);
}

impl<C: Cancel> Cancel for Option<C> {
    /// Cancels the target if there is one; `None` is a no-op.
    fn cancel(&self) {
        if let Some(target) = self {
            target.cancel();
        }
    }
}

impl<C: Cancel + ?Sized> Cancel for &C {
    fn cancel(&self) {
        (**self).cancel();
    }
}

/// Cancels `target`: the same as `target.cancel()`, but it also takes `&Option<_>`, so a
/// placeholder that starts as `None` needs no check (Anvil's `cancel(ref)`).
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{DeferRef, cancel, defer};
/// use std::time::Duration;
///
/// let mut pending: Option<DeferRef> = None;
/// for change in 0..3 {
///     cancel(&pending); // a no-op the first time
///     pending = Some(defer(move || println!("saving up to change {change}"), Duration::from_millis(10)));
/// }
/// ```
pub fn cancel<C: Cancel + ?Sized>(target: &C) {
    target.cancel();
}

/// A guard that cancels its target when dropped; the opposite of the default, where dropping a
/// handle detaches. Derefs to the target; [`disarm`](Self::disarm) gives it back uncancelled.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{CallStatus, call_async};
///
/// let call = call_async(std::future::pending::<()>()).cancel_on_drop();
/// assert_eq!(call.status(), CallStatus::Pending);
/// let call = call.disarm(); // keep it running after all
/// call.cancel();
/// assert_eq!(call.status(), CallStatus::Cancelled);
/// ```
#[must_use = "dropping the guard cancels at once"]
pub struct CancelOnDrop<C: Cancel> {
    target: Option<C>,
}

impl<C: Cancel> CancelOnDrop<C> {
    pub(crate) fn new(target: C) -> Self {
        CancelOnDrop {
            target: Some(target),
        }
    }

    /// Gives the target back without cancelling it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallStatus, call_async};
    /// let guard = call_async(async { 5 }).cancel_on_drop();
    /// let call = guard.disarm();
    /// assert_eq!(call.wait().unwrap(), 5);
    /// ```
    pub fn disarm(mut self) -> C {
        self.target
            .take()
            .expect("the target is only taken by disarm, which consumes the guard")
    }
}

impl<C: Cancel> Deref for CancelOnDrop<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.target
            .as_ref()
            .expect("the target is only taken by disarm, which consumes the guard")
    }
}

impl<C: Cancel> Drop for CancelOnDrop<C> {
    fn drop(&mut self) {
        self.target.cancel();
    }
}

impl<C: Cancel + fmt::Debug> fmt::Debug for CancelOnDrop<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CancelOnDrop").field(&self.target).finish()
    }
}
