//! The [`Ham`] connection: entities, conditions, look-ups and HAM-level
//! calls. Actions are in `actions.rs`, control and publishing in
//! `control.rs`.

use std::path::PathBuf;
use std::time::Duration;

use ham_proto::ham::v1::ham_client::HamClient;
use ham_proto::ham::v1::{
    self as pb, ConditionHandle, ConditionType, EntityHandle, HamTree, NodeInfo, VerboseOp,
};
use tonic::transport::Channel;

use crate::connection::HamAddress;
use crate::error::HamError;
use crate::node::NodeSel;

/// A connection to one HAM daemon. Cheap to clone; clones share the
/// underlying channel. Every call may address any node of the cluster
/// through a [`NodeSel`] or a handle.
#[derive(Debug, Clone)]
pub struct Ham {
    client: HamClient<Channel>,
    address: Option<HamAddress>,
    /// How write calls are retried (`retry.rs`).
    pub(crate) retry: crate::retry::WriteRetry,
}

/// Result of every HAM call.
pub type HamResult<T> = Result<T, HamError>;

/// A heartbeat promise: one heartbeat per `period`; HBEATMISSEDLOW after
/// `hpdl` missed periods in a row, HBEATMISSEDHIGH after `hpdh`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// The period (zero: no heartbeat).
    pub period: std::time::Duration,
    /// Low threshold.
    pub hpdl: u32,
    /// High threshold.
    pub hpdh: u32,
}

/// Restart pacing (HAM-CONTRACT L4); a zero field (or `Pacing::default()`)
/// takes the HAM's default: 5 deaths within 10 s are restarted at once, then
/// each restart waits a delay that doubles from 100 ms to 30 s until a process
/// stays up for the window. `off` restarts at once, always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Deaths within the window restarted at once.
    pub burst: u32,
    /// The window (and how long a process must stay up to reset the delay).
    pub window: Duration,
    /// The first delay.
    pub min_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Every restart at once.
    pub off: bool,
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Ham {
    /// Wraps an already open channel.
    pub fn from_channel(channel: Channel) -> Ham {
        Ham {
            client: HamClient::new(channel),
            address: None,
            retry: Default::default(),
        }
    }

    /// Opens a connection to `addr` and checks with a handshake that the HAM
    /// answers (EBADF otherwise).
    pub async fn connect(addr: &HamAddress) -> HamResult<Ham> {
        let ham = Ham {
            client: HamClient::new(addr.channel().await?),
            address: Some(addr.clone()),
            retry: Default::default(),
        };
        ham.handshake(NodeSel::Local).await?;
        Ok(ham)
    }

    /// Connects to the local HAM: `$HAM_SOCKET` or `/run/ham/ham.sock`,
    /// falling back to `$HAM_ADDR` or `http://127.0.0.1:4815`.
    pub async fn connect_default() -> HamResult<Ham> {
        Ham::connect(&HamAddress::local()).await
    }

    /// Connects over a Unix domain socket.
    pub async fn connect_uds(path: impl Into<PathBuf>) -> HamResult<Ham> {
        Ham::connect(&HamAddress::Unix(path.into())).await
    }

    /// Connects over TCP (`http://host:port`; the scheme may be left out).
    pub async fn connect_tcp(uri: impl Into<String>) -> HamResult<Ham> {
        Ham::connect(&HamAddress::Tcp(uri.into())).await
    }

    /// Connects over TCP with mutual TLS (`host:port`; see [`HamAddress::Tls`]).
    pub async fn connect_tls(uri: impl Into<String>, files: crate::TlsFiles) -> HamResult<Ham> {
        Ham::connect(&HamAddress::tcp(uri, Some(files))).await
    }

    /// A connection that is only opened by the first call (no handshake).
    pub fn lazy(addr: &HamAddress) -> HamResult<Ham> {
        Ok(Ham {
            client: HamClient::new(addr.lazy_channel()?),
            address: Some(addr.clone()),
            retry: Default::default(),
        })
    }

    /// The address this connection was opened to, if known.
    pub fn address(&self) -> Option<&HamAddress> {
        self.address.as_ref()
    }

    /// The generated gRPC client, for calls this wrapper does not cover.
    pub fn raw(&self) -> HamClient<Channel> {
        self.client.clone()
    }

    pub(crate) fn c(&self) -> HamClient<Channel> {
        self.client.clone()
    }

    /// Checks that the HAM of `node` is reachable and tells who it is
    /// (ham_connect_nd / ham_connect_node).
    pub async fn handshake(&self, node: impl Into<NodeSel>) -> HamResult<NodeInfo> {
        let req = pb::ConnectRequest {
            node: node.into().to_proto(),
        };
        Ok(self.c().handshake(req).await?.into_inner())
    }

    // -- entities ---------------------------------------------------------

    /// Attaches an entity (ham_attach / ham_attach_node). With `pid > 0` the
    /// running process is monitored and `command_line` kept as its restart
    /// line; with `pid <= 0` `command_line` is started.
    pub async fn attach(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        pid: i64,
        command_line: &str,
        flags: u32,
    ) -> HamResult<EntityHandle> {
        self.attach_pidfile(node, name, pid, command_line, "", flags)
            .await
    }

    /// [`Ham::attach`] with a pidfile naming the daemon's pid after a
    /// daemonizing start ("" = none).
    pub async fn attach_pidfile(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        pid: i64,
        command_line: &str,
        pidfile: &str,
        flags: u32,
    ) -> HamResult<EntityHandle> {
        let hb = Heartbeat::default();
        self.attach_full(node, name, pid, command_line, pidfile, hb, flags)
            .await
    }

    /// [`Ham::attach_pidfile`] with a heartbeat promise: the process (or
    /// anything heartbeating for it) sends one heartbeat per `period`, by the
    /// sd_notify socket (`WATCHDOG=1`; it gets `WATCHDOG_USEC`) or by
    /// [`Ham::heartbeat`]. A zero period means none.
    #[allow(clippy::too_many_arguments)] // one parameter per field of the call
    pub async fn attach_full(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        pid: i64,
        command_line: &str,
        pidfile: &str,
        heartbeat: Heartbeat,
        flags: u32,
    ) -> HamResult<EntityHandle> {
        self.attach_paced(
            node,
            name,
            pid,
            command_line,
            pidfile,
            heartbeat,
            flags,
            Pacing::default(),
        )
        .await
    }

    /// [`Ham::attach_full`] with the entity's restart pacing (L4).
    #[allow(clippy::too_many_arguments)] // one parameter per field of the call
    pub async fn attach_paced(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        pid: i64,
        command_line: &str,
        pidfile: &str,
        heartbeat: Heartbeat,
        flags: u32,
        pacing: Pacing,
    ) -> HamResult<EntityHandle> {
        let req = pb::AttachRequest {
            node: node.into().to_proto(),
            name: name.to_owned(),
            pid,
            command_line: command_line.to_owned(),
            flags,
            pidfile: pidfile.to_owned(),
            period_ns: u64::try_from(heartbeat.period.as_nanos()).unwrap_or(u64::MAX),
            hpdl: heartbeat.hpdl,
            hpdh: heartbeat.hpdh,
            pacing_burst: pacing.burst,
            pacing_window_ms: millis(pacing.window),
            pacing_min_delay_ms: millis(pacing.min_delay),
            pacing_max_delay_ms: millis(pacing.max_delay),
            pacing_off: pacing.off,
            ..Default::default()
        };
        self.write(req, |mut c, r| async move { c.attach(r).await })
            .await
    }

    /// Attaches the calling process (ham_attach_self). A zero `period` means
    /// no heartbeat; otherwise at least 10 ms, with `hpdl <= hpdh` missed
    /// periods before HBEATMISSEDLOW / HBEATMISSEDHIGH.
    pub async fn attach_self(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        period: Duration,
        hpdl: u32,
        hpdh: u32,
        flags: u32,
    ) -> HamResult<EntityHandle> {
        let req = pb::AttachSelfRequest {
            node: node.into().to_proto(),
            name: name.to_owned(),
            pid: i64::from(std::process::id()),
            period_ns: u64::try_from(period.as_nanos()).unwrap_or(u64::MAX),
            hpdl,
            hpdh,
            flags,
        };
        self.write(req, |mut c, r| async move { c.attach_self(r).await })
            .await
    }

    /// Detaches an entity by handle (ham_detach). The process keeps running.
    pub async fn detach(&self, entity: &EntityHandle, flags: u32) -> HamResult<()> {
        let req = pb::DetachRequest {
            target: Some(pb::detach_request::Target::Handle(entity.clone())),
            flags,
        };
        self.write(req, |mut c, r| async move { c.detach(r).await })
            .await?;
        Ok(())
    }

    /// Detaches the caller's own entity (ham_detach_self).
    pub async fn detach_self(&self, entity: &EntityHandle, flags: u32) -> HamResult<()> {
        self.detach(entity, flags).await
    }

    /// Detaches an entity by name (ham_detach_name / ham_detach_name_node).
    pub async fn detach_name(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        flags: u32,
    ) -> HamResult<()> {
        let req = pb::DetachRequest {
            target: Some(pb::detach_request::Target::ByName(pb::NamedEntity {
                node: node.into().to_proto(),
                name: name.to_owned(),
            })),
            flags,
        };
        self.write(req, |mut c, r| async move { c.detach(r).await })
            .await?;
        Ok(())
    }

    /// Creates a placeholder entity (ham_entity / ham_entity_node); "" is
    /// the node's global entity (the cluster-wide one with node `*`).
    pub async fn entity(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        flags: u32,
    ) -> HamResult<EntityHandle> {
        let req = pb::EntityRequest {
            node: node.into().to_proto(),
            name: name.to_owned(),
            flags,
            ..Default::default()
        };
        self.write(req, |mut c, r| async move { c.entity(r).await })
            .await
    }

    // -- conditions -------------------------------------------------------

    /// Adds a condition (ham_condition).
    pub async fn condition(
        &self,
        entity: &EntityHandle,
        kind: ConditionType,
        name: &str,
        flags: u32,
    ) -> HamResult<ConditionHandle> {
        let req = pb::ConditionRequest {
            entity: Some(entity.clone()),
            condition_type: kind.into(),
            name: name.to_owned(),
            flags,
        };
        self.write(req, |mut c, r| async move { c.condition(r).await })
            .await
    }

    /// Adds a RAISE condition with filters (-1 = any) (ham_condition_raise).
    pub async fn condition_raise(
        &self,
        entity: &EntityHandle,
        name: &str,
        rtype: i32,
        rclass: i32,
        rseverity: i32,
        flags: u32,
    ) -> HamResult<ConditionHandle> {
        let req = pb::ConditionRaiseRequest {
            entity: Some(entity.clone()),
            name: name.to_owned(),
            rtype,
            rclass,
            rseverity,
            flags,
        };
        self.write(req, |mut c, r| async move { c.condition_raise(r).await })
            .await
    }

    /// Adds a STATE condition (ham_condition_state). Each filter is a state,
    /// -1 (any), or with HCONDSTATEFROMSET / HCONDSTATETOSET a bitmap made by
    /// [`crate::flags::state_set`].
    pub async fn condition_state(
        &self,
        entity: &EntityHandle,
        name: &str,
        from_state: i64,
        to_state: i64,
        flags: u32,
    ) -> HamResult<ConditionHandle> {
        let req = pb::ConditionStateRequest {
            entity: Some(entity.clone()),
            name: name.to_owned(),
            from_state,
            to_state,
            flags,
        };
        self.write(req, |mut c, r| async move { c.condition_state(r).await })
            .await
    }

    /// Removes a condition with its actions (ham_condition_remove).
    pub async fn condition_remove(&self, condition: &ConditionHandle) -> HamResult<()> {
        self.write(condition.clone(), |mut c, r| async move {
            c.condition_remove(r).await
        })
        .await?;
        Ok(())
    }

    // -- look-ups -----------------------------------------------------------

    /// Looks an entity up by name (ham_entity_handle / _node).
    pub async fn entity_handle(
        &self,
        node: impl Into<NodeSel>,
        entity: &str,
    ) -> HamResult<EntityHandle> {
        let req = pb::EntityHandleLookupRequest {
            node: node.into().to_proto(),
            entity: entity.to_owned(),
        };
        Ok(self.c().entity_handle_lookup(req).await?.into_inner())
    }

    /// Looks a condition up by names (ham_condition_handle / _node).
    pub async fn condition_handle(
        &self,
        node: impl Into<NodeSel>,
        entity: &str,
        condition: &str,
    ) -> HamResult<ConditionHandle> {
        let req = pb::ConditionHandleLookupRequest {
            node: node.into().to_proto(),
            entity: entity.to_owned(),
            condition: condition.to_owned(),
        };
        Ok(self.c().condition_handle_lookup(req).await?.into_inner())
    }

    /// Looks an action up by names (ham_action_handle / _node).
    pub async fn action_handle(
        &self,
        node: impl Into<NodeSel>,
        entity: &str,
        condition: &str,
        action: &str,
    ) -> HamResult<pb::ActionHandle> {
        let req = pb::ActionHandleLookupRequest {
            node: node.into().to_proto(),
            entity: entity.to_owned(),
            condition: condition.to_owned(),
            action: action.to_owned(),
        };
        Ok(self.c().action_handle_lookup(req).await?.into_inner())
    }

    // -- HAM-level ----------------------------------------------------------

    /// Stops a node's HAM (ham_stop / _nd / _node); `cluster` stops all.
    pub async fn stop(&self, node: impl Into<NodeSel>, cluster: bool) -> HamResult<()> {
        let req = pb::StopRequest {
            node: node.into().to_proto(),
            cluster,
        };
        self.c().stop(req).await?;
        Ok(())
    }

    /// Reads or changes a node's verbosity (ham_verbose); returns the
    /// verbosity after the operation.
    pub async fn verbose(
        &self,
        node: impl Into<NodeSel>,
        op: VerboseOp,
        value: i32,
    ) -> HamResult<i32> {
        let req = pb::VerboseRequest {
            node: node.into().to_proto(),
            op: op.into(),
            value,
        };
        Ok(self
            .write(req, |mut c, r| async move { c.verbose(r).await })
            .await?
            .verbosity)
    }

    /// Reads a node's HAM state as a tree: all of it when `entity` is "",
    /// otherwise the sub-tree of that entity, narrowed to `condition` and
    /// `action` when not "".
    pub async fn tree(
        &self,
        node: impl Into<NodeSel>,
        entity: &str,
        condition: &str,
        action: &str,
        linearizable: bool,
    ) -> HamResult<HamTree> {
        let req = pb::TreeRequest {
            node: node.into().to_proto(),
            entity: entity.to_owned(),
            condition: condition.to_owned(),
            action: action.to_owned(),
            linearizable,
        };
        Ok(self.c().tree(req).await?.into_inner())
    }
}
