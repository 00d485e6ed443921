//! An in-memory [`Subscriber`] for tests (feature `capture`): records every
//! span and event with its fields as text, and the spans an event was inside.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One recorded span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedSpan {
    /// Its name (`deepidv.wait`…).
    pub name: String,
    /// Its fields, as text (`Debug` of each value; strings unquoted).
    pub fields: BTreeMap<String, String>,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEvent {
    /// Its level, lowercase.
    pub level: String,
    /// Its target.
    pub target: String,
    /// Its fields, as text; the message is the field `message`.
    pub fields: BTreeMap<String, String>,
    /// The names of the spans it was inside, outermost first.
    pub spans: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    spans: HashMap<u64, CapturedSpan>,
    stack: Vec<u64>,
    events: Vec<CapturedEvent>,
}

/// Records every span and event of the target `deepidv`, at every level (the
/// HTTP stack's own tracing is left out). Clone it to keep a handle for reading
/// while the other is installed (`tracing::subscriber::set_default`).
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<State>>);

impl Capture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events so far.
    pub fn events(&self) -> Vec<CapturedEvent> {
        self.state().events.clone()
    }

    /// Every span created so far, in creation order.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        let s = self.state();
        let mut ids: Vec<_> = s.spans.keys().copied().collect();
        ids.sort_unstable();
        ids.iter().map(|i| s.spans[i].clone()).collect()
    }

    /// Every field value and message of every span and event, for "the key is
    /// nowhere" checks.
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        for span in self.spans() {
            for (k, v) in &span.fields {
                out.push_str(&format!("{}:{k}={v}\n", span.name));
            }
        }
        for e in self.events() {
            for (k, v) in &e.fields {
                out.push_str(&format!("{}:{k}={v}\n", e.level));
            }
        }
        out
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == crate::TARGET
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut s = self.state();
        s.next += 1;
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        let id = s.next;
        s.spans.insert(
            id,
            CapturedSpan {
                name: span.metadata().name().to_owned(),
                fields,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(sp) = self.state().spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut sp.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let mut s = self.state();
        let spans = s
            .stack
            .iter()
            .filter_map(|i| s.spans.get(i).map(|sp| sp.name.clone()))
            .collect();
        let m = event.metadata();
        s.events.push(CapturedEvent {
            level: m.level().as_str().to_lowercase(),
            target: m.target().to_owned(),
            fields,
            spans,
        });
    }

    fn enter(&self, span: &Id) {
        self.state().stack.push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut s = self.state();
        if let Some(pos) = s.stack.iter().rposition(|i| *i == span.into_u64()) {
            s.stack.remove(pos);
        }
    }

    fn try_close(&self, _: Id) -> bool {
        true
    }
}
