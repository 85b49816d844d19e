//! `ham`: the High Availability Manager daemon of one node (the code is in the library).

fn main() -> std::process::ExitCode {
    ham_node_agent::main()
}
