//! The document as it was at some heads, and what changed between two heads
//! (from Automerge's own `diff`, not by comparing JSON).

use automerge::{ChangeHash, ObjId, ObjType, PatchAction, Prop, ReadDoc, Value};
use serde::Serialize;

use super::{check_heads, path_to_json, HistoryError};

/// The document (or the object at `path`) as JSON, as it was at `heads`;
/// the same shape as `GET /{doc}` gives for today.
pub fn json_at(
    doc: &impl ReadDoc,
    heads: &[ChangeHash],
    path: &[Prop],
) -> Result<serde_json::Value, HistoryError> {
    check_heads(doc, heads)?;
    let (obj, kind) = super::resolve_obj(doc, path, Some(heads))?;
    Ok(object_json(doc, &obj, kind, heads))
}

fn object_json(
    doc: &impl ReadDoc,
    obj: &ObjId,
    kind: ObjType,
    heads: &[ChangeHash],
) -> serde_json::Value {
    match kind {
        ObjType::Map | ObjType::Table => {
            let mut map = serde_json::Map::new();
            for item in doc.map_range_at(obj, .., heads) {
                let id = item.id();
                map.insert(
                    item.key.to_string(),
                    value_json(doc, item.value.into(), &id, heads),
                );
            }
            serde_json::Value::Object(map)
        }
        ObjType::List => serde_json::Value::Array(
            doc.list_range_at(obj, .., heads)
                .map(|item| {
                    let id = item.id();
                    value_json(doc, item.value.into(), &id, heads)
                })
                .collect(),
        ),
        ObjType::Text => serde_json::Value::String(doc.text_at(obj, heads).unwrap_or_default()),
    }
}

fn value_json(
    doc: &impl ReadDoc,
    value: Value<'_>,
    id: &ObjId,
    heads: &[ChangeHash],
) -> serde_json::Value {
    match value {
        Value::Object(kind) => object_json(doc, id, kind, heads),
        Value::Scalar(s) => serde_json::to_value(s.as_ref()).unwrap_or(serde_json::Value::Null),
    }
}

/// One difference between two versions, from one Automerge patch.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
pub struct DiffEntry {
    /// The object changed (map keys and list indexes from the root).
    #[ts(type = "Array<string | number>")]
    pub path: serde_json::Value,
    /// `put`, `insert`, `splice` (text inserted), `delete`, `increment`,
    /// `conflict` or `mark`.
    #[ts(type = r#""put" | "insert" | "splice" | "delete" | "increment" | "conflict" | "mark""#)]
    pub action: &'static str,
    /// The key or index within the object (`null` for marks).
    #[ts(type = "string | number | null")]
    pub key: serde_json::Value,
    /// The value put or inserted, the text spliced in, the increment.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "unknown", optional)]
    pub value: Option<serde_json::Value>,
    /// How many items or characters were deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub length: Option<usize>,
    /// The key now holds concurrent values.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[ts(as = "Option<bool>", optional)]
    pub conflict: bool,
}

/// What changed from `from` to `to` (either may be the empty heads: the
/// empty document), as Automerge's patches.
pub fn diff(
    doc: &automerge::Automerge,
    from: &[ChangeHash],
    to: &[ChangeHash],
) -> Result<Vec<DiffEntry>, HistoryError> {
    check_heads(doc, from)?;
    check_heads(doc, to)?;
    Ok(doc
        .diff(from, to)
        .into_iter()
        .map(|patch| {
            let props: Vec<Prop> = patch.path.iter().map(|(_, p)| p.clone()).collect();
            let path = path_to_json(&props);
            let scalar = |v: &Value<'_>| match v {
                Value::Object(kind) => serde_json::json!({ "object": kind.to_string() }),
                Value::Scalar(s) => {
                    serde_json::to_value(s.as_ref()).unwrap_or(serde_json::Value::Null)
                }
            };
            let entry = |action, key: serde_json::Value| DiffEntry {
                path: path.clone(),
                action,
                key,
                value: None,
                length: None,
                conflict: false,
            };
            match patch.action {
                PatchAction::PutMap {
                    key,
                    value,
                    conflict,
                } => DiffEntry {
                    value: Some(scalar(&value.0)),
                    conflict,
                    ..entry("put", key.into())
                },
                PatchAction::PutSeq {
                    index,
                    value,
                    conflict,
                } => DiffEntry {
                    value: Some(scalar(&value.0)),
                    conflict,
                    ..entry("put", index.into())
                },
                PatchAction::Insert { index, values } => DiffEntry {
                    value: Some(serde_json::Value::Array(
                        values.iter().map(|(v, _, _)| scalar(v)).collect(),
                    )),
                    ..entry("insert", index.into())
                },
                PatchAction::SpliceText { index, value, .. } => DiffEntry {
                    value: Some(value.make_string().into()),
                    ..entry("splice", index.into())
                },
                PatchAction::Increment { prop, value } => DiffEntry {
                    value: Some(value.into()),
                    ..entry("increment", prop_json(&prop))
                },
                PatchAction::Conflict { prop } => DiffEntry {
                    conflict: true,
                    ..entry("conflict", prop_json(&prop))
                },
                PatchAction::DeleteMap { key } => entry("delete", key.into()),
                PatchAction::DeleteSeq { index, length } => DiffEntry {
                    length: Some(length),
                    ..entry("delete", index.into())
                },
                PatchAction::Mark { .. } => entry("mark", serde_json::Value::Null),
            }
        })
        .collect())
}

fn prop_json(prop: &Prop) -> serde_json::Value {
    match prop {
        Prop::Map(k) => k.as_str().into(),
        Prop::Seq(i) => (*i).into(),
    }
}
