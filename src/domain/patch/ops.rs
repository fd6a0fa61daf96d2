//! Reading the PATCH body into operations.

use serde_json::Value;

use super::PatchError;
use crate::domain::python;

/// The JSON Patch operations PDS supports (`move` and `copy` are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
    Test,
}

impl OpKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "add" => Some(Self::Add),
            "replace" => Some(Self::Replace),
            "remove" => Some(Self::Remove),
            "test" => Some(Self::Test),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
            Self::Test => "test",
        }
    }

    /// Whether the op carries a `value`.
    fn needs_value(self) -> bool {
        self != Self::Remove
    }
}

/// One operation: `path` is a JSON Pointer (RFC 6901); `value` is present
/// for everything but `remove`.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub op: OpKind,
    pub path: String,
    pub value: Option<Value>,
}

/// Accepts PDS's `{"patches":[...]}` (other top-level keys such as
/// `correction` ignored) and a bare RFC 6902 array.
///
/// Errors: no or empty `patches` → [`PatchError::NoPatches`]; an unknown
/// `op`, a missing or malformed `path`, or a missing `value` →
/// [`PatchError::InvalidValue`] naming `<index>/op`, `<index>/path` or
/// `<index>/value`.
pub fn parse_ops(body: &Value) -> Result<Vec<Op>, PatchError> {
    let items = match body {
        Value::Object(map) => match map.get("patches") {
            Some(Value::Array(items)) => items,
            _ => return Err(PatchError::NoPatches),
        },
        Value::Array(items) => items,
        _ => return Err(PatchError::NoPatches),
    };
    if items.is_empty() {
        return Err(PatchError::NoPatches);
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_op(i, item))
        .collect()
}

fn parse_op(i: usize, item: &Value) -> Result<Op, PatchError> {
    let bad = |key: &str, value: Option<&Value>| PatchError::InvalidValue {
        field: format!("{i}/{key}"),
        value: shown(value),
    };
    let Some(fields) = item.as_object() else {
        return Err(PatchError::InvalidValue {
            field: i.to_string(),
            value: python::str(item),
        });
    };
    let op_value = fields.get("op");
    let op = op_value
        .and_then(Value::as_str)
        .and_then(OpKind::from_name)
        .ok_or_else(|| bad("op", op_value))?;
    let path_value = fields.get("path");
    let path = path_value
        .and_then(Value::as_str)
        .filter(|p| pointer_tokens(p).is_some())
        .ok_or_else(|| bad("path", path_value))?;
    let value = if op.needs_value() {
        match fields.get("value") {
            None | Some(Value::Null) => return Err(bad("value", fields.get("value"))),
            Some(v) => Some(v.clone()),
        }
    } else {
        None
    };
    Ok(Op {
        op,
        path: path.to_owned(),
        value,
    })
}

/// How a value appears in an INVALID_VALUE message: as Python's `str()`
/// shows it, as PDS does (strings bare, `None`, `{'op': 'x'}`), a missing
/// value as nothing.
fn shown(value: Option<&Value>) -> String {
    value.map(python::str).unwrap_or_default()
}

/// The unescaped reference tokens of a JSON Pointer, or `None` when it is not
/// a pointer to a member of the resource (it must start with `/`, and `~` may
/// only escape `0` or `1`).
pub(super) fn pointer_tokens(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    rest.split('/').map(unescape).collect()
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value_error(field: &str, value: &str) -> PatchError {
        PatchError::InvalidValue {
            field: field.into(),
            value: value.into(),
        }
    }

    #[test]
    fn reads_the_pds_wrapper_and_ignores_other_keys() {
        let body = json!({"correction": true, "patches": [
            {"op": "replace", "path": "/gender", "value": "male"},
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "remove", "path": "/name/0", "value": "ignored"},
            {"op": "add", "path": "/name/-", "value": {"use": "old"}},
        ]});
        let ops = parse_ops(&body).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(
            ops[0],
            Op {
                op: OpKind::Replace,
                path: "/gender".into(),
                value: Some(json!("male")),
            }
        );
        assert_eq!(ops[1].op, OpKind::Test);
        assert_eq!(ops[2].op, OpKind::Remove);
        assert_eq!(ops[2].value, None);
        assert_eq!(ops[3].op, OpKind::Add);
    }

    #[test]
    fn reads_a_bare_rfc6902_array() {
        let body = json!([{"op": "remove", "path": "/gender"}]);
        let ops = parse_ops(&body).unwrap();
        assert_eq!(
            ops,
            vec![Op {
                op: OpKind::Remove,
                path: "/gender".into(),
                value: None
            }]
        );
    }

    #[test]
    fn no_patches_found() {
        for body in [
            json!({}),
            json!({"patches": []}),
            json!({"patches": null}),
            json!({"correction": false}),
            json!([]),
            json!("patches"),
        ] {
            assert_eq!(parse_ops(&body), Err(PatchError::NoPatches), "{body}");
        }
    }

    #[test]
    fn an_unsupported_op_is_an_invalid_value_naming_its_index() {
        let body = json!({"patches": [
            {"op": "replace", "path": "/gender", "value": "male"},
            {"op": "move", "from": "/name/0", "path": "/name/1"},
        ]});
        assert_eq!(parse_ops(&body), Err(value_error("1/op", "move")));
        let body = json!({"patches": [{"op": "bad_value", "path": "/gender"}]});
        assert_eq!(parse_ops(&body), Err(value_error("0/op", "bad_value")));
        let body = json!({"patches": [{"op": "copy", "from": "/a", "path": "/b"}]});
        assert_eq!(parse_ops(&body), Err(value_error("0/op", "copy")));
        let body = json!({"patches": [{"path": "/gender"}]});
        assert_eq!(parse_ops(&body), Err(value_error("0/op", "")));
        let body = json!({"patches": [{"op": 1, "path": "/gender"}]});
        assert_eq!(parse_ops(&body), Err(value_error("0/op", "1")));
        let body = json!({"patches": [{"op": {"code": "xx"}, "path": "/gender"}]});
        assert_eq!(parse_ops(&body), Err(value_error("0/op", "{'code': 'xx'}")));
        let body = json!({"patches": [{"op": true, "path": "/gender"}]});
        assert_eq!(parse_ops(&body), Err(value_error("0/op", "True")));
    }

    #[test]
    fn a_missing_or_malformed_path_is_an_invalid_value() {
        let body = json!([{"op": "remove"}]);
        assert_eq!(parse_ops(&body), Err(value_error("0/path", "")));
        let body = json!([{"op": "remove", "path": "gender"}]);
        assert_eq!(parse_ops(&body), Err(value_error("0/path", "gender")));
        let body = json!([{"op": "remove", "path": ""}]);
        assert_eq!(parse_ops(&body), Err(value_error("0/path", "")));
        let body = json!([{"op": "remove", "path": "/a~2b"}]);
        assert_eq!(parse_ops(&body), Err(value_error("0/path", "/a~2b")));
        let body = json!([{"op": "remove", "path": 7}]);
        assert_eq!(parse_ops(&body), Err(value_error("0/path", "7")));
    }

    #[test]
    fn add_replace_and_test_need_a_value() {
        for op in ["add", "replace", "test"] {
            let body = json!([
                {"op": "remove", "path": "/gender"},
                {"op": op, "path": "/gender"},
            ]);
            assert_eq!(parse_ops(&body), Err(value_error("1/value", "")), "{op}");
            let body = json!([{"op": op, "path": "/gender", "value": null}]);
            // PDS shows the decoded value as Python does.
            assert_eq!(parse_ops(&body), Err(value_error("0/value", "None")));
        }
    }

    #[test]
    fn an_item_that_is_not_an_object_is_an_invalid_value() {
        let body = json!({"patches": ["remove /gender"]});
        assert_eq!(parse_ops(&body), Err(value_error("0", "remove /gender")));
    }

    #[test]
    fn pointers_unescape() {
        assert_eq!(
            pointer_tokens("/extension/0/url"),
            Some(vec!["extension".into(), "0".into(), "url".into()])
        );
        assert_eq!(
            pointer_tokens("/a~1b/c~0d"),
            Some(vec!["a/b".into(), "c~d".into()])
        );
        assert_eq!(pointer_tokens("/"), Some(vec![String::new()]));
        assert_eq!(pointer_tokens(""), None);
        assert_eq!(pointer_tokens("/a~"), None);
    }
}
