//! The resource bound to `object`, converted lazily: only what an expression reads.

use std::collections::HashMap;
use std::sync::OnceLock;

use cel::common::traits::{
    Adder, Comparer, Container, Divider, Indexer, Iterable, Modder, Multiplier, Negator, Sizer,
    Subtractor, Zeroer,
};
use cel::common::types::{
    self, CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt, Type,
};
use cel::common::value::{Builtin, BuiltinRef, Val};

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

    pub(super) fn as_val(&self) -> &(dyn Val + 'a) {
        self.0.as_ref()
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
            level: OnceLock::new(),
            ..*self
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
            level: OnceLock::new(),
            ..*self
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::cel::STDLIB;
    use crate::governance::cel::tests::eval;
    use cel::{Context, Program, Value};
    use serde_json::json;

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
}
