//! `attach --restart` (A2): the death condition and restart action it adds,
//! in the same call as the attach (L6): a refused part leaves nothing behind.

use super::fixture::*;

/// A line that ends by itself soon, so that nothing it starts outlives the test for long.
const LINE: &str = "/bin/sleep 5";

#[test]
fn a2_attach_restart_adds_the_death_condition_and_the_restart_action() {
    let n = Node::start();
    n.ok(&format!("attach web --cmd '{LINE}' --restart"));
    assert_eq!(n.ok("ls web"), ".info\ndeath/\n");
    assert_eq!(n.ok("ls web/death"), ".info\nrestart\n");
    let death = n.ok("cat web/death");
    assert_eq!(field(&death, "Condition type"), ["CONDDEATH"]);
    assert_eq!(field(&death, "Condition ReArm"), ["ON"]);
    let restart = n.ok("cat web/death/restart");
    assert_eq!(field(&restart, "Restart Line"), [LINE]);
    assert_eq!(field(&restart, "Action ReArm"), ["ON"]);
    let web = n.entity("web");
    assert_eq!(web.command_line, LINE);
    assert_eq!(web.conditions[0].flags, flags::HREARMAFTERRESTART);
    assert_eq!(
        web.conditions[0].actions[0].flags,
        flags::HREARMAFTERRESTART
    );
    // Without --cmd there is no line to restart with.
    n.usage_error("attach db --pid 1 --restart");
}

#[test]
fn l6_attach_restart_refused_part_leaves_everything_as_it_was() {
    let n = Node::start();
    // A placeholder that already has a condition named `death`.
    n.steps(&["entity web", "condition web death detach"]);
    let err = n.refused(&format!("attach web --cmd '{LINE}' --restart"), "EEXIST");
    assert!(err.contains("condition \"death\""), "{err}");
    // One call: the placeholder is not filled, nothing was started.
    assert_eq!(field(&n.ok("cat web"), "Entity type"), ["PLACEHOLDER"]);
    assert_eq!(n.entity("web").pid, 0);
    assert_eq!(
        field(&n.ok("cat web/death"), "Condition type"),
        ["CONDDETACH"]
    );

    // A placeholder whose restart action sits in another death condition (A2).
    n.steps(&[
        "entity db",
        "condition db crash abnormaldeath",
        &format!("action db crash again restart --cmd '{LINE}'"),
    ]);
    let err = n.refused(&format!("attach db --cmd '{LINE}' --restart"), "EEXIST");
    assert!(
        err.contains("condition \"death\", action \"restart\""),
        "{err}"
    );
    assert_eq!(n.ok("ls db"), ".info\ncrash/\n");
    assert_eq!(field(&n.ok("cat db"), "Entity type"), ["PLACEHOLDER"]);
}
