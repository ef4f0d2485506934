//! Restoring an old version as a new change on top: the document (or one
//! field) is edited until it equals what it was at some heads, so peers
//! merge the restore like any edit and nothing of the history is lost.
//! Objects keep their identity where the type is unchanged (text is spliced
//! character by character, maps and lists are edited in place).

use automerge::transaction::Transactable;
use automerge::{hydrate, ChangeHash, ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value};

use super::{check_heads, path_to_string, resolve_obj, HistoryError};

/// Makes the object at `path` (`[]`: the whole document) equal to what it
/// was at `heads`, inside the transaction `tx`. A field that did not exist
/// at `heads` is deleted; one that exists only there is put back.
pub fn restore<T: Transactable + ReadDoc>(
    tx: &mut T,
    heads: &[ChangeHash],
    path: &[Prop],
) -> Result<(), HistoryError> {
    check_heads(tx, heads)?;
    let Some((last, parent)) = path.split_last() else {
        let old = tx.hydrate(automerge::ROOT, Some(heads))?;
        return reconcile(tx, &automerge::ROOT, &old);
    };
    let (now_parent, _) = resolve_obj(tx, parent, None)?;
    let old = match resolve_obj(tx, parent, Some(heads)) {
        Ok((old_parent, _)) => match tx.get_at(&old_parent, last.clone(), heads)? {
            Some((Value::Object(_), id)) => Some(tx.hydrate(&id, Some(heads))?),
            Some((Value::Scalar(s), _)) => Some(hydrate::Value::Scalar(s.into_owned())),
            None => None,
        },
        Err(HistoryError::NoSuchPath(_)) => None,
        Err(e) => return Err(e),
    };
    match old {
        Some(old) => set_value(tx, &now_parent, last.clone(), &old, false),
        None => {
            if tx.get(&now_parent, last.clone())?.is_some() {
                tx.delete(&now_parent, last.clone())?;
                Ok(())
            } else {
                Err(HistoryError::NoSuchPath(path_to_string(path)))
            }
        }
    }
}

/// Writes `old` at `prop` of `obj`: in place when the current value is an
/// object of the same type (and not in conflict), else as a new value.
pub(crate) fn set_value<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    prop: Prop,
    old: &hydrate::Value,
    insert: bool,
) -> Result<(), HistoryError> {
    let current = if insert {
        None
    } else {
        let all = tx.get_all(obj, prop.clone())?;
        if all.len() == 1 {
            all.into_iter().next()
        } else {
            None
        }
    };
    match (old, current) {
        (hydrate::Value::Scalar(s), Some((Value::Scalar(now), _))) if *now == *s => Ok(()),
        (hydrate::Value::Scalar(s), _) => {
            put_scalar(tx, obj, prop, s.clone(), insert)?;
            Ok(())
        }
        (_, Some((Value::Object(kind), id))) if kind_of(old) == Some(kind) => {
            reconcile(tx, &id, old)
        }
        _ => {
            tx.batch_create_object(obj, prop, old, insert)?;
            Ok(())
        }
    }
}

fn put_scalar<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    prop: Prop,
    value: ScalarValue,
    insert: bool,
) -> Result<(), automerge::AutomergeError> {
    match (prop, insert) {
        (Prop::Seq(i), true) => tx.insert(obj, i, value),
        (prop, _) => tx.put(obj, prop, value),
    }
}

fn kind_of(value: &hydrate::Value) -> Option<ObjType> {
    match value {
        hydrate::Value::Map(_) => Some(ObjType::Map),
        hydrate::Value::List(_) => Some(ObjType::List),
        hydrate::Value::Text(_) => Some(ObjType::Text),
        hydrate::Value::Scalar(_) => None,
    }
}

/// Edits the object `obj` (of the same type as `old`) until it equals `old`.
fn reconcile<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    old: &hydrate::Value,
) -> Result<(), HistoryError> {
    match old {
        hydrate::Value::Map(map) => {
            let now: Vec<String> = tx.keys(obj).collect();
            for key in now.iter().filter(|k| map.get(k).is_none()) {
                tx.delete(obj, key.as_str())?;
            }
            let mut keys: Vec<&String> = map.iter().map(|(k, _)| k).collect();
            keys.sort();
            for key in keys {
                if let Some(value) = map.get(key) {
                    set_value(tx, obj, Prop::Map(key.clone()), value, false)?;
                }
            }
            Ok(())
        }
        hydrate::Value::List(list) => {
            let want = list.len();
            // Trailing items first, so indexes below stay put.
            while tx.length(obj) > want {
                let last = tx.length(obj) - 1;
                tx.delete(obj, last)?;
            }
            for (i, item) in list.iter().enumerate() {
                let insert = i >= tx.length(obj);
                set_value(tx, obj, Prop::Seq(i), &item.value, insert)?;
            }
            Ok(())
        }
        hydrate::Value::Text(text) => {
            tx.update_text(obj, text.to_string())?;
            Ok(())
        }
        hydrate::Value::Scalar(_) => Ok(()),
    }
}
