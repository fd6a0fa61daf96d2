//! Applying operations to the patient's FHIR JSON under the PDS list rules.
//!
//! The JSON Pointer handling is written here (no JSON Patch crate is a
//! dependency). Failures use python-jsonpatch's wording, as PDS does, e.g.
//! `Invalid patch - index '1' is out of bounds`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::ops::{Op, OpKind, pointer_tokens};
use super::{PatchError, forbidden, invalid};
use crate::domain::python;

/// Top-level lists, whose items carry an `id` (extensions: a `url`).
const LISTS: &[&str] = &[
    "name",
    "address",
    "telecom",
    "contact",
    "extension",
    "generalPractitioner",
];
/// Top-level elements that are not lists.
const SINGLES: &[&str] = &[
    "gender",
    "birthDate",
    "multipleBirthInteger",
    "deceasedDateTime",
    "managingOrganization",
];
/// Elements nobody may patch.
const READ_ONLY: &[&str] = &["resourceType", "id", "identifier", "meta"];

fn is_list(field: &str) -> bool {
    LISTS.contains(&field)
}

/// The member that identifies an item of `list`.
fn key_of(list: &str) -> &'static str {
    if list == "extension" { "url" } else { "id" }
}

/// Applies `ops` in order to `current` (the patient's full FHIR JSON) under
/// the PDS list rules.
///
/// `new_id` is called for each item appended with `/-` to name, address,
/// telecom, contact or generalPractitioner (the server assigns ids; an `id`
/// sent in an appended value is replaced).
///
/// Atomic: on error nothing is returned but the error, and `current` is
/// never modified.
pub fn apply(
    current: &Value,
    ops: &[Op],
    new_id: &mut dyn FnMut() -> String,
) -> Result<Value, PatchError> {
    let mut run = Run::new(current);
    run.all(ops, new_id)?;
    Ok(run.doc)
}

/// The top-level Patient fields the ops change, for permission checks:
/// `name`, `gender`, `address`, ..., and `extension:<url>` for each extension
/// whose url is known (from the appended value or the item at the index),
/// plain `extension` otherwise. `test` ops change nothing and are left out.
/// Each field appears once, in the order first touched.
pub fn touched(current: &Value, ops: &[Op]) -> Vec<String> {
    let mut run = Run::new(current);
    let mut count = 0;
    let mut next_id = || {
        count += 1;
        format!("touched{count}")
    };
    // The run records the fields op by op; ops it did not reach (it stopped
    // on an error) are named from the document as it stood.
    let reached = match run.all(ops, &mut next_id) {
        Ok(()) => ops.len(),
        Err(_) => run.reached,
    };
    for op in ops[reached..].iter().filter(|op| op.op != OpKind::Test) {
        if let Some(tokens) = pointer_tokens(&op.path) {
            let fields = run.fields_of(op, &tokens);
            run.touch(fields);
        }
    }
    run.touched
}

/// One application of a request: the working copy and what the request has
/// established so far.
struct Run {
    doc: Value,
    /// `(list, id or url)` of items whose id the request has named (or that
    /// it appended).
    identified: HashSet<(String, String)>,
    touched: Vec<String>,
    /// Index of the op being applied.
    reached: usize,
}

impl Run {
    fn new(current: &Value) -> Self {
        Self {
            doc: current.clone(),
            identified: HashSet::new(),
            touched: Vec::new(),
            reached: 0,
        }
    }

    fn all(&mut self, ops: &[Op], new_id: &mut dyn FnMut() -> String) -> Result<(), PatchError> {
        let paths = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                pointer_tokens(&op.path).ok_or_else(|| PatchError::InvalidValue {
                    field: format!("{i}/path"),
                    value: op.path.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // PDS reports a forbidden element before anything invalid.
        if let Some(t) = paths.iter().find(|t| READ_ONLY.contains(&t[0].as_str())) {
            return Err(forbidden(format!(
                "source not permitted to update '{}'",
                t[0]
            )));
        }
        if let Some(t) = paths
            .iter()
            .find(|t| !is_list(&t[0]) && !SINGLES.contains(&t[0].as_str()))
        {
            return Err(invalid(format!(
                "Update unsupported for resource - '{}'",
                t[0]
            )));
        }
        if !self.doc.is_object() {
            return Err(invalid("Invalid patch - the resource is not an object"));
        }
        for (i, (op, tokens)) in ops.iter().zip(&paths).enumerate() {
            self.reached = i;
            let previous = i.checked_sub(1).map(|p| &ops[p]);
            self.one(op, tokens, previous, new_id)?;
        }
        Ok(())
    }

    fn one(
        &mut self,
        op: &Op,
        t: &[String],
        previous: Option<&Op>,
        new_id: &mut dyn FnMut() -> String,
    ) -> Result<(), PatchError> {
        let root = t[0].as_str();
        if let Some(at) = t.iter().position(|token| token == "-") {
            let appends = is_list(root) && at == 1 && t.len() == 2 && op.op == OpKind::Add;
            if !appends {
                return Err(match op.op {
                    OpKind::Add => invalid(format!(
                        "Invalid patch - '{}' may only be used to add an item to the end of \
                         a top-level list; add to a sub-list at an explicit index",
                        op.path
                    )),
                    _ => out_of_bounds("-"),
                });
            }
        }
        if op.op != OpKind::Test {
            let fields = self.fields_of(op, t);
            self.touch(fields);
        }
        if !is_list(root) {
            return self.pointer_op(op, t);
        }
        match t.len() {
            1 => self.whole_list(op, t, previous),
            2 if t[1] == "-" => self.append(op, root, new_id),
            2 => self.item(op, t, previous),
            _ => self.sub_element(op, t, previous),
        }
    }

    /// `/name`: only a test, or a removal straight after a test of it.
    fn whole_list(
        &mut self,
        op: &Op,
        t: &[String],
        previous: Option<&Op>,
    ) -> Result<(), PatchError> {
        match op.op {
            OpKind::Test => self.pointer_op(op, t),
            OpKind::Remove => {
                require_test(op, t, previous)?;
                self.pointer_op(op, t)
            }
            OpKind::Add | OpKind::Replace => Err(append_only(&t[0])),
        }
    }

    /// `add /name/-`: appends, creating the list if needed, with a new id.
    fn append(
        &mut self,
        op: &Op,
        root: &str,
        new_id: &mut dyn FnMut() -> String,
    ) -> Result<(), PatchError> {
        let Some(Value::Object(mut item)) = op.value.clone() else {
            return Err(not_an_object(root));
        };
        if root != "extension" {
            item.insert("id".to_owned(), Value::String(new_id()));
        }
        if let Some(Value::String(key)) = item.get(key_of(root)) {
            self.identified.insert((root.to_owned(), key.clone()));
        }
        let fields = self.doc.as_object_mut().expect("checked in all()");
        let list = fields
            .entry(root.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = list else {
            return Err(invalid(format!("Invalid patch - '{root}' is not a list")));
        };
        items.push(Value::Object(item));
        Ok(())
    }

    /// `/name/1`: replace (the value carries the item's id, or the request
    /// named it before), test, or remove straight after a test.
    fn item(&mut self, op: &Op, t: &[String], previous: Option<&Op>) -> Result<(), PatchError> {
        let root = t[0].as_str();
        let index = parse_index(&t[1])?;
        let len = self.list(root).len();
        match op.op {
            OpKind::Add => Err(append_only(root)),
            OpKind::Remove => {
                require_test(op, t, previous)?;
                if index >= len {
                    return Err(invalid(format!(
                        "Invalid patch - can't remove non-existent object '{}'",
                        t[1]
                    )));
                }
                self.pointer_op(op, t)
            }
            OpKind::Test => {
                if index >= len {
                    return Err(out_of_bounds(&t[1]));
                }
                self.pointer_op(op, t)?;
                if let Some(key) = self.key_at(root, index) {
                    self.identified.insert((root.to_owned(), key));
                }
                Ok(())
            }
            OpKind::Replace => {
                if index >= len {
                    return Err(out_of_bounds(&t[1]));
                }
                let Some(Value::Object(mut value)) = op.value.clone() else {
                    return Err(not_an_object(root));
                };
                let key_name = key_of(root);
                let current = self.key_at(root, index);
                match (value.get(key_name), &current) {
                    (Some(Value::String(sent)), Some(key)) if sent == key => {}
                    (Some(sent), _) => return Err(wrong_key(root, sent)),
                    (None, Some(key)) if self.is_identified(root, key) => {
                        value.insert(key_name.to_owned(), Value::String(key.clone()));
                    }
                    (None, _) => return Err(no_key(root, index)),
                }
                if let Some(key) = current {
                    self.identified.insert((root.to_owned(), key));
                }
                self.doc[root][index] = Value::Object(value);
                Ok(())
            }
        }
    }

    /// `/address/0/line/1`: needs the item's id named earlier in the request
    /// (or named by this op); removing a sub-list or a sub-list entry also
    /// needs a test straight before.
    fn sub_element(
        &mut self,
        op: &Op,
        t: &[String],
        previous: Option<&Op>,
    ) -> Result<(), PatchError> {
        let root = t[0].as_str();
        let index = parse_index(&t[1])?;
        if index >= self.list(root).len() {
            return Err(out_of_bounds(&t[1]));
        }
        let current = self.key_at(root, index);
        let key_name = key_of(root);
        if t.len() == 3 && t[2] == key_name {
            // The op that names the item.
            return match op.op {
                OpKind::Test => {
                    self.pointer_op(op, t)?;
                    if let Some(key) = current {
                        self.identified.insert((root.to_owned(), key));
                    }
                    Ok(())
                }
                OpKind::Add | OpKind::Replace => {
                    let sent = op.value.clone().unwrap_or(Value::Null);
                    match current {
                        Some(key) if sent == Value::String(key.clone()) => {
                            self.identified.insert((root.to_owned(), key));
                            Ok(())
                        }
                        _ => Err(wrong_key(root, &sent)),
                    }
                }
                OpKind::Remove => Err(invalid(format!(
                    "Invalid patch - the {key_name} at '{}' cannot be removed",
                    op.path
                ))),
            };
        }
        if op.op == OpKind::Test {
            return self.pointer_op(op, t);
        }
        if op.op == OpKind::Remove && self.removes_list_content(t) {
            require_test(op, t, previous)?;
        }
        if in_sub_extension(t) {
            // PDS documents (and accepts) `/extension/0/extension/1` for a
            // sub-extension of communication or contact preference, by
            // index alone: the extension's url need not be named first.
            return self.pointer_op(op, t);
        }
        match current {
            Some(key) if self.is_identified(root, &key) => self.pointer_op(op, t),
            _ => Err(no_key(root, index)),
        }
    }

    /// Whether `t` names a list or an entry of one.
    fn removes_list_content(&self, t: &[String]) -> bool {
        let last = t.last().expect("paths are never empty");
        let index = !last.is_empty() && last.chars().all(|c| c.is_ascii_digit());
        index || matches!(resolve(&self.doc, t), Some(Value::Array(_)))
    }

    /// The plain JSON Patch operation at `t`.
    fn pointer_op(&mut self, op: &Op, t: &[String]) -> Result<(), PatchError> {
        let (last, parents) = t.split_last().expect("paths are never empty");
        let value = || op.value.clone().unwrap_or(Value::Null);
        if let Some(member) = self.absent_list(parents, last) {
            return match op.op {
                OpKind::Remove => Err(cannot_remove(last)),
                OpKind::Add if last == "0" => {
                    let holder = walk_mut(&mut self.doc, &parents[..parents.len() - 1])?;
                    if let Value::Object(map) = holder {
                        map.insert(member, Value::Array(vec![value()]));
                    }
                    Ok(())
                }
                OpKind::Add => Err(insert_outside()),
                OpKind::Replace => Err(replace_outside()),
                OpKind::Test => Err(out_of_bounds(last)),
            };
        }
        let parent = walk_mut(&mut self.doc, parents)?;
        match (op.op, parent) {
            (OpKind::Add, Value::Object(map)) => {
                map.insert(last.clone(), value());
            }
            (OpKind::Add, Value::Array(items)) => {
                let i = parse_index(last)?;
                if i > items.len() {
                    return Err(insert_outside());
                }
                items.insert(i, value());
            }
            (OpKind::Replace, Value::Object(map)) => match map.get_mut(last) {
                Some(slot) => *slot = value(),
                None => {
                    return Err(invalid(format!(
                        "Invalid patch - can't replace non-existent object '{last}'"
                    )));
                }
            },
            (OpKind::Replace, Value::Array(items)) => {
                let i = parse_index(last)?;
                match items.get_mut(i) {
                    Some(slot) => *slot = value(),
                    None => return Err(replace_outside()),
                }
            }
            (OpKind::Remove, Value::Object(map)) => {
                if map.remove(last).is_none() {
                    return Err(cannot_remove(last));
                }
            }
            (OpKind::Remove, Value::Array(items)) => {
                let i = parse_index(last)?;
                if i >= items.len() {
                    return Err(cannot_remove(last));
                }
                items.remove(i);
            }
            (OpKind::Test, parent @ (Value::Object(_) | Value::Array(_))) => {
                let expected = value();
                let absent = matches!(parent, Value::Object(map) if !map.contains_key(last));
                if absent && is_empty_list(&expected) {
                    // PDS holds an absent list as an empty one.
                    return Ok(());
                }
                let found = step(parent, last)?;
                if !json_eq(found, &expected) {
                    return Err(invalid(format!(
                        "Invalid patch - {} ({}) is not equal to tested value {} ({})",
                        python::str(found),
                        py_type(found),
                        python::str(&expected),
                        py_type(&expected)
                    )));
                }
            }
            (_, here) => return Err(not_container(here, last)),
        }
        Ok(())
    }

    /// When `parents` ends in a member that an existing object lacks and
    /// `last` is a list index, that member: PDS holds a list the record
    /// does not show as an empty one, so `/name/0/suffix/0` of a name
    /// without suffixes is an index into an empty list, not a missing
    /// member.
    fn absent_list(&self, parents: &[String], last: &str) -> Option<String> {
        let (member, holder) = parents.split_last()?;
        let index = parse_index(last).is_ok();
        match resolve(&self.doc, holder) {
            Some(Value::Object(map)) if index && !map.contains_key(member) => Some(member.clone()),
            _ => None,
        }
    }

    fn list(&self, root: &str) -> &[Value] {
        self.doc
            .get(root)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The id (extensions: url) of item `index` of `root`.
    fn key_at(&self, root: &str, index: usize) -> Option<String> {
        self.list(root)
            .get(index)?
            .get(key_of(root))?
            .as_str()
            .map(str::to_owned)
    }

    fn is_identified(&self, root: &str, key: &str) -> bool {
        self.identified.contains(&(root.to_owned(), key.to_owned()))
    }

    /// The fields `op` changes, named as [`touched`] names them.
    fn fields_of(&self, op: &Op, t: &[String]) -> Vec<String> {
        let root = &t[0];
        if root != "extension" {
            return vec![root.clone()];
        }
        let url_of = |v: &Value| v.get("url").and_then(Value::as_str).map(str::to_owned);
        let mut urls: Vec<String> = match t.get(1).map(String::as_str) {
            None => self.list(root).iter().filter_map(url_of).collect(),
            Some("-") => op.value.as_ref().and_then(url_of).into_iter().collect(),
            Some(index) => index
                .parse::<usize>()
                .ok()
                .and_then(|i| self.list(root).get(i))
                .and_then(url_of)
                .into_iter()
                .collect(),
        };
        if t.len() == 2 && op.op == OpKind::Replace {
            urls.extend(op.value.as_ref().and_then(url_of));
        }
        if urls.is_empty() {
            vec![root.clone()]
        } else {
            urls.into_iter().map(|u| format!("extension:{u}")).collect()
        }
    }

    fn touch(&mut self, fields: Vec<String>) {
        for field in fields {
            if !self.touched.contains(&field) {
                self.touched.push(field);
            }
        }
    }
}

/// Whether `t` is inside the `extension` list of a top-level extension
/// (`/extension/4/extension/1`, `/extension/4/extension/1/valueBoolean`).
fn in_sub_extension(t: &[String]) -> bool {
    t.len() >= 4 && t[0] == "extension" && t[2] == "extension"
}

/// A removal must come straight after a `test` of the removed element, of
/// the list item it belongs to, or of that item's `id`/`url` (inside an
/// extension, also of the sub-extension or its `url`).
fn require_test(op: &Op, t: &[String], previous: Option<&Op>) -> Result<(), PatchError> {
    let accepted = |tested: &[String]| {
        let bases: &[&[String]] = match t.len() {
            0..=2 => &[t],
            _ if in_sub_extension(t) => &[t, &t[..4], &t[..2]],
            _ => &[t, &t[..2]],
        };
        bases.iter().any(|base| {
            tested == *base
                || (tested.len() == base.len() + 1
                    && tested.starts_with(base)
                    && matches!(tested[base.len()].as_str(), "id" | "url"))
        })
    };
    match previous {
        Some(p)
            if p.op == OpKind::Test && pointer_tokens(&p.path).is_some_and(|pt| accepted(&pt)) =>
        {
            Ok(())
        }
        _ => Err(invalid(format!(
            "removal '{}' is not immediately preceded by equivalent test - instead it is {}",
            op.path,
            match previous {
                None => "the first item".to_owned(),
                Some(p) => format!("a '{}' of '{}'", p.op.name(), p.path),
            }
        ))),
    }
}

/// A list index as python-jsonpointer reads it: digits without a leading
/// zero.
fn parse_index(token: &str) -> Result<usize, PatchError> {
    let digits = !token.is_empty() && token.chars().all(|c| c.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return Err(invalid(format!(
            "Invalid patch - '{token}' is not a valid sequence index"
        )));
    }
    token.parse().map_err(|_| out_of_bounds(token))
}

/// One step down from a container.
fn step<'v>(here: &'v Value, token: &str) -> Result<&'v Value, PatchError> {
    match here {
        Value::Object(map) => map.get(token).ok_or_else(|| not_found(token)),
        Value::Array(items) => items
            .get(parse_index(token)?)
            .ok_or_else(|| out_of_bounds(token)),
        _ => Err(not_container(here, token)),
    }
}

fn walk_mut<'v>(doc: &'v mut Value, tokens: &[String]) -> Result<&'v mut Value, PatchError> {
    let mut here = doc;
    for token in tokens {
        here = match here {
            Value::Object(map) => map.get_mut(token).ok_or_else(|| not_found(token))?,
            Value::Array(items) => {
                let i = parse_index(token)?;
                items.get_mut(i).ok_or_else(|| out_of_bounds(token))?
            }
            other => return Err(not_container(other, token)),
        };
    }
    Ok(here)
}

fn resolve<'v>(doc: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens
        .iter()
        .try_fold(doc, |here, token| step(here, token).ok())
}

/// Equality as Python sees it for JSON values (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => objects_eq(x, y),
        _ => a == b,
    }
}

/// Objects are equal whatever the order of their members, and a member
/// that is an empty list equals one that is absent (PDS holds lists the
/// record does not show as empty ones, and a client may send `[]`).
fn objects_eq(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    let covered = |x: &Map<String, Value>, y: &Map<String, Value>| {
        x.iter().all(|(k, v)| match y.get(k) {
            Some(w) => json_eq(v, w),
            None => is_empty_list(v),
        })
    };
    covered(x, y) && covered(y, x)
}

fn is_empty_list(v: &Value) -> bool {
    matches!(v, Value::Array(items) if items.is_empty())
}

/// The Python type python-jsonpatch names in a failed test.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

fn out_of_bounds(token: &str) -> PatchError {
    invalid(format!("Invalid patch - index '{token}' is out of bounds"))
}

fn not_found(token: &str) -> PatchError {
    invalid(format!("Invalid patch - member '{token}' not found"))
}

fn cannot_remove(token: &str) -> PatchError {
    invalid(format!(
        "Invalid patch - can't remove non-existent object '{token}'"
    ))
}

/// Stepping by `token` into `here`, which is not an object or a list, as
/// python-jsonpointer words it: a string is a sequence to Python (so a
/// name is not a valid index into it); other scalars cannot be indexed.
fn not_container(here: &Value, token: &str) -> PatchError {
    match here {
        Value::String(_) if parse_index(token).is_err() => invalid(format!(
            "Invalid patch - '{token}' is not a valid sequence index"
        )),
        Value::String(_) => invalid(format!(
            "Invalid patch - can't reach '{token}' inside a text value"
        )),
        other => invalid(format!(
            "Invalid patch - Document '{}' does not support indexing, must be mapping/sequence or support __getitem__",
            py_type(other)
        )),
    }
}

/// python-jsonpatch: an `add` at an index past the end of a list.
fn insert_outside() -> PatchError {
    invalid("Invalid patch - can't insert outside of list")
}

/// python-jsonpatch: a `replace` at an index past the end of a list.
fn replace_outside() -> PatchError {
    invalid("Invalid patch - can't replace outside of list")
}

fn not_an_object(root: &str) -> PatchError {
    invalid(format!(
        "Invalid patch - an item of '{root}' must be an object"
    ))
}

fn append_only(root: &str) -> PatchError {
    invalid(format!(
        "Invalid patch - items can only be added to '{root}' one at a time with the path '/{root}/-'"
    ))
}

fn no_key(root: &str, index: usize) -> PatchError {
    invalid(format!(
        "no id or url found for path with root /{root}/{index}"
    ))
}

fn wrong_key(root: &str, sent: &Value) -> PatchError {
    let sent = python::str(sent);
    if root == "extension" {
        invalid(format!("no 'extension' resources with url '{sent}'"))
    } else {
        invalid(format!("no '{root}' resources with object id '{sent}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patch::parse_ops;
    use serde_json::json;

    const PHARMACY: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
    const BIRTH_PLACE: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";
    const COMMUNICATION: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication";

    fn record() -> Value {
        json!({
            "resourceType": "Patient",
            "id": "9000000009",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
            "meta": {"versionId": "2"},
            "name": [
                {"id": "123", "use": "usual", "given": ["Jane"], "family": "Smith",
                 "prefix": ["Mrs"], "suffix": ["MBE", "PhD"]},
                {"id": "124", "use": "old", "given": ["Janey"], "family": "Jones", "suffix": []}
            ],
            "gender": "female",
            "birthDate": "2010-10-22",
            "multipleBirthInteger": 1,
            "address": [
                {"id": "456", "use": "home", "line": ["1 Trevelyan Square", "Boar Lane"],
                 "postalCode": "LS1 6AE"},
                {"id": "457", "use": "work", "postalCode": "LS2 7UE"}
            ],
            "telecom": [{"id": "789", "system": "phone", "value": "01632960587", "use": "home"}],
            "extension": [
                {"url": PHARMACY, "valueReference": {"identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y12345"}}},
                {"url": BIRTH_PLACE, "valueAddress": {"city": "Manchester"}}
            ]
        })
    }

    fn run(doc: &Value, body: Value) -> Result<Value, PatchError> {
        let ops = parse_ops(&body).expect("well-formed ops");
        let mut n = 0;
        apply(doc, &ops, &mut || {
            n += 1;
            format!("NEW{n}")
        })
    }

    fn ok(body: Value) -> Value {
        run(&record(), body).expect("patch applies")
    }

    fn invalid_text(doc: &Value, body: Value) -> String {
        match run(doc, body) {
            Err(PatchError::Invalid(text)) => text,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn err(body: Value) -> String {
        invalid_text(&record(), body)
    }

    fn touched_by(body: Value) -> Vec<String> {
        touched(&record(), &parse_ops(&body).unwrap())
    }

    // Rule 1: append only with `/-` at the end of a top-level list.

    #[test]
    fn appending_assigns_a_server_id_replacing_any_sent() {
        let out = ok(json!({"patches": [
            {"op": "add", "path": "/name/-", "value": {"id": "999", "use": "old", "family": "Bloggs"}},
            {"op": "add", "path": "/telecom/-", "value": {"system": "email", "value": "a@b.com"}},
            {"op": "add", "path": "/name/-", "value": {"use": "temp", "family": "Doe"}},
        ]}));
        assert_eq!(out["name"].as_array().unwrap().len(), 4);
        assert_eq!(
            out["name"][2],
            json!({"id": "NEW1", "use": "old", "family": "Bloggs"})
        );
        assert_eq!(out["telecom"][1]["id"], "NEW2");
        assert_eq!(out["name"][3]["id"], "NEW3");
        assert_eq!(out["name"][0], record()["name"][0]);
    }

    #[test]
    fn appending_to_a_missing_list_creates_it() {
        let mut doc = record();
        for field in ["address", "generalPractitioner", "contact"] {
            doc.as_object_mut().unwrap().remove(field);
        }
        let out = run(
            &doc,
            json!([
                {"op": "add", "path": "/address/-", "value": {"use": "home", "postalCode": "LS1 4BU"}},
                {"op": "add", "path": "/generalPractitioner/-", "value": {"type": "Organization",
                    "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y12345"}}},
            ]),
        )
        .unwrap();
        assert_eq!(
            out["address"],
            json!([{"id": "NEW1", "use": "home", "postalCode": "LS1 4BU"}])
        );
        assert_eq!(out["generalPractitioner"][0]["id"], "NEW2");
    }

    #[test]
    fn appended_extensions_get_no_id() {
        let value = json!({"url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier",
            "valueReference": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y34567"}}});
        let out = ok(json!({"patches": [{"op": "add", "path": "/extension/-", "value": value}]}));
        assert_eq!(out["extension"][2], value);
    }

    #[test]
    fn appending_to_a_sub_list_is_not_allowed() {
        let text = err(json!({"patches": [
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "add", "path": "/name/0/given/-", "value": "Anne"},
        ]}));
        assert!(
            text.starts_with("Invalid patch - '/name/0/given/-' may only be used"),
            "{text}"
        );
        let text = err(json!([{"op": "add", "path": "/gender/-", "value": "male"}]));
        assert!(text.contains("'/gender/-' may only be used"), "{text}");
        assert_eq!(
            err(json!([{"op": "replace", "path": "/name/-", "value": {"id": "123"}}])),
            "Invalid patch - index '-' is out of bounds"
        );
    }

    #[test]
    fn adding_at_an_index_or_setting_a_whole_list_is_not_allowed() {
        let expected = "Invalid patch - items can only be added to 'name' one at a time with the path '/name/-'";
        for body in [
            json!([{"op": "add", "path": "/name/0", "value": {"use": "old"}}]),
            json!([{"op": "add", "path": "/name/2", "value": {"use": "old"}}]),
            json!([{"op": "add", "path": "/name", "value": [{"use": "usual"}]}]),
            json!([{"op": "replace", "path": "/name", "value": []}]),
        ] {
            assert_eq!(err(body), expected);
        }
    }

    #[test]
    fn list_items_must_be_objects() {
        assert_eq!(
            err(json!([{"op": "add", "path": "/name/-", "value": "Jane Smith"}])),
            "Invalid patch - an item of 'name' must be an object"
        );
    }

    #[test]
    fn an_item_appended_in_the_request_can_then_be_edited() {
        let out = ok(json!([
            {"op": "add", "path": "/name/-", "value": {"use": "old", "family": "Bloggs"}},
            {"op": "replace", "path": "/name/2/family", "value": "Blogg"},
        ]));
        assert_eq!(out["name"][2]["family"], "Blogg");
    }

    // Rule 2: changing an item or a sub-element names the item's id or url.

    #[test]
    fn changing_a_sub_element_needs_the_item_id() {
        assert_eq!(
            err(
                json!({"patches": [{"op": "replace", "path": "/address/0/line/1", "value": "Boar Lane West"}]})
            ),
            "no id or url found for path with root /address/0"
        );
        assert_eq!(
            err(json!([{"op": "add", "path": "/name/0/given/0", "value": "Anne"}])),
            "no id or url found for path with root /name/0"
        );
        assert_eq!(
            err(json!([{"op": "remove", "path": "/address/0/postalCode"}])),
            "no id or url found for path with root /address/0"
        );
    }

    #[test]
    fn naming_the_id_first_allows_sub_element_changes() {
        let out = ok(json!({"patches": [
            {"op": "replace", "path": "/address/0/id", "value": "456"},
            {"op": "replace", "path": "/address/0/line/1", "value": "Boar Lane West"},
            {"op": "add", "path": "/address/0/line/2", "value": "Leeds"},
            {"op": "remove", "path": "/address/0/postalCode"},
        ]}));
        assert_eq!(
            out["address"][0],
            json!({"id": "456", "use": "home", "line": ["1 Trevelyan Square", "Boar Lane West", "Leeds"]})
        );
        for op in ["add", "test"] {
            let out = ok(json!([
                {"op": op, "path": "/name/0/id", "value": "123"},
                {"op": "add", "path": "/name/0/given/0", "value": "Anne"},
            ]));
            assert_eq!(out["name"][0]["given"], json!(["Anne", "Jane"]));
        }
    }

    #[test]
    fn the_id_of_another_item_does_not_count() {
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/1/id", "value": "457"},
                {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"},
            ])),
            "no id or url found for path with root /address/0"
        );
    }

    #[test]
    fn a_wrong_id_is_reported() {
        assert_eq!(
            err(json!({"patches": [
                {"op": "replace", "path": "/address/0/id", "value": "123456"},
                {"op": "replace", "path": "/address/0/line/0", "value": "2 Whitehall Quay"},
            ]})),
            "no 'address' resources with object id '123456'"
        );
        assert_eq!(
            err(
                json!([{"op": "replace", "path": "/address/0", "value": {"id": "999", "use": "home"}}])
            ),
            "no 'address' resources with object id '999'"
        );
        assert_eq!(
            err(json!([{"op": "replace", "path": "/extension/1", "value": {"url": PHARMACY}}])),
            format!("no 'extension' resources with url '{PHARMACY}'")
        );
    }

    #[test]
    fn a_whole_item_replacement_carries_its_id() {
        let value = json!({"id": "456", "use": "home", "line": ["2 Whitehall Quay"], "postalCode": "LS1 4BU"});
        let out = ok(json!([{"op": "replace", "path": "/address/0", "value": value}]));
        assert_eq!(out["address"][0], value);
        assert_eq!(
            err(json!([{"op": "replace", "path": "/address/0", "value": {"use": "home"}}])),
            "no id or url found for path with root /address/0"
        );
        // Named earlier instead: the item keeps its id.
        let out = ok(json!([
            {"op": "test", "path": "/address/0/id", "value": "456"},
            {"op": "replace", "path": "/address/0", "value": {"use": "home", "postalCode": "LS1 4BU"}},
        ]));
        assert_eq!(
            out["address"][0],
            json!({"id": "456", "use": "home", "postalCode": "LS1 4BU"})
        );
    }

    #[test]
    fn extensions_are_named_by_url() {
        let change = json!({"op": "replace", "path": "/extension/0/valueReference/identifier/value", "value": "FA123"});
        assert_eq!(
            err(json!([change])),
            "no id or url found for path with root /extension/0"
        );
        let out =
            ok(json!([{"op": "test", "path": "/extension/0/url", "value": PHARMACY}, change]));
        assert_eq!(
            out["extension"][0]["valueReference"]["identifier"]["value"],
            "FA123"
        );
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/extension/0/url", "value": BIRTH_PLACE},
                {"op": "replace", "path": "/extension/0/valueAddress", "value": {}},
            ])),
            format!("no 'extension' resources with url '{BIRTH_PLACE}'")
        );
    }

    #[test]
    fn a_test_of_a_sub_element_needs_no_id_and_ids_cannot_be_removed() {
        ok(json!([{"op": "test", "path": "/address/0/postalCode", "value": "LS1 6AE"}]));
        assert_eq!(
            err(json!([{"op": "remove", "path": "/address/0/id"}])),
            "Invalid patch - the id at '/address/0/id' cannot be removed"
        );
    }

    // Rule 3: a removal straight after an equivalent test.

    #[test]
    fn a_removal_without_a_test_is_refused() {
        assert_eq!(
            err(json!({"patches": [{"op": "remove", "path": "/name/1"}]})),
            "removal '/name/1' is not immediately preceded by equivalent test - instead it is the first item"
        );
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/gender", "value": "male"},
                {"op": "remove", "path": "/name/1"},
            ])),
            "removal '/name/1' is not immediately preceded by equivalent test - instead it is a 'replace' of '/gender'"
        );
        // A test of another item, or a test that is not the op just before.
        assert_eq!(
            err(json!([
                {"op": "test", "path": "/name/0/id", "value": "123"},
                {"op": "remove", "path": "/name/1"},
            ])),
            "removal '/name/1' is not immediately preceded by equivalent test - instead it is a 'test' of '/name/0/id'"
        );
        let text = err(json!([
            {"op": "test", "path": "/name/1/id", "value": "124"},
            {"op": "replace", "path": "/gender", "value": "male"},
            {"op": "remove", "path": "/name/1"},
        ]));
        assert!(
            text.starts_with("removal '/name/1' is not immediately preceded"),
            "{text}"
        );
    }

    #[test]
    fn a_removal_after_a_test_of_the_id_url_or_item_is_applied() {
        let out = ok(json!([
            {"op": "test", "path": "/name/1/id", "value": "124"},
            {"op": "remove", "path": "/name/1"},
        ]));
        assert_eq!(out["name"], json!([record()["name"][0]]));
        let out = ok(json!([
            {"op": "test", "path": "/name/1", "value": record()["name"][1]},
            {"op": "remove", "path": "/name/1"},
        ]));
        assert_eq!(out["name"].as_array().unwrap().len(), 1);
        let out = ok(json!([
            {"op": "test", "path": "/extension/1/url", "value": BIRTH_PLACE},
            {"op": "remove", "path": "/extension/1"},
        ]));
        assert_eq!(out["extension"], json!([record()["extension"][0]]));
        let out = ok(json!([
            {"op": "test", "path": "/telecom", "value": record()["telecom"]},
            {"op": "remove", "path": "/telecom"},
        ]));
        assert!(out.get("telecom").is_none());
        assert!(
            err(json!([{"op": "remove", "path": "/telecom"}]))
                .starts_with("removal '/telecom' is not immediately preceded")
        );
    }

    #[test]
    fn removing_from_a_sub_list_follows_a_test_of_the_item_id() {
        let out = ok(json!([
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "remove", "path": "/name/0/suffix/0"},
        ]));
        assert_eq!(out["name"][0]["suffix"], json!(["PhD"]));
        let out = ok(json!([
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "remove", "path": "/name/0/suffix"},
        ]));
        assert!(out["name"][0].get("suffix").is_none());
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/name/0/id", "value": "123"},
                {"op": "remove", "path": "/name/0/suffix/0"},
            ])),
            "removal '/name/0/suffix/0' is not immediately preceded by equivalent test - instead it is a 'replace' of '/name/0/id'"
        );
        assert!(
            err(json!([
                {"op": "replace", "path": "/name/0/id", "value": "123"},
                {"op": "remove", "path": "/name/0/suffix"},
            ]))
            .starts_with("removal '/name/0/suffix' is not immediately preceded")
        );
    }

    #[test]
    fn other_removals_need_no_test() {
        let out = ok(json!([
            {"op": "replace", "path": "/address/0/id", "value": "456"},
            {"op": "remove", "path": "/address/0/postalCode"},
            {"op": "remove", "path": "/multipleBirthInteger"},
        ]));
        assert!(out["address"][0].get("postalCode").is_none());
        assert!(out.get("multipleBirthInteger").is_none());
    }

    // Rule 4: test compares for equality.

    #[test]
    fn a_failed_test_reports_both_values() {
        assert_eq!(
            err(json!([{"op": "test", "path": "/gender", "value": "male"}])),
            "Invalid patch - female (<class 'str'>) is not equal to tested value male (<class 'str'>)"
        );
        assert_eq!(
            err(json!([{"op": "test", "path": "/name/0/id", "value": "999"}])),
            "Invalid patch - 123 (<class 'str'>) is not equal to tested value 999 (<class 'str'>)"
        );
        let text = err(json!([
            {"op": "test", "path": "/name/1", "value": {"id": "124", "use": "old"}},
            {"op": "remove", "path": "/name/1"},
        ]));
        // Dicts as Python prints them (PDS shows e.g. `'valueBoolean': True`).
        assert_eq!(
            text,
            "Invalid patch - {'family': 'Jones', 'given': ['Janey'], 'id': '124', 'suffix': [], 'use': 'old'} (<class 'dict'>) \
             is not equal to tested value {'id': '124', 'use': 'old'} (<class 'dict'>)"
        );
        assert_eq!(
            err(
                json!([{"op": "test", "path": "/extension/1/valueAddress", "value": {"city": "Leeds", "x": true, "n": null}}])
            ),
            "Invalid patch - {'city': 'Manchester'} (<class 'dict'>) is not equal to tested value \
             {'city': 'Leeds', 'n': None, 'x': True} (<class 'dict'>)"
        );
        // Numbers compare as numbers.
        ok(json!([{"op": "test", "path": "/multipleBirthInteger", "value": 1.0}]));
        assert_eq!(
            err(json!([{"op": "test", "path": "/deceasedDateTime", "value": "2010-10-22"}])),
            "Invalid patch - member 'deceasedDateTime' not found"
        );
    }

    #[test]
    fn a_test_ignores_member_order_and_takes_an_absent_list_as_empty() {
        // `address/1` has no `line`, `name/1` an empty `suffix`.
        ok(json!([
            {"op": "test", "path": "/address/1", "value": {
                "postalCode": "LS2 7UE", "line": [], "use": "work", "id": "457"}},
            {"op": "remove", "path": "/address/1"},
        ]));
        ok(json!([{"op": "test", "path": "/name/1", "value": {
            "use": "old", "id": "124", "given": ["Janey"], "family": "Jones"}}]));
        ok(json!([{"op": "test", "path": "/address/1/line", "value": []}]));
        ok(json!([{"op": "test", "path": "/name/1/suffix", "value": []}]));
        assert_eq!(
            err(json!([{"op": "test", "path": "/address/1/line", "value": ["1 Park Row"]}])),
            "Invalid patch - member 'line' not found"
        );
        assert_eq!(
            err(json!([{"op": "test", "path": "/address/1/line/0", "value": "1 Park Row"}])),
            "Invalid patch - index '0' is out of bounds"
        );
        // Not empty is not absent.
        assert!(
            err(json!([{"op": "test", "path": "/name/0", "value": {
                "id": "123", "use": "usual", "given": ["Jane"], "family": "Smith", "prefix": ["Mrs"]}}]))
            .ends_with("(<class 'dict'>)")
        );
    }

    #[test]
    fn an_absent_sub_list_is_an_empty_one() {
        assert_eq!(
            err(json!([
                {"op": "test", "path": "/address/1/id", "value": "457"},
                {"op": "remove", "path": "/address/1/line/0"},
            ])),
            "Invalid patch - can't remove non-existent object '0'"
        );
        let out = ok(json!([
            {"op": "replace", "path": "/address/1/id", "value": "457"},
            {"op": "add", "path": "/address/1/line/0", "value": "1 Park Row"},
        ]));
        assert_eq!(out["address"][1]["line"], json!(["1 Park Row"]));
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/1/id", "value": "457"},
                {"op": "add", "path": "/address/1/line/1", "value": "1 Park Row"},
            ])),
            "Invalid patch - can't insert outside of list"
        );
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/1/id", "value": "457"},
                {"op": "replace", "path": "/address/1/line/0", "value": "1 Park Row"},
            ])),
            "Invalid patch - can't replace outside of list"
        );
    }

    fn with_communication() -> Value {
        let mut doc = record();
        doc["extension"].as_array_mut().unwrap().push(json!({
            "url": COMMUNICATION,
            "extension": [
                {"url": "language", "valueCodeableConcept": {"coding": [{
                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                    "version": "1.0.0", "code": "fr", "display": "French"}]}},
                {"url": "interpreterRequired", "valueBoolean": true}]}));
        doc
    }

    #[test]
    fn a_sub_extension_is_changed_by_index_without_naming_the_url() {
        let doc = with_communication();
        let out = run(
            &doc,
            json!([{"op": "replace", "path": "/extension/2/extension/1/valueBoolean", "value": false}]),
        )
        .unwrap();
        assert_eq!(out["extension"][2]["extension"][1]["valueBoolean"], false);
        assert_eq!(
            out["extension"][2]["extension"][0],
            doc["extension"][2]["extension"][0]
        );
        let flag = json!({"url": "interpreterRequired", "valueBoolean": false});
        let out = run(
            &doc,
            json!([{"op": "replace", "path": "/extension/2/extension/1", "value": flag}]),
        )
        .unwrap();
        assert_eq!(out["extension"][2]["extension"][1], flag);
        assert_eq!(
            touched(
                &doc,
                &parse_ops(
                    &json!([{"op": "replace", "path": "/extension/2/extension/1", "value": flag}])
                )
                .unwrap()
            ),
            [format!("extension:{COMMUNICATION}")]
        );
        // Other parts of an extension still need its url first.
        assert_eq!(
            invalid_text(
                &doc,
                json!([{"op": "replace", "path": "/extension/1/valueAddress/city", "value": "Leeds"}])
            ),
            "no id or url found for path with root /extension/1"
        );
        // Out of range, as python-jsonpatch says it.
        assert_eq!(
            invalid_text(
                &doc,
                json!([{"op": "replace", "path": "/extension/2/extension/5/valueBoolean", "value": false}])
            ),
            "Invalid patch - index '5' is out of bounds"
        );
    }

    #[test]
    fn removing_a_sub_extension_follows_a_test_of_it_or_its_extension() {
        let doc = with_communication();
        for tested in [
            json!({"op": "test", "path": "/extension/2/extension/1/url", "value": "interpreterRequired"}),
            json!({"op": "test", "path": "/extension/2/extension/1", "value": {"valueBoolean": true, "url": "interpreterRequired"}}),
            json!({"op": "test", "path": "/extension/2/url", "value": COMMUNICATION}),
        ] {
            let out = run(
                &doc,
                json!([tested, {"op": "remove", "path": "/extension/2/extension/1"}]),
            )
            .unwrap();
            assert_eq!(
                out["extension"][2]["extension"].as_array().unwrap().len(),
                1
            );
        }
        assert_eq!(
            invalid_text(
                &doc,
                json!([{"op": "remove", "path": "/extension/2/extension/1"}])
            ),
            "removal '/extension/2/extension/1' is not immediately preceded by equivalent test - instead it is the first item"
        );
    }

    // Rule 5: out-of-range and missing targets.

    #[test]
    fn out_of_range_and_missing_targets() {
        assert_eq!(
            err(json!([
                {"op": "test", "path": "/name/2/id", "value": "125"},
                {"op": "remove", "path": "/name/2"},
            ])),
            "Invalid patch - index '2' is out of bounds"
        );
        let mut no_address = record();
        no_address.as_object_mut().unwrap().remove("address");
        assert_eq!(
            invalid_text(
                &no_address,
                json!([
                    {"op": "replace", "path": "/address/0/id", "value": "456"},
                    {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"},
                ])
            ),
            "Invalid patch - index '0' is out of bounds"
        );
        assert_eq!(
            err(json!([
                {"op": "test", "path": "/name/1/id", "value": "124"},
                {"op": "remove", "path": "/name/1/suffix/0"},
            ])),
            "Invalid patch - can't remove non-existent object '0'"
        );
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/1/id", "value": "457"},
                {"op": "replace", "path": "/address/1/line", "value": ["1 Park Row"]},
            ])),
            "Invalid patch - can't replace non-existent object 'line'"
        );
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/0/id", "value": "456"},
                {"op": "add", "path": "/address/0/line/5", "value": "Leeds"},
            ])),
            "Invalid patch - can't insert outside of list"
        );
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/0/id", "value": "456"},
                {"op": "replace", "path": "/address/0/line/2", "value": "Leeds"},
            ])),
            "Invalid patch - can't replace outside of list"
        );
        assert_eq!(
            err(json!([{"op": "replace", "path": "/deceasedDateTime", "value": "2020-01-01"}])),
            "Invalid patch - can't replace non-existent object 'deceasedDateTime'"
        );
        assert_eq!(
            err(json!([{"op": "remove", "path": "/deceasedDateTime"}])),
            "Invalid patch - can't remove non-existent object 'deceasedDateTime'"
        );
        assert_eq!(
            err(json!([{"op": "replace", "path": "/name/x/family", "value": "Doe"}])),
            "Invalid patch - 'x' is not a valid sequence index"
        );
        assert_eq!(
            err(json!([{"op": "replace", "path": "/name/01/family", "value": "Doe"}])),
            "Invalid patch - '01' is not a valid sequence index"
        );
        // Inside a scalar, as python-jsonpointer says it.
        assert_eq!(
            err(json!([
                {"op": "replace", "path": "/address/0/id", "value": "456"},
                {"op": "add", "path": "/address/0/postalCode/x", "value": "LS1"},
            ])),
            "Invalid patch - 'x' is not a valid sequence index"
        );
        assert_eq!(
            err(json!([{"op": "test", "path": "/multipleBirthInteger/x", "value": 1}])),
            "Invalid patch - Document '<class 'int'>' does not support indexing, must be mapping/sequence or support __getitem__"
        );
    }

    // Rule 6: malformed ops (parsing is tested in `ops`).

    #[test]
    fn an_op_built_with_a_bad_path_is_an_invalid_value() {
        let ops = [
            Op {
                op: OpKind::Replace,
                path: "/gender".into(),
                value: Some(json!("male")),
            },
            Op {
                op: OpKind::Remove,
                path: "gender".into(),
                value: None,
            },
        ];
        assert_eq!(
            apply(&record(), &ops, &mut || "x".into()),
            Err(PatchError::InvalidValue {
                field: "1/path".into(),
                value: "gender".into()
            })
        );
    }

    // Rule 7: read-only and unknown elements.

    #[test]
    fn read_only_elements_are_forbidden() {
        for (path, field) in [
            ("/id", "id"),
            ("/identifier/0/value", "identifier"),
            ("/meta/versionId", "meta"),
            ("/meta", "meta"),
            ("/resourceType", "resourceType"),
        ] {
            for op in ["replace", "test"] {
                assert_eq!(
                    run(&record(), json!([{"op": op, "path": path, "value": "1"}])),
                    Err(PatchError::Forbidden(format!(
                        "source not permitted to update '{field}'"
                    ))),
                    "{op} {path}"
                );
            }
        }
    }

    #[test]
    fn unknown_elements_are_unsupported_and_forbidden_wins() {
        assert_eq!(
            err(json!({"patches": [{"op": "add", "path": "/pets", "value": "cat"}]})),
            "Update unsupported for resource - 'pets'"
        );
        assert!(matches!(
            run(
                &record(),
                json!([
                    {"op": "add", "path": "/pets", "value": "cat"},
                    {"op": "replace", "path": "/meta/versionId", "value": "3"},
                ])
            ),
            Err(PatchError::Forbidden(_))
        ));
    }

    // Rule 8: atomic.

    #[test]
    fn a_failure_changes_nothing() {
        let doc = record();
        let result = run(
            &doc,
            json!([
                {"op": "replace", "path": "/gender", "value": "male"},
                {"op": "add", "path": "/name/-", "value": {"use": "old", "family": "Bloggs"}},
                {"op": "replace", "path": "/address/0/line/0", "value": "2 Whitehall Quay"},
            ]),
        );
        assert_eq!(
            result,
            Err(PatchError::Invalid(
                "no id or url found for path with root /address/0".into()
            ))
        );
        assert_eq!(doc, record());
    }

    #[test]
    fn ops_apply_in_sequence_so_indices_shift() {
        let out = ok(json!([
            {"op": "test", "path": "/address/0/id", "value": "456"},
            {"op": "remove", "path": "/address/0"},
            {"op": "replace", "path": "/address/0/id", "value": "457"},
            {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"},
        ]));
        assert_eq!(
            out["address"],
            json!([{"id": "457", "use": "work", "postalCode": "LS1 4BU"}])
        );
    }

    // touched()

    #[test]
    fn touched_names_fields_and_extensions_by_url() {
        let fields = touched_by(json!([
            {"op": "replace", "path": "/gender", "value": "male"},
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "replace", "path": "/name/0/family", "value": "Smyth"},
            {"op": "add", "path": "/extension/-", "value": {"url": "https://example.org/x"}},
            {"op": "test", "path": "/extension/0/url", "value": PHARMACY},
            {"op": "remove", "path": "/extension/0"},
            {"op": "replace", "path": "/extension/0/url", "value": BIRTH_PLACE},
            {"op": "replace", "path": "/extension/0/valueAddress/city", "value": "Leeds"},
            {"op": "add", "path": "/address/-", "value": {"use": "temp"}},
            {"op": "add", "path": "/name/-", "value": {"use": "old"}},
        ]));
        assert_eq!(
            fields,
            [
                "gender".to_owned(),
                "name".into(),
                "extension:https://example.org/x".into(),
                format!("extension:{PHARMACY}"),
                format!("extension:{BIRTH_PLACE}"),
                "address".into(),
            ]
        );
        assert!(
            touched_by(json!([{"op": "test", "path": "/gender", "value": "female"}])).is_empty()
        );
        assert_eq!(
            touched_by(
                json!([{"op": "add", "path": "/extension/-", "value": {"valueString": "x"}}])
            ),
            ["extension"]
        );
    }

    #[test]
    fn touched_names_every_op_even_when_the_patch_fails() {
        assert_eq!(
            touched_by(json!([
                {"op": "replace", "path": "/meta/versionId", "value": "3"},
                {"op": "replace", "path": "/gender", "value": "male"},
            ])),
            ["meta", "gender"]
        );
        assert_eq!(
            touched_by(json!([
                {"op": "replace", "path": "/name/0/family", "value": "Smyth"},
                {"op": "replace", "path": "/extension/1/valueAddress/city", "value": "Leeds"},
                {"op": "remove", "path": "/birthDate"},
            ])),
            [
                "name".to_owned(),
                format!("extension:{BIRTH_PLACE}"),
                "birthDate".into()
            ]
        );
    }

    #[test]
    fn the_bare_array_form_applies_too() {
        let out = ok(json!([{"op": "replace", "path": "/gender", "value": "male"}]));
        assert_eq!(out["gender"], "male");
        assert_eq!(out["name"], record()["name"]);
    }
}
