//! The command line: global options (device choice, where secrets come from) and one
//! subcommand per task. Secrets never come from argv unless an `--*-insecure` flag says so;
//! no `Debug` derive, so that such a value can never be printed by accident.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Administration of SmartCard-HSM / Nitrokey HSM devices: status, initialization, the DKEK
/// ceremony and key domains, backup and restore of keys, key import and generation.
#[derive(Parser)]
#[command(name = "schsm-tool", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Clone, Default)]
pub struct Global {
    /// PC/SC reader: its index in `schsm-tool readers` or (part of) its name.
    #[arg(long, global = true, value_name = "NAME|INDEX", conflicts_with = "sim")]
    pub reader: Option<String>,
    /// A simulated device directory (made by `schsm-sim new DIR`), used in-process.
    #[arg(long, global = true, value_name = "DIR")]
    pub sim: Option<PathBuf>,
    /// Read the user PIN from this file (first line) instead of a prompt.
    #[arg(long, global = true, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// INSECURE: the user PIN on the command line (visible to other users and in shell history).
    #[arg(long, global = true, value_name = "PIN", hide_short_help = true)]
    pub pin_insecure: Option<String>,
    /// Read the SO-PIN (16 hex digits) from this file instead of a prompt.
    #[arg(long, global = true, value_name = "FILE")]
    pub so_pin_file: Option<PathBuf>,
    /// INSECURE: the SO-PIN on the command line.
    #[arg(long, global = true, value_name = "HEX16", hide_short_help = true)]
    pub so_pin_insecure: Option<String>,
    /// Password of a DKEK share file, from this file; repeat in the order of the share files.
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Vec<PathBuf>,
    /// INSECURE: a share file password on the command line; repeatable.
    #[arg(long, global = true, value_name = "PASSWORD", hide_short_help = true)]
    pub password_insecure: Vec<String>,
    /// A file of t password shares (`<prime hex> <id> <value hex>` per line) that rebuilds a
    /// share file's password (n-of-m split); repeat in the order of the share files.
    #[arg(long, global = true, value_name = "FILE")]
    pub pwd_shares_file: Vec<PathBuf>,
    /// Rounds of the share-file key derivation (sc-hsm-tool's --iter).
    #[arg(long, global = true, value_name = "N", default_value_t = 10_000_000)]
    pub iterations: u32,
    /// Answer "yes" to every confirmation (wiping, deleting).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the PC/SC readers with their index.
    Readers,
    /// Firmware, quirks, options, PIN tries, DKEK state, keys.
    Status,
    /// INITIALIZE DEVICE: erases every key and sets PINs, retry counter, DKEK shares, label.
    Init(InitArgs),
    /// The keys on the device (reference, type, size, algorithms, ID, label).
    List,
    /// Delete a key with its description, certificate and metadata.
    Delete(DeleteArgs),
    /// DKEK shares: create a share file, import one, check files against the device.
    #[command(subcommand)]
    Dkek(DkekCommand),
    /// Wrap keys into files in sc-hsm-tool's format, with a manifest.
    Backup(BackupArgs),
    /// Unwrap keys from wrapped-key files (a backup folder or one file).
    Restore(RestoreArgs),
    /// Import a private key (PKCS#12, PKCS#8 plain or encrypted, traditional RSA/EC; DER or
    /// PEM) with its certificate, through a key blob made with the DKEK held by the tool.
    Import(ImportArgs),
    /// Generate a key on the device (EC, RSA, AES) with the description our module and OpenSC
    /// read. RSA 4096 takes minutes on a real card.
    Generate(GenerateArgs),
}

#[derive(Args)]
pub struct GenerateArgs {
    /// ec:CURVE (secp256r1 = prime256v1 = P-256, secp384r1, secp521r1, secp192r1, secp224r1,
    /// secp256k1, brainpoolP256r1, brainpoolP384r1, ... as the firmware takes them),
    /// rsa:BITS (1024 to 4096 in steps of 8; HSM 1: up to 2048), or aes:BITS (128, 192, 256;
    /// firmware 3.0 and later).
    #[arg(value_name = "TYPE")]
    pub key_type: String,
    /// Label (default "Private Key", or "Secret Key" for AES, as the PKCS#11 module).
    #[arg(long)]
    pub label: Option<String>,
    /// CKA_ID in hex (default: SHA-1 of the modulus or of the public point's X, as OpenSC; the
    /// key reference for AES).
    #[arg(long, value_name = "HEX")]
    pub id: Option<String>,
    /// Key domain to put the key in (firmware 3.0 and later; the domain must be set up). The
    /// key is then backed up under that domain's DKEK.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub domain: u8,
    /// What the key may do: algorithm names as `list` shows them, comma-separated (e.g.
    /// ECDSA-SHA256,ECDH or RSA-PSS-SHA256,RSA-DECRYPT-OAEP or AES-CBC-ENC,AES-CBC-DEC) or hex
    /// ids. WRAP (backup) is added unless --non-exportable. Default: anything.
    #[arg(long, value_name = "LIST")]
    pub algorithms: Option<String>,
    /// The key can never leave the device: its algorithm list lacks WRAP, so it cannot be
    /// backed up.
    #[arg(long)]
    pub non_exportable: bool,
}

#[derive(Args)]
pub struct InitArgs {
    /// Number of DKEK shares to import after initialization (0 = the device makes a random
    /// DKEK; absent = no DKEK: keys can never be backed up).
    #[arg(long, value_name = "N")]
    pub dkek_shares: Option<u8>,
    /// User PIN retry counter (1..15).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retry: u8,
    /// Transport PIN mode: the user must change the PIN before first use.
    #[arg(long)]
    pub transport_pin: bool,
    /// Disable RESET RETRY COUNTER (the SO cannot unblock the user PIN).
    #[arg(long)]
    pub no_reset_retry_counter: bool,
    /// Number of key domains (firmware 3.0 and later).
    #[arg(long, value_name = "N")]
    pub key_domains: Option<u8>,
    /// Public key authentication: TOTAL:REQUIRED keys.
    #[arg(long, value_name = "TOTAL:REQUIRED")]
    pub public_key_auth: Option<String>,
    /// Token label, written to EF 2F03 (as sc-hsm-tool --label).
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// Key reference (as `list` shows it).
    pub key_ref: u8,
}

#[derive(Subcommand)]
pub enum DkekCommand {
    /// Create a DKEK share file (sc-hsm-tool --create-dkek-share format).
    Create(DkekCreateArgs),
    /// Import DKEK shares from files into the device.
    Import(DkekFilesArgs),
    /// Show the key check values of share files and compare with the device's, importing nothing.
    Check(DkekFilesArgs),
    /// Key domains (firmware 3.0 and later): set one up with its own DKEK, or delete it.
    #[command(subcommand)]
    Domain(DomainCommand),
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Set up key domain N with a DKEK of n shares (import them with `dkek import --domain N`;
    /// 0 shares = a random DKEK made by the device). The domain must exist (init
    /// --key-domains) and not be set up yet. Needs the user PIN.
    Create(DomainCreateArgs),
    /// Delete key domain N and its DKEK. The device refuses while keys live in the domain.
    /// Needs the user PIN.
    Delete(DomainDeleteArgs),
}

#[derive(Args)]
pub struct DomainCreateArgs {
    /// Key domain number (1 up to the number given at initialization minus one).
    #[arg(value_name = "N")]
    pub domain: u8,
    /// Number of DKEK shares the domain's DKEK is made of.
    #[arg(long, value_name = "n")]
    pub shares: u8,
}

#[derive(Args)]
pub struct DomainDeleteArgs {
    /// Key domain number.
    #[arg(value_name = "N")]
    pub domain: u8,
}

#[derive(Args)]
pub struct DkekCreateArgs {
    /// The share file to write (refused if it exists, unless --force).
    pub file: PathBuf,
    /// Protect the file with a random password split n-of-m (prints the n shares).
    #[arg(long, value_name = "T", requires = "pwd_shares_total")]
    pub pwd_shares_threshold: Option<u8>,
    #[arg(long, value_name = "N", requires = "pwd_shares_threshold")]
    pub pwd_shares_total: Option<u8>,
    /// Take the share from the OS random generator, without a device.
    #[arg(long, alias = "sim-less")]
    pub no_device: bool,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct DkekFilesArgs {
    /// Share files, in order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// (check) Only show the files' key check values, without a device.
    #[arg(long, conflicts_with = "domain")]
    pub no_device: bool,
    /// Key domain whose DKEK the shares are for (default 0; check: default every domain).
    #[arg(long, value_name = "N")]
    pub domain: Option<u8>,
}

#[derive(Args)]
pub struct BackupArgs {
    /// The folder to write (created if missing).
    pub dir: PathBuf,
    /// Only this key reference.
    #[arg(long = "key", value_name = "REF", conflicts_with = "all")]
    pub key: Option<u8>,
    /// Every key (the default).
    #[arg(long)]
    pub all: bool,
    /// Overwrite files of an earlier backup.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A backup folder (with manifest.tsv) or one wrapped-key file.
    pub source: PathBuf,
    /// Key reference to restore a single file into (default: the lowest free one).
    #[arg(long, value_name = "N")]
    pub key_ref: Option<u8>,
    /// DKEK share files: lets the tool check blobs and re-encode them for firmware 3.1 (bug #168).
    #[arg(long, value_name = "FILE")]
    pub dkek_share: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// PKCS#12 (.p12/.pfx); PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8 ("ENCRYPTED PRIVATE
    /// KEY": PBES2 with PBKDF2 or scrypt and AES-CBC), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC
    /// PRIVATE KEY"), as PEM or DER. OpenSSL's legacy encrypted PEM (Proc-Type: 4,ENCRYPTED) is
    /// not read: convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`.
    pub file: PathBuf,
    /// Certificate for a PKCS#8 key (DER or PEM).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// DKEK share files of the device's DKEK (needed: the key blob is made on the host).
    #[arg(long, value_name = "FILE", required = true)]
    pub dkek_share: Vec<PathBuf>,
    /// Label of the key (default: the PKCS#12 friendly name, else "Imported key").
    #[arg(long)]
    pub label: Option<String>,
    /// CKA_ID in hex (default: SHA-1 of the modulus or of the public point's X).
    #[arg(long, value_name = "HEX")]
    pub id: Option<String>,
    /// Key reference (default: the lowest free one).
    #[arg(long, value_name = "N")]
    pub key_ref: Option<u8>,
    /// Read the password of the PKCS#12 file or of an encrypted key from this file instead of a
    /// prompt.
    #[arg(long, value_name = "FILE", visible_alias = "key-password-file")]
    pub p12_password_file: Option<PathBuf>,
    /// INSECURE: the PKCS#12 / encrypted key password on the command line.
    #[arg(
        long,
        value_name = "PASSWORD",
        hide_short_help = true,
        visible_alias = "key-password-insecure"
    )]
    pub p12_password_insecure: Option<String>,
}
