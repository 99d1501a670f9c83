//! Tamper evidence beyond hashes: `--sign-key` signs the exact bytes of `manifest.json` with
//! Ed25519 and writes the signature (base64) to `manifest.sig`; `verify --pubkey` checks it.
//! The manifest already hashes every other file, so one signature covers the folder.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use crate::InputError;

pub fn load_signing_key(path: &Path) -> Result<SigningKey, InputError> {
    let e = |m: String| InputError {
        file: path.display().to_string(),
        line: None,
        field: Some("--sign-key".into()),
        message: m,
    };
    let pem = std::fs::read_to_string(path).map_err(|x| e(format!("cannot read: {x}")))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
        e(
            "not an Ed25519 private key in PKCS#8 PEM form (openssl genpkey -algorithm ed25519)"
                .into(),
        )
    })
}

pub fn sign(key: &SigningKey, manifest: &[u8]) -> String {
    let sig = key.sign(manifest);
    base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()) + "\n"
}

/// Problems with the folder's signature, empty when it is valid for `pubkey`.
pub fn verify_signature(dir: &Path, pubkey: &Path) -> anyhow::Result<Vec<String>> {
    let pem = std::fs::read_to_string(pubkey)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", pubkey.display()))?;
    let key = VerifyingKey::from_public_key_pem(&pem).map_err(|_| {
        anyhow::anyhow!(
            "{}: not an Ed25519 public key in PEM form",
            pubkey.display()
        )
    })?;
    let manifest = std::fs::read(dir.join("manifest.json"))?;
    let Ok(sig_text) = std::fs::read_to_string(dir.join("manifest.sig")) else {
        return Ok(vec![
            "manifest.sig: missing (the report is not signed)".into()
        ]);
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(sig_text.trim()) else {
        return Ok(vec!["manifest.sig: not base64".into()]);
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
        return Ok(vec!["manifest.sig: not an Ed25519 signature".into()]);
    };
    Ok(match key.verify(&manifest, &sig) {
        Ok(()) => vec![],
        Err(_) => vec![
            "manifest.sig: bad signature (manifest.json changed, or signed by another key)".into(),
        ],
    })
}
