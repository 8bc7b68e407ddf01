//! Ed25519 key material: loaded from PEM files, or generated once and kept under the data
//! directory for the embedded mode.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A key problem, with the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The content is not the expected key.
    #[error("{0}")]
    Invalid(String),
}

/// The signing key in PKCS#8 DER, and the raw 32-byte public key.
#[derive(Clone)]
pub struct KeyPairDer {
    /// PKCS#8 DER of the private key.
    pub pkcs8: Vec<u8>,
    /// Raw public key.
    pub public: Vec<u8>,
}

impl std::fmt::Debug for KeyPairDer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairDer").finish_non_exhaustive()
    }
}

/// Generates a new key pair.
pub fn generate() -> KeyPairDer {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("system randomness");
    from_pkcs8(pkcs8.as_ref()).expect("freshly generated key parses")
}

/// Parses PKCS#8 DER (v1 or v2).
pub fn from_pkcs8(der: &[u8]) -> Result<KeyPairDer, KeyError> {
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map_err(|e| KeyError::Invalid(format!("not an Ed25519 PKCS#8 private key: {e}")))?;
    Ok(KeyPairDer {
        pkcs8: der.to_vec(),
        public: pair.public_key().as_ref().to_vec(),
    })
}

/// PEM text of the private key (`PRIVATE KEY`).
pub fn private_pem(pair: &KeyPairDer) -> String {
    pem("PRIVATE KEY", &pair.pkcs8)
}

/// PEM text of the public key (`PUBLIC KEY`, SubjectPublicKeyInfo).
pub fn public_pem(public: &[u8]) -> String {
    // SubjectPublicKeyInfo for id-Ed25519 (RFC 8410) followed by the 32-byte key.
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(public);
    pem("PUBLIC KEY", &der)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn unpem(text: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| KeyError::Invalid(format!("no {begin} block")))?
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .ok_or_else(|| KeyError::Invalid(format!("no {end} line")))?
        + start;
    let b64: String = text[start..stop].split_whitespace().collect();
    STANDARD
        .decode(b64)
        .map_err(|e| KeyError::Invalid(format!("bad base64 in PEM: {e}")))
}

/// Parses a private key PEM file's text.
pub fn parse_private_pem(text: &str) -> Result<KeyPairDer, KeyError> {
    from_pkcs8(&unpem(text, "PRIVATE KEY")?)
}

/// Parses a public key PEM file's text into the raw 32-byte key.
pub fn parse_public_pem(text: &str) -> Result<Vec<u8>, KeyError> {
    let der = unpem(text, "PUBLIC KEY")?;
    if der.len() != 44
        || der[..12]
            != [
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ]
    {
        return Err(KeyError::Invalid("not an Ed25519 public key".into()));
    }
    Ok(der[12..].to_vec())
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads the private key from `path`.
pub fn load_private(path: &Path) -> Result<KeyPairDer, KeyError> {
    parse_private_pem(&read(path)?)
        .map_err(|e| KeyError::Invalid(format!("{}: {e}", path.display())))
}

/// Loads the public key from `path`.
pub fn load_public(path: &Path) -> Result<Vec<u8>, KeyError> {
    parse_public_pem(&read(path)?)
        .map_err(|e| KeyError::Invalid(format!("{}: {e}", path.display())))
}

/// Loads `<dir>/jwt-ed25519.pem`, generating it (mode 0600) the first time.
pub fn load_or_generate(dir: &Path) -> Result<KeyPairDer, KeyError> {
    let path = dir.join("jwt-ed25519.pem");
    if path.exists() {
        return load_private(&path);
    }
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let pair = generate();
    write_private(&path, &private_pem(&pair)).map_err(io)?;
    tracing::info!(path = %path.display(), "generated a token-signing key");
    Ok(pair)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips() {
        let pair = generate();
        let back = parse_private_pem(&private_pem(&pair)).unwrap();
        assert_eq!(back.public, pair.public);
        assert_eq!(
            parse_public_pem(&public_pem(&pair.public)).unwrap(),
            pair.public
        );
        assert!(parse_public_pem("garbage").is_err());
    }

    #[test]
    fn generates_once_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_generate(dir.path()).unwrap();
        let b = load_or_generate(dir.path()).unwrap();
        assert_eq!(a.public, b.public);
    }
}
