//! Counts each in-process operator's reconciles per policy, from its `reconcile` tracing span
//! inside the operator's own [`OPERATOR_SPAN`]. The reconcile metric has no policy label, and
//! every operator on a test binary's shared control plane reconciles every test's policies (a
//! test's operator starting reconciles them all): a count needs the policy and the operator.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The span each test operator's controller runs in, with its `id` field (see `Operator`).
pub const OPERATOR_SPAN: &str = "test_operator";

/// Reconciles by operator id and policy.
static COUNTS: Mutex<BTreeMap<(u64, String), u64>> = Mutex::new(BTreeMap::new());

/// Starts counting (once per test binary; it installs the binary's tracing subscriber).
pub fn count_reconciles() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::registry()
            .with(Counter)
            .try_init()
            .expect("no other tracing subscriber in this test binary");
    });
}

/// How many reconciles of `policy` operator `operator` started since [`count_reconciles`].
pub fn reconciles_of(operator: u64, policy: &str) -> u64 {
    COUNTS
        .lock()
        .map(|c| c.get(&(operator, policy.to_owned())).copied().unwrap_or(0))
        .unwrap_or(0)
}

struct Counter;

fn is_reconcile(metadata: &Metadata<'_>) -> bool {
    metadata.is_span()
        && metadata.name() == "reconcile"
        && metadata.target() == "guardian_operator::reconcile"
}

fn is_operator(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.name() == OPERATOR_SPAN
}

/// An operator span's id, kept in its extensions.
struct OperatorId(u64);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Counter {
    /// Only these two spans: nothing else is recorded.
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        is_reconcile(metadata) || is_operator(metadata)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if is_operator(attrs.metadata()) {
            if let (Some(operator), Some(span)) = (fields.id, ctx.span(id)) {
                span.extensions_mut().insert(OperatorId(operator));
            }
            return;
        }
        let Some(policy) = fields.policy else { return };
        // The operator whose controller called the reconcile: its span is an ancestor.
        let operator = ctx.span(id).and_then(|span| {
            span.scope()
                .find_map(|s| s.extensions().get::<OperatorId>().map(|o| o.0))
        });
        if let (Some(operator), Ok(mut counts)) = (operator, COUNTS.lock()) {
            *counts.entry((operator, policy)).or_default() += 1;
        }
    }
}

/// The spans' `policy` (recorded with `%`, so its Debug is the name itself) and `id` fields.
#[derive(Default)]
struct Fields {
    policy: Option<String>,
    id: Option<u64>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "id" {
            self.id = Some(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "policy" {
            self.policy = Some(format!("{value:?}"));
        }
    }
}
