//! Names, handles and node addressing (HAM-CONTRACT N1-N6).

use super::*;

#[tokio::test]
async fn n1_bad_names_are_einval_at_every_level() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let a = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        for bad in ["", "a/b", "/", "nul\0inside"] {
            errno(c.entity(L, bad, 0).await, Errno::Einval);
            errno(c.attach(L, bad, 0, "/bin/true", 0).await, Errno::Einval);
            errno(
                c.condition(&e, ConditionType::Death, bad, 0).await,
                Errno::Einval,
            );
            errno(c.action_log(&d, bad, "m", false, 0, 0).await, Errno::Einval);
            errno(
                c.action_fail_log(&a, bad, "m", false, 0, 0).await,
                Errno::Einval,
            );
        }
        // Any other UTF-8 is a name.
        let odd = "naïve name ✓";
        c.entity(L, odd, 0).await.unwrap();
        assert_eq!(c.entity_handle(L, odd).await.unwrap().entity, odd);
        // The refusals created nothing.
        let tree = c.tree(L, "", "", "", false).await.unwrap();
        assert_eq!(names(tree.entities.iter().map(|e| &e.name)), [odd, "web"]);
        assert_eq!(entity(&c, "web").await.conditions[0].actions.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn n2_long_names_and_paths_are_enametoolong() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let max = |ch: &str| ch.repeat(255);
        let long = "x".repeat(256);
        errno(c.entity(L, &long, 0).await, Errno::Enametoolong);
        let e = c.entity(L, &max("e"), 0).await.unwrap();
        errno(
            c.condition(&e, ConditionType::Death, &long, 0).await,
            Errno::Enametoolong,
        );
        let d = c
            .condition(&e, ConditionType::Death, &max("c"), 0)
            .await
            .unwrap();
        errno(
            c.action_log(&d, &long, "m", false, 0, 0).await,
            Errno::Enametoolong,
        );
        // /ham/<255>/<255>/<255> is 772 bytes.
        let a = c.action_log(&d, &max("a"), "m", false, 0, 0).await.unwrap();
        // One more component of 250 bytes makes 1023 bytes; 251 is one too many.
        c.action_fail_log(&a, &"f".repeat(250), "m", false, 0, 0)
            .await
            .unwrap();
        errno(
            c.action_fail_log(&a, &"g".repeat(251), "m", false, 0, 0)
                .await,
            Errno::Enametoolong,
        );
    })
    .await;
}

#[tokio::test]
async fn n3_duplicate_names_are_eexist_at_every_level() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        errno(c.entity(L, "web", 0).await, Errno::Eexist);
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        // Same name, other type: still the same name.
        errno(
            c.condition(&e, ConditionType::Detach, "death", 0).await,
            Errno::Eexist,
        );
        let a = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        errno(
            c.action_execute(&d, "log", "/bin/true", 0, 0).await,
            Errno::Eexist,
        );
        c.action_fail_log(&a, "f", "m", false, 0, 0).await.unwrap();
        errno(
            c.action_fail_execute(&a, "f", "/bin/true", 0, 0).await,
            Errno::Eexist,
        );
        // Names are unique within their parent only.
        let db = c.entity(L, "db", 0).await.unwrap();
        let db_death = c
            .condition(&db, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        c.action_log(&db_death, "log", "m", false, 0, 0)
            .await
            .unwrap();
        c.condition(&e, ConditionType::Detach, "log", 0)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn n4_global_entities_take_conditions_but_are_never_attached_or_detached() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let g = c.entity_handle(L, "").await.unwrap();
        assert_eq!((g.node_id, g.entity.as_str()), (1, ""));
        c.condition(&g, ConditionType::Death, "any-death", 0)
            .await
            .unwrap();
        let global = entity(&c, "").await;
        assert_eq!(global.kind, EntityKind::Global as i32);
        assert_eq!(
            names(global.conditions.iter().map(|c| &c.name)),
            ["any-death"]
        );
        errno(c.attach(L, "", 0, "/bin/true", 0).await, Errno::Einval);
        errno(c.entity(L, "", 0).await, Errno::Einval);
        errno(c.detach_name(L, "", 0).await, Errno::Einval);
        errno(c.detach(&g, 0).await, Errno::Einval);
        assert_eq!(entity(&c, "").await.conditions.len(), 1);

        // The cluster-wide context (node `*`) holds only its global entity.
        let star = c.entity_handle(NodeSel::Cluster, "").await.unwrap();
        assert_eq!(star.node_id, CLUSTER_NODE_ID);
        c.condition(&star, ConditionType::Nodedown, "node-down", 0)
            .await
            .unwrap();
        let tree = c.tree(NodeSel::Cluster, "", "", "", false).await.unwrap();
        assert_eq!(tree.info.unwrap().node_name, "*");
        assert_eq!(tree.entities.len(), 1);
        assert_eq!(tree.entities[0].kind, EntityKind::Global as i32);
        assert_eq!(tree.entities[0].conditions[0].name, "node-down");
        errno(c.entity(NodeSel::Cluster, "x", 0).await, Errno::Einval);
        errno(
            c.attach(NodeSel::Cluster, "x", 0, "/bin/true", 0).await,
            Errno::Einval,
        );
        errno(c.detach(&star, 0).await, Errno::Einval);
    })
    .await;
}

#[tokio::test]
async fn n5_looking_up_what_does_not_exist_is_enoent() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let a = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        // Look-ups find the handles the writes gave.
        assert_eq!(c.entity_handle(L, "web").await.unwrap(), e);
        assert_eq!(c.condition_handle(L, "web", "death").await.unwrap(), d);
        assert_eq!(c.action_handle(L, "web", "death", "log").await.unwrap(), a);
        errno(c.entity_handle(L, "nope").await, Errno::Enoent);
        errno(c.condition_handle(L, "nope", "death").await, Errno::Enoent);
        errno(c.condition_handle(L, "web", "nope").await, Errno::Enoent);
        errno(
            c.action_handle(L, "web", "death", "nope").await,
            Errno::Enoent,
        );
        errno(
            c.action_handle(L, "web", "nope", "log").await,
            Errno::Enoent,
        );
        errno(c.tree(L, "nope", "", "", false).await, Errno::Enoent);
        errno(c.tree(L, "web", "nope", "", false).await, Errno::Enoent);
        errno(
            c.tree(L, "web", "death", "nope", false).await,
            Errno::Enoent,
        );
        // Handles the client made up name objects that are not there.
        let ghost = pb::EntityHandle {
            node_id: 0,
            entity: "ghost".into(),
            uid: 0,
        };
        errno(
            c.condition(&ghost, ConditionType::Death, "d", 0).await,
            Errno::Enoent,
        );
    })
    .await;
}

#[tokio::test]
async fn n5_handles_of_removed_objects_are_enoent_even_after_the_name_is_reused() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let old = c.entity(L, "web", 0).await.unwrap();
        let old_death = c
            .condition(&old, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        c.detach(&old, 0).await.unwrap();
        errno(
            c.condition(&old, ConditionType::Death, "x", 0).await,
            Errno::Enoent,
        );
        let new = c.entity(L, "web", 0).await.unwrap();
        assert_ne!(new.uid, old.uid);
        // Same name, another object: the old handle does not reach it.
        errno(
            c.entity_control(&old, ControlCommand::GetFlags, 0).await,
            Errno::Enoent,
        );
        errno(c.detach(&old, 0).await, Errno::Enoent);
        errno(c.entity_condition_state(&old, 1, 0).await, Errno::Enoent);
        errno(
            c.action_log(&old_death, "log", "m", false, 0, 0).await,
            Errno::Enoent,
        );
        c.entity_handle(L, "web").await.unwrap();

        let death = c
            .condition(&new, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        c.condition_remove(&death).await.unwrap();
        let death2 = c
            .condition(&new, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        errno(
            c.action_log(&death, "log", "m", false, 0, 0).await,
            Errno::Enoent,
        );
        errno(c.condition_remove(&death).await, Errno::Enoent);

        let log = c
            .action_log(&death2, "log", "m", false, 0, 0)
            .await
            .unwrap();
        c.action_remove(&log).await.unwrap();
        c.action_log(&death2, "log", "m", false, 0, 0)
            .await
            .unwrap();
        errno(
            c.action_control(&log, ControlCommand::GetFlags, 0).await,
            Errno::Enoent,
        );
        errno(
            c.action_fail_log(&log, "f", "m", false, 0, 0).await,
            Errno::Enoent,
        );
        errno(c.action_remove(&log).await, Errno::Enoent);

        // Dropping a handle removes nothing.
        drop(new);
        c.action_handle(L, "web", "death", "log").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn n6_nodes_by_id_or_name_and_unknown_nodes_are_ehostunreach() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let pid = i64::from(n.ham.pid());
        for sel in [L, 0u64.into(), 1u64.into(), "testnode".into(), "".into()] {
            let info = c.handshake(sel.clone()).await.unwrap();
            assert_eq!(
                (info.node_id, info.node_name.as_str(), info.ham_pid),
                (1, "testnode", pid),
                "{sel:?}"
            );
            assert_eq!((info.leader_id, info.leader_name.as_str()), (1, "testnode"));
        }
        let by_id = c.entity(1u64, "by-id", 0).await.unwrap();
        let by_name = c.entity("testnode", "by-name", 0).await.unwrap();
        assert_eq!((by_id.node_id, by_name.node_id), (1, 1));
        assert_eq!(c.entity_handle("testnode", "by-id").await.unwrap(), by_id);
        assert_eq!(c.entity_handle(1u64, "by-name").await.unwrap(), by_name);
        let death = c
            .condition(&by_id, ConditionType::Death, "death", 0)
            .await
            .unwrap();

        for unknown in [NodeSel::Id(2), NodeSel::Name("nowhere".into())] {
            let u = || unknown.clone();
            errno(c.handshake(u()).await, Errno::Ehostunreach);
            errno(c.entity(u(), "x", 0).await, Errno::Ehostunreach);
            errno(
                c.attach(u(), "x", 0, "/bin/true", 0).await,
                Errno::Ehostunreach,
            );
            errno(
                c.attach_self(u(), "x", Duration::ZERO, 0, 0, 0).await,
                Errno::Ehostunreach,
            );
            errno(c.detach_name(u(), "by-id", 0).await, Errno::Ehostunreach);
            errno(c.entity_handle(u(), "by-id").await, Errno::Ehostunreach);
            errno(
                c.condition_handle(u(), "by-id", "death").await,
                Errno::Ehostunreach,
            );
            errno(
                c.action_handle(u(), "by-id", "death", "x").await,
                Errno::Ehostunreach,
            );
            errno(c.tree(u(), "", "", "", false).await, Errno::Ehostunreach);
            errno(c.verbose(u(), VerboseOp::Get, 0).await, Errno::Ehostunreach);
            errno(c.stop(u(), false).await, Errno::Ehostunreach);
            let signal = Signal {
                node: u(),
                pid: 1,
                signum: 10,
                ..Signal::default()
            };
            errno(
                c.action_notify_signal(&death, "s", &signal, 0).await,
                Errno::Ehostunreach,
            );
        }
        // Still up, and nothing was created on the unknown nodes' behalf.
        let tree = c.tree(L, "", "", "", false).await.unwrap();
        assert_eq!(
            names(tree.entities.iter().map(|e| &e.name)),
            ["by-id", "by-name"]
        );
    })
    .await;
}

#[tokio::test]
async fn n1_dot_names_info_and_control_characters_are_einval_at_every_level() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let a = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        let bad = [
            ".",
            "..",
            ".info",
            ".info-x",
            "two\nlines",
            "esc\u{1b}[2Jclear",
            "tab\t",
            "del\u{7f}",
        ];
        for bad in bad {
            errno(c.entity(L, bad, 0).await, Errno::Einval);
            errno(c.attach(L, bad, 0, "/bin/true", 0).await, Errno::Einval);
            errno(
                c.condition(&e, ConditionType::Death, bad, 0).await,
                Errno::Einval,
            );
            errno(c.action_log(&d, bad, "m", false, 0, 0).await, Errno::Einval);
            let err = errno(
                c.action_fail_log(&a, bad, "m", false, 0, 0).await,
                Errno::Einval,
            );
            // The message escapes what it quotes: `hamctrl` prints it as it is.
            assert!(
                !err.message.chars().any(char::is_control),
                "{:?}",
                err.message
            );
        }
        // Their neighbours are names.
        for ok in [".x", "a.info", "info", "...", "x.."] {
            c.entity(L, ok, 0).await.unwrap();
        }
        let tree = c.tree(L, "", "", "", false).await.unwrap();
        assert_eq!(
            names(tree.entities.iter().map(|e| &e.name)),
            ["...", ".x", "a.info", "info", "web", "x.."]
        );
        // hamctrl ls shows one line per entity: nothing garbled it.
        let ls = n.ham.hamctrl_ok(&["ls"]);
        assert!(!ls.contains('\u{1b}'), "{ls:?}");
    })
    .await;
}

/// Asserts a raw call's status: the errno's code, and a short message.
#[track_caller]
fn short_status<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
    want: Errno,
) {
    let status = result.expect_err("expected an error");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().len() <= 200,
        "{} bytes: {}",
        status.message().len(),
        status.message()
    );
    assert!(
        status.details().len() <= 300,
        "{} bytes",
        status.details().len()
    );
    assert_eq!(HamError::from(&status).errno, want);
}

#[tokio::test]
async fn n1_errors_quote_at_most_64_bytes_of_a_10_kb_name() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let big = "n".repeat(10 * 1024);
        let big_sel = || Some(NodeSel::Name(big.clone()).to_proto()).flatten();
        let local = || NodeSel::Local.to_proto();
        let mut raw = c.raw();
        use tonic::Code::{InvalidArgument, NotFound};
        short_status(
            raw.entity(pb::EntityRequest {
                node: local(),
                name: big.clone(),
                flags: 0,
                ..Default::default()
            })
            .await,
            InvalidArgument,
            Errno::Enametoolong,
        );
        short_status(
            raw.entity(pb::EntityRequest {
                node: local(),
                name: format!("{big}/x"),
                flags: 0,
                ..Default::default()
            })
            .await,
            InvalidArgument,
            Errno::Einval,
        );
        short_status(
            raw.entity_handle_lookup(pb::EntityHandleLookupRequest {
                node: local(),
                entity: big.clone(),
            })
            .await,
            NotFound,
            Errno::Enoent,
        );
        short_status(
            raw.tree(pb::TreeRequest {
                node: local(),
                entity: big.clone(),
                ..Default::default()
            })
            .await,
            NotFound,
            Errno::Enoent,
        );
        short_status(
            raw.entity(pb::EntityRequest {
                node: big_sel(),
                name: "x".into(),
                flags: 0,
                ..Default::default()
            })
            .await,
            NotFound,
            Errno::Ehostunreach,
        );
        short_status(
            raw.handshake(pb::ConnectRequest { node: big_sel() }).await,
            NotFound,
            Errno::Ehostunreach,
        );
        short_status(
            raw.attach(pb::AttachRequest {
                node: local(),
                name: "x".into(),
                command_line: format!("'{big}"),
                ..Default::default()
            })
            .await,
            InvalidArgument,
            Errno::Einval,
        );
        short_status(
            raw.attach(pb::AttachRequest {
                node: local(),
                name: "x".into(),
                command_line: big.clone(),
                ..Default::default()
            })
            .await,
            InvalidArgument,
            Errno::Einval,
        );
        // The client library sees the same errnos.
        errno(c.entity_handle(L, &big).await, Errno::Enoent);
        errno(c.handshake(big.as_str()).await, Errno::Ehostunreach);
    })
    .await;
}
