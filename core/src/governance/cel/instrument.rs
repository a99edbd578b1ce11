//! Counting comprehension iterations. cel-rust 0.15 has no hook in its interpreter loop, and its
//! loop variables live in an inner scope the variable resolver never sees, so the compiled
//! expression is rewritten once: every comprehension calls [`TICK`] exactly once per iteration,
//! a function that passes its argument through and fails once the evaluation must stop.
//!
//! Where the tick goes: `all`, `exists` and `exists_one` evaluate their loop condition before
//! each iteration, so it wraps that (`@tick(cond)`). `map` and `filter` keep a literal condition,
//! which the interpreter needs to build their result in place (otherwise every iteration copies
//! the list built so far); the tick wraps their per-element guard instead, added as
//! `@tick(true)` when a `map` has none. The interpreter stops a loop at once when either fails.
//!
//! The same pass meters what is built ([`super::memory`]): every `_+_` becomes `@add`, and each
//! element a `map` or `filter` appends is wrapped in `@keep`.

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedEntryExpr, LiteralValue, operators,
};
use cel::common::value::CowVal;
use cel::{ExecutionError, IdedExpr};

use super::budget::Meter;
use super::memory::{ADD, KEEP};

/// The counting function. `@` cannot start an identifier in CEL source, so no user expression
/// can call or shadow it.
pub(super) const TICK: &str = "@tick";

/// `@tick(x)`: one step of the running evaluation's meter, then `x` unchanged; an error once
/// the evaluation must stop.
pub(super) fn tick<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Meter::step_current().map_err(|stop| ExecutionError::function_error(TICK, stop))?;
    args.pop()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))
}

/// `expr` with a [`TICK`] in every comprehension.
pub(super) fn instrument(expr: &IdedExpr) -> IdedExpr {
    let mut out = expr.clone();
    let mut next_id = max_id(expr).saturating_add(1);
    walk(&mut out, &mut next_id);
    out
}

fn walk(expr: &mut IdedExpr, ids: &mut u64) {
    match &mut expr.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => {}
        Expr::Select(s) => walk(&mut s.operand, ids),
        Expr::Call(c) => {
            if let Some(target) = c.target.as_deref_mut() {
                walk(target, ids);
            }
            c.args.iter_mut().for_each(|a| walk(a, ids));
            // Every `+` but a comprehension's own append to its accumulator (`@result + [..]`,
            // which the interpreter must recognise to build in place; its element is kept).
            let appends_to_accumulator = matches!(c.args.first().map(|a| &a.expr), Some(Expr::Ident(n)) if n.starts_with('@'));
            if c.func_name == operators::ADD
                && c.target.is_none()
                && c.args.len() == 2
                && !appends_to_accumulator
            {
                c.func_name = ADD.to_owned();
            }
        }
        Expr::List(l) => l.elements.iter_mut().for_each(|e| walk(e, ids)),
        Expr::Map(m) => m
            .entries
            .iter_mut()
            .for_each(|e| walk_entry(&mut e.expr, ids)),
        Expr::Struct(s) => s
            .entries
            .iter_mut()
            .for_each(|e| walk_entry(&mut e.expr, ids)),
        Expr::Comprehension(c) => {
            for part in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                walk(part, ids);
            }
            tick_every_iteration(c, ids);
        }
    }
}

fn walk_entry(entry: &mut EntryExpr, ids: &mut u64) {
    match entry {
        EntryExpr::StructField(f) => walk(&mut f.value, ids),
        EntryExpr::MapEntry(m) => {
            walk(&mut m.key, ids);
            walk(&mut m.value, ids);
        }
    }
}

/// Puts one tick in the part of `c` the interpreter evaluates once per iteration.
fn tick_every_iteration(c: &mut ComprehensionExpr, ids: &mut u64) {
    let accu = c.accu_var.clone();
    // The shape cel-rust builds in place (its `AppendStep`): result `@result`, a literal loop
    // condition, and a step `@result + [x]` or `guard ? @result + [x] : @result`.
    let builds_in_place =
        is_ident(&c.result, &accu) && matches!(c.loop_cond.expr, Expr::Literal(_));
    if builds_in_place {
        if appends(&c.loop_step, &accu) {
            let step = std::mem::take(&mut c.loop_step);
            let guard = literal_true(ids);
            let otherwise = ident(&accu, ids);
            c.loop_step = call(operators::CONDITIONAL, vec![guard, step, otherwise], ids);
        }
        if let Expr::Call(step) = &mut c.loop_step.expr
            && step.func_name == operators::CONDITIONAL
            && step.target.is_none()
            && let [guard, then, otherwise] = step.args.as_mut_slice()
            && appends(then, &accu)
            && is_ident(otherwise, &accu)
        {
            wrap_in_tick(guard, ids);
            keep_appended(then, ids);
            return;
        }
    }
    wrap_in_tick(&mut c.loop_cond, ids);
}

/// `@result + [..]`: the step of `map` and `filter`.
fn appends(expr: &IdedExpr, accu: &str) -> bool {
    match &expr.expr {
        Expr::Call(c) if c.func_name == operators::ADD && c.target.is_none() => {
            matches!(c.args.as_slice(), [lhs, rhs] if is_ident(lhs, accu) && matches!(rhs.expr, Expr::List(_)))
        }
        _ => false,
    }
}

/// Wraps every element of the list in `@result + [..]` in [`KEEP`]: what the result holds is
/// charged by size.
fn keep_appended(append: &mut IdedExpr, ids: &mut u64) {
    if let Expr::Call(c) = &mut append.expr
        && let Some(IdedExpr {
            expr: Expr::List(list),
            ..
        }) = c.args.get_mut(1)
    {
        for element in &mut list.elements {
            let inner = std::mem::take(element);
            *element = call(KEEP, vec![inner], ids);
        }
    }
}

fn is_ident(expr: &IdedExpr, name: &str) -> bool {
    matches!(&expr.expr, Expr::Ident(n) if n == name)
}

fn wrap_in_tick(expr: &mut IdedExpr, ids: &mut u64) {
    let inner = std::mem::take(expr);
    *expr = call(TICK, vec![inner], ids);
}

fn call(name: &str, args: Vec<IdedExpr>, ids: &mut u64) -> IdedExpr {
    node(
        Expr::Call(CallExpr {
            func_name: name.to_owned(),
            target: None,
            args,
        }),
        ids,
    )
}

fn ident(name: &str, ids: &mut u64) -> IdedExpr {
    node(Expr::Ident(name.to_owned()), ids)
}

fn literal_true(ids: &mut u64) -> IdedExpr {
    node(Expr::Literal(LiteralValue::Boolean(true.into())), ids)
}

/// A new node with an id no parsed node has.
fn node(expr: Expr, ids: &mut u64) -> IdedExpr {
    let id = *ids;
    *ids = ids.saturating_add(1);
    IdedExpr { id, expr }
}

fn max_id(expr: &IdedExpr) -> u64 {
    let children = match &expr.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => 0,
        Expr::Select(s) => max_id(&s.operand),
        Expr::Call(c) => c
            .args
            .iter()
            .chain(c.target.as_deref())
            .map(max_id)
            .max()
            .unwrap_or(0),
        Expr::List(l) => l.elements.iter().map(max_id).max().unwrap_or(0),
        Expr::Map(m) => m.entries.iter().map(entry_max_id).max().unwrap_or(0),
        Expr::Struct(s) => s.entries.iter().map(entry_max_id).max().unwrap_or(0),
        Expr::Comprehension(c) => [
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ]
        .into_iter()
        .map(max_id)
        .max()
        .unwrap_or(0),
    };
    expr.id.max(children)
}

fn entry_max_id(entry: &IdedEntryExpr) -> u64 {
    let children = match &entry.expr {
        EntryExpr::StructField(f) => max_id(&f.value),
        EntryExpr::MapEntry(m) => max_id(&m.key).max(max_id(&m.value)),
    };
    entry.id.max(children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cel::Program;

    fn comprehension(source: &str) -> ComprehensionExpr {
        let program = Program::compile(source).expect("test expressions compile");
        match instrument(program.expression()).expr {
            Expr::Comprehension(c) => *c,
            other => panic!("not a comprehension: {other:?}"),
        }
    }

    fn is_tick(expr: &IdedExpr) -> bool {
        matches!(&expr.expr, Expr::Call(c) if c.func_name == TICK && c.args.len() == 1)
    }

    /// The guard of a `guard ? @result + [..] : @result` step.
    fn guard(c: &ComprehensionExpr) -> &IdedExpr {
        match &c.loop_step.expr {
            Expr::Call(step) if step.func_name == operators::CONDITIONAL => &step.args[0],
            other => panic!("not a guarded step: {other:?}"),
        }
    }

    #[test]
    fn folding_macros_tick_in_their_loop_condition() {
        for source in [
            "[1].all(x, x > 0)",
            "[1].exists(x, x > 0)",
            "[1].exists_one(x, x > 0)",
        ] {
            let c = comprehension(source);
            assert!(is_tick(&c.loop_cond), "{source}: {:?}", c.loop_cond);
        }
    }

    #[test]
    fn map_and_filter_keep_the_shape_built_in_place_and_tick_in_their_guard() {
        for source in [
            "[1].map(x, x + 1)",
            "[1].map(x, x > 0, x)",
            "[1].filter(x, x > 0)",
        ] {
            let c = comprehension(source);
            assert!(
                matches!(c.loop_cond.expr, Expr::Literal(_)),
                "{source}: the loop condition must stay literal"
            );
            assert!(is_ident(&c.result, &c.accu_var), "{source}");
            assert!(is_tick(guard(&c)), "{source}: {:?}", c.loop_step);
        }
    }

    fn calls(expr: &IdedExpr, name: &str) -> usize {
        let own = usize::from(matches!(&expr.expr, Expr::Call(c) if c.func_name == name));
        let children: usize = match &expr.expr {
            Expr::Call(c) => c
                .args
                .iter()
                .chain(c.target.as_deref())
                .map(|a| calls(a, name))
                .sum(),
            Expr::Comprehension(c) => [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]
            .into_iter()
            .map(|p| calls(p, name))
            .sum(),
            Expr::List(l) => l.elements.iter().map(|e| calls(e, name)).sum(),
            Expr::Select(s) => calls(&s.operand, name),
            _ => 0,
        };
        own + children
    }

    #[test]
    fn every_plus_is_metered_but_the_accumulators_append_and_kept_elements_are_charged() {
        let program = Program::compile("object.a.map(x, x + 'a' + 'b').filter(y, y != '') + ['c']")
            .expect("compiles");
        let instrumented = instrument(program.expression());
        assert_eq!(calls(&instrumented, ADD), 3);
        assert_eq!(calls(&instrumented, KEEP), 2);
        // The appends stay `_+_`, so both comprehensions still build in place.
        assert_eq!(calls(&instrumented, operators::ADD), 2);
    }

    #[test]
    fn new_nodes_get_ids_no_parsed_node_has() {
        let program = Program::compile("[1].map(x, [2].all(y, y > x))").expect("compiles");
        let parsed_max = max_id(program.expression());
        let instrumented = instrument(program.expression());
        assert!(max_id(&instrumented) > parsed_max);
    }
}
