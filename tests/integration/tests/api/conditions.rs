//! Conditions: types, RAISE and STATE filters, the remembered state,
//! NOWAIT (HAM-CONTRACT K1, K5-K7).

use super::*;

#[tokio::test]
async fn k1_every_condition_type_can_be_added() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        use ConditionType as T;
        let plain = [
            T::Death,
            T::Abnormaldeath,
            T::Detach,
            T::Attach,
            T::Hbeatmissedlow,
            T::Hbeatmissedhigh,
            T::Restart,
            T::Any,
            T::Escalate,
        ];
        for (i, t) in plain.iter().enumerate() {
            c.condition(&e, *t, &format!("c{i}"), 0).await.unwrap();
        }
        c.condition_raise(&e, "raise", 1, 2, 3, 0).await.unwrap();
        c.condition_state(&e, "state", 0, 1, 0).await.unwrap();
        errno(
            c.condition(&e, T::Unspecified, "none", 0).await,
            Errno::Einval,
        );
        // NODEDOWN belongs to the cluster-wide global entity only.
        errno(c.condition(&e, T::Nodedown, "down", 0).await, Errno::Einval);
        let star = c.entity_handle(NodeSel::Cluster, "").await.unwrap();
        c.condition(&star, T::Nodedown, "down", 0).await.unwrap();

        let want: Vec<i32> = plain
            .iter()
            .chain(&[T::Raise, T::State])
            .map(|t| *t as i32)
            .collect();
        let got: Vec<i32> = entity(&c, "web")
            .await
            .conditions
            .iter()
            .map(|c| c.condition_type)
            .collect();
        assert_eq!(got, want);
    })
    .await;
}

#[tokio::test]
async fn k5_raise_conditions_keep_their_three_filters() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        c.condition_raise(&e, "typed", flags::CONDRAISETYPEANY, 2, 3, 0)
            .await
            .unwrap();
        c.condition_raise(
            &e,
            "all",
            flags::CONDRAISETYPEANY,
            flags::CONDRAISECLASSANY,
            flags::CONDRAISESEVERITYANY,
            0,
        )
        .await
        .unwrap();
        let conds = entity(&c, "web").await.conditions;
        let filters: Vec<(i32, i32, i32)> = conds
            .iter()
            .map(|c| {
                let r = c.raise_filter.unwrap();
                (r.rtype, r.rclass, r.rseverity)
            })
            .collect();
        assert_eq!(filters, [(-1, 2, 3), (-1, -1, -1)]);
        assert!(
            conds
                .iter()
                .all(|c| c.condition_type == ConditionType::Raise as i32)
        );
        // Raising is accepted (what it triggers runs once plans are executed).
        c.entity_condition_raise(&e, 1, 2, 3, 0).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn k6_the_ham_remembers_each_entity_state_and_state_filters() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        c.entity(L, "db", 0).await.unwrap();
        assert_eq!(entity(&c, "web").await.state, 0);
        c.entity_condition_state(&e, 5, 0).await.unwrap();
        assert_eq!(entity(&c, "web").await.state, 5);
        c.entity_condition_state(&e, -3, 0).await.unwrap();
        assert_eq!(entity(&c, "web").await.state, -3);
        assert_eq!(entity(&c, "db").await.state, 0);

        let any = flags::CONDSTATEANY;
        c.condition_state(&e, "value", 1, 2, 0).await.unwrap();
        c.condition_state(&e, "any", any, any, 0).await.unwrap();
        let from = flags::state_set(&[0, 63]);
        let to = flags::state_set(&[1, 2]);
        let set_flags = flags::HCONDSTATEFROMSET | flags::HCONDSTATETOSET | flags::HCONDSTATETOINV;
        c.condition_state(&e, "sets", from, to, set_flags)
            .await
            .unwrap();
        // Only a set can be inverted, and only STATE conditions take these flags.
        errno(
            c.condition_state(&e, "inv", 1, 2, flags::HCONDSTATEFROMINV)
                .await,
            Errno::Einval,
        );
        errno(
            c.condition(&e, ConditionType::Death, "d", flags::HCONDSTATETOSET)
                .await,
            Errno::Einval,
        );
        let got: Vec<(String, i64, i64, u32)> = entity(&c, "web")
            .await
            .conditions
            .iter()
            .map(|c| {
                let s = c.state_filter.unwrap();
                (c.name.clone(), s.from_state, s.to_state, c.flags)
            })
            .collect();
        let want = [
            ("value".to_string(), 1, 2, 0),
            ("any".into(), -1, -1, 0),
            ("sets".into(), from, to, set_flags),
        ];
        assert_eq!(got, want);
    })
    .await;
}

#[tokio::test]
async fn k7_nowait_conditions_never_hold_a_waitfor() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let quick = c
            .condition(&e, ConditionType::Death, "quick", flags::HCONDNOWAIT)
            .await
            .unwrap();
        errno(
            c.action_waitfor(&quick, "w", "", 100, 0).await,
            Errno::Einval,
        );
        let slow = c
            .condition(&e, ConditionType::Detach, "slow", 0)
            .await
            .unwrap();
        let w = c.action_waitfor(&slow, "w", "", 100, 0).await.unwrap();
        for cmd in [ControlCommand::AddFlags, ControlCommand::SetFlags] {
            errno(
                c.condition_control(&slow, cmd, flags::HCONDNOWAIT).await,
                Errno::Einval,
            );
        }
        assert_eq!(
            c.condition_control(&slow, ControlCommand::GetFlags, 0)
                .await
                .unwrap(),
            0
        );
        // Without its waitfor it may become NOWAIT.
        c.action_remove(&w).await.unwrap();
        let now = c
            .condition_control(&slow, ControlCommand::AddFlags, flags::HCONDNOWAIT)
            .await
            .unwrap();
        assert_eq!(now, flags::HCONDNOWAIT);
    })
    .await;
}
