//! Custom rules in CEL, the language Kubernetes uses in ValidatingAdmissionPolicy.
//!
//! cel-rust has no runtime cost tracking, so evaluation is bounded two ways: a static cost
//! estimate at load time (comprehensions multiply by their range size, like the apiserver's
//! estimator) and a per-evaluation budget of variable lookups enforced by the resolver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, IdedExpr, Program, Value};

mod object;

pub use object::CelObject;

/// The standard environment, built once: building it per evaluation was 13 % of an admission review.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Longest accepted expression, as in the CRD schema.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Highest accepted static cost estimate.
pub const MAX_ESTIMATED_COST: u64 = 10_000_000;
/// Assumed length of a list whose size is unknown before evaluation (an object field).
const UNKNOWN_LIST_LEN: u64 = 1_000;
/// Variable lookups one evaluation may do before it is stopped.
pub const LOOKUP_BUDGET: u64 = 100_000;

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
    program: Program,
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
        Ok(CelExpression { program })
    }

    /// Evaluates the expression; `Ok(true)` means the resource complies.
    pub fn evaluate(&self, object: &CelObject<'_>) -> Result<bool, String> {
        let resolver = BudgetedResolver {
            object: object.as_val(),
            lookups: AtomicU64::new(0),
        };
        let mut ctx = Context::with_env(STDLIB.clone());
        ctx.set_variable_resolver(&resolver);
        let result = self.program.execute(&ctx);
        if resolver.lookups.load(Ordering::Relaxed) > LOOKUP_BUDGET {
            return Err(format!(
                "evaluation stopped after {LOOKUP_BUDGET} variable lookups (budget exceeded)"
            ));
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

struct BudgetedResolver<'a> {
    object: &'a (dyn Val + 'a),
    lookups: AtomicU64,
}

impl VariableResolver for BudgetedResolver<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        // Past the budget every lookup fails, which ends the evaluation with an error.
        if self.lookups.fetch_add(1, Ordering::Relaxed) >= LOOKUP_BUDGET {
            return None;
        }
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

    pub(super) fn eval(expr: &str, object: serde_json::Value) -> Result<bool, String> {
        let compiled = CelExpression::compile(expr).map_err(|e| format!("{e:?}"))?;
        compiled.evaluate(&CelObject::new(&object))
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
    fn runaway_evaluation_hits_the_lookup_budget() {
        // 1,000 x 200 lookups of `object`: under the static estimate, over the runtime budget.
        let object = json!({"a": (0..1000).collect::<Vec<_>>(), "b": (0..200).collect::<Vec<_>>()});
        let err = eval(
            "object.a.all(x, object.b.all(y, object.a.size() > 0))",
            object,
        )
        .expect_err("budget must stop it");
        assert!(err.contains("budget"), "{err}");
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let err = eval("object.spec.replicas > 1", json!({"spec": {}})).expect_err("no such key");
        assert!(err.contains("replicas"), "{err}");
        let err = eval("object.items[3] == 1", json!({"items": [1]})).expect_err("out of range");
        assert!(err.contains('3'), "{err}");
    }

    #[test]
    fn loop_variables_do_not_count_against_the_budget() {
        // 1,000 x 200 iterations read `y` 200,000 times (over the budget were it counted) but
        // `object` only about 1,000 times: comprehension variables resolve in an inner scope.
        let object = json!({"a": (0..1000).collect::<Vec<_>>(), "b": (0..200).collect::<Vec<_>>()});
        let expr = "object.a.all(x, object.b.all(y, y >= 0))";
        assert_eq!(eval(expr, object), Ok(true));
    }
}
