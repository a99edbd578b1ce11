//! Counting what an evaluation builds. Steps count iterations, not bytes: one `+` of two 1 MiB
//! strings is one node, and `map` keeps every result. So the two places where an evaluation can
//! build more than it reads are metered by size: every `_+_` (rewritten to [`ADD`], which
//! charges the size of what it concatenates) and every element a `map` or `filter` keeps
//! (wrapped in [`KEEP`]). Both charge the running evaluation's meter, which stops it once
//! [`super::MEMORY_BUDGET`] bytes were built. The charge is cumulative, so it bounds the peak
//! too: a value the evaluation holds was charged when it was built.

use cel::ExecutionError;
use cel::common::value::{BuiltinRef, CowVal, Val};

use super::budget::Meter;

/// The metered `_+_`. `@` cannot start an identifier in CEL source, so no user expression can
/// call or shadow it.
pub(super) const ADD: &str = "@add";
/// The metered element of a `map` or `filter` result.
pub(super) const KEEP: &str = "@keep";

/// What one value costs besides its content: a box and its header, about.
const VALUE_BYTES: u64 = 16;

/// `@add(a, b)`: `a + b`, after charging the size of what it builds.
pub(super) fn add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [lhs, rhs]: [CowVal<'b, 'v>; 2] = args
        .try_into()
        .map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(2, args.len()))?;
    // Joined strings and bytes are copied whole, borrowed or not; joined lists copy their
    // elements (a borrowed one stays borrowed). The sum of two numbers builds nothing.
    let bytes = match (lhs.as_builtin(), rhs.as_builtin()) {
        (BuiltinRef::String(a), BuiltinRef::String(b)) => {
            (a.inner().len() + b.inner().len()) as u64
        }
        (BuiltinRef::Bytes(a), BuiltinRef::Bytes(b)) => (a.inner().len() + b.inner().len()) as u64,
        (BuiltinRef::Other, _) => 0,
        _ => footprint(lhs.as_ref()).saturating_add(footprint(rhs.as_ref())),
    };
    if bytes > 0 {
        charge(ADD, bytes.saturating_add(VALUE_BYTES))?;
    }
    let adder = lhs.as_adder().ok_or_else(|| {
        ExecutionError::no_such_overload(
            "_+_",
            vec![
                lhs.get_type().name().to_owned(),
                rhs.get_type().name().to_owned(),
            ],
        )
    })?;
    let sum = adder.add(rhs.as_ref())?.into_owned();
    Ok(CowVal::Owned(sum))
}

/// `@keep(x)`: `x`, after charging its size.
pub(super) fn keep<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args
        .pop()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    charge(KEEP, footprint(value.as_ref()))?;
    Ok(value)
}

fn charge(function: &str, bytes: u64) -> Result<(), ExecutionError> {
    Meter::charge_current(bytes).map_err(|stop| ExecutionError::function_error(function, stop))
}

/// About how many bytes `value` holds: [`VALUE_BYTES`] per value, plus the content of an owned
/// string or bytes (one borrowed from the object costs nothing more), plus its elements. Stops
/// counting past the memory budget, so measuring a huge value costs no more than the budget.
pub(super) fn footprint(value: &dyn Val) -> u64 {
    let mut total = 0;
    add_footprint(value, &mut total);
    total
}

fn add_footprint(value: &dyn Val, total: &mut u64) {
    *total = total.saturating_add(VALUE_BYTES);
    if *total > super::MEMORY_BUDGET {
        return;
    }
    match value.as_builtin() {
        BuiltinRef::String(s) if s.as_borrowed().is_none() => {
            *total = total.saturating_add(s.inner().len() as u64);
        }
        BuiltinRef::Bytes(b) if b.as_borrowed().is_none() => {
            *total = total.saturating_add(b.inner().len() as u64);
        }
        BuiltinRef::List(list) => {
            for item in list.inner() {
                add_footprint(item.as_ref(), total);
                if *total > super::MEMORY_BUDGET {
                    return;
                }
            }
        }
        BuiltinRef::Map(map) => {
            for item in map.inner().values() {
                *total = total.saturating_add(VALUE_BYTES);
                add_footprint(item.as_ref(), total);
                if *total > super::MEMORY_BUDGET {
                    return;
                }
            }
        }
        _ => {}
    }
}
