//! Typed access to the JSON: an object checked against its allowed keys,
//! with its path for errors; codings, dates, and the errors they give.

use super::*;

pub(super) const CODEABLE_KEYS: &[&str] = &["coding"];
pub(super) const CODING_KEYS: &[&str] = &["system", "version", "code", "display"];

/// The one coding of a CodeableConcept.
pub(super) fn single_coding<'a>(concept: &Obj<'a>, codings: &'a [Value]) -> Result<Obj<'a>> {
    match codings.len() {
        0 => Err(missing(concept.at("coding/0"))),
        1 => Obj::item(&codings[0], concept.at("coding/0"), CODING_KEYS),
        _ => Err(too_many(concept.at("coding"))),
    }
}

/// A CodeableConcept with one coding from `system`. The display is derived
/// from the code, so any string is accepted there.
pub(super) fn codeable<T>(
    concept: &Obj<'_>,
    system: &str,
    from_code: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    let codings = concept.required_array("coding")?;
    coding(&single_coding(concept, codings)?, system, from_code)
}

pub(super) fn coding<T>(
    c: &Obj<'_>,
    system: &str,
    from_code: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    c.fixed("system", system)?;
    c.string("version")?;
    c.string("display")?;
    let code = c.required_string("code")?;
    from_code(code).ok_or_else(|| invalid(&c.at("code"), &Value::from(code)))
}

// ---------------------------------------------------------------------------
// Scalars

/// `YYYY-MM-DD`, nothing else.
pub(super) fn parse_date(text: &[u8]) -> Option<NaiveDate> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *text else {
        return None;
    };
    let year = number(&[y0, y1, y2, y3])?;
    let month = number(&[m0, m1])?;
    let day = number(&[d0, d1])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// An instant in UTC: `YYYY-MM-DDTHH:MM:SS` followed by `+00:00`, `Z` or
/// nothing (UTC), or a bare `YYYY-MM-DD` (midnight UTC). Any other offset
/// and any fraction of a second is refused.
pub(super) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let date = parse_date(bytes.get(..10)?)?;
    let rest = &bytes[10..];
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    let [b'T', h0, h1, b':', m0, m1, b':', s0, s1, ref zone @ ..] = *rest else {
        return None;
    };
    if !matches!(zone, b"" | b"Z" | b"+00:00" | b"-00:00") {
        return None;
    }
    let time = NaiveTime::from_hms_opt(number(&[h0, h1])?, number(&[m0, m1])?, number(&[s0, s1])?)?;
    Some(date.and_time(time).and_utc())
}

pub(super) fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

// ---------------------------------------------------------------------------
// Errors

/// How a value is quoted in a diagnostic: as Python's `str()` shows it, as
/// PDS does (`male`, `True`, `{'code': 'xx'}`).
pub(in crate::fhir) fn shown(value: &Value) -> String {
    crate::domain::python::str(value)
}

pub(super) fn invalid(field: &str, value: &Value) -> ParseError {
    ParseError::InvalidValue {
        field: field.to_owned(),
        value: shown(value),
    }
}

pub(super) fn missing(field: String) -> ParseError {
    ParseError::MissingValue { field }
}

pub(super) fn too_many(field: String) -> ParseError {
    ParseError::TooManyValues { field }
}

// ---------------------------------------------------------------------------
// Typed access to one JSON object, with its path for errors

/// An object whose keys have been checked against the allowed set.
pub(super) struct Obj<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: String,
}

impl<'a> Obj<'a> {
    pub(super) fn new(map: &'a Map<String, Value>, path: String, allowed: &[&str]) -> Result<Self> {
        let obj = Self { map, path };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ParseError::AdditionalProperty { field: obj.at(key) });
        }
        Ok(obj)
    }

    /// `value` must be an object with only `allowed` keys.
    pub(super) fn item(value: &'a Value, path: String, allowed: &[&str]) -> Result<Self> {
        match value {
            Value::Object(map) => Self::new(map, path, allowed),
            other => Err(invalid(&path, other)),
        }
    }

    /// The whole object, for a diagnostic about it.
    pub(super) fn value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// The path of `key` inside this object.
    pub(super) fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.path)
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(super) fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key).ok_or_else(|| missing(self.at(key)))
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(&self.at(key), other)),
        }
    }

    pub(super) fn required_string(&self, key: &str) -> Result<&'a str> {
        match self.required(key)? {
            Value::String(s) => Ok(s),
            other => Err(invalid(&self.at(key), other)),
        }
    }

    /// A fixed value (a system URL, `type: Organization`); optional.
    pub(super) fn fixed(&self, key: &str, expected: &str) -> Result<()> {
        match self.get(key) {
            None => Ok(()),
            Some(v) if v.as_str() == Some(expected) => Ok(()),
            Some(other) => Err(invalid(&self.at(key), other)),
        }
    }

    /// The `url` of an extension, which must be `expected`.
    pub(super) fn url(&self, expected: &str) -> Result<()> {
        let url = self.required("url")?;
        if url.as_str() == Some(expected) {
            Ok(())
        } else {
            Err(invalid(&self.at("url"), url))
        }
    }

    /// The object id of a list item: a non-empty string.
    pub(super) fn id(&self) -> Result<String> {
        match self.required("id")? {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            other => Err(invalid(&self.at("id"), other)),
        }
    }

    pub(super) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(invalid(&self.at(key), other)),
        }
    }

    pub(super) fn required_array(&self, key: &str) -> Result<&'a Vec<Value>> {
        self.array(key)?.ok_or_else(|| missing(self.at(key)))
    }

    /// An array of strings (`given`, `prefix`, `suffix`).
    pub(super) fn strings(&self, key: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (i, item) in self.array(key)?.into_iter().flatten().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => return Err(invalid(&self.at(&format!("{key}/{i}")), other)),
            }
        }
        Ok(out)
    }

    pub(super) fn list<T>(
        &self,
        key: &str,
        parse: impl Fn(&'a Value, String) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.array(key)?
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, item)| parse(item, self.at(&format!("{key}/{i}"))))
            .collect()
    }

    pub(super) fn object(&self, key: &str, allowed: &[&str]) -> Result<Option<Obj<'a>>> {
        self.get(key)
            .map(|v| Obj::item(v, self.at(key), allowed))
            .transpose()
    }

    pub(super) fn required_object(&self, key: &str, allowed: &[&str]) -> Result<Obj<'a>> {
        self.object(key, allowed)?
            .ok_or_else(|| missing(self.at(key)))
    }

    pub(super) fn code<T>(
        &self,
        key: &str,
        from_code: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(&from_code)
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), v)),
        }
    }

    pub(super) fn required_code<T>(
        &self,
        key: &str,
        from_code: impl Fn(&str) -> Option<T>,
    ) -> Result<T> {
        self.code(key, from_code)?
            .ok_or_else(|| missing(self.at(key)))
    }

    pub(super) fn date(&self, key: &str) -> Result<Option<NaiveDate>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(|s| parse_date(s.as_bytes()))
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), v)),
        }
    }

    pub(super) fn instant(&self, key: &str) -> Result<Option<DateTime<Utc>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(parse_instant)
                .map(Some)
                .ok_or_else(|| invalid(&self.at(key), v)),
        }
    }

    /// `period{start,end}` of dates; the end may not precede the start. The
    /// renderer writes whichever ends are known, so both are optional here.
    pub(super) fn period(&self, key: &str) -> Result<Option<Period>> {
        let Some(p) = self.object(key, &["start", "end"])? else {
            return Ok(None);
        };
        let start = p.date("start")?;
        let end = p.date("end")?;
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(invalid(&p.path, &p.value()));
        }
        Ok(Some(Period { start, end }))
    }

    /// The sub-extensions of a complex extension, matched to `known`
    /// (`(url, value key)`): each url at most once, unknown urls refused.
    pub(super) fn parts<const N: usize>(
        &self,
        known: [(&str, &str); N],
    ) -> Result<[Option<Obj<'a>>; N]> {
        let mut found: [Option<Obj<'a>>; N] = std::array::from_fn(|_| None);
        for (i, item) in self.required_array("extension")?.iter().enumerate() {
            let Extension {
                path,
                map,
                url,
                url_path,
            } = extension(self, i, item)?;
            let Some(k) = known.iter().position(|(u, _)| *u == url) else {
                return Err(invalid(&url_path, &Value::from(url)));
            };
            if found[k].is_some() {
                return Err(too_many(self.at("extension")));
            }
            let (_, value_key) = known[k];
            let part = Obj::new(map, path, &["url", value_key])?;
            part.required(value_key)?;
            found[k] = Some(part);
        }
        Ok(found)
    }

    /// A sub-extension that must be present.
    pub(super) fn require_part(&self, part: Option<Obj<'a>>, url: &str) -> Result<Obj<'a>> {
        part.ok_or_else(|| missing(self.at(&format!("extension/{url}"))))
    }
}

/// One item of an `extension` array, not yet checked beyond its `url`.
pub(super) struct Extension<'a> {
    pub(super) path: String,
    pub(super) map: &'a Map<String, Value>,
    pub(super) url: &'a str,
    /// The url's path, for the error that names an unknown one.
    pub(super) url_path: String,
}

/// The `i`-th item of `parent`'s extensions: an object with a string `url`.
pub(super) fn extension<'a>(parent: &Obj<'_>, i: usize, item: &'a Value) -> Result<Extension<'a>> {
    let path = parent.at(&format!("extension/{i}"));
    let Value::Object(map) = item else {
        return Err(invalid(&path, item));
    };
    let url_path = format!("{path}/url");
    let url = match map.get("url") {
        None => return Err(missing(url_path)),
        Some(Value::String(url)) => url.as_str(),
        Some(other) => return Err(invalid(&url_path, other)),
    };
    Ok(Extension {
        path,
        map,
        url,
        url_path,
    })
}
