//! Custom rules in CEL, the language Kubernetes uses in ValidatingAdmissionPolicy.
//!
//! cel-rust has no runtime cost tracking, so evaluation is bounded three ways: a static cost
//! estimate at load time (comprehensions multiply by their range size, like the apiserver's
//! estimator), a per-evaluation budget of steps (comprehension iterations, counted by a function
//! the compiled expression calls in every loop, plus reads of `object`), a per-evaluation budget
//! of bytes built ([`MEMORY_BUDGET`]: `+` and what `map`/`filter` keep), and an optional
//! [`Deadline`] checked at every step.

use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, IdedExpr, Program, Value};

mod budget;
mod instrument;
mod memory;
mod object;

pub use budget::{Deadline, MEMORY_BUDGET, STEP_BUDGET};
pub use object::CelObject;

use budget::Meter;
use instrument::TICK;

/// The standard environment plus `@tick`, `@add` and `@keep`, built once: building it per evaluation was 13 % of an
/// admission review.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Cannot clash: no standard function is named `@tick`. Were it missing, every comprehension
    // would fail as an undeclared function: an error, never an unbounded loop.
    let _ = env.add_overload(
        TICK,
        "guardian_tick",
        vec![cel::common::types::DYN_TYPE],
        instrument::tick,
    );
    let _ = env.add_overload(
        memory::ADD,
        "guardian_add",
        vec![cel::common::types::DYN_TYPE, cel::common::types::DYN_TYPE],
        memory::add,
    );
    let _ = env.add_overload(
        memory::KEEP,
        "guardian_keep",
        vec![cel::common::types::DYN_TYPE],
        memory::keep,
    );
    Arc::new(env)
});

/// Longest accepted expression, as in the CRD schema.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Highest accepted static cost estimate.
pub const MAX_ESTIMATED_COST: u64 = 10_000_000;
/// Assumed length of a list whose size is unknown before evaluation (an object field).
const UNKNOWN_LIST_LEN: u64 = 1_000;

/// Why an expression was refused at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CelLoadError {
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    TooExpensive(String),
}

/// A compiled CEL rule expression; `object` is bound to the resource.
#[derive(Debug)]
pub struct CelExpression {
    /// The parsed expression with a step counter in every comprehension.
    expr: IdedExpr,
}

impl CelExpression {
    pub fn compile(source: &str) -> Result<Self, CelLoadError> {
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(CelLoadError::TooExpensive(format!(
                "the expression is {} bytes long; the limit is {MAX_EXPRESSION_LEN}",
                source.len()
            )));
        }
        let program = Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            CelLoadError::Syntax {
                line: first.map_or(1, |e| e.pos.0.max(1) as usize),
                column: first.map_or(1, |e| e.pos.1.max(1) as usize),
                message: first.map_or_else(|| errors.to_string(), |e| e.msg.clone()),
            }
        })?;
        let cost = estimate_cost(program.expression());
        if cost > MAX_ESTIMATED_COST {
            return Err(CelLoadError::TooExpensive(format!(
                "estimated cost {cost} exceeds {MAX_ESTIMATED_COST}; nest fewer comprehensions \
                 (all, exists, map, filter) over lists"
            )));
        }
        Ok(CelExpression {
            expr: instrument::instrument(program.expression()),
        })
    }

    /// Evaluates the expression within [`STEP_BUDGET`] and the deadline of the innermost
    /// [`Deadline::run`] on this thread; `Ok(true)` means the resource complies.
    pub fn evaluate(&self, object: &CelObject<'_>) -> Result<bool, String> {
        self.evaluate_within(object, STEP_BUDGET)
    }

    fn evaluate_within(&self, object: &CelObject<'_>, budget: u64) -> Result<bool, String> {
        let meter = Arc::new(Meter::new(budget));
        // A rule reached after the deadline fails before doing any work.
        meter.step().map_err(|stop| stop.to_string())?;
        let resolver = MeteredResolver {
            object: object.as_val(),
            meter: &meter,
        };
        let mut ctx = Context::with_env(STDLIB.clone());
        ctx.set_variable_resolver(&resolver);
        let result = Meter::metering(&meter, || Value::resolve(&self.expr, &ctx));
        // Checked first: an expression can swallow the error of a stopped step.
        if let Some(stop) = meter.stopped() {
            return Err(stop.to_string());
        }
        match result {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the expression must return a bool, it returned {:?}",
                other.type_of()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Binds `object`; every lookup outside a comprehension's own variables is a step.
struct MeteredResolver<'a> {
    object: &'a (dyn Val + 'a),
    meter: &'a Meter,
}

impl VariableResolver for MeteredResolver<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        // Once stopped every lookup fails, which ends the evaluation with an error.
        self.meter.step().ok()?;
        (variable == "object").then_some(CowVal::Borrowed(self.object))
    }
}

/// Worst-case work of an expression: every node costs 1, a comprehension multiplies its body by
/// the size of its range (a literal list's length, else an assumed upper bound).
fn estimate_cost(expr: &IdedExpr) -> u64 {
    match &expr.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => 1,
        Expr::Select(s) => 1u64.saturating_add(estimate_cost(&s.operand)),
        Expr::Call(c) => c
            .args
            .iter()
            .chain(c.target.as_deref())
            .fold(1u64, |acc, a| acc.saturating_add(estimate_cost(a))),
        Expr::List(l) => l
            .elements
            .iter()
            .fold(1u64, |acc, e| acc.saturating_add(estimate_cost(e))),
        Expr::Map(m) => entries_cost(m.entries.iter().map(|e| &e.expr)),
        Expr::Struct(s) => entries_cost(s.entries.iter().map(|e| &e.expr)),
        Expr::Comprehension(c) => {
            let range_len = match &c.iter_range.expr {
                Expr::List(l) => l.elements.len() as u64,
                _ => UNKNOWN_LIST_LEN,
            };
            let body = estimate_cost(&c.loop_cond).saturating_add(estimate_cost(&c.loop_step));
            estimate_cost(&c.iter_range)
                .saturating_add(estimate_cost(&c.accu_init))
                .saturating_add(range_len.saturating_mul(body))
                .saturating_add(estimate_cost(&c.result))
        }
    }
}

fn entries_cost<'a>(entries: impl Iterator<Item = &'a EntryExpr>) -> u64 {
    entries.fold(1u64, |acc, e| {
        let cost = match e {
            EntryExpr::StructField(f) => estimate_cost(&f.value),
            EntryExpr::MapEntry(m) => estimate_cost(&m.key).saturating_add(estimate_cost(&m.value)),
        };
        acc.saturating_add(cost)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    pub(super) fn eval(expr: &str, object: serde_json::Value) -> Result<bool, String> {
        let compiled = CelExpression::compile(expr).map_err(|e| format!("{e:?}"))?;
        compiled.evaluate(&CelObject::new(&object))
    }

    /// A smaller budget keeps the tests of how steps are counted quick in a debug build.
    const SMALL_BUDGET: u64 = 10_000;

    fn eval_small(expr: &str, object: &serde_json::Value) -> Result<bool, String> {
        let compiled = CelExpression::compile(expr).map_err(|e| format!("{e:?}"))?;
        compiled.evaluate_within(&CelObject::new(object), SMALL_BUDGET)
    }

    #[test]
    fn evaluates_against_the_object() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:1.27"}]}});
        assert_eq!(
            eval(
                "object.spec.containers.all(c, c.image.contains(':'))",
                pod.clone()
            ),
            Ok(true)
        );
        assert_eq!(
            eval("object.spec.containers.exists(c, c.name == 'b')", pod),
            Ok(false)
        );
    }

    #[test]
    fn managed_fields_are_left_out_and_the_rest_is_kept() {
        let obj = json!({"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}, "spec": {}});
        assert_eq!(
            eval(
                "object.metadata.name == 'a' && has(object.spec)",
                obj.clone()
            ),
            Ok(true)
        );
        assert_eq!(eval("has(object.metadata.managedFields)", obj), Ok(false));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = CelExpression::compile("object.spec.(").expect_err("must not compile");
        match err {
            CelLoadError::Syntax { line, column, .. } => {
                assert_eq!(line, 1);
                assert!(column > 1, "column {column}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        let err = CelExpression::compile("true &&\n  object.(").expect_err("must not compile");
        assert!(
            matches!(err, CelLoadError::Syntax { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn runtime_errors_are_errors_not_panics() {
        let err =
            eval("object.spec.missing.all(c, true)", json!({"spec": {}})).expect_err("no such key");
        assert!(err.contains("missing"), "{err}");
        let err = eval("1 / 0 == 1", json!({})).expect_err("division by zero");
        assert!(err.to_lowercase().contains("division"), "{err}");
        let err = eval("object.spec", json!({"spec": 1})).expect_err("not a bool");
        assert!(err.contains("bool"), "{err}");
    }

    #[test]
    fn expensive_expressions_are_refused_at_load_time() {
        let nested = "object.a.all(x, object.a.all(y, object.a.all(z, x == y && y == z)))";
        assert!(matches!(
            CelExpression::compile(nested),
            Err(CelLoadError::TooExpensive(_))
        ));
        let long = format!("{}true", "true && ".repeat(MAX_EXPRESSION_LEN / 8 + 1));
        assert!(matches!(
            CelExpression::compile(&long),
            Err(CelLoadError::TooExpensive(_))
        ));
        // Two levels over object lists are fine.
        assert!(CelExpression::compile("object.a.all(x, object.a.exists(y, x == y))").is_ok());
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let err = eval("object.spec.replicas > 1", json!({"spec": {}})).expect_err("no such key");
        assert!(err.contains("replicas"), "{err}");
        let err = eval("object.items[3] == 1", json!({"items": [1]})).expect_err("out of range");
        assert!(err.contains('3'), "{err}");
    }

    fn numbers(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn nested_iterations_count_even_when_the_body_reads_only_loop_variables() {
        // 2,000 x 1,000 iterations that read `y` alone: `object` is read about 2,000 times, so a
        // budget of lookups never sees the 2,000,000 iterations.
        let object = json!({"a": numbers(2000), "b": numbers(1000)});
        let err = eval("object.a.all(x, object.b.all(y, y >= 0))", object)
            .expect_err("the step budget must stop it");
        assert!(err.contains("budget"), "{err}");
    }

    #[test]
    fn every_comprehension_macro_counts_its_iterations() {
        // A literal inner list keeps every shape under the load-time estimate. 120 x 100
        // iterations are over the small budget; 80 x 100, plus the outer ones and the reads of
        // `object`, are under it.
        let hundred = format!("{:?}", numbers(100));
        let over = json!({"a": numbers(120), "b": numbers(100)});
        let under = json!({"a": numbers(80), "b": numbers(100)});
        for shape in [
            "object.a.all(x, H.all(y, y >= 0))",
            "object.a.all(x, object.b.all(y, y >= 0))",
            "object.a.exists(x, H.exists(y, y < 0))",
            "object.a.exists_one(x, H.all(y, y >= 0))",
            "object.a.map(x, H.filter(y, y >= 0)).size() > 0",
            "object.a.map(x, H.map(y, y + 1)).size() > 0",
            "object.a.map(x, true, H.map(y, true, y)).size() > 0",
            "object.a.filter(x, H.all(y, y >= 0)).size() > 0",
        ] {
            let expr = shape.replace('H', &hundred);
            assert!(
                eval_small(&expr, &under).is_ok(),
                "{shape}: {:?}",
                eval_small(&expr, &under)
            );
            let err = eval_small(&expr, &over).expect_err(shape);
            assert!(err.contains("after 10000 steps"), "{shape}: {err}");
        }
    }

    #[test]
    fn an_expression_that_swallows_the_stop_still_fails() {
        // `error || true` is `true`: the result must not be trusted once the budget ran out.
        let object = json!({"a": numbers(120), "b": numbers(100)});
        let err = eval_small("object.a.all(x, object.b.all(y, y >= 0)) || true", &object)
            .expect_err("a stopped evaluation is an error");
        assert!(err.contains("budget"), "{err}");
    }

    #[test]
    fn instrumented_comprehensions_give_the_same_results() {
        let object = json!({"a": numbers(50), "b": numbers(100)});
        for (expr, expected) in [
            ("object.a.all(x, object.b.all(y, y >= 0))", true),
            ("object.a.exists(x, object.b.exists(y, y < 0))", false),
            ("object.a.exists(x, object.b.exists(y, y == 99))", true),
            (
                "object.b.filter(y, y % 2u == 0u).map(y, y / 2u) == object.a",
                true,
            ),
            ("object.b.exists_one(y, y == 7)", true),
            ("object.b.exists_one(y, y > 7)", false),
            ("object.b.map(y, y > 5, y).size() == 94", true),
            ("object.b.map(y, y + 1u)[99] == 100u", true),
        ] {
            assert_eq!(eval(expr, object.clone()), Ok(expected), "{expr}");
        }
    }

    #[test]
    fn concatenating_big_strings_in_a_map_stops_at_the_memory_budget() {
        // 1,000 iterations of 1,000 steps' worth: unmetered, this keeps 2 GiB.
        let object = json!({"a": numbers(1000), "blob": "x".repeat(1 << 20)});
        // The thread's CPU time, not wall time: a loaded machine stretched the wall clock past
        // the bound (3.7 s) with the budget working.
        let cpu = || {
            Duration::from(
                nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
                    .expect("the thread's CPU clock"),
            )
        };
        let started = cpu();
        let err = eval(
            "object.a.map(x, object.blob + object.blob).size() > 0",
            object,
        )
        .expect_err("the memory budget must stop it");
        let used = cpu() - started;
        assert!(err.contains("bytes"), "{err}");
        // About 8 MiB built and copied before the stop, not 2 GiB.
        assert!(
            used < Duration::from_secs(2),
            "stopped only after {used:?} of CPU"
        );
    }

    #[test]
    fn a_nested_map_within_the_step_budget_stops_at_the_memory_budget() {
        // 600,000 inner iterations, under the step budget, keeping 600,000 values.
        let object = json!({"a": numbers(1000), "b": numbers(600)});
        let err = eval("object.a.map(x, object.b.map(y, y)).size() > 0", object)
            .expect_err("the memory budget must stop it");
        assert!(err.contains("bytes"), "{err}");
    }

    #[test]
    fn what_a_filter_keeps_and_lists_joined_by_plus_are_charged_too() {
        let object = json!({"a": numbers(2000), "blob": "x".repeat(1 << 20)});
        for expr in [
            // Each kept element is an owned 1 MiB string (`+ ''` copies it).
            "object.a.map(x, [object.blob + '']).filter(l, true).size() > 0",
            // The list grows by `+` in no comprehension's accumulator.
            "object.a.all(x, ([object.blob + ''] + [object.blob + '']).size() == 2)",
        ] {
            let err = eval(expr, object.clone()).expect_err(expr);
            assert!(err.contains("bytes"), "{expr}: {err}");
        }
    }

    #[test]
    fn small_values_built_and_kept_stay_within_the_memory_budget() {
        let object = json!({"a": numbers(1000), "s": "abc"});
        for (expr, expected) in [
            ("object.a.map(x, object.s + 'd').size() == 1000", true),
            (
                "object.a.map(x, [x, x + 1u]).filter(l, l[0] % 2u == 0u).size() == 500",
                true,
            ),
            ("object.a.all(x, x + 1u > x)", true),
            ("object.s + 'd' + 'e' == 'abcde'", true),
            ("[1, 2] + [3] == [1, 2, 3]", true),
        ] {
            assert_eq!(eval(expr, object.clone()), Ok(expected), "{expr}");
        }
        let err = eval("1 + 'a' == 2", json!({})).expect_err("no such overload");
        assert!(!err.contains("bytes"), "{err}");
    }

    #[test]
    fn a_passed_deadline_fails_every_rule_before_any_work() {
        let passed = Deadline::at(Instant::now());
        let err = passed
            .run(|| eval("true", json!({})))
            .expect_err("past its deadline");
        assert!(err.contains("deadline"), "{err}");
        // Outside the deadline's scope the same rule evaluates.
        assert_eq!(eval("true", json!({})), Ok(true));
    }

    #[test]
    fn cancelling_stops_a_long_evaluation_cooperatively() {
        // Each step scans a 1 MiB string: within the step budget this runs for minutes.
        let object = json!({
            "a": numbers(1000),
            "b": numbers(1000),
            "blob": "x".repeat(1 << 20),
        });
        let flag = Arc::new(AtomicBool::new(false));
        let canceller = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                flag.store(true, Ordering::Relaxed);
            })
        };
        let started = Instant::now();
        let result = Deadline::default().or_cancelled(flag).run(|| {
            eval(
                "object.a.all(x, object.b.all(y, !object.blob.contains('y')))",
                object,
            )
        });
        let elapsed = started.elapsed();
        canceller.join().expect("the canceller does not panic");
        let err = result.expect_err("cancelled");
        assert!(err.contains("deadline"), "{err}");
        assert!(
            elapsed < Duration::from_secs(5),
            "stopped only after {elapsed:?}"
        );
    }
}
