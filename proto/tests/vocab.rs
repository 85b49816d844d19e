//! The `.proto` and crate `ham-vocab` define the same values (HAM-CONTRACT
//! M2): every errno, flag bit, control command, condition type and action
//! type, checked value by value in both directions. And every name of the
//! API is usable from every language: no field, oneof or enum value is a
//! keyword of Python, Go, Java, C++ or JavaScript.

use ham_proto::ham::v1 as pb;
use ham_vocab::{ActionType, ConditionType, ControlCommand, Errno, flags};
use prost::Message as _;
use prost_types::FileDescriptorSet;

/// Checks one proto enum against the vocabulary: `proto` lists the proto's
/// (number, name without the enum prefix) pairs but the zero value, `vocab`
/// the vocabulary's (number, name as the proto spells it).
fn agree(what: &str, proto: Vec<(i32, String)>, vocab: Vec<(i32, String)>) {
    for (code, name) in &vocab {
        assert!(
            proto.contains(&(*code, name.clone())),
            "{what}: {name} = {code} of ham-vocab is not in the .proto"
        );
    }
    for (code, name) in &proto {
        assert!(
            vocab.contains(&(*code, name.clone())),
            "{what}: {name} = {code} of the .proto is not in ham-vocab"
        );
    }
    assert_eq!(proto.len(), vocab.len(), "{what}: duplicates");
}

/// The (number, name) pairs of a proto enum, from the descriptor, without
/// its zero value and with `prefix` removed from each name.
fn proto_values(enum_name: &str, prefix: &str) -> Vec<(i32, String)> {
    let fds = FileDescriptorSet::decode(ham_proto::FILE_DESCRIPTOR_SET).unwrap();
    let file = fds
        .file
        .iter()
        .find(|f| f.package() == "ham.v1")
        .expect("ham.v1 is in the descriptor set");
    let e = file
        .enum_type
        .iter()
        .find(|e| e.name() == enum_name)
        .unwrap_or_else(|| panic!("enum {enum_name} is in ham.v1"));
    e.value
        .iter()
        .filter(|v| v.number() != 0)
        .map(|v| {
            let name = v.name().strip_prefix(prefix).unwrap_or_else(|| {
                panic!("{} does not start with {prefix}", v.name());
            });
            (v.number(), name.to_owned())
        })
        .collect()
}

#[test]
fn m2_errno_values_agree() {
    let vocab = Errno::ALL
        .iter()
        .map(|e| (e.code(), e.name().to_owned()))
        .collect();
    agree("Errno", proto_values("Errno", "ERRNO_"), vocab);
    // And through the generated enum.
    for e in Errno::ALL {
        let p = pb::Errno::try_from(e.code()).unwrap();
        assert_eq!(p.as_str_name(), format!("ERRNO_{}", e.name()));
        assert_eq!(pb::Errno::from_str_name(&format!("ERRNO_{e}")), Some(p));
    }
}

#[test]
fn m2_flag_bits_agree() {
    let vocab = flags::NAMES
        .iter()
        .map(|(name, bit)| (i32::try_from(*bit).unwrap(), (*name).to_owned()))
        .collect();
    agree("Flag", proto_values("Flag", "FLAG_"), vocab);
    assert_eq!(pb::Flag::Hrecurse as i32 as u32, flags::HRECURSE);
}

#[test]
fn m2_control_commands_agree() {
    // CONTROL_COMMAND_ADD_FLAGS is HADDFLAGS.
    let proto = proto_values("ControlCommand", "CONTROL_COMMAND_")
        .into_iter()
        .map(|(c, n)| (c, format!("H{}", n.replace('_', ""))))
        .collect();
    let vocab = ControlCommand::ALL
        .iter()
        .map(|c| (c.code(), c.name().to_owned()))
        .collect();
    agree("ControlCommand", proto, vocab);
    for c in ControlCommand::ALL {
        assert!(pb::ControlCommand::try_from(c.code()).is_ok());
    }
}

#[test]
fn m2_condition_types_agree() {
    // CONDITION_TYPE_DEATH is CONDDEATH.
    let proto = proto_values("ConditionType", "CONDITION_TYPE_")
        .into_iter()
        .map(|(c, n)| (c, format!("COND{n}")))
        .collect();
    let vocab = ConditionType::ALL
        .iter()
        .map(|t| (t.code(), t.name().to_owned()))
        .collect();
    agree("ConditionType", proto, vocab);
}

#[test]
fn m2_action_types_agree() {
    // ACTION_TYPE_NOTIFY_PULSE is notify_pulse.
    let proto = proto_values("ActionType", "ACTION_TYPE_")
        .into_iter()
        .map(|(c, n)| (c, n.to_ascii_lowercase()))
        .collect();
    let vocab = ActionType::ALL
        .iter()
        .map(|a| (a.code(), a.name().to_owned()))
        .collect();
    agree("ActionType", proto, vocab);
    // The oneof of ActionInfo has one member per type, named the same.
    let fds = FileDescriptorSet::decode(ham_proto::FILE_DESCRIPTOR_SET).unwrap();
    let file = fds.file.iter().find(|f| f.package() == "ham.v1").unwrap();
    let info = file
        .message_type
        .iter()
        .find(|m| m.name() == "ActionInfo")
        .unwrap();
    let members: Vec<&str> = info
        .field
        .iter()
        .filter(|f| f.oneof_index.is_some())
        .map(|f| f.name())
        .collect();
    let names: Vec<&str> = ActionType::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(members, names);
}

const PYTHON: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "match", "case", "type", "print", "exec",
];
const GO: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
];
const JAVA: &[&str] = &[
    "abstract",
    "assert",
    "boolean",
    "break",
    "byte",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extends",
    "final",
    "finally",
    "float",
    "for",
    "goto",
    "if",
    "implements",
    "import",
    "instanceof",
    "int",
    "interface",
    "long",
    "native",
    "new",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "short",
    "static",
    "strictfp",
    "super",
    "switch",
    "synchronized",
    "this",
    "throw",
    "throws",
    "transient",
    "try",
    "void",
    "volatile",
    "while",
    "true",
    "false",
    "null",
    "var",
    "record",
    "yield",
    "sealed",
    "permits",
    "_",
];
const CPP: &[&str] = &[
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "auto",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "char8_t",
    "char16_t",
    "char32_t",
    "class",
    "compl",
    "concept",
    "const",
    "consteval",
    "constexpr",
    "constinit",
    "const_cast",
    "continue",
    "co_await",
    "co_return",
    "co_yield",
    "decltype",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "register",
    "reinterpret_cast",
    "requires",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "static_cast",
    "struct",
    "switch",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
    "errno",
    "NULL",
    "EOF",
    "major",
    "minor",
    "unix",
    "linux",
];
const JAVASCRIPT: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "implements",
    "interface",
    "package",
    "private",
    "protected",
    "public",
    "await",
    "arguments",
    "eval",
];

/// Every field, oneof and enum value name of the public API (`ham.v1`; the
/// node-to-node `ham.raft.v1` has Rust at both ends), with where it is.
fn api_names() -> Vec<(String, String)> {
    let fds = FileDescriptorSet::decode(ham_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut names = Vec::new();
    for file in fds.file.iter().filter(|f| f.package() == "ham.v1") {
        let mut stack: Vec<(String, &prost_types::DescriptorProto)> = file
            .message_type
            .iter()
            .map(|m| (format!("{}.{}", file.package(), m.name()), m))
            .collect();
        for e in &file.enum_type {
            for v in &e.value {
                names.push((
                    format!("{}.{}", file.package(), e.name()),
                    v.name().to_owned(),
                ));
            }
        }
        while let Some((path, m)) = stack.pop() {
            for f in &m.field {
                names.push((path.clone(), f.name().to_owned()));
            }
            for o in &m.oneof_decl {
                names.push((path.clone(), o.name().to_owned()));
            }
            for e in &m.enum_type {
                for v in &e.value {
                    names.push((format!("{path}.{}", e.name()), v.name().to_owned()));
                }
            }
            for n in &m.nested_type {
                stack.push((format!("{path}.{}", n.name()), n));
            }
        }
    }
    names
}

#[test]
fn no_name_of_the_api_is_a_keyword_of_a_client_language() {
    let names = api_names();
    assert!(names.len() > 100, "the scan sees the API ({})", names.len());
    let mut bad = Vec::new();
    for (place, name) in &names {
        for (lang, words) in [
            ("Python", PYTHON),
            ("Go", GO),
            ("Java", JAVA),
            ("C++", CPP),
            ("JavaScript", JAVASCRIPT),
        ] {
            if words.contains(&name.as_str()) {
                bad.push(format!("{place}.{name} ({lang})"));
            }
        }
    }
    assert!(bad.is_empty(), "names that are keywords: {bad:?}");
}
