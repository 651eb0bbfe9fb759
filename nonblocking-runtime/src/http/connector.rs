//! How the client opens connections: plain TCP, or with the `https` feature TLS through rustls
//! (ring as the crypto provider, the Mozilla roots of `webpki-roots` plus any the user adds).

use hyper_util::client::legacy::connect::HttpConnector;

#[cfg(feature = "https")]
pub(crate) use self::tls::{Connector, TlsRoots};

#[cfg(not(feature = "https"))]
pub(crate) type Connector = HttpConnector;

/// Without the `https` feature there is nothing to trust.
#[cfg(not(feature = "https"))]
#[derive(Default)]
pub(crate) struct TlsRoots;

#[cfg(not(feature = "https"))]
impl TlsRoots {
    pub(crate) fn connector(&self) -> Result<Connector, String> {
        Ok(HttpConnector::new())
    }
}

#[cfg(feature = "https")]
mod tls {
    use std::sync::Arc;

    use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use rustls::{ClientConfig, RootCertStore};

    use super::HttpConnector;

    pub(crate) type Connector = HttpsConnector<HttpConnector>;

    /// Certificates to trust besides the built-in roots, as PEM.
    #[derive(Default)]
    pub(crate) struct TlsRoots {
        pems: Vec<Vec<u8>>,
    }

    impl TlsRoots {
        pub(crate) fn add_pem(&mut self, pem: Vec<u8>) {
            self.pems.push(pem);
        }

        /// A connector for `http://` and `https://` URLs.
        pub(crate) fn connector(&self) -> Result<Connector, String> {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for pem in &self.pems {
                let mut found = false;
                for certificate in CertificateDer::pem_slice_iter(pem) {
                    let certificate = certificate
                        .map_err(|error| format!("a root certificate could not be read: {error}"))?;
                    roots
                        .add(certificate)
                        .map_err(|error| format!("a root certificate was refused: {error}"))?;
                    found = true;
                }
                if !found {
                    return Err("a root certificate PEM holds no certificate".to_owned());
                }
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|error| format!("TLS could not be set up: {error}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_or_http()
                .enable_http1()
                .build())
        }
    }
}
