//! JSON values written the way PDS writes them inside its messages.
//!
//! PDS is written in Python: where a message shows a value, it is the
//! decoded value formatted by Python, so `{'code': 'xx'}`, `['a', 'b']`,
//! `True` and `None` rather than JSON. [`repr`] is Python's `repr()`;
//! [`str`] is `str()`, which differs only for a string at the top (shown
//! bare), as in `Invalid value - 'mal' in field 'gender'` or
//! `female (<class 'str'>) is not equal to tested value male (<class 'str'>)`.
//!
//! Object members come in the order `serde_json` keeps them, by key (PDS
//! shows them in the order of the record), so a message that shows a whole
//! object can list its members in another order than PDS does.

use serde_json::Value;

/// Python's `repr()` of the decoded value.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

/// Python's `str()` of the decoded value: a string as it is, anything else
/// as [`repr`].
pub fn str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                string(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// An integer as it is; a float as Python writes it (`1.0`, `1e+20`).
fn number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => {
            if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
                format!("{f:.1}")
            } else if f.abs() >= 1e16 {
                let text = format!("{f:e}");
                // Rust writes `1e20`, Python `1e+20`.
                match text.split_once('e') {
                    Some((mantissa, exp)) if !exp.starts_with('-') => {
                        format!("{mantissa}e+{exp}")
                    }
                    _ => text,
                }
            } else {
                f.to_string()
            }
        }
        _ => n.to_string(),
    }
}

/// A string literal as Python's `repr()` writes it: single quotes unless
/// the text holds a single quote and no double quote; backslashes, the
/// quote used and control characters escaped.
fn string(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repr_writes_python_literals() {
        assert_eq!(
            repr(&json!(["a", "it's", 1, null, true, false, {"k": "v"}])),
            r#"['a', "it's", 1, None, True, False, {'k': 'v'}]"#
        );
        assert_eq!(repr(&json!({"code": "xx"})), "{'code': 'xx'}");
        assert_eq!(repr(&json!([])), "[]");
        assert_eq!(repr(&json!({})), "{}");
        assert_eq!(
            repr(&json!([{"identifier": {"value": "DE98765"}}])),
            "[{'identifier': {'value': 'DE98765'}}]"
        );
    }

    #[test]
    fn repr_escapes_strings_as_python_does() {
        assert_eq!(repr(&json!("a'b\"c")), r#"'a\'b"c'"#);
        assert_eq!(repr(&json!("back\\slash")), r"'back\\slash'");
        assert_eq!(repr(&json!("two\nlines\t")), r"'two\nlines\t'");
        assert_eq!(repr(&json!("bell\u{7}")), r"'bell\x07'");
        assert_eq!(repr(&json!("Zoë")), "'Zoë'");
    }

    #[test]
    fn repr_writes_numbers_as_python_does() {
        assert_eq!(repr(&json!(1)), "1");
        assert_eq!(repr(&json!(-7)), "-7");
        assert_eq!(repr(&json!(1.0)), "1.0");
        assert_eq!(repr(&json!(2.5)), "2.5");
        assert_eq!(repr(&json!(1e20)), "1e+20");
    }

    #[test]
    fn str_leaves_a_top_level_string_bare() {
        assert_eq!(str(&json!("male")), "male");
        assert_eq!(str(&json!("it's")), "it's");
        assert_eq!(str(&json!(true)), "True");
        assert_eq!(str(&json!(null)), "None");
        assert_eq!(str(&json!(3)), "3");
        assert_eq!(str(&json!({"code": "xx"})), "{'code': 'xx'}");
        assert_eq!(str(&json!(["a", "b"])), "['a', 'b']");
    }
}
