//! Query strings, decoded strictly and in one place.
//!
//! `application/x-www-form-urlencoded` as browsers write it: pairs split on
//! `&`, name and value on the first `=`, `+` is a space, `%XX` a byte (a
//! `%` not followed by two hex digits stays as it is). The decoded bytes
//! must be UTF-8. A lossy decoder (as `serde_urlencoded` is) turns `%ff`
//! into U+FFFD, which the name normaliser then drops, so `Sm%ffith` would
//! find Smith; here it is refused, with the same 400 INVALID_VALUE as any
//! other value that is not text. So is a value with control characters
//! (NUL, escape, line breaks) or bidirectional-text controls (U+202E ...),
//! which the normaliser would drop just as silently (`Sm%00ith`).

use percent_encoding::percent_decode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// One name or value: `+` as space, then percent-decoded; `None` if the
/// result is not UTF-8.
fn decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// Characters no value of any parameter may hold: they are not text a
/// caller means to search for, and would otherwise be dropped unseen.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The (name, value) pairs in the order sent; empty segments (`a=1&&b=2`)
/// are skipped, a segment without `=` has an empty value. A name or value
/// that does not decode to UTF-8 is 400 INVALID_VALUE naming the parameter
/// and showing the value as sent.
pub fn pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (raw_name, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
            let name = decode(raw_name);
            let value = decode(raw_value).filter(|v| !v.chars().any(unprintable));
            match (name, value) {
                (Some(name), Some(value)) => Ok((name, value)),
                (name, _) => Err(ApiError::InvalidValue {
                    field: name.unwrap_or_else(|| raw_name.to_owned()),
                    value: raw_value.to_owned(),
                }),
            }
        })
        .collect()
}

/// The query as a `T` whose fields are strings (or options of them), from
/// [`pairs`]. Unknown names are ignored; a name given twice is 400
/// INVALID_VALUE naming it.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let mut fields = serde_json::Map::new();
    for (name, value) in pairs(query)? {
        if let Some(first) = fields.get(&name) {
            let first = first.as_str().unwrap_or_default();
            return Err(ApiError::InvalidValue {
                value: format!("{first}, {value}"),
                field: name,
            });
        }
        fields.insert(name, serde_json::Value::String(value));
    }
    serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| ApiError::InvalidSearchData(format!("the query does not fit: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(query: &str) -> Vec<(String, String)> {
        pairs(query).unwrap()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(
            ok("family=O%27Brien&given=Mary+Ann&x&&birthdate=eq2010-10-22"),
            owned(&[
                ("family", "O'Brien"),
                ("given", "Mary Ann"),
                ("x", ""),
                ("birthdate", "eq2010-10-22"),
            ])
        );
        assert_eq!(ok("family=M%C3%BCller"), owned(&[("family", "Müller")]));
        assert_eq!(ok("family=M\u{fc}ller"), owned(&[("family", "Müller")]));
        assert_eq!(ok("a=1%2B1%3D2"), owned(&[("a", "1+1=2")]));
        assert_eq!(ok("a=100%"), owned(&[("a", "100%")]));
        assert_eq!(ok("a=%zz"), owned(&[("a", "%zz")]));
        assert_eq!(ok("a=b=c"), owned(&[("a", "b=c")]));
        assert!(ok("").is_empty());
    }

    #[test]
    fn refuses_what_is_not_utf8_or_not_printable_naming_the_parameter() {
        for (query, field, value) in [
            ("family=Sm%ffith", "family", "Sm%ffith"),
            (
                "birthdate=eq2010-10-22&family=Sm%C3%28ith",
                "family",
                "Sm%C3%28ith",
            ),
            ("given=%ED%A0%80", "given", "%ED%A0%80"),
            ("given=%C0%AF", "given", "%C0%AF"),
            ("fam%ffily=Smith", "fam%ffily", "Smith"),
            ("family=Sm%00ith", "family", "Sm%00ith"),
            ("family=Sm%1B%5Bith", "family", "Sm%1B%5Bith"),
            ("family=%E2%80%AEhtimS", "family", "%E2%80%AEhtimS"),
            ("phone=0163%0A2960587", "phone", "0163%0A2960587"),
        ] {
            let refused = pairs(query);
            assert!(
                matches!(&refused, Err(ApiError::InvalidValue { field: f, value: v }) if f == field && v == value),
                "{query}: {refused:?}"
            );
        }
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Paging {
        #[serde(rename = "_count")]
        count: Option<String>,
    }

    #[test]
    fn parses_into_a_struct() {
        assert_eq!(
            parse::<Paging>("_count=5&other=1").unwrap(),
            Paging {
                count: Some("5".into())
            }
        );
        assert_eq!(parse::<Paging>("").unwrap(), Paging { count: None });
        let invalid = |query: &str| match parse::<Paging>(query) {
            Err(ApiError::InvalidValue { field, value }) => (field, value),
            other => panic!("{query}: {other:?}"),
        };
        assert_eq!(invalid("_count=%ff"), ("_count".into(), "%ff".into()));
        assert_eq!(
            invalid("_count=1&_count=2"),
            ("_count".into(), "1, 2".into())
        );
    }
}
