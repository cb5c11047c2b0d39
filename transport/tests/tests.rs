//! Mutual TLS end to end on loopback: CA-verified clients, pinned servers, refusals.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed setup step should panic"
)]

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use palisade_transport::pki::{self, PemPair, Usage};
use palisade_transport::tls::{server_config, ClientAuth};
use palisade_transport::{client, server, PeerCertificate};

struct Pki {
    ca: PemPair,
    server: PemPair,
    client: PemPair,
}

fn pki() -> Pki {
    let ca = pki::new_ca("test CA").unwrap();
    let server = pki::issue(&ca, "server", &["127.0.0.1".into()], Usage::Server).unwrap();
    let client = pki::issue(&ca, "operator", &[], Usage::Client).unwrap();
    Pki { ca, server, client }
}

async fn whoami(Extension(peer): Extension<Option<PeerCertificate>>) -> String {
    peer.map_or_else(|| "anonymous".to_owned(), |p| p.fingerprint)
}

async fn start(identity: &PemPair, auth: ClientAuth) -> String {
    let tls = server_config(identity, &auth).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/whoami", get(whoami));
    tokio::spawn(server::serve(listener, tls, router, std::future::pending()));
    format!("https://{addr}/whoami")
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn required_client_certificate_is_verified_and_visible_to_handlers() {
    let p = pki();
    let url = start(&p.server, ClientAuth::Required(p.ca.cert_der().unwrap())).await;
    let c = client::ca_client(&p.ca.cert_der().unwrap(), Some(&p.client), T).unwrap();
    let body = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, pki::fingerprint(&p.client.cert_der().unwrap()[0]));
    // Without a client certificate the handshake fails.
    let anon = client::ca_client(&p.ca.cert_der().unwrap(), None, T).unwrap();
    assert!(anon.get(&url).send().await.is_err());
    // A client certificate from another CA is refused too.
    let other = pki();
    let stranger = client::ca_client(&p.ca.cert_der().unwrap(), Some(&other.client), T).unwrap();
    assert!(stranger.get(&url).send().await.is_err());
}

#[tokio::test]
async fn optional_client_auth_lets_anonymous_clients_in_without_identity() {
    let p = pki();
    let url = start(&p.server, ClientAuth::Optional(p.ca.cert_der().unwrap())).await;
    let anon = client::ca_client(&p.ca.cert_der().unwrap(), None, T).unwrap();
    assert_eq!(
        anon.get(&url).send().await.unwrap().text().await.unwrap(),
        "anonymous"
    );
}

#[tokio::test]
async fn pinned_client_accepts_only_the_pinned_certificate() {
    let p = pki();
    let agent = pki::self_signed_server("agent", &["10.0.0.1".into()]).unwrap();
    let url = start(&agent, ClientAuth::Required(p.ca.cert_der().unwrap())).await;
    let pinned = agent.cert_der().unwrap().remove(0);
    let c = client::pinned_client(pinned, Some(&p.client), T).unwrap();
    assert!(c.get(&url).send().await.unwrap().status().is_success());
    // Another self-signed certificate (same names) is refused.
    let impostor = pki::self_signed_server("agent", &["10.0.0.1".into()]).unwrap();
    let c =
        client::pinned_client(impostor.cert_der().unwrap().remove(0), Some(&p.client), T).unwrap();
    assert!(c.get(&url).send().await.is_err());
}

#[test]
fn pem_pairs_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    p.client.write(dir.path(), "client").unwrap();
    let back = PemPair::read(dir.path(), "client").unwrap().unwrap();
    assert_eq!(back.cert, p.client.cert);
    assert!(PemPair::read(dir.path(), "absent").unwrap().is_none());
    let mode = std::fs::metadata(dir.path().join("client.key"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}
