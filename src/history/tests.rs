//! Unit tests of the history queries on documents built here, with known
//! concurrent edits.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ObjType, Prop, ReadDoc, ROOT};
use serde_json::json;

use super::*;

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

/// One change at `time` by the doc's actor.
fn edit(
    doc: &mut Automerge,
    time: i64,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) {
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| CommitOptions::default().with_time(time),
        |tx| {
            f(tx);
            Ok(())
        },
    )
    .unwrap();
}

fn note(a: u8) -> Automerge {
    let mut doc = Automerge::new().with_actor(actor(a));
    edit(&mut doc, 100, |tx| {
        tx.put(ROOT, "title", "Plans").unwrap();
        let body = tx.put_object(ROOT, "body", ObjType::Text).unwrap();
        tx.splice_text(&body, 0, 0, "hello").unwrap();
    });
    doc
}

fn body(doc: &Automerge) -> automerge::ObjId {
    doc.get(ROOT, "body").unwrap().unwrap().1
}

fn json(doc: &Automerge) -> serde_json::Value {
    serde_json::to_value(automerge::AutoSerde::from(doc)).unwrap()
}

#[test]
fn changes_are_listed_oldest_first_with_deps() {
    let mut doc = note(1);
    let b = body(&doc);
    edit(&mut doc, 101, |tx| {
        tx.splice_text(&b, 5, 0, " world").unwrap()
    });
    let list = changes(&doc);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].deps, Vec::<String>::new());
    assert_eq!(list[1].deps, vec![list[0].hash.clone()]);
    assert_eq!(list[1].time, 101);
    assert_eq!(list[0].actor, actor(1).to_hex_string());
    assert_eq!(list[0].author, "01010101");
    assert_eq!(list[1].ops, 6);
}

#[test]
fn bursts_split_on_author_pause_and_size() {
    let mut a = note(1);
    let b_obj = body(&a);
    edit(&mut a, 110, |tx| tx.splice_text(&b_obj, 5, 0, "!").unwrap());
    let mut b = a.fork().with_actor(actor(2));
    edit(&mut b, 120, |tx| tx.put(ROOT, "title", "Bob's").unwrap());
    a.merge(&mut b).unwrap();
    edit(&mut a, 1_000, |tx| {
        tx.splice_text(&b_obj, 0, 0, ">").unwrap()
    });
    let list = changes(&a);
    let groups = bursts(&list, BurstRules::default());
    let shape: Vec<(usize, &str)> = groups
        .iter()
        .map(|g| (g.changes, g.author.as_str()))
        .collect();
    assert_eq!(
        shape,
        vec![(2, "01010101"), (1, "02020202"), (1, "01010101")]
    );
    assert_eq!(groups[0].heads_before, Vec::<String>::new());
    assert_eq!(groups[1].heads_before, groups[0].heads_after);
    let now: Vec<String> = a.get_heads().iter().map(|h| h.to_string()).collect();
    assert_eq!(groups[2].heads_after, now);
    assert_eq!((groups[0].start, groups[0].end), (100, 110));
    assert_eq!(
        timeline::timeline(&a, BurstRules::default()),
        (4, groups.clone()),
        "the metadata path groups the same"
    );

    let capped = bursts(
        &list,
        BurstRules {
            max_changes: 1,
            ..BurstRules::default()
        },
    );
    assert_eq!(capped.len(), 4);
    let paused = bursts(
        &list,
        BurstRules {
            max_gap: 5,
            ..BurstRules::default()
        },
    );
    assert_eq!(paused.len(), 4);
}

#[test]
fn bursts_name_the_paths_they_touched() {
    let mut doc = note(1);
    let b = body(&doc);
    edit(&mut doc, 500, |tx| {
        tx.splice_text(&b, 0, 0, "x").unwrap();
        let tags = tx.put_object(ROOT, "tags", ObjType::List).unwrap();
        tx.insert(&tags, 0, "a").unwrap();
    });
    let list = changes(&doc);
    let mut groups = bursts(&list, BurstRules::default());
    touched_paths(&doc, &mut groups);
    assert_eq!(groups[0].paths, vec!["/body", "/title"]);
    assert_eq!(groups[1].paths, vec!["/body", "/tags"]);
}

#[test]
fn the_document_at_old_heads() {
    let mut doc = note(1);
    let old = doc.get_heads();
    let b = body(&doc);
    edit(&mut doc, 101, |tx| {
        tx.splice_text(&b, 5, 0, " world").unwrap();
        tx.put(ROOT, "done", true).unwrap();
    });
    assert_eq!(
        json_at(&doc, &old, &[]).unwrap(),
        json!({"title": "Plans", "body": "hello"})
    );
    assert_eq!(json_at(&doc, &doc.get_heads(), &[]).unwrap(), json(&doc));
    assert_eq!(json_at(&doc, &[], &[]).unwrap(), json!({}));
    assert_eq!(
        json_at(&doc, &old, &[Prop::Map("body".into())]).unwrap(),
        json!("hello")
    );
}

#[test]
fn bad_heads_are_refused_clearly() {
    let doc = note(1);
    assert!(matches!(parse_heads("zz"), Err(HistoryError::BadHeads(_))));
    assert!(matches!(
        parse_heads("abc,"),
        Err(HistoryError::BadHeads(_))
    ));
    assert_eq!(parse_heads("").unwrap(), vec![]);
    let heads = doc.get_heads();
    assert_eq!(parse_heads(&format_heads(&heads)).unwrap(), heads);
    let unknown = parse_heads(&"ab".repeat(32)).unwrap();
    let err = json_at(&doc, &unknown, &[]).unwrap_err();
    assert!(matches!(err, HistoryError::UnknownChange(_)), "{err}");
    assert!(diff(&doc, &[], &unknown).is_err());
    let err = json_at(&doc, &heads, &[Prop::Map("nope".into())]).unwrap_err();
    assert_eq!(err.to_string(), "no value at /nope");
}

#[test]
fn diff_uses_automerge_patches() {
    let mut doc = note(1);
    let old = doc.get_heads();
    let b = body(&doc);
    edit(&mut doc, 101, |tx| {
        tx.splice_text(&b, 5, 0, " world").unwrap();
        tx.splice_text(&b, 0, 1, "").unwrap();
        tx.put(ROOT, "title", "Later").unwrap();
    });
    let entries = diff(&doc, &old, &doc.get_heads()).unwrap();
    let summary: Vec<(String, &str, serde_json::Value)> = entries
        .iter()
        .map(|e| {
            (
                e.path.to_string(),
                e.action,
                e.value.clone().unwrap_or(json!(e.length)),
            )
        })
        .collect();
    assert!(
        summary.contains(&(r#"["body"]"#.into(), "delete", json!(1))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&(r#"["body"]"#.into(), "splice", json!(" world"))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("[]".into(), "put", json!("Later"))),
        "{summary:?}"
    );
    // Backwards: the inverse.
    let back = diff(&doc, &doc.get_heads(), &old).unwrap();
    assert!(back
        .iter()
        .any(|e| e.action == "splice" && e.value == Some(json!("h"))));
}

/// Alice and Bob set the title concurrently; the merged doc holds both.
fn conflicted() -> Automerge {
    let mut alice = note(1);
    let mut bob = alice.fork().with_actor(actor(2));
    edit(&mut alice, 200, |tx| {
        tx.put(ROOT, "title", "Alice's").unwrap()
    });
    edit(&mut bob, 201, |tx| {
        tx.put(ROOT, "title", "Bob's").unwrap();
        let meta = tx.put_object(ROOT, "meta", ObjType::Map).unwrap();
        tx.put(&meta, "n", 1).unwrap();
    });
    edit(&mut alice, 202, |tx| {
        let meta = tx.put_object(ROOT, "meta", ObjType::Map).unwrap();
        tx.put(&meta, "n", 2).unwrap();
    });
    alice.merge(&mut bob).unwrap();
    alice
}

#[test]
fn conflicts_list_every_value_with_its_author() {
    let doc = conflicted();
    let found = conflicts(&doc).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    let title = found.iter().find(|c| c.at == "/title").unwrap();
    assert_eq!(title.path, json!(["title"]));
    let mut values: Vec<(serde_json::Value, &str)> = title
        .values
        .iter()
        .map(|v| (v.value.clone(), v.author.as_str()))
        .collect();
    values.sort_by_key(|v| v.1.to_owned());
    assert_eq!(
        values,
        vec![(json!("Alice's"), "01010101"), (json!("Bob's"), "02020202")]
    );
    assert!(title.values[0].winner);
    assert_eq!(json(&doc)["title"], title.values[0].value);
    let meta = found.iter().find(|c| c.at == "/meta").unwrap();
    let mut ns: Vec<serde_json::Value> = meta.values.iter().map(|v| v.value.clone()).collect();
    ns.sort_by_key(|v| v.to_string());
    assert_eq!(ns, vec![json!({"n": 1}), json!({"n": 2})]);
}

#[test]
fn resolving_a_conflict_writes_the_chosen_value() {
    let mut doc = conflicted();
    let found = conflicts(&doc).unwrap();
    let title = found.iter().find(|c| c.at == "/title").unwrap();
    let loser = title.values.iter().find(|v| !v.winner).unwrap().clone();
    let meta = found.iter().find(|c| c.at == "/meta").unwrap();
    let meta_loser = meta.values.iter().find(|v| !v.winner).unwrap().clone();
    let before = doc.get_heads();
    edit(&mut doc, 300, |tx| {
        resolve(tx, &[Prop::Map("title".into())], &loser.id).unwrap();
        resolve(tx, &[Prop::Map("meta".into())], &meta_loser.id).unwrap();
    });
    assert_ne!(doc.get_heads(), before);
    assert_eq!(json(&doc)["title"], loser.value);
    assert_eq!(json(&doc)["meta"], meta_loser.value);
    assert!(conflicts(&doc).unwrap().is_empty());

    // A key without a conflict, an unknown choice, the root: clear errors.
    let mut tx = doc.transaction();
    let err = resolve(&mut tx, &[Prop::Map("title".into())], &loser.id).unwrap_err();
    assert_eq!(err.to_string(), "/title holds no conflict (any more)");
    let err = resolve(&mut tx, &[], "1@ab").unwrap_err();
    assert!(matches!(err, HistoryError::BadChoice(_)));
    tx.rollback();
    let mut doc = conflicted();
    let mut tx = doc.transaction();
    let err = resolve(&mut tx, &[Prop::Map("title".into())], "9@ff").unwrap_err();
    assert_eq!(err.to_string(), "9@ff is not one of the values of /title");
}

#[test]
fn restore_the_whole_document_as_a_new_change_and_undo_it() {
    let mut doc = note(1);
    let old = doc.get_heads();
    let old_json = json(&doc);
    let b = body(&doc);
    edit(&mut doc, 101, |tx| {
        tx.splice_text(&b, 5, 0, " world").unwrap();
        tx.put(ROOT, "title", "Later").unwrap();
        let tags = tx.put_object(ROOT, "tags", ObjType::List).unwrap();
        tx.insert(&tags, 0, "x").unwrap();
    });
    let latest = doc.get_heads();
    let latest_json = json(&doc);
    let changes_before = doc.get_changes(&[]).len();
    edit(&mut doc, 102, |tx| restore(tx, &old, &[]).unwrap());
    assert_eq!(json(&doc), old_json);
    assert_eq!(
        doc.get_changes(&[]).len(),
        changes_before + 1,
        "one new change"
    );
    assert_eq!(body(&doc), b, "the text keeps its identity");
    // Nothing is lost: the version before the restore is still there.
    assert_eq!(json_at(&doc, &latest, &[]).unwrap(), latest_json);
    // Undo the restore = restore the heads before it.
    edit(&mut doc, 103, |tx| restore(tx, &latest, &[]).unwrap());
    assert_eq!(json(&doc), latest_json);
}

#[test]
fn a_restore_merges_with_a_concurrent_edit() {
    let mut alice = note(1);
    let old = alice.get_heads();
    let b = body(&alice);
    edit(&mut alice, 101, |tx| {
        tx.splice_text(&b, 0, 5, "bye").unwrap()
    });
    let mut bob = alice.fork().with_actor(actor(2));
    edit(&mut alice, 102, |tx| restore(tx, &old, &[]).unwrap());
    edit(&mut bob, 102, |tx| tx.splice_text(&b, 3, 0, "!").unwrap());
    alice.merge(&mut bob).unwrap();
    let text = alice.text(&b).unwrap();
    assert!(text.contains("hello") && text.contains('!'), "{text}");
}

#[test]
fn restore_one_field_leaves_the_others() {
    let mut doc = note(1);
    let old = doc.get_heads();
    let b = body(&doc);
    edit(&mut doc, 101, |tx| {
        tx.splice_text(&b, 5, 0, " world").unwrap();
        tx.put(ROOT, "title", "Later").unwrap();
        tx.put(ROOT, "extra", 1).unwrap();
    });
    edit(&mut doc, 102, |tx| {
        restore(tx, &old, &[Prop::Map("body".into())]).unwrap()
    });
    assert_eq!(
        json(&doc),
        json!({"title": "Later", "body": "hello", "extra": 1})
    );
    edit(&mut doc, 103, |tx| {
        restore(tx, &old, &[Prop::Map("extra".into())]).unwrap()
    });
    edit(&mut doc, 104, |tx| {
        restore(tx, &old, &[Prop::Map("title".into())]).unwrap()
    });
    assert_eq!(json(&doc), json!({"title": "Plans", "body": "hello"}));
    let mut tx = doc.transaction();
    let err = restore(&mut tx, &old, &[Prop::Map("never".into())]).unwrap_err();
    assert_eq!(err.to_string(), "no value at /never");
}

#[test]
fn restore_lists_and_nested_maps() {
    let mut doc = Automerge::new().with_actor(actor(1));
    edit(&mut doc, 1, |tx| {
        let l = tx.put_object(ROOT, "l", ObjType::List).unwrap();
        for i in 0..3 {
            tx.insert(&l, i, i as i64).unwrap();
        }
        let m = tx.put_object(ROOT, "m", ObjType::Map).unwrap();
        tx.put(&m, "a", "x").unwrap();
    });
    let old = doc.get_heads();
    let old_json = json(&doc);
    edit(&mut doc, 2, |tx| {
        let l = tx.get(ROOT, "l").unwrap().unwrap().1;
        tx.delete(&l, 0).unwrap();
        tx.insert(&l, 2, "new").unwrap();
        tx.insert(&l, 3, "more").unwrap();
        tx.put(ROOT, "m", "now a string").unwrap();
    });
    edit(&mut doc, 3, |tx| restore(tx, &old, &[]).unwrap());
    assert_eq!(json(&doc), old_json);
}
