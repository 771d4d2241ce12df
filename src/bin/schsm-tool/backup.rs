//! `backup`: WRAP KEY for one or every key, each into a wrapped-key file in sc-hsm-tool's
//! format (PROTOCOL.md §8.5: blob, description, certificate), plus manifest.tsv.
//! `restore`: the reverse, into free key references, with the module's bug #168 shim on
//! firmware 3.1 (`unwrap_needs_reencoding`, `KeyBlob::reencode`).
//!
//! Everything that can be checked on the host is checked for every file before the first
//! UNWRAP: shapes, the DKEK's KCV, the MAC when the DKEK is given. Only the #168 refusal is per
//! key: the other keys are restored and the exit status says that one was not.
//!
//! Key domains: the card wraps a key under its own domain's DKEK, and unwraps a blob into the
//! domain whose complete DKEK has the blob's KCV; so a blob is accepted when its KCV is that of
//! any complete domain.

use std::path::{Path, PathBuf};

use schsm_pkcs11::card::blob::KeyBlob;
use schsm_pkcs11::card::dkek::Dkek;
use schsm_pkcs11::card::firmware::unwrap_needs_reencoding;
use schsm_pkcs11::card::wrapped_file::WrappedKeyFile;
use schsm_pkcs11::card::{Device, Error, Fid};

use crate::args::{BackupArgs, Global, RestoreArgs};
use crate::keys::{inventory, unwrap_with_files, write_module_meta, KeyEntry};
use crate::output::{explain, hex, Doing, Failure, Outcome};
use crate::{domains, open_logged_in, secrets};

pub const MANIFEST: &str = "manifest.tsv";
const MANIFEST_HEADER: &str = "file\tkey_ref\tlabel\tcka_id\ttype\tbits";

fn file_name(key_ref: u8) -> String {
    format!("key-{key_ref:03}.bin")
}

fn clean(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

fn manifest_line(k: &KeyEntry) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        file_name(k.key_ref),
        k.key_ref,
        clean(k.stored_label()),
        hex(&k.cka_id()),
        k.kind(),
        k.bits().unwrap_or(0)
    )
}

pub fn backup(g: &Global, a: &BackupArgs) -> Outcome {
    let mut dev = open_logged_in(g)?;
    let complete = domains::require_complete(&mut dev)?;
    let mut keys = inventory(&mut dev)?;
    if let Some(r) = a.key {
        keys.retain(|k| k.key_ref == r);
        if keys.is_empty() {
            return Err(Failure::new(format!("there is no key {r} on the device")));
        }
    }
    if keys.is_empty() {
        return Err(Failure::new("the device holds no keys; nothing to back up"));
    }
    std::fs::create_dir_all(&a.dir).doing(&format!("create {}", a.dir.display()))?;
    let manifest = a.dir.join(MANIFEST);
    let mut planned: Vec<PathBuf> = keys
        .iter()
        .map(|k| a.dir.join(file_name(k.key_ref)))
        .collect();
    planned.push(manifest.clone());
    if let Some(existing) = planned.iter().find(|p| p.exists()).filter(|_| !a.force) {
        return Err(Failure::new(format!(
            "{} exists; nothing written (add --force to overwrite)",
            existing.display()
        )));
    }
    let mut lines = vec![
        format!(
            "# schsm-tool backup of {}, DKEK KCV {}",
            dev.name(),
            complete
                .iter()
                .map(|(d, k)| match d {
                    0 => hex(k),
                    _ => format!("{} (key domain {d})", hex(k)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        MANIFEST_HEADER.to_string(),
    ];
    let mut refused = Vec::new();
    for k in &keys {
        // The card wraps a key under the DKEK of its own key domain; the blob names it (KCV).
        let blob = match dev.wrap_key(k.key_ref) {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "schsm-tool: key {} not backed up: {}",
                    k.key_ref,
                    explain(&e)
                );
                refused.push(k.key_ref);
                continue;
            }
        };
        let prkd = dev
            .read_file_if_exists(Fid::prkd(k.key_ref))
            .doing("read the key description")?;
        let file = WrappedKeyFile {
            blob,
            prkd,
            certificate: k.certificate.clone(),
        };
        let path = a.dir.join(file_name(k.key_ref));
        std::fs::write(&path, file.encode()).doing(&format!("write {}", path.display()))?;
        lines.push(manifest_line(k));
        let kcv = KeyBlob::parse(&file.blob).map(|b| hex(&b.header.kcv)).ok();
        println!(
            "Key {} ({} {}, {:?}) -> {}{}",
            k.key_ref,
            k.kind(),
            k.bits().unwrap_or(0),
            k.label(),
            path.display(),
            match (kcv, complete.len()) {
                (Some(kcv), 2..) => format!(" (DKEK KCV {kcv})"),
                _ => String::new(),
            }
        );
    }
    lines.push(String::new());
    std::fs::write(&manifest, lines.join("\n")).doing(&format!("write {}", manifest.display()))?;
    if !refused.is_empty() {
        return Err(Failure::new(format!(
            "{} key(s) not exportable (generated without WRAP permission?): {:?}",
            refused.len(),
            refused
        )));
    }
    println!(
        "{} key(s) backed up under DKEK KCV {}.",
        keys.len(),
        complete
            .iter()
            .map(|(_, k)| hex(k))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    Ok(())
}

/// The files to restore: the manifest's, in its order, or the one file given.
fn sources(source: &Path) -> Outcome<Vec<PathBuf>> {
    if !source.is_dir() {
        if !source.exists() {
            return Err(Failure::new(format!("{} does not exist", source.display())));
        }
        return Ok(vec![source.to_path_buf()]);
    }
    let manifest = source.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest).doing(&format!(
        "read {} (restore a folder made by `schsm-tool backup`, or name one file)",
        manifest.display()
    ))?;
    let files: Vec<PathBuf> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && *l != MANIFEST_HEADER)
        .filter_map(|l| l.split('\t').next())
        .map(|f| source.join(f))
        .collect();
    if files.is_empty() {
        return Err(Failure::new(format!(
            "{} lists no keys",
            manifest.display()
        )));
    }
    Ok(files)
}

struct Parsed {
    path: PathBuf,
    file: WrappedKeyFile,
    blob: KeyBlob,
    /// The key domain whose DKEK has the blob's KCV: where the card will put the key.
    domain: u8,
}

/// Reads and checks one file: its blob's KCV must be that of a key domain with a complete DKEK
/// (the card unwraps into that domain), and its MAC must verify when the DKEK is given.
fn parse(path: &Path, complete: &[(u8, [u8; 8])], dkek: Option<&Dkek>) -> Outcome<Parsed> {
    let bytes = std::fs::read(path).doing(&format!("read {}", path.display()))?;
    let damaged = |e: Error| {
        Failure::new(format!(
            "{}: damaged or not a wrapped key: {}",
            path.display(),
            explain(&e)
        ))
    };
    let file = WrappedKeyFile::decode(&bytes).map_err(damaged)?;
    let blob = KeyBlob::parse(&file.blob).map_err(damaged)?;
    let Some(&(domain, _)) = complete.iter().find(|(_, k)| *k == blob.header.kcv) else {
        return Err(Failure::new(format!(
            "{}: made under another DKEK (KCV {}); the device has {}; nothing restored",
            path.display(),
            hex(&blob.header.kcv),
            domains::describe_kcvs(complete)
        )));
    };
    if let Some(d) = dkek.filter(|d| d.kcv() == blob.header.kcv) {
        blob.verify(d).map_err(damaged)?;
    }
    Ok(Parsed {
        path: path.to_path_buf(),
        file,
        blob,
        domain,
    })
}

pub fn restore(g: &Global, a: &RestoreArgs) -> Outcome {
    let files = sources(&a.source)?;
    if a.key_ref.is_some() && files.len() > 1 {
        return Err(Failure::new(
            "--key-ref needs a single file, not a folder of several keys",
        ));
    }
    let dkek = if a.dkek_share.is_empty() {
        None
    } else {
        Some(secrets::host_dkek(g, &a.dkek_share)?)
    };
    let mut dev = open_logged_in(g)?;
    let complete = domains::require_complete(&mut dev)?;
    if let Some(d) = &dkek {
        domains::require_share_kcv(&complete, &d.kcv())?;
    }
    let parsed = files
        .iter()
        .map(|f| parse(f, &complete, dkek.as_ref()))
        .collect::<Outcome<Vec<_>>>()?;
    if let Some(r) = a.key_ref {
        if r == 0 || dev.key_ids().doing("list the keys")?.contains(&r) {
            return Err(Failure::new(format!("key reference {r} is not free")));
        }
    }
    let mut refused = Vec::new();
    for p in &parsed {
        match restore_one(&mut dev, p, a.key_ref, dkek.as_ref()) {
            Ok(id) if p.domain == 0 => println!("{} -> key reference {id}", p.path.display()),
            Ok(id) => println!(
                "{} -> key reference {id} (key domain {})",
                p.path.display(),
                p.domain
            ),
            Err(f) => {
                eprintln!("schsm-tool: {}: not restored: {f}", p.path.display());
                refused.push(p.path.display().to_string());
            }
        }
    }
    if !refused.is_empty() {
        return Err(Failure::new(format!(
            "{} of {} key(s) not restored: {}",
            refused.len(),
            parsed.len(),
            refused.join(", ")
        )));
    }
    Ok(())
}

/// What to tell the user when a blob hits bug #168 and the tool has no DKEK.
const BUG_168_TOOL_ADVICE: &str = "firmware 3.1 cannot unwrap a key blob that carries an \
allowed-algorithm list (CardContact bug #168, SW 6F00): give the DKEK share files with \
--dkek-share FILE (and their passwords) so that the blob is re-encoded without the list, or \
update the device to firmware 3.2 or later";

fn restore_one(
    dev: &mut Device,
    p: &Parsed,
    key_ref: Option<u8>,
    dkek: Option<&Dkek>,
) -> Outcome<u8> {
    let list = p.blob.header.algorithms.clone();
    let shim = unwrap_needs_reencoding(dev.profile(), &list);
    // Only the DKEK the blob was made with can re-encode it.
    let dkek = dkek.filter(|d| d.kcv() == p.blob.header.kcv);
    let to_send = match (shim, dkek) {
        (false, _) => p.blob.as_bytes().to_vec(),
        (true, None) => return Err(Failure::new(BUG_168_TOOL_ADVICE)),
        (true, Some(d)) => {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| Failure::new(format!("OS random: {e}")))?;
            let out = p
                .blob
                .reencode(d, &[], &random)
                .doing("re-encode the blob")?;
            println!(
                "{}: firmware 3.1 (bug #168): blob re-encoded without its algorithm list {}; the \
                 restriction stays in the key's description",
                p.path.display(),
                hex(&list)
            );
            out
        }
    };
    let id = match key_ref {
        Some(r) => r,
        None => dev.free_key_id().doing("find a free key reference")?,
    };
    unwrap_with_files(dev, id, &to_send, |dev| {
        write_files(dev, p, id, shim.then_some(list))
    })?;
    Ok(id)
}

/// The description (with this key reference, and the restriction when the shim dropped it from
/// the blob) and the certificate. An undecodable description is written as it came, as
/// sc-hsm-tool does.
fn write_files(
    dev: &mut Device,
    p: &Parsed,
    id: u8,
    dropped_list: Option<Vec<u8>>,
) -> schsm_pkcs11::card::Result<()> {
    let alg_reference = match p.file.key_description() {
        Some(Ok(d)) => d.alg_reference.or(dropped_list.clone()),
        _ => dropped_list.clone(),
    };
    let prkd = match p.file.key_description() {
        Some(Ok(mut d)) => {
            let unchanged = d.key_reference == Some(id) && dropped_list.is_none();
            if unchanged {
                p.file.prkd.clone()
            } else {
                d.key_reference = Some(id);
                if d.alg_reference.is_none() {
                    d.alg_reference = dropped_list;
                }
                Some(d.encode())
            }
        }
        Some(Err(_)) => p.file.prkd.clone(),
        None => None,
    };
    match prkd {
        Some(bytes) => dev.write_file(Fid::prkd(id), &bytes)?,
        None => {
            dev.delete_file_if_exists(Fid::prkd(id))?;
        }
    }
    match &p.file.certificate {
        Some(c) => dev.write_file(Fid::ee_certificate(id), c)?,
        None => {
            dev.delete_file_if_exists(Fid::ee_certificate(id))?;
        }
    }
    write_module_meta(dev, id, alg_reference.as_deref())
}
