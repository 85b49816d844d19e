//! Errors on the wire and a HAM that is gone (HAM-CONTRACT M1).

use super::*;

/// Checks the gRPC status of a refused raw call: its code, its `ham-errno`
/// metadata, and the errno the client decodes (from the details first).
/// (A macro, because this crate does not name tonic's `Status` type.)
macro_rules! assert_status {
    ($result:expr, $code:literal, $want:expr) => {{
        let status = $result.expect_err("the call should fail");
        assert_eq!(format!("{:?}", status.code()), $code, "{status:?}");
        let meta = status.metadata().get(ham_vocab::ERRNO_METADATA_KEY);
        assert_eq!(meta.and_then(|v| v.to_str().ok()), Some($want.name()));
        assert_eq!(HamError::from(&status).errno, $want, "{status:?}");
    }};
}

#[tokio::test]
async fn m1_errors_travel_as_grpc_code_plus_errno() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let mut raw = c.raw();
        let entity = |name: &str| pb::EntityRequest {
            node: None,
            name: name.into(),
            flags: 0,
            ..Default::default()
        };
        raw.entity(entity("web")).await.unwrap();
        assert_status!(
            raw.entity(entity("web")).await,
            "AlreadyExists",
            Errno::Eexist
        );
        assert_status!(
            raw.entity(entity("a/b")).await,
            "InvalidArgument",
            Errno::Einval
        );
        assert_status!(
            raw.entity(entity(&"x".repeat(256))).await,
            "InvalidArgument",
            Errno::Enametoolong
        );
        let lookup = pb::EntityHandleLookupRequest {
            node: None,
            entity: "nope".into(),
        };
        assert_status!(
            raw.entity_handle_lookup(lookup).await,
            "NotFound",
            Errno::Enoent
        );
        let far = pb::ConnectRequest {
            node: NodeSel::Id(2).to_proto(),
        };
        assert_status!(raw.handshake(far).await, "NotFound", Errno::Ehostunreach);
    })
    .await;
}

#[tokio::test]
async fn m1_server_gone_is_ebadf() {
    let dir = tempfile::tempdir().unwrap();
    within(async {
        // Nothing listens there.
        let nowhere = dir.path().join("none.sock");
        let err = errno(Ham::connect_uds(&nowhere).await, Errno::Ebadf);
        assert!(err.message.starts_with(UNREACHABLE), "{err}");
        let lazy = Ham::lazy(&HamAddress::Unix(nowhere)).unwrap();
        errno(lazy.handshake(L).await, Errno::Ebadf);
        errno(lazy.entity(L, "x", 0).await, Errno::Ebadf);
    })
    .await;
}

#[tokio::test]
async fn m1_a_ham_killed_under_a_connection_is_ebadf() {
    let mut n = node();
    let c = within(n.ham.client()).await;
    within(c.entity(L, "web", 0)).await.unwrap();
    n.ham.kill9();
    within(async {
        errno(c.handshake(L).await, Errno::Ebadf);
        errno(c.entity(L, "db", 0).await, Errno::Ebadf);
        errno(c.tree(L, "", "", "", false).await, Errno::Ebadf);
    })
    .await;
}

/// HAM-CONTRACT M2: the status details decode the standard way, as a
/// `google.rpc.Status` whose `details` hold the `ErrorDetail` in an `Any`.
#[tokio::test]
async fn m2_details_are_a_google_rpc_status_holding_the_error_detail() {
    use ham_proto::google::rpc::Status as RpcStatus;
    use prost::Message as _;
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let mut raw = c.raw();
        let detach = pb::DetachRequest {
            target: Some(pb::detach_request::Target::ByName(pb::NamedEntity {
                node: None,
                name: "nobody".into(),
            })),
            flags: 0,
        };
        let status = raw.detach(detach).await.expect_err("unknown entity");
        let rpc = RpcStatus::decode(status.details()).expect("a google.rpc.Status");
        assert_eq!(rpc.code, status.code() as i32);
        assert_eq!(rpc.message, status.message());
        assert_eq!(rpc.details.len(), 1, "{rpc:?}");
        let any = &rpc.details[0];
        assert_eq!(any.type_url, "type.googleapis.com/ham.v1.ErrorDetail");
        let detail = pb::ErrorDetail::decode(any.value.as_slice()).expect("an ErrorDetail");
        assert_eq!(detail.errno_name, "ENOENT");
        assert_eq!(detail.code, pb::Errno::Enoent as i32);
        assert_eq!(detail.code, Errno::Enoent.code());
    })
    .await;
}
