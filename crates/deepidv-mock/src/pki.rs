//! A throwaway certificate authority and a server certificate, made at run time:
//! for tests of a client's trust settings against the TLS simulator, and for
//! `deepidv-mock --tls-self-signed DIR`.

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::MockTls;

/// A CA made now, and a server certificate it signed for some host names or IP
/// addresses. Nothing is trusted until a client is given [`TestPki::ca_pem`].
///
/// ```
/// use deepidv_mock::{MockConfig, MockServer, TestPki};
///
/// let pki = TestPki::generate(&["127.0.0.1"])?;
/// let server = MockServer::start_background(MockConfig {
///     tls: Some(pki.tls()),
///     ..MockConfig::instant()
/// })?;
/// assert!(server.url().starts_with("https://127.0.0.1:"));
/// // a client trusts it with `Config::with_ca_pem(pki.ca_pem.as_bytes())`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TestPki {
    /// The CA's certificate (PEM): what a client must be told to trust.
    pub ca_pem: String,
    /// The server certificate (PEM), signed by the CA.
    pub cert_pem: String,
    /// The server certificate's private key (PEM, PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

impl TestPki {
    /// A new CA, and a certificate it signed for `names` (DNS names or IP
    /// addresses, e.g. `localhost`, `127.0.0.1`).
    pub fn generate(names: &[&str]) -> Result<Self, String> {
        let err = |e: rcgen::Error| format!("cannot make a test certificate: {e}");
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "deepidv-mock throwaway CA");
        let ca = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().map_err(err)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names)
            .map_err(err)?
            .signed_by(&key, &issuer)
            .map_err(err)?;
        Ok(Self {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The simulator's TLS settings for this certificate.
    pub fn tls(&self) -> MockTls {
        MockTls {
            cert_pem: self.cert_pem.clone().into_bytes(),
            key_pem: self.key_pem.clone().into_bytes(),
        }
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` (mode 0600 on Unix) into `dir`,
    /// creating it if needed.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        std::fs::write(dir.join("cert.pem"), &self.cert_pem)?;
        let key = dir.join("key.pem");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(key)?, self.key_pem.as_bytes())
    }
}
