//! `ham cert`: the certificates of a secure cluster, made without any other tool (HAM-CONTRACT
//! P6).
//!
//! - `ham cert ca --dir DIR` makes the cluster CA: `DIR/ca.pem` and `DIR/ca.key`;
//! - `ham cert node --ca DIR --id N --out DIR` a node certificate `node-N.pem` / `node-N.key`
//!   (DNS SAN `ham`, URI SAN `urn:ham:node:N`, the `--address`es, serverAuth and clientAuth);
//! - `ham cert client --ca DIR --identity ID --out DIR` a client certificate
//!   `client-ID.pem` / `client-ID.key` that `ham` reads back as exactly `ID` (clientAuth only;
//!   an identity that names a node is refused);
//! - `ham cert show FILE` what a certificate says and who `ham` takes its holder for.
//!
//! Keys are written 0600 and nothing is overwritten without `--force`. Exit codes: 0 done; 1 an
//! output file could not be written; 2 bad flags or input (an identity, a CA that is not one,
//! an output file that exists).

mod files;
mod make;
mod names;
mod show;

use files::Pair;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Default lifetime of a CA, in days.
pub const CA_DAYS: u32 = 3650;
/// Default lifetime of node and client certificates, in days.
pub const LEAF_DAYS: u32 = 825;

/// Why `ham cert` failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Bad input: an identity, a CA that is not one, a file that is not a certificate.
    #[error("EINVAL: {0}")]
    Invalid(String),
    /// An output file exists and `--force` was not given.
    #[error("EEXIST: {} exists; --force replaces it", .0.display())]
    Exists(PathBuf),
    /// An input file cannot be read.
    #[error("{errno}: cannot read the {what} {}: {source}", .path.display())]
    Read {
        errno: &'static str,
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// An output file or directory cannot be written.
    #[error("{errno}: cannot write {}: {source}", .path.display())]
    Write {
        errno: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, CertError>;

fn errno_name(e: &std::io::Error) -> &'static str {
    e.raw_os_error()
        .map(ham_vocab::Errno::from_code)
        .map_or("EIO", ham_vocab::Errno::name)
}

impl CertError {
    fn read(what: &str, path: &Path, source: std::io::Error) -> CertError {
        CertError::Read {
            errno: errno_name(&source),
            what: what.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }

    fn write(path: &Path, source: std::io::Error) -> CertError {
        CertError::Write {
            errno: errno_name(&source),
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit code (see the module documentation).
    pub fn exit_code(&self) -> u8 {
        match self {
            CertError::Write { .. } => 1,
            _ => 2,
        }
    }
}

fn parse_days(text: &str) -> std::result::Result<u32, String> {
    match text.parse::<u32>() {
        Ok(d) if (1..=36_500).contains(&d) => Ok(d),
        _ => Err(format!("{text:?} is not a number of days from 1 to 36500")),
    }
}

/// The `ham cert` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make the cluster's certificate authority: DIR/ca.pem and DIR/ca.key (0600).
    Ca {
        /// Directory of the CA's files (created 0700 if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "ham-ca")]
        name: String,
        /// Lifetime in days.
        #[arg(long, default_value_t = CA_DAYS, value_parser = parse_days)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Make a node certificate, OUT/node-ID.pem and OUT/node-ID.key, signed by the CA.
    Node {
        /// Directory holding the CA's ca.pem and ca.key.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The node's id (its --node-id).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..u64::MAX))]
        id: u64,
        /// The certificate's common name [default: node-ID].
        #[arg(long)]
        name: Option<String>,
        /// An IP address or DNS name of the node, as an extra subject alternative name
        /// (repeatable).
        #[arg(long = "address", value_name = "IP|DNS", value_parser = names::parse_address)]
        addresses: Vec<names::Address>,
        /// Directory to write to (created 0700 if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Lifetime in days.
        #[arg(long, default_value_t = LEAF_DAYS, value_parser = parse_days)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Make a client certificate naming IDENTITY (what a policy's `identity` matches),
    /// OUT/client-IDENTITY.pem and .key, signed by the CA.
    Client {
        /// Directory holding the CA's ca.pem and ca.key.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The identity: with a `:` it is a URI SAN, a DNS name a DNS SAN, anything else the
        /// common name only. Never `urn:ham:node:...`.
        #[arg(long)]
        identity: String,
        /// Directory to write to (created 0700 if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Lifetime in days.
        #[arg(long, default_value_t = LEAF_DAYS, value_parser = parse_days)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Show a certificate: subject, names, issuer, validity, key usage and the identity `ham`
    /// takes its holder for.
    Show {
        /// A PEM file holding one or more certificates.
        file: PathBuf,
    },
}

fn load_ca(dir: &Path) -> Result<make::Ca> {
    let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let cert_pem = files::read("CA certificate", &cert)?;
    let key_pem = files::read("CA key", &key)?;
    make::Ca::from_pem(&cert_pem, &key_pem, &format!("the CA in {}", dir.display()))
}

fn write(dir: &Path, stem: &str, made: &make::Made, force: bool) -> Result<()> {
    files::ensure_dir(dir)?;
    let pair = Pair {
        cert: dir.join(format!("{stem}.pem")),
        key: dir.join(format!("{stem}.key")),
        cert_pem: &made.cert_pem,
        key_pem: &made.key_pem,
    };
    files::write_pair(&pair, force)?;
    println!("wrote {} and {}", pair.cert.display(), pair.key.display());
    Ok(())
}

fn show(file: &Path) -> Result<()> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let pem = std::fs::read(file).map_err(|e| CertError::read("certificate", file, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| CertError::Invalid(format!("{} is not valid PEM: {e}", file.display())))?;
    if certs.is_empty() {
        return Err(CertError::Invalid(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            file.display()
        )));
    }
    let now = show::now();
    for (i, der) in certs.iter().enumerate() {
        let text = show::describe(der, now).map_err(|e| {
            CertError::Invalid(format!("{} (certificate {}): {e}", file.display(), i + 1))
        })?;
        if i > 0 {
            println!();
        }
        print!("{text}");
    }
    Ok(())
}

fn run(command: Command) -> Result<()> {
    let now = time::OffsetDateTime::now_utc();
    match command {
        Command::Ca {
            dir,
            name,
            days,
            force,
        } => write(&dir, "ca", &make::ca(&name, now, days)?, force),
        Command::Node {
            ca,
            id,
            name,
            addresses,
            out,
            days,
            force,
        } => {
            let ca = load_ca(&ca)?;
            let name = name.unwrap_or_else(|| format!("node-{id}"));
            let made = ca.node(id, &name, &addresses, now, days)?;
            write(&out, &format!("node-{id}"), &made, force)
        }
        Command::Client {
            ca,
            identity,
            out,
            days,
            force,
        } => {
            let names = names::client_names(&identity).map_err(CertError::Invalid)?;
            let ca = load_ca(&ca)?;
            let made = ca.client(&names, now, days)?;
            let stem = format!("client-{}", names::file_stem(&identity));
            write(&out, &stem, &made, force)
        }
        Command::Show { file } => show(&file),
    }
}

/// Runs one `ham cert` subcommand; errors are one line on standard error.
pub fn main(command: Command) -> ExitCode {
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ham cert: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
