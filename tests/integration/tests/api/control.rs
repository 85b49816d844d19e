//! Control and HAM-level calls: enable/disable, flags, stop, verbosity, the
//! tree, publishing, shared connections (HAM-CONTRACT X1-X7).

use super::*;

#[tokio::test]
async fn x1_enable_and_disable_with_and_without_recurse() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let a = c.action_log(&d, "a", "m", false, 0, 0).await.unwrap();
        let d2 = c
            .condition(&e, ConditionType::Detach, "bye", 0)
            .await
            .unwrap();
        c.action_log(&d2, "b", "m", false, 0, 0).await.unwrap();
        // (entity, [(condition, [actions])]) enabled bits.
        let enabled = |e: EntityInfo| {
            let conds: Vec<(bool, Vec<bool>)> = e
                .conditions
                .iter()
                .map(|c| (c.enabled, c.actions.iter().map(|a| a.enabled).collect()))
                .collect();
            (e.enabled, conds)
        };
        let all_on = (true, vec![(true, vec![true]), (true, vec![true])]);
        assert_eq!(enabled(entity(&c, "web").await), all_on);

        c.entity_control(&e, ControlCommand::Disable, 0)
            .await
            .unwrap();
        assert_eq!(
            enabled(entity(&c, "web").await),
            (false, vec![(true, vec![true]), (true, vec![true])])
        );
        c.entity_control(&e, ControlCommand::Enable, 0)
            .await
            .unwrap();
        c.entity_control(&e, ControlCommand::Disable, flags::HRECURSE)
            .await
            .unwrap();
        assert_eq!(
            enabled(entity(&c, "web").await),
            (false, vec![(false, vec![false]), (false, vec![false])])
        );
        c.condition_control(&d, ControlCommand::Enable, flags::HRECURSE)
            .await
            .unwrap();
        assert_eq!(
            enabled(entity(&c, "web").await),
            (false, vec![(true, vec![true]), (false, vec![false])])
        );
        c.entity_control(&e, ControlCommand::Enable, flags::HRECURSE)
            .await
            .unwrap();
        c.action_control(&a, ControlCommand::Disable, 0)
            .await
            .unwrap();
        assert_eq!(
            enabled(entity(&c, "web").await),
            (true, vec![(true, vec![false]), (true, vec![true])])
        );
        // Enable and disable take HRECURSE and nothing else.
        errno(
            c.action_control(&a, ControlCommand::Enable, flags::HCONDNOWAIT)
                .await,
            Errno::Einval,
        );
    })
    .await;
}

#[tokio::test]
async fn x2_flags_are_added_removed_set_and_read_per_object() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        use ControlCommand as C;
        let keep = flags::HENTITYKEEPONDEATH;
        let e = c.entity(L, "web", 0).await.unwrap();
        assert_eq!(c.entity_control(&e, C::GetFlags, 0).await.unwrap(), 0);
        assert_eq!(c.entity_control(&e, C::AddFlags, keep).await.unwrap(), keep);
        assert_eq!(c.entity_control(&e, C::GetFlags, 0).await.unwrap(), keep);
        assert_eq!(c.entity_control(&e, C::RemoveFlags, keep).await.unwrap(), 0);
        assert_eq!(c.entity_control(&e, C::SetFlags, keep).await.unwrap(), keep);
        errno(
            c.entity_control(&e, C::AddFlags, flags::HCONDNOWAIT).await,
            Errno::Einval,
        );
        errno(c.entity_control(&e, C::Unspecified, 0).await, Errno::Einval);
        errno(
            c.entity_control(&e, C::AddFlags, flags::HRECURSE).await,
            Errno::Einval,
        );

        let d = c
            .condition(&e, ConditionType::Death, "death", REARM)
            .await
            .unwrap();
        let now = c
            .condition_control(&d, C::AddFlags, flags::HCONDNOWAIT)
            .await
            .unwrap();
        assert_eq!(now, REARM | flags::HCONDNOWAIT);
        let now = c
            .condition_control(&d, C::SetFlags, flags::HCONDINDEPENDENT)
            .await
            .unwrap();
        assert_eq!(now, flags::HCONDINDEPENDENT);
        errno(
            c.condition_control(&d, C::AddFlags, flags::HACTIONWAIT)
                .await,
            Errno::Einval,
        );
        // STATE filter bits are fixed when the condition is added.
        let s = c.condition_state(&e, "s", 1, 2, 0).await.unwrap();
        errno(
            c.condition_control(&s, C::AddFlags, flags::HCONDSTATETOSET)
                .await,
            Errno::Einval,
        );

        let x = c.action_execute(&d, "x", "/bin/true", 0, 0).await.unwrap();
        let l = c.action_log(&d, "l", "m", false, 0, 0).await.unwrap();
        let both = flags::HACTIONWAIT | flags::HACTIONKEEPONFAIL;
        assert_eq!(c.action_control(&x, C::SetFlags, both).await.unwrap(), both);
        errno(
            c.action_control(&l, C::AddFlags, flags::HACTIONWAIT).await,
            Errno::Einval,
        );
        assert_eq!(c.action_control(&l, C::GetFlags, 0).await.unwrap(), 0);

        let e = entity(&c, "web").await;
        assert_eq!(e.flags, keep);
        assert_eq!(e.conditions[0].flags, flags::HCONDINDEPENDENT);
        assert_eq!(e.conditions[0].actions[0].flags, both);
    })
    .await;
}

#[tokio::test]
async fn x3_stopping_the_cluster_needs_the_cluster_flag() {
    let mut n = node();
    within(async {
        let c = n.ham.client().await;
        c.entity(L, "keeper", 0).await.unwrap();
        assert!(c.stop(NodeSel::Cluster, false).await.is_err());
        // Refused: still serving.
        c.handshake(L).await.unwrap();
        c.stop(NodeSel::Cluster, true).await.unwrap();
    })
    .await;
    let code = exit_code(&mut n.ham, Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{}", n.ham.log_text());
}

#[tokio::test]
async fn x3_stopping_the_cluster_without_the_flag_is_einval() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        errno(c.stop(NodeSel::Cluster, false).await, Errno::Einval);
    })
    .await;
}

#[tokio::test]
async fn x3_stop_by_node_id_ends_this_node() {
    let mut n = node();
    within(async {
        let c = n.ham.client().await;
        errno(c.stop(2u64, false).await, Errno::Ehostunreach);
        c.stop(1u64, false).await.unwrap();
    })
    .await;
    let code = exit_code(&mut n.ham, Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{}", n.ham.log_text());
}

#[tokio::test]

async fn x3_stop_does_not_wait_for_a_client_that_stopped_answering() {
    let mut n = node();
    let c = within(n.ham.client()).await;
    within(c.stop(L, false)).await.unwrap();
    // A client that holds its connection but no longer runs (here: this
    // runtime, blocked in wait_exit) must not keep the daemon from exiting.
    let code = n.ham.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", n.ham.log_text());
    drop(c);
}

#[tokio::test]
async fn x4_verbosity_is_read_set_raised_and_lowered() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let v = |op, value| c.verbose(L, op, value);
        assert_eq!(v(VerboseOp::Get, 0).await.unwrap(), 1);
        assert_eq!(v(VerboseOp::Set, 5).await.unwrap(), 5);
        // A step of 0 counts as 1.
        assert_eq!(v(VerboseOp::Incr, 0).await.unwrap(), 6);
        assert_eq!(v(VerboseOp::Incr, 2).await.unwrap(), 8);
        assert_eq!(v(VerboseOp::Decr, 0).await.unwrap(), 7);
        assert_eq!(v(VerboseOp::Decr, 3).await.unwrap(), 4);
        // Never below 0.
        assert_eq!(v(VerboseOp::Decr, 100).await.unwrap(), 0);
        for (op, value) in [
            (VerboseOp::Set, -1),
            (VerboseOp::Incr, -2),
            (VerboseOp::Decr, -1),
        ] {
            errno(v(op, value).await, Errno::Einval);
        }
        errno(v(VerboseOp::Unspecified, 0).await, Errno::Einval);
        assert_eq!(c.verbose("testnode", VerboseOp::Set, 3).await.unwrap(), 3);
        assert_eq!(c.verbose(1u64, VerboseOp::Get, 0).await.unwrap(), 3);
        let info = c.tree(L, "", "", "", false).await.unwrap().info.unwrap();
        assert_eq!(info.verbosity, 3);
    })
    .await;
}

#[tokio::test]
async fn x5_tree_info_counts_and_narrowing() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let web = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&web, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        c.action_log(&d, "a1", "m", false, 0, 0).await.unwrap();
        c.action_log(&d, "a2", "m", false, 0, 0).await.unwrap();
        let db = c.entity(L, "db", 0).await.unwrap();
        c.condition(&db, ConditionType::Detach, "bye", 0)
            .await
            .unwrap();
        let g = c.entity_handle(L, "").await.unwrap();
        let gd = c
            .condition(&g, ConditionType::Death, "all", 0)
            .await
            .unwrap();
        c.action_log(&gd, "note", "m", false, 0, 0).await.unwrap();

        for linearizable in [false, true] {
            let tree = c.tree(L, "", "", "", linearizable).await.unwrap();
            let info = tree.info.unwrap();
            assert_eq!(info.ham_pid, i64::from(n.ham.pid()));
            assert_eq!((info.node_id, info.node_name.as_str()), (1, "testnode"));
            assert_eq!((info.leader_id, info.leader_name.as_str()), (1, "testnode"));
            assert!(info.term >= 1, "{info:?}");
            assert_eq!(info.verbosity, 1);
            // The global entity is no entity of the count; its conditions and actions are.
            assert_eq!(
                (info.num_entities, info.num_conditions, info.num_actions),
                (2, 3, 3)
            );
            assert_eq!(info.nodes.len(), 1);
            let me = &info.nodes[0];
            assert_eq!((me.id, me.name.as_str()), (1, "testnode"));
            assert_eq!(me.state, pb::NodeState::Up as i32);
            assert!(me.address.starts_with("127.0.0.1:"), "{me:?}");
            assert_eq!(
                names(tree.entities.iter().map(|e| &e.name)),
                ["", "db", "web"]
            );
        }

        let tree = c.tree(L, "web", "", "", false).await.unwrap();
        assert_eq!(names(tree.entities.iter().map(|e| &e.name)), ["web"]);
        // Counts are the whole node's, whatever the sub-tree.
        assert_eq!(tree.info.unwrap().num_actions, 3);
        let tree = c.tree(L, "web", "death", "a2", false).await.unwrap();
        let cond = &tree.entities[0].conditions;
        assert_eq!(names(cond.iter().map(|c| &c.name)), ["death"]);
        assert_eq!(names(cond[0].actions.iter().map(|a| &a.name)), ["a2"]);
    })
    .await;
}

#[tokio::test]
async fn x6_publishing_needs_an_existing_entity() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        c.entity_condition_raise(&e, 1, 2, 3, 0).await.unwrap();
        c.entity_condition_state(&e, 4, 0).await.unwrap();
        let ghost = pb::EntityHandle {
            node_id: 1,
            entity: "ghost".into(),
            uid: 0,
        };
        errno(
            c.entity_condition_raise(&ghost, 1, 2, 3, 0).await,
            Errno::Enoent,
        );
        errno(c.entity_condition_state(&ghost, 4, 0).await, Errno::Enoent);
        c.detach(&e, 0).await.unwrap();
        errno(
            c.entity_condition_raise(&e, 1, 2, 3, 0).await,
            Errno::Enoent,
        );
        errno(c.entity_condition_state(&e, 4, 0).await, Errno::Enoent);
    })
    .await;
}

#[tokio::test]
async fn x7_one_shared_counted_connection_to_a_real_ham() {
    let n = node();
    within(async {
        let addr = HamAddress::Unix(n.ham.socket.clone());
        let a = ham_connect_to(&addr).await.unwrap();
        let b = ham_connect_to(&addr).await.unwrap();
        assert_eq!(ham_connection_count(&addr), 2);
        let h = a.entity(L, "from-a", 0).await.unwrap();
        assert_eq!(b.entity_handle(L, "from-a").await.unwrap(), h);
        ham_disconnect_from(&addr).unwrap();
        // The other reference still works.
        b.handshake(L).await.unwrap();
        ham_disconnect_from(&addr).unwrap();
        assert_eq!(ham_connection_count(&addr), 0);
        errno(ham_disconnect_from(&addr), Errno::Ebadf);
        // The next connect opens a new one.
        let c = ham_connect_to(&addr).await.unwrap();
        c.entity_handle(L, "from-a").await.unwrap();
        ham_disconnect_from(&addr).unwrap();
    })
    .await;
}
