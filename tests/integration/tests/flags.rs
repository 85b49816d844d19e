//! The flag values are part of the wire contract (docs/vocabulary.md). The
//! model (`ham-core`) and the client (`ham-client`) may not depend on each
//! other, so each defines them; this test keeps the two in step.

use ham_client::flags as client;
use ham_core::model::flags as core;

#[test]
fn x2_client_and_core_agree_on_every_flag_value() {
    let pairs = [
        (
            "HREARMAFTERRESTART",
            client::HREARMAFTERRESTART,
            core::HREARMAFTERRESTART,
        ),
        (
            "HENTITYKEEPONDEATH",
            client::HENTITYKEEPONDEATH,
            core::HENTITYKEEPONDEATH,
        ),
        ("HCONDNOWAIT", client::HCONDNOWAIT, core::HCONDNOWAIT),
        (
            "HCONDINDEPENDENT",
            client::HCONDINDEPENDENT,
            core::HCONDINDEPENDENT,
        ),
        (
            "HCONDSTATEFROMSET",
            client::HCONDSTATEFROMSET,
            core::HCONDSTATEFROMSET,
        ),
        (
            "HCONDSTATETOSET",
            client::HCONDSTATETOSET,
            core::HCONDSTATETOSET,
        ),
        (
            "HCONDSTATEFROMINV",
            client::HCONDSTATEFROMINV,
            core::HCONDSTATEFROMINV,
        ),
        (
            "HCONDSTATETOINV",
            client::HCONDSTATETOINV,
            core::HCONDSTATETOINV,
        ),
        ("HACTIONDONOW", client::HACTIONDONOW, core::HACTIONDONOW),
        (
            "HACTIONBREAKONFAIL",
            client::HACTIONBREAKONFAIL,
            core::HACTIONBREAKONFAIL,
        ),
        (
            "HACTIONKEEPONFAIL",
            client::HACTIONKEEPONFAIL,
            core::HACTIONKEEPONFAIL,
        ),
        ("HACTIONWAIT", client::HACTIONWAIT, core::HACTIONWAIT),
        ("HRECURSE", client::HRECURSE, core::HRECURSE),
    ];
    for (name, c, k) in pairs {
        assert_eq!(c, k, "{name} differs between ham-client and ham-core");
    }
}
