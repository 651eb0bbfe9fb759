//! The UI thread's own store for `!Send` closures (handlers, timer bodies), found again by id
//! when the job that runs them arrives from another thread.
//!
//! Closures are kept by value in one map per closure type, so keeping one allocates nothing
//! once its type's map has room: a UI handler costs no box of its own.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

#[derive(Default)]
pub(crate) struct Table {
    kinds: RefCell<HashMap<TypeId, Box<dyn Any>>>,
    next: Cell<u64>,
}

impl Table {
    pub(crate) fn insert<F: 'static>(&self, f: F) -> u64 {
        let id = self.next.get();
        self.next.set(id + 1);
        self.kinds
            .borrow_mut()
            .entry(TypeId::of::<F>())
            .or_insert_with(|| Box::new(HashMap::<u64, F>::new()))
            .downcast_mut::<HashMap<u64, F>>()
            .expect("one map per closure type")
            .insert(id, f);
        id
    }

    /// Takes the closure out; the borrow ends before the caller runs it, so it may keep new
    /// closures itself.
    pub(crate) fn take<F: 'static>(&self, id: u64) -> Option<F> {
        self.kinds
            .borrow_mut()
            .get_mut(&TypeId::of::<F>())?
            .downcast_mut::<HashMap<u64, F>>()
            .expect("one map per closure type")
            .remove(&id)
    }

    /// Puts back a closure taken to run (a repeat's body), under its old id.
    pub(crate) fn put_back<F: 'static>(&self, id: u64, f: F) {
        if let Some(map) = self.kinds.borrow_mut().get_mut(&TypeId::of::<F>()) {
            map.downcast_mut::<HashMap<u64, F>>()
                .expect("one map per closure type")
                .insert(id, f);
        }
    }

    /// Drops every closure, here on the owning thread.
    pub(crate) fn clear(&self) {
        let kinds = std::mem::take(&mut *self.kinds.borrow_mut());
        drop(kinds);
    }
}
