//! The trust both deepidv clients use, assembled in one place so they cannot
//! differ: the operating system's store (which honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`), the bundled Mozilla roots when the system has none (a bare
//! container), plus the extra CAs of [`Config::ca_certs`]; and how a rustls
//! certificate failure maps onto the core's transport kinds.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::Arc;

use deepidv_core::{CaSource, Config, Error, ErrorKind, ProxyUrl, TransportErrorKind};
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The certificates of a PEM text; `name` says where it came from in errors.
/// No certificate, or a broken one, is an [`ErrorKind::InvalidArgument`] error.
pub fn parse_pem(pem: &[u8], name: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("CA certificates {name}: {why}"),
        )
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(bad(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found".into(),
        ));
    }
    let mut probe = RootCertStore::empty();
    let (_, ignored) = probe.add_parsable_certificates(certs.iter().cloned());
    if ignored > 0 {
        return Err(bad(format!("{ignored} certificate(s) could not be parsed")));
    }
    Ok(certs)
}

/// The extra CAs of the configuration, files read now: a missing, unreadable
/// or non-PEM file is an [`ErrorKind::InvalidArgument`] error naming it.
pub fn extra_roots(config: &Config) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut all = Vec::new();
    for source in &config.ca_certs {
        match source {
            CaSource::File(path) => {
                let name = format!("{:?}", path.display().to_string());
                let pem = std::fs::read(path).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("CA certificates {name}: cannot read the file ({e})"),
                    )
                })?;
                all.extend(parse_pem(&pem, &name)?);
            }
            CaSource::Pem(pem) => all.extend(parse_pem(pem, "(PEM text)")?),
            _ => {}
        }
    }
    Ok(all)
}

/// Every root to trust: the OS store (or, when it is empty or missing, the
/// bundled Mozilla roots) plus the configuration's extra CAs. When the client
/// never speaks TLS ([`Config::uses_tls`]: an `http` loopback base URL and no
/// `https` proxy, e.g. the simulator) the OS store is not read (it costs a
/// couple of milliseconds per process); the extra CAs are still checked.
pub fn root_certificates(
    config: &Config,
    proxy: Option<&ProxyUrl>,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let extra = extra_roots(config)?;
    if !config.uses_tls(proxy) {
        return Ok(extra);
    }
    let mut roots = rustls_native_certs::load_native_certs().certs;
    if roots.is_empty() {
        roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec();
    }
    roots.extend(extra);
    Ok(roots)
}

/// A rustls client configuration over ring with [`root_certificates`], for
/// HTTP/1.1.
pub fn client_config(
    config: &Config,
    proxy: Option<&ProxyUrl>,
) -> Result<rustls::ClientConfig, Error> {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(root_certificates(config, proxy)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS setup failed: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// The transport kind of a rustls failure about the server's certificate, if it is one.
pub fn certificate_error_kind(e: &rustls::Error) -> Option<TransportErrorKind> {
    match e {
        rustls::Error::InvalidCertificate(c) => Some(match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TransportErrorKind::HostnameMismatch
            }
            _ => TransportErrorKind::UntrustedCertificate,
        }),
        _ => None,
    }
}

/// [`certificate_error_kind`] of the first rustls error in a chain of sources
/// (looking inside `io::Error`s too, whose `source` skips the error they wrap).
pub fn certificate_error_kind_in(
    e: &(dyn std::error::Error + 'static),
) -> Option<TransportErrorKind> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return certificate_error_kind(r);
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_an_invalid_argument_naming_the_source() {
        for bad in [
            &b""[..],
            b"hello",
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        ] {
            let e = parse_pem(bad, "\"ca.pem\"").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.to_string().contains("ca.pem"), "{e}");
        }
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_pem(junk, "x").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let config = Config::new(deepidv_core::ApiKey::new("k").unwrap())
            .with_ca_file("/nonexistent/corp-ca.pem");
        let e = root_certificates(&config, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("/nonexistent/corp-ca.pem"), "{e}");
    }

    #[test]
    fn certificate_errors_map_to_their_kinds() {
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(
            certificate_error_kind(&name),
            Some(TransportErrorKind::HostnameMismatch)
        );
        let issuer = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            certificate_error_kind(&issuer),
            Some(TransportErrorKind::UntrustedCertificate)
        );
        let io = std::io::Error::other(issuer);
        assert_eq!(
            certificate_error_kind_in(&io),
            Some(TransportErrorKind::UntrustedCertificate)
        );
        assert_eq!(
            certificate_error_kind(&rustls::Error::HandshakeNotComplete),
            None
        );
    }

    #[test]
    fn the_store_is_never_empty() {
        let config = Config::new(deepidv_core::ApiKey::new("k").unwrap());
        assert!(!root_certificates(&config, None).unwrap().is_empty());
    }

    #[test]
    fn without_tls_the_os_store_is_not_read_but_extra_cas_are_checked() {
        let http = Config::new(deepidv_core::ApiKey::new("k").unwrap())
            .with_base_url(deepidv_core::BaseUrl::parse("http://127.0.0.1:4010").unwrap());
        assert!(!http.uses_tls(None));
        assert!(root_certificates(&http, None).unwrap().is_empty());
        // an https proxy is TLS, so the roots are needed again
        let tls_proxy = ProxyUrl::parse("https://proxy.example:3128").unwrap();
        assert!(
            !root_certificates(&http, Some(&tls_proxy))
                .unwrap()
                .is_empty()
        );
        let http_proxy = ProxyUrl::parse("http://proxy.example:3128").unwrap();
        assert!(
            root_certificates(&http, Some(&http_proxy))
                .unwrap()
                .is_empty()
        );
        // a bad extra CA is refused all the same
        let bad = http.with_ca_pem(b"not a certificate".as_slice());
        assert_eq!(
            root_certificates(&bad, None).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
