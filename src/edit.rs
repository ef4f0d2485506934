//! Small scripted edits on a document by path (`tandem edit`).
//!
//! Paths are dot-separated keys with numeric list indices (`items.0.done`),
//! or JSON pointers (`/items/0/done`). JSON values map onto Automerge: objects
//! to maps, arrays to lists, strings to collaborative text (so later edits
//! merge character by character), numbers to ints or floats.

use automerge::transaction::{Transactable, Transaction};
use automerge::{AutomergeError, ObjId, ObjType, Prop, ReadDoc, ScalarValue, Value, ROOT};

/// One edit.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Puts a JSON value at a path, creating missing parent maps.
    Set {
        /// Where.
        path: Vec<Prop>,
        /// What.
        value: serde_json::Value,
    },
    /// Splices a text object: at `pos` delete `del` characters, insert `text`.
    Splice {
        /// The text object.
        path: Vec<Prop>,
        /// Position, in characters.
        pos: usize,
        /// Characters to delete.
        del: isize,
        /// Text to insert.
        text: String,
    },
    /// Increments a counter by `by`, creating it if missing.
    Incr {
        /// The counter.
        path: Vec<Prop>,
        /// The amount.
        by: i64,
    },
}

/// Why an edit could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The path is empty or malformed.
    #[error("bad path {0:?}")]
    BadPath(String),
    /// The path does not lead where the edit needs.
    #[error("{path}: {reason}")]
    Path {
        /// The path, as written.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Automerge refused.
    #[error(transparent)]
    Automerge(#[from] AutomergeError),
}

/// Parses a path: `a.b.0` or `/a/b/0` (JSON pointer, with `~1` and `~0` escapes).
pub fn parse_path(s: &str) -> Result<Vec<Prop>, EditError> {
    let parts: Vec<String> = if let Some(rest) = s.strip_prefix('/') {
        rest.split('/')
            .map(|p| p.replace("~1", "/").replace("~0", "~"))
            .collect()
    } else {
        s.split('.').map(str::to_owned).collect()
    };
    if s.is_empty() || parts.iter().any(String::is_empty) {
        return Err(EditError::BadPath(s.to_owned()));
    }
    Ok(parts
        .into_iter()
        .map(|p| match p.parse::<usize>() {
            Ok(i) => Prop::Seq(i),
            Err(_) => Prop::Map(p),
        })
        .collect())
}

/// Shows a path the way users write it.
pub fn show_path(path: &[Prop]) -> String {
    path.iter()
        .map(|p| match p {
            Prop::Map(k) => k.clone(),
            Prop::Seq(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Applies `edits` in one transaction.
pub fn apply(tx: &mut Transaction<'_>, edits: &[Edit]) -> Result<(), EditError> {
    for edit in edits {
        match edit {
            Edit::Set { path, value } => set(tx, path, value)?,
            Edit::Splice {
                path,
                pos,
                del,
                text,
            } => {
                let obj = resolve(tx, path, false)?;
                if tx.object_type(&obj).ok() != Some(ObjType::Text) {
                    return Err(path_error(path, "is not a text object"));
                }
                tx.splice_text(&obj, *pos, *del, text)?;
            }
            Edit::Incr { path, by } => {
                let (parent, last) = parent_of(tx, path, true)?;
                match tx.get(&parent, last.clone())? {
                    Some((Value::Scalar(s), _))
                        if matches!(s.as_ref(), ScalarValue::Counter(_)) =>
                    {
                        tx.increment(&parent, last.clone(), *by)?
                    }
                    None => put_scalar(tx, &parent, last, ScalarValue::counter(*by))?,
                    Some(_) => return Err(path_error(path, "is not a counter")),
                }
            }
        }
    }
    Ok(())
}

fn path_error(path: &[Prop], reason: &str) -> EditError {
    EditError::Path {
        path: show_path(path),
        reason: reason.to_owned(),
    }
}

/// Follows `path` to an object; with `create`, missing map entries become maps.
fn resolve(tx: &mut Transaction<'_>, path: &[Prop], create: bool) -> Result<ObjId, EditError> {
    let mut obj = ROOT;
    for (i, prop) in path.iter().enumerate() {
        obj = match tx.get(&obj, prop.clone())? {
            Some((Value::Object(_), id)) => id,
            Some(_) => return Err(path_error(&path[..=i], "is not a map or list")),
            None if create => match prop {
                Prop::Map(key) => tx.put_object(&obj, key.as_str(), ObjType::Map)?,
                Prop::Seq(_) => return Err(path_error(&path[..=i], "no such list item")),
            },
            None => return Err(path_error(&path[..=i], "does not exist")),
        };
    }
    Ok(obj)
}

fn parent_of<'p>(
    tx: &mut Transaction<'_>,
    path: &'p [Prop],
    create: bool,
) -> Result<(ObjId, &'p Prop), EditError> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| EditError::BadPath(String::new()))?;
    Ok((resolve(tx, parents, create)?, last))
}

fn put_scalar(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    prop: &Prop,
    value: ScalarValue,
) -> Result<(), EditError> {
    match prop {
        Prop::Map(k) => tx.put(obj, k.as_str(), value)?,
        Prop::Seq(i) => {
            if *i == tx.length(obj) {
                tx.insert(obj, *i, value)?
            } else {
                tx.put(obj, *i, value)?
            }
        }
    }
    Ok(())
}

fn put_object(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    prop: &Prop,
    kind: ObjType,
) -> Result<ObjId, EditError> {
    Ok(match prop {
        Prop::Map(k) => tx.put_object(obj, k.as_str(), kind)?,
        Prop::Seq(i) if *i == tx.length(obj) => tx.insert_object(obj, *i, kind)?,
        Prop::Seq(i) => tx.put_object(obj, *i, kind)?,
    })
}

fn set(
    tx: &mut Transaction<'_>,
    path: &[Prop],
    value: &serde_json::Value,
) -> Result<(), EditError> {
    let (parent, last) = parent_of(tx, path, true)?;
    // Setting a string where text already is: edit the text in place, so
    // concurrent typing elsewhere in it survives.
    if let serde_json::Value::String(s) = value {
        if let Some((Value::Object(ObjType::Text), text)) = tx.get(&parent, last.clone())? {
            tx.update_text(&text, s)?;
            return Ok(());
        }
    }
    put_json(tx, &parent, last, value)
}

/// Writes a JSON value at `prop` of `obj`.
pub fn put_json(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    prop: &Prop,
    value: &serde_json::Value,
) -> Result<(), EditError> {
    use serde_json::Value as J;
    match value {
        J::Null => put_scalar(tx, obj, prop, ScalarValue::Null),
        J::Bool(b) => put_scalar(tx, obj, prop, ScalarValue::Boolean(*b)),
        J::Number(n) => {
            let scalar = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => ScalarValue::Int(i),
                (None, Some(u)) => ScalarValue::Uint(u),
                _ => ScalarValue::F64(n.as_f64().unwrap_or(0.0)),
            };
            put_scalar(tx, obj, prop, scalar)
        }
        J::String(s) => {
            let text = put_object(tx, obj, prop, ObjType::Text)?;
            tx.splice_text(&text, 0, 0, s)?;
            Ok(())
        }
        J::Array(items) => {
            let list = put_object(tx, obj, prop, ObjType::List)?;
            for (i, item) in items.iter().enumerate() {
                put_json(tx, &list, &Prop::Seq(i), item)?;
            }
            Ok(())
        }
        J::Object(map) => {
            let child = put_object(tx, obj, prop, ObjType::Map)?;
            for (k, v) in map {
                put_json(tx, &child, &Prop::Map(k.clone()), v)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::Automerge;

    fn edit(doc: &mut Automerge, edits: &[Edit]) -> Result<(), EditError> {
        let mut tx = doc.transaction();
        apply(&mut tx, edits)?;
        tx.commit();
        Ok(())
    }

    fn json(doc: &Automerge) -> serde_json::Value {
        serde_json::to_value(automerge::AutoSerde::from(doc)).unwrap()
    }

    #[test]
    fn paths_in_both_spellings() {
        assert_eq!(
            parse_path("a.0.b").unwrap(),
            vec![Prop::Map("a".into()), Prop::Seq(0), Prop::Map("b".into())]
        );
        assert_eq!(
            parse_path("/a~1b/0").unwrap(),
            vec![Prop::Map("a/b".into()), Prop::Seq(0)]
        );
        assert!(parse_path("").is_err());
        assert!(parse_path("a..b").is_err());
    }

    #[test]
    fn set_splice_and_increment() {
        let mut doc = Automerge::new();
        let set = |p: &str, v: serde_json::Value| Edit::Set {
            path: parse_path(p).unwrap(),
            value: v,
        };
        edit(
            &mut doc,
            &[
                set("title", "Hello".into()),
                set("meta.tags", serde_json::json!(["a", 1, true, null, 2.5])),
                Edit::Incr {
                    path: parse_path("views").unwrap(),
                    by: 2,
                },
            ],
        )
        .unwrap();
        edit(
            &mut doc,
            &[
                Edit::Splice {
                    path: parse_path("title").unwrap(),
                    pos: 5,
                    del: 0,
                    text: ", world".into(),
                },
                Edit::Incr {
                    path: parse_path("views").unwrap(),
                    by: 3,
                },
            ],
        )
        .unwrap();
        let (title, _) = doc.get(ROOT, "title").unwrap().unwrap();
        assert_eq!(
            title,
            Value::Object(ObjType::Text),
            "a JSON string makes collaborative text"
        );
        assert_eq!(
            json(&doc),
            serde_json::json!({
                "title": "Hello, world", "views": 5, "meta": {"tags": ["a", 1, true, null, 2.5]}
            })
        );
        edit(&mut doc, &[set("title", "Hello again".into())]).unwrap();
        assert_eq!(json(&doc)["title"], "Hello again");
    }

    #[test]
    fn errors_name_the_path() {
        let mut doc = Automerge::new();
        let err = edit(
            &mut doc,
            &[Edit::Splice {
                path: parse_path("nope").unwrap(),
                pos: 0,
                del: 0,
                text: "x".into(),
            }],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "nope: does not exist");
        edit(
            &mut doc,
            &[Edit::Set {
                path: parse_path("n").unwrap(),
                value: 1.into(),
            }],
        )
        .unwrap();
        let err = edit(
            &mut doc,
            &[Edit::Incr {
                path: parse_path("n").unwrap(),
                by: 1,
            }],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "n: is not a counter");
    }
}
