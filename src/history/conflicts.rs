//! Keys (and list items) holding concurrent values: Automerge keeps every
//! one and shows a winner; here they are listed with their authors, and
//! choosing one writes a normal change.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, Prop, ReadDoc, Value};
use serde::Serialize;

use super::{author_of, path_to_json, path_to_string, resolve_obj, HistoryError};

/// One of the concurrent values of a conflict.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
pub struct ConflictValue {
    /// The id of the operation that wrote it (`counter@actor`), to choose it.
    pub id: String,
    /// The value (objects as JSON).
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
    /// The actor that wrote it (hex).
    pub actor: String,
    /// Its author, as shown to people.
    pub author: String,
    /// Whether Automerge shows this one today.
    pub winner: bool,
}

/// A key or list item with concurrent values.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
pub struct Conflict {
    /// Where: the object's path plus the key or index.
    #[ts(type = "Array<string | number>")]
    pub path: serde_json::Value,
    /// The same as `/a/b/key`.
    pub at: String,
    /// Every value, the winner first.
    pub values: Vec<ConflictValue>,
}

/// Every open conflict of the document (objects under a winning value only).
pub fn conflicts(doc: &impl ReadDoc) -> Result<Vec<Conflict>, HistoryError> {
    let mut out = Vec::new();
    let mut stack = vec![(automerge::ROOT, ObjType::Map, Vec::<Prop>::new())];
    while let Some((obj, kind, path)) = stack.pop() {
        let mut items: Vec<(Prop, bool, Value<'_>, ObjId)> = Vec::new();
        match kind {
            ObjType::Map | ObjType::Table => {
                for item in doc.map_range(&obj, ..) {
                    let id = item.id();
                    items.push((
                        Prop::Map(item.key.to_string()),
                        item.conflict,
                        item.value.into(),
                        id,
                    ));
                }
            }
            ObjType::List => {
                for item in doc.list_range(&obj, ..) {
                    let id = item.id();
                    items.push((Prop::Seq(item.index), item.conflict, item.value.into(), id));
                }
            }
            ObjType::Text => {}
        }
        for (prop, conflict, value, id) in items {
            let mut here = path.clone();
            here.push(prop.clone());
            if conflict {
                out.push(conflict_at(doc, &obj, prop, &here)?);
            }
            if let Value::Object(child) = value {
                stack.push((id, child, here));
            }
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(out)
}

fn conflict_at(
    doc: &impl ReadDoc,
    obj: &ObjId,
    prop: Prop,
    path: &[Prop],
) -> Result<Conflict, HistoryError> {
    let winner = doc.get(obj, prop.clone())?.map(|(_, id)| id);
    let mut values: Vec<ConflictValue> = doc
        .get_all(obj, prop)?
        .into_iter()
        .map(|(value, id)| {
            let actor = match &id {
                ObjId::Id(_, actor, _) => Some(actor.clone()),
                ObjId::Root => None,
            };
            ConflictValue {
                id: id.to_string(),
                value: match value {
                    Value::Scalar(s) => {
                        serde_json::to_value(s.as_ref()).unwrap_or(serde_json::Value::Null)
                    }
                    Value::Object(_) => doc
                        .hydrate(&id, None)
                        .ok()
                        .map(|h| serde_json::to_value(h_to_json(&h)).unwrap_or_default())
                        .unwrap_or_default(),
                },
                actor: actor
                    .as_ref()
                    .map(|a| a.to_hex_string())
                    .unwrap_or_default(),
                author: actor.as_ref().map(author_of).unwrap_or_default(),
                winner: Some(&id) == winner.as_ref(),
            }
        })
        .collect();
    values.sort_by_key(|v| !v.winner);
    Ok(Conflict {
        path: path_to_json(path),
        at: path_to_string(path),
        values,
    })
}

fn h_to_json(value: &automerge::hydrate::Value) -> serde_json::Value {
    use automerge::hydrate::Value as H;
    match value {
        H::Scalar(s) => serde_json::to_value(s).unwrap_or_default(),
        H::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), h_to_json(&v.value)))
                .collect(),
        ),
        H::List(l) => serde_json::Value::Array(l.iter().map(|v| h_to_json(&v.value)).collect()),
        H::Text(t) => serde_json::Value::String(t.to_string()),
    }
}

/// Resolves the conflict at `path` (the key or index) by writing the value
/// whose operation id is `choice` as a new value: every peer then sees it alone.
pub fn resolve<T: Transactable + ReadDoc>(
    tx: &mut T,
    path: &[Prop],
    choice: &str,
) -> Result<(), HistoryError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(HistoryError::BadChoice(
            "the document root holds no conflict".into(),
        ));
    };
    let (obj, _) = resolve_obj(tx, parent, None)?;
    let all = tx.get_all(&obj, last.clone())?;
    if all.len() < 2 {
        return Err(HistoryError::BadChoice(format!(
            "{} holds no conflict (any more)",
            path_to_string(path)
        )));
    }
    let Some((value, id)) = all.into_iter().find(|(_, id)| id.to_string() == choice) else {
        return Err(HistoryError::BadChoice(format!(
            "{choice} is not one of the values of {}",
            path_to_string(path)
        )));
    };
    match value {
        Value::Scalar(s) => {
            tx.put(&obj, last.clone(), s.into_owned())?;
        }
        Value::Object(_) => {
            let copy = tx.hydrate(&id, None)?;
            tx.batch_create_object(&obj, last.clone(), &copy, false)?;
        }
    }
    Ok(())
}
