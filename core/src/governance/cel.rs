//! Custom rules in CEL, the language Kubernetes uses in ValidatingAdmissionPolicy.
//!
//! cel-rust has no runtime cost tracking, so evaluation is bounded two ways: a static cost
//! estimate at load time (comprehensions multiply by their range size, like the apiserver's
//! estimator) and a per-evaluation budget of variable lookups enforced by the resolver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use cel::common::ast::{EntryExpr, Expr};
use cel::common::traits::{
    Adder, Comparer, Container, Divider, Indexer, Iterable, Modder, Multiplier, Negator, Sizer,
    Subtractor, Zeroer,
};
use cel::common::types::{
    self, CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt, Type,
};
use cel::common::value::{Builtin, BuiltinRef, CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, IdedExpr, Program, Value};

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
            object: object.0.as_ref(),
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

/// A resource as CEL sees it, shared by every CEL rule evaluated on it.
///
/// Nothing is converted up front: an array or object becomes a CEL list or map only when an
/// expression touches it, and then one level deep, its own arrays and objects staying lazy. A
/// rule reading `object.metadata.labels` converts three small maps, not the whole Pod.
/// `metadata.managedFields` is left out: bookkeeping no policy reads.
#[derive(Debug)]
pub struct CelObject<'a>(Box<dyn Val + 'a>);

impl<'a> CelObject<'a> {
    pub fn new(object: &'a serde_json::Value) -> Self {
        CelObject(convert(object, Place::Root))
    }
}

/// Where a JSON object sits, for leaving out `metadata.managedFields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    Metadata,
    Other,
}

/// One JSON value as a CEL value, as `cel::to_value` would make it: a non-negative integer is a
/// `uint`, a negative one an `int`, any other number a `double`.
fn convert<'a>(value: &'a serde_json::Value, place: Place) -> Box<dyn Val + 'a> {
    use serde_json::Value as Json;
    match value {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Box::new(CelUInt::from(u)),
            (None, Some(i)) => Box::new(CelInt::from(i)),
            // Only an arbitrary-precision number (a serde_json feature the workspace does not
            // enable) has no f64 value.
            (None, None) => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(items) => Box::new(LazyList {
            items,
            level: OnceLock::new(),
        }),
        Json::Object(map) => Box::new(LazyMap {
            map,
            place,
            level: OnceLock::new(),
        }),
    }
}

/// A JSON array, converted to a built-in list of lazy elements when first used.
#[derive(Debug)]
struct LazyList<'a> {
    items: &'a [serde_json::Value],
    level: OnceLock<CelList<'a>>,
}

impl<'a> LazyList<'a> {
    fn build(&self) -> CelList<'a> {
        let items: Vec<Box<dyn Val + 'a>> = self
            .items
            .iter()
            .map(|item| convert(item, Place::Other))
            .collect();
        CelList::from(items)
    }

    fn level(&self) -> &CelList<'a> {
        self.level.get_or_init(|| self.build())
    }

    fn into_level(mut self) -> CelList<'a> {
        self.level.take().unwrap_or_else(|| self.build())
    }

    fn unconverted(&self) -> Self {
        LazyList {
            items: self.items,
            level: OnceLock::new(),
        }
    }
}

/// A JSON object, converted to a built-in map of lazy values when first used.
#[derive(Debug)]
struct LazyMap<'a> {
    map: &'a serde_json::Map<String, serde_json::Value>,
    place: Place,
    level: OnceLock<CelMap<'a>>,
}

impl<'a> LazyMap<'a> {
    fn build(&self) -> CelMap<'a> {
        let mut entries = HashMap::with_capacity(self.map.len());
        for (key, value) in self.map {
            if self.place == Place::Metadata && key == "managedFields" {
                continue;
            }
            let place = if self.place == Place::Root && key == "metadata" {
                Place::Metadata
            } else {
                Place::Other
            };
            entries.insert(
                CelMapKey::String(CelString::from(key.as_str())),
                convert(value, place),
            );
        }
        CelMap::from(entries)
    }

    fn level(&self) -> &CelMap<'a> {
        self.level.get_or_init(|| self.build())
    }

    fn into_level(mut self) -> CelMap<'a> {
        self.level.take().unwrap_or_else(|| self.build())
    }

    fn unconverted(&self) -> Self {
        LazyMap {
            map: self.map,
            place: self.place,
            level: OnceLock::new(),
        }
    }
}

/// Implements `Val` by handing every operator to the converted level, so a lazy container
/// behaves exactly like the built-in one. It also answers `as_builtin`/`into_builtin` (hidden
/// cel API) with that level: the interpreter and the built-in types find a list or map by them,
/// for `==` against a literal and for the result's conversion to `Value`.
macro_rules! lazy_val {
    ($lazy:ident, $cel_type:expr, $builtin:ident) => {
        impl<'a> Val for $lazy<'a> {
            fn get_type(&self) -> &Type {
                &$cel_type
            }

            fn cel_type() -> &'static Type {
                &$cel_type
            }

            fn as_adder<'b, 'v>(&'b self) -> Option<&'b (dyn Adder + 'v)>
            where
                Self: 'v,
            {
                self.level().as_adder()
            }

            fn as_comparer(&self) -> Option<&dyn Comparer> {
                self.level().as_comparer()
            }

            fn as_container(&self) -> Option<&dyn Container> {
                self.level().as_container()
            }

            fn as_divider<'b, 'v>(&'b self) -> Option<&'b (dyn Divider + 'v)>
            where
                Self: 'v,
            {
                self.level().as_divider()
            }

            fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
            where
                Self: 'v,
            {
                self.level().as_indexer()
            }

            fn into_indexer<'v>(self: Box<Self>) -> Option<Box<dyn Indexer + 'v>>
            where
                Self: 'v,
            {
                Box::new((*self).into_level()).into_indexer()
            }

            fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
            where
                Self: 'v,
            {
                self.level().as_iterable()
            }

            fn as_modder<'b, 'v>(&'b self) -> Option<&'b (dyn Modder + 'v)>
            where
                Self: 'v,
            {
                self.level().as_modder()
            }

            fn as_multiplier<'b, 'v>(&'b self) -> Option<&'b (dyn Multiplier + 'v)>
            where
                Self: 'v,
            {
                self.level().as_multiplier()
            }

            fn as_negator<'b, 'v>(&'b self) -> Option<&'b (dyn Negator + 'v)>
            where
                Self: 'v,
            {
                self.level().as_negator()
            }

            fn as_sizer(&self) -> Option<&dyn Sizer> {
                self.level().as_sizer()
            }

            fn as_subtractor<'b, 'v>(&'b self) -> Option<&'b (dyn Subtractor + 'v)>
            where
                Self: 'v,
            {
                self.level().as_subtractor()
            }

            fn as_zeroer(&self) -> Option<&dyn Zeroer> {
                self.level().as_zeroer()
            }

            fn equals(&self, other: &dyn Val) -> bool {
                self.level().equals(other)
            }

            fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
            where
                Self: 'v,
            {
                Box::new(self.unconverted())
            }

            fn as_builtin<'b, 'v>(&'b self) -> BuiltinRef<'b, 'v>
            where
                Self: 'v,
            {
                BuiltinRef::$builtin(self.level())
            }

            fn into_builtin<'v>(self: Box<Self>) -> Option<Builtin<'v>>
            where
                Self: 'v,
            {
                Some(Builtin::$builtin((*self).into_level()))
            }
        }
    };
}

lazy_val!(LazyList, types::LIST_TYPE, List);
lazy_val!(LazyMap, types::MAP_TYPE, Map);

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

    fn eval(expr: &str, object: serde_json::Value) -> Result<bool, String> {
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

    /// Runs `expr` with `object` bound as given, returning the raw result.
    fn execute<'v>(expr: &str, object: Box<dyn Val + 'v>) -> Result<Value, cel::ExecutionError> {
        let program = Program::compile(expr).expect("test expressions compile");
        let mut ctx = Context::with_env(STDLIB.clone());
        ctx.add_variable_as_val("object", object);
        program.execute(&ctx)
    }

    fn test_pod() -> serde_json::Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web",
                "labels": {"team": "a", "app": "web", "tier": ""},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {
                "replicas": 3,
                "neg": -2,
                "ratio": 0.5,
                "big": u64::MAX,
                "nothing": null,
                "flag": true,
                "args": ["a", "b"],
                "empty": [],
                "emptyMap": {},
                "template": {"metadata": {"managedFields": [{"manager": "x"}]}},
                "containers": [
                    {"name": "a", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                     "resources": {"limits": {"cpu": "1"}}},
                    {"name": "b", "image": "busybox", "env": [{"name": "X", "value": "1"}]}
                ]
            }
        })
    }

    #[test]
    fn lazy_binding_matches_converting_the_whole_object() {
        let pod = test_pod();
        // What the whole-object conversion did: everything but metadata.managedFields.
        let mut stripped = pod.clone();
        stripped["metadata"]
            .as_object_mut()
            .expect("metadata is an object")
            .remove("managedFields");
        let eager: Box<dyn Val> = cel::to_value(&stripped)
            .expect("serializable")
            .try_into()
            .expect("representable");
        let expressions = [
            "object",
            "object.metadata",
            "object.metadata.name",
            "object.metadata.labels",
            "object.spec.containers",
            "object.spec.containers[0].name",
            "object.spec.containers[1u].image",
            "object.spec.containers[1.0].image",
            "object.spec.containers[5]",
            "object.spec.containers[-1]",
            "object.spec.containers[0].resources.limits.cpu",
            "has(object.metadata.labels)",
            "has(object.metadata.missing)",
            "has(object.metadata.managedFields)",
            "has(object.spec.template.metadata.managedFields)",
            "has(object.spec.nothing)",
            "'managedFields' in object.metadata",
            "object.spec.missing",
            "object.spec.missing.x",
            "object.spec.containers[1].ports",
            "size(object)",
            "size(object.metadata)",
            "size(object.metadata.labels)",
            "object.spec.containers.size()",
            "size(object.spec.empty)",
            "size(object.spec.emptyMap)",
            "object.spec.replicas == 3",
            "object.spec.replicas == 3.0",
            "object.spec.replicas + 1",
            "object.spec.replicas + 1u",
            "object.spec.neg - 1",
            "object.spec.ratio * 2.0",
            "object.spec.big",
            "object.spec.replicas < object.spec.big",
            "type(object.spec.replicas)",
            "type(object.spec.neg)",
            "type(object.spec.ratio)",
            "type(object.spec.nothing)",
            "type(object.metadata)",
            "type(object.spec.containers)",
            "object.spec.nothing == null",
            "object.spec == null",
            "!object.spec.flag",
            "object.spec.containers.all(c, c.image.contains(':'))",
            "object.spec.containers.exists(c, c.name == 'b')",
            "object.spec.containers.exists_one(c, has(c.ports))",
            "object.spec.containers.map(c, c.name)",
            "object.spec.containers.filter(c, has(c.ports)).map(c, c.ports.size())",
            "object.spec.containers.all(c, c.env.all(e, e.name != ''))",
            "object.spec.containers.filter(c, true)[1].env[0].value",
            "object.metadata.labels.all(k, object.metadata.labels[k] != '')",
            "object.metadata.labels.filter(k, k.startsWith('t')).size()",
            "object.metadata.filter(k, true).size()",
            "object.metadata.labels == {'team': 'a', 'app': 'web', 'tier': ''}",
            "{'team': 'a', 'app': 'web', 'tier': ''} == object.metadata.labels",
            "object.metadata.labels == {'team': 'a'}",
            "object.spec.args == ['a', 'b']",
            "['a', 'b'] == object.spec.args",
            "object.spec.containers[0] == object.spec.containers[0]",
            "object.spec.containers[0] == object.spec.containers[1]",
            "[] == object.spec.empty",
            "{} == object.spec.emptyMap",
            "object.spec.args in [['a', 'b']]",
            "'team' in object.metadata.labels",
            "'nope' in object.metadata.labels",
            "1 in object.metadata.labels",
            "[1] in object.metadata.labels",
            "'a' in object.spec.args",
            "object.spec.args + ['c']",
            "['z'] + object.spec.args",
            "(object.spec.args + object.spec.args).size()",
            "object.metadata.labels['team']",
            "object.metadata.labels['nope']",
            "object.metadata.labels[1]",
            "object.spec.args['a']",
            "(object.spec.flag ? object.spec : object.metadata).replicas",
            "dyn(object.spec).replicas",
            "string(object.spec.replicas)",
            "object.spec.args - 1",
            "-object.spec.args",
            "object.spec.args < object.spec.args",
        ];
        for expr in expressions {
            let lazy = execute(expr, CelObject::new(&pod).0);
            assert_eq!(lazy, execute(expr, eager.clone()), "{expr}");
        }
    }

    #[test]
    fn scalars_and_null_convert_as_before() {
        assert_eq!(
            eval("object == 5u && type(object) == uint", json!(5)),
            Ok(true)
        );
        assert_eq!(
            eval("object == -5 && type(object) == int", json!(-5)),
            Ok(true)
        );
        assert_eq!(eval("object == 1.5", json!(1.5)), Ok(true));
        assert_eq!(eval("object == null", json!(null)), Ok(true));
        assert_eq!(eval("object", json!(true)), Ok(true));
        assert_eq!(eval("object == 'x'", json!("x")), Ok(true));
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let err = eval("object.spec.replicas > 1", json!({"spec": {}})).expect_err("no such key");
        assert!(err.contains("replicas"), "{err}");
        let err = eval("object.items[3] == 1", json!({"items": [1]})).expect_err("out of range");
        assert!(err.contains('3'), "{err}");
    }

    #[test]
    fn the_budget_stops_a_loop_over_lazy_maps() {
        // Only lookups of `object` count: comprehension variables resolve in an inner scope.
        let items: Vec<_> = (0..1000).map(|i| json!({"n": i})).collect();
        let object = json!({"a": items, "b": (0..200).collect::<Vec<_>>()});
        let err = eval(
            "object.a.all(x, x.n >= 0u && object.b.all(y, has(object.b)))",
            object,
        )
        .expect_err("budget must stop it");
        assert!(err.contains("budget"), "{err}");
    }
}
