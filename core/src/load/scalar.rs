//! Plain-scalar resolution as go-yaml v2 does it (YAML 1.1), which is what kubectl and the API
//! server read manifests with (sigs.k8s.io/yaml): `yes`, `on`, `y`, `Off`… are booleans, `0755`
//! is octal, `1_000` is a thousand, `~` is null. Quoted and block scalars are always strings.
//! And resolved scalars as sigs.k8s.io/yaml turns them into JSON values and object keys, which
//! both the full reader and the fast one use.

use serde_json::Value;

/// What one scalar resolves to, before it becomes JSON.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a str),
    /// The plain key `<<`.
    Merge,
}

/// The core-schema tags go-yaml v2 resolves; any other tag leaves a scalar a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Str,
    Bool,
    Int,
    Float,
    Timestamp,
    Null,
    Binary,
    Other,
}

impl Tag {
    pub(super) fn from_core_suffix(suffix: &str) -> Tag {
        match suffix {
            "str" => Tag::Str,
            "bool" => Tag::Bool,
            "int" => Tag::Int,
            "float" => Tag::Float,
            "timestamp" => Tag::Timestamp,
            "null" => Tag::Null,
            "binary" => Tag::Binary,
            _ => Tag::Other,
        }
    }
}

/// Resolves a scalar as go-yaml v2's `resolve`: `plain` scalars without a tag are resolved,
/// other styles are strings unless an explicit core tag asks otherwise.
pub(super) fn resolve<'a>(
    text: &'a str,
    plain: bool,
    tag: Option<Tag>,
) -> Result<Scalar<'a>, String> {
    match tag {
        None if !plain => Ok(Scalar::Str(text)),
        None => Ok(implicit(text)),
        Some(Tag::Str | Tag::Other | Tag::Binary | Tag::Null) => Ok(Scalar::Str(text)),
        // go-yaml v2 keeps timestamps as strings when decoding into untyped values.
        Some(Tag::Timestamp) => Ok(Scalar::Str(text)),
        Some(wanted) => {
            let resolved = implicit(text);
            match (wanted, &resolved) {
                (Tag::Bool, Scalar::Bool(_))
                | (Tag::Int, Scalar::Int(_) | Scalar::Uint(_))
                | (Tag::Float, Scalar::Float(_)) => Ok(resolved),
                (Tag::Float, Scalar::Int(i)) => Ok(Scalar::Float(*i as f64)),
                (Tag::Float, Scalar::Uint(u)) => Ok(Scalar::Float(*u as f64)),
                _ => Err(format!(
                    "cannot decode `{text}` as a !!{}",
                    tag_name(wanted)
                )),
            }
        }
    }
}

fn tag_name(tag: Tag) -> &'static str {
    match tag {
        Tag::Bool => "bool",
        Tag::Int => "int",
        Tag::Float => "float",
        _ => "str",
    }
}

/// go-yaml v2's implicit resolution of a plain scalar.
fn implicit(text: &str) -> Scalar<'_> {
    let Some(&first) = text.as_bytes().first() else {
        return Scalar::Null;
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' | b'<' => {
            named(text).unwrap_or(Scalar::Str(text))
        }
        b'.' => named(text)
            .or_else(|| go_parse_float(text).map(Scalar::Float))
            .unwrap_or(Scalar::Str(text)),
        b'0'..=b'9' | b'+' | b'-' => named(text)
            .or_else(|| number(text))
            .unwrap_or(Scalar::Str(text)),
        _ => Scalar::Str(text),
    }
}

/// The fixed words of go-yaml v2's resolve table.
fn named(text: &str) -> Option<Scalar<'static>> {
    Some(match text {
        "~" | "null" | "Null" | "NULL" => Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Scalar::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" => Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Scalar::Float(f64::NEG_INFINITY),
        "<<" => Scalar::Merge,
        _ => return None,
    })
}

/// Integers as Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint` read them (underscores
/// removed first), then YAML-style floats, then `0b` binary: go-yaml v2's order.
fn number(text: &str) -> Option<Scalar<'static>> {
    let plain: std::borrow::Cow<'_, str> = if text.contains('_') {
        text.replace('_', "").into()
    } else {
        text.into()
    };
    if let Some(n) = go_parse_int(&plain) {
        return Some(match i64::try_from(n) {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Uint(u64::try_from(n).ok()?),
        });
    }
    if is_yaml_float(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Some(Scalar::Float(f));
    }
    None
}

/// Go's `ParseInt(s, 0, 64)` or, failing that, `ParseUint(s, 0, 64)`: an optional sign (signed
/// only), then `0x`, `0o`, `0b` or a leading `0` (octal) prefix. `None` on syntax or range errors.
fn go_parse_int(s: &str) -> Option<i128> {
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = |p: &str| unsigned.len() > 2 && unsigned[..2].eq_ignore_ascii_case(p);
    let (radix, digits) = if lower("0x") {
        (16, &unsigned[2..])
    } else if lower("0o") {
        (8, &unsigned[2..])
    } else if lower("0b") {
        (2, &unsigned[2..])
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    let signed = s.starts_with(['-', '+']);
    if negative {
        let value = -i128::from(magnitude);
        (value >= i128::from(i64::MIN)).then_some(value)
    } else if signed && magnitude > i64::MAX as u64 {
        // ParseUint takes no sign, and ParseInt's range ends at i64::MAX.
        None
    } else {
        Some(i128::from(magnitude))
    }
}

/// go-yaml v2's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `ParseFloat(s, 64)` for the decimal forms go-yaml passes it: an overflow to infinity is
/// an error there (the scalar stays a string), and Go reads no `inf`/`nan` words here.
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['-', '+']);
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A resolved scalar as JSON, as sigs.k8s.io/yaml marshals it and the API server reads it back:
/// whole floats below 1e21 are printed without a fraction, so they read as integers.
pub(super) fn json_of_scalar(scalar: Scalar<'_>) -> Result<Value, String> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::from(i),
        Scalar::Uint(u) => Value::from(u),
        Scalar::Float(f) => json_of_float(f)?,
        Scalar::Str(s) => Value::from(s),
        Scalar::Merge => Value::from("<<"),
    })
}

fn json_of_float(f: f64) -> Result<Value, String> {
    if !f.is_finite() {
        return Err(format!(
            "{f} is not a JSON number (the API server rejects it); quote it to make it a string"
        ));
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Ok(Value::from(f as i64));
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Ok(Value::from(f as u64));
        }
    }
    Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
}

/// A scalar key as sigs.k8s.io/yaml turns it into a JSON object key.
pub(super) fn key_of_scalar(scalar: &Scalar<'_>) -> Result<String, String> {
    match scalar {
        Scalar::Str(s) => Ok((*s).to_owned()),
        Scalar::Int(i) => Ok(i.to_string()),
        Scalar::Bool(b) => Ok(b.to_string()),
        Scalar::Float(f) => Ok(go_float32_g(*f)),
        Scalar::Merge => Ok("<<".to_owned()),
        Scalar::Null => Err("a mapping key is null; the API server rejects it".to_owned()),
        Scalar::Uint(u) => Err(format!(
            "mapping key {u} is beyond the signed 64-bit range; the API server rejects it"
        )),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: shortest float32 digits, exponent form when the
/// exponent is below -4 or at least 6 (`1e+06`).
pub(super) fn go_float32_g(f: f64) -> String {
    let f = f as f32;
    if !f.is_finite() {
        return if f.is_nan() {
            ".nan".to_owned()
        } else if f > 0.0 {
            ".inf".to_owned()
        } else {
            "-.inf".to_owned()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Scalar<'_> {
        resolve(s, true, None).expect("plain scalars always resolve")
    }

    #[test]
    fn yaml_1_1_booleans_and_nulls() {
        for t in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(plain(t), Scalar::Bool(true), "{t}");
        }
        for f in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(plain(f), Scalar::Bool(false), "{f}");
        }
        for s in ["yEs", "oN", "tRUE", "enabled", "nope", "o"] {
            assert_eq!(plain(s), Scalar::Str(s), "{s}");
        }
        for n in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(n), Scalar::Null, "{n:?}");
        }
        assert_eq!(plain("nULL"), Scalar::Str("nULL"));
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings() {
        assert_eq!(resolve("yes", false, None), Ok(Scalar::Str("yes")));
        assert_eq!(resolve("0755", false, None), Ok(Scalar::Str("0755")));
        assert_eq!(resolve("yes", true, Some(Tag::Str)), Ok(Scalar::Str("yes")));
    }

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(plain("0755"), Scalar::Int(0o755));
        assert_eq!(plain("0o17"), Scalar::Int(15));
        assert_eq!(plain("0x1F"), Scalar::Int(31));
        assert_eq!(plain("-0x10"), Scalar::Int(-16));
        assert_eq!(plain("0b101"), Scalar::Int(5));
        assert_eq!(plain("1_000"), Scalar::Int(1000));
        assert_eq!(plain("+12"), Scalar::Int(12));
        assert_eq!(plain("18446744073709551615"), Scalar::Uint(u64::MAX));
        assert_eq!(plain("08"), Scalar::Float(8.0));
        assert_eq!(plain("1.5"), Scalar::Float(1.5));
        assert_eq!(plain(".5"), Scalar::Float(0.5));
        assert_eq!(plain("1e3"), Scalar::Float(1000.0));
        assert_eq!(plain("1e400"), Scalar::Str("1e400"));
        assert_eq!(plain(".inf"), Scalar::Float(f64::INFINITY));
        assert_eq!(plain("-.Inf"), Scalar::Float(f64::NEG_INFINITY));
        assert!(matches!(plain(".NaN"), Scalar::Float(f) if f.is_nan()));
        for s in [
            "1.2.3",
            "0x",
            "2001-12-14",
            "12:30",
            "1e",
            "+",
            "-",
            "0xG",
            "1,000",
        ] {
            assert_eq!(plain(s), Scalar::Str(s), "{s}");
        }
        assert_eq!(plain("<<"), Scalar::Merge);
    }

    #[test]
    fn explicit_tags() {
        assert_eq!(resolve("12", false, Some(Tag::Int)), Ok(Scalar::Int(12)));
        assert_eq!(
            resolve("12", false, Some(Tag::Float)),
            Ok(Scalar::Float(12.0))
        );
        assert_eq!(
            resolve("on", false, Some(Tag::Bool)),
            Ok(Scalar::Bool(true))
        );
        assert!(resolve("abc", true, Some(Tag::Int)).is_err());
        assert_eq!(resolve("12", true, Some(Tag::Other)), Ok(Scalar::Str("12")));
    }
}
