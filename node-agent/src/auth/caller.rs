//! Who made a call (HAM-CONTRACT P1).
//!
//! Every edge turns what it knows of the other side into a [`Principal`]: the Unix socket its
//! peer credentials, a TLS listener the certificate the peer presented (`net::certid`), a
//! plain-text listener (only with `--insecure`) nothing at all.

/// The identity of the other side of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A local client on the Unix socket, by its `SO_PEERCRED` credentials.
    Local { uid: u32, gid: u32, pid: i32 },
    /// A remote client, by the identity its mutual-TLS certificate names (a URI or DNS subject
    /// alternative name, else the common name).
    Client { identity: String },
    /// Another `ham` of the cluster, by the node id its certificate names (P5). Only a node
    /// certificate becomes this; a client certificate never does.
    Node { id: u64 },
    /// A caller on a plain-text TCP listener (`--insecure`): nothing is known of it.
    Anonymous,
}

impl std::fmt::Display for Principal {
    /// The form audit lines and error messages name a caller by.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Local { uid, gid, pid } => write!(f, "uid={uid} gid={gid} pid={pid}"),
            Principal::Client { identity } => write!(f, "cert={identity}"),
            Principal::Node { id } => write!(f, "node={id}"),
            Principal::Anonymous => f.write_str("anonymous"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_as_audit_lines_name_them() {
        let local = Principal::Local {
            uid: 1000,
            gid: 100,
            pid: 42,
        };
        assert_eq!(local.to_string(), "uid=1000 gid=100 pid=42");
        let client = Principal::Client {
            identity: "spiffe://ham/ops".into(),
        };
        assert_eq!(client.to_string(), "cert=spiffe://ham/ops");
        assert_eq!(Principal::Node { id: 3 }.to_string(), "node=3");
        assert_eq!(Principal::Anonymous.to_string(), "anonymous");
    }
}
