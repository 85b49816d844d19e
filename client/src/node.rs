//! Node selection (HAM-CONTRACT N6).

use ham_proto::ham::v1::{NodeRef, node_ref};

/// Which node's HAM context a call addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum NodeSel {
    /// The node the client is connected to.
    #[default]
    Local,
    /// A node by id (the `_nd` forms; 0 = the local node).
    Id(u64),
    /// A node by name (the `_node` forms; "" = the local node).
    Name(String),
    /// The cluster-wide context (node `*`).
    Cluster,
}

impl NodeSel {
    /// The wire form of this selection.
    pub fn to_proto(&self) -> Option<NodeRef> {
        let node = match self {
            NodeSel::Local => return None,
            NodeSel::Id(id) => node_ref::Node::Id(*id),
            NodeSel::Name(name) => node_ref::Node::Name(name.clone()),
            NodeSel::Cluster => node_ref::Node::Name("*".to_owned()),
        };
        Some(NodeRef { node: Some(node) })
    }
}

impl From<&str> for NodeSel {
    /// "" is the local node, "*" the cluster-wide context, anything else a
    /// node name.
    fn from(name: &str) -> NodeSel {
        match name {
            "" => NodeSel::Local,
            "*" => NodeSel::Cluster,
            _ => NodeSel::Name(name.to_owned()),
        }
    }
}

impl From<String> for NodeSel {
    fn from(name: String) -> NodeSel {
        NodeSel::from(name.as_str())
    }
}

impl From<u64> for NodeSel {
    /// 0 is the local node, [`ham_vocab::CLUSTER_NODE_ID`] the cluster-wide
    /// context.
    fn from(id: u64) -> NodeSel {
        match id {
            0 => NodeSel::Local,
            ham_vocab::CLUSTER_NODE_ID => NodeSel::Cluster,
            _ => NodeSel::Id(id),
        }
    }
}

impl From<Option<&str>> for NodeSel {
    fn from(name: Option<&str>) -> NodeSel {
        name.map_or(NodeSel::Local, NodeSel::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n6_node_forms() {
        assert_eq!(NodeSel::from(""), NodeSel::Local);
        assert_eq!(NodeSel::from("*"), NodeSel::Cluster);
        assert_eq!(NodeSel::from("n2"), NodeSel::Name("n2".into()));
        assert_eq!(NodeSel::from(0u64), NodeSel::Local);
        assert_eq!(NodeSel::from(u64::MAX), NodeSel::Cluster);
        assert_eq!(NodeSel::Local.to_proto(), None);
        let star = NodeSel::Cluster.to_proto().unwrap();
        assert_eq!(star.node, Some(node_ref::Node::Name("*".into())));
        let id = NodeSel::Id(3).to_proto().unwrap();
        assert_eq!(id.node, Some(node_ref::Node::Id(3)));
    }
}
