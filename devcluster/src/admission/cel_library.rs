//! The CEL environment of CRD validation rules: the standard library, the strings extension, and the
//! Kubernetes libraries our CRDs use (quantity, format).

use std::sync::{Arc, LazyLock};

use cel::extractors::This;
use cel::objects::{Opaque, OptionalValue};
use cel::{Context, Env, ExecutionError, Program, Value};

use super::names;
use super::quantity::Quantity;

/// The compiled environment and a root context holding the library functions, built once.
pub(crate) struct Runtime {
    env: Arc<Env>,
    root: Context<'static, 'static>,
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(Runtime::build);

/// The shared runtime.
pub(crate) fn runtime() -> &'static Runtime {
    &RUNTIME
}

impl Runtime {
    fn build() -> Runtime {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::strings)
            .unwrap_or_else(|e| panic!("the CEL strings extension must register: {e}"));
        let env = Arc::new(env);
        let mut root = Context::with_env(Arc::clone(&env));
        let r = root.add_function("quantity", quantity);
        must(r);
        let r = root.add_function("isQuantity", |s: Arc<String>| Quantity::parse(&s).is_ok());
        must(r);
        let r = root.add_function(
            "sign",
            |This(q): This<Value>| -> Result<Value, ExecutionError> {
                Ok(Value::Int(as_quantity("sign", &q)?.sign()))
            },
        );
        must(r);
        let r = root.add_function(
            "isInteger",
            |This(q): This<Value>| -> Result<Value, ExecutionError> {
                Ok(Value::Bool(
                    as_quantity("isInteger", &q)?.as_i64().is_some(),
                ))
            },
        );
        must(r);
        let r = root.add_function(
            "asInteger",
            |This(q): This<Value>| -> Result<Value, ExecutionError> {
                as_quantity("asInteger", &q)?
                    .as_i64()
                    .map(Value::Int)
                    .ok_or_else(|| {
                        ExecutionError::function_error(
                            "asInteger",
                            "cannot convert value to integer",
                        )
                    })
            },
        );
        must(r);
        let r = root.add_function(
            "asApproximateFloat",
            |This(q): This<Value>| -> Result<Value, ExecutionError> {
                Ok(Value::Float(
                    as_quantity("asApproximateFloat", &q)?.as_f64(),
                ))
            },
        );
        must(r);
        let r = root.add_function("add", |This(q): This<Value>, other: Value| {
            arith("add", &q, &other, |a, b| a.add(b))
        });
        must(r);
        let r = root.add_function("sub", |This(q): This<Value>, other: Value| {
            arith("sub", &q, &other, |a, b| a.sub(b))
        });
        must(r);
        let r = root.add_function(
            "compareTo",
            |This(q): This<Value>, other: Value| -> Result<Value, ExecutionError> {
                let ord = as_quantity("compareTo", &q)?.compare(&as_quantity("compareTo", &other)?);
                Ok(Value::Int(ord as i64))
            },
        );
        must(r);
        let r = root.add_function(
            "isLessThan",
            |This(q): This<Value>, other: Value| -> Result<Value, ExecutionError> {
                let ord =
                    as_quantity("isLessThan", &q)?.compare(&as_quantity("isLessThan", &other)?);
                Ok(Value::Bool(ord.is_lt()))
            },
        );
        must(r);
        let r = root.add_function(
            "isGreaterThan",
            |This(q): This<Value>, other: Value| -> Result<Value, ExecutionError> {
                let ord = as_quantity("isGreaterThan", &q)?
                    .compare(&as_quantity("isGreaterThan", &other)?);
                Ok(Value::Bool(ord.is_gt()))
            },
        );
        must(r);
        for f in FORMATS {
            let r = root.add_function(&format!("format.{}", f.name()), move || -> Value {
                Value::Opaque(Arc::new(*f))
            });
            must(r);
        }
        let r = root.add_function("format.named", |name: Arc<String>| -> Value {
            match FORMATS.iter().find(|f| f.name() == name.as_str()) {
                Some(f) => Value::Opaque(Arc::new(OptionalValue::of(Value::Opaque(Arc::new(*f))))),
                None => Value::Opaque(Arc::new(OptionalValue::none())),
            }
        });
        must(r);
        let r = root.add_function(
            "validate",
            |This(f): This<Value>, s: Arc<String>| -> Result<Value, ExecutionError> {
                let format = match &f {
                    Value::Opaque(o) => o.downcast_ref::<Format>().copied(),
                    _ => None,
                }
                .ok_or_else(|| {
                    ExecutionError::function_error("validate", "receiver is not a format")
                })?;
                let errs = format.validate(&s);
                Ok(if errs.is_empty() {
                    Value::Opaque(Arc::new(OptionalValue::none()))
                } else {
                    let list: Vec<Value> = errs.into_iter().map(Value::from).collect();
                    Value::Opaque(Arc::new(OptionalValue::of(Value::List(Arc::new(list)))))
                })
            },
        );
        must(r);
        Runtime { env, root }
    }

    /// Compiles an expression.
    pub(crate) fn compile(&self, src: &str) -> Result<Program, String> {
        self.env.compile(src).map_err(|e| e.to_string())
    }

    /// Evaluates a program with the given variables.
    pub(crate) fn eval(
        &self,
        program: &Program,
        vars: Vec<(&str, Value)>,
    ) -> Result<Value, ExecutionError> {
        let mut scope = self.root.new_inner_scope();
        for (name, v) in vars {
            scope.add_variable_from_value(name, v);
        }
        program.execute(&scope)
    }
}

fn must(r: Result<(), cel::DeclarationError>) {
    r.unwrap_or_else(|e| panic!("Kubernetes CEL library function must register: {e}"));
}

/// A `quantity` value in CEL.
#[derive(Debug, PartialEq, Eq)]
struct QuantityVal(Quantity);

impl Opaque for QuantityVal {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

fn quantity(s: Arc<String>) -> Result<Value, ExecutionError> {
    Quantity::parse(&s)
        .map(|q| Value::Opaque(Arc::new(QuantityVal(q))))
        .map_err(|e| ExecutionError::function_error("quantity", e))
}

fn as_quantity(function: &str, v: &Value) -> Result<Quantity, ExecutionError> {
    match v {
        Value::Opaque(o) => o
            .downcast_ref::<QuantityVal>()
            .map(|q| q.0)
            .ok_or_else(|| ExecutionError::function_error(function, "no such overload")),
        Value::Int(i) => Ok(Quantity::from_int(*i)),
        _ => Err(ExecutionError::function_error(function, "no such overload")),
    }
}

fn arith(
    function: &str,
    a: &Value,
    b: &Value,
    op: impl Fn(&Quantity, &Quantity) -> Option<Quantity>,
) -> Result<Value, ExecutionError> {
    let r = op(&as_quantity(function, a)?, &as_quantity(function, b)?)
        .ok_or_else(|| ExecutionError::function_error(function, "quantity overflow"))?;
    Ok(Value::Opaque(Arc::new(QuantityVal(r))))
}

/// A named format of the Kubernetes format library (`format.dns1123Label()`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Dns1123Label,
    Dns1123Subdomain,
    Dns1035Label,
    LabelValue,
    Uri,
    Uuid,
    Date,
    Datetime,
}

const FORMATS: &[Format] = &[
    Format::Dns1123Label,
    Format::Dns1123Subdomain,
    Format::Dns1035Label,
    Format::LabelValue,
    Format::Uri,
    Format::Uuid,
    Format::Date,
    Format::Datetime,
];

impl Opaque for Format {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.NamedFormat"
    }
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Dns1123Label => "dns1123Label",
            Format::Dns1123Subdomain => "dns1123Subdomain",
            Format::Dns1035Label => "dns1035Label",
            Format::LabelValue => "labelValue",
            Format::Uri => "uri",
            Format::Uuid => "uuid",
            Format::Date => "date",
            Format::Datetime => "datetime",
        }
    }

    fn validate(self, s: &str) -> Vec<String> {
        match self {
            Format::Dns1123Label => names::dns1123_label(s),
            Format::Dns1123Subdomain => names::dns1123_subdomain(s),
            Format::Dns1035Label => names::dns1035_label(s),
            Format::LabelValue => names::label_value(s),
            Format::Uri => check(super::formats::is_valid("uri", s), "invalid URI"),
            Format::Uuid => check(
                super::formats::is_valid("uuid", s),
                "does not match the UUID format",
            ),
            Format::Date => check(super::formats::is_valid("date", s), "invalid date"),
            Format::Datetime => check(super::formats::is_valid("datetime", s), "invalid datetime"),
        }
    }
}

fn check(ok: bool, msg: &str) -> Vec<String> {
    if ok {
        Vec::new()
    } else {
        vec![msg.to_string()]
    }
}
