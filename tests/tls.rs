//! HTTPS served by the binary itself, with a self-signed certificate made here: pages over
//! TLS carry HSTS, the session cookie is Secure, plain HTTP on the redirect port is sent to
//! HTTPS, and a new certificate is served after SIGHUP without a restart.

mod process;

use process::{free_port, start_with};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Writes a new self-signed certificate for localhost into `cert` / `key`; returns its DER.
fn make_certificate(cert: &Path, key: &Path) -> Vec<u8> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.key_pair.serialize_pem()).unwrap();
    made.cert.der().to_vec()
}

/// Sends `request` over TLS to `addr`, trusting only `trusted`; returns the certificate the
/// server showed and the raw response.
async fn over_tls(addr: &str, trusted: &[u8], request: &str) -> std::io::Result<(Vec<u8>, String)> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(trusted.to_vec()))
        .map_err(std::io::Error::other)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    let shown = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    Ok((shown, String::from_utf8_lossy(&raw).into_owned()))
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_hsts_secure_cookies_a_redirect_and_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = make_certificate(&cert, &key);
    let redirect_port = free_port();
    let redirect = format!("127.0.0.1:{redirect_port}");
    let server = start_with(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls-redirect-addr",
            &redirect,
        ],
        None,
    );
    let https_port = server.addr.rsplit(':').next().unwrap().to_string();

    // A page over TLS: the certificate given, and HSTS.
    let (shown, page) = over_tls(
        &server.addr,
        &first,
        &format!(
            "GET /login HTTP/1.1\r\nHost: localhost:{https_port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await
    .unwrap();
    assert_eq!(shown, first);
    assert!(page.starts_with("HTTP/1.1 "), "{page}");
    assert_eq!(
        header(&page, "strict-transport-security"),
        Some("max-age=31536000")
    );

    // Signing in over HTTPS: the session cookie is Secure without being configured so.
    let form = "login=admin&email=admin%40example.org&display_name=Admin&password=admin-password-1&password_confirm=admin-password-1";
    let (_, setup) = over_tls(
        &server.addr,
        &first,
        &format!(
            "POST /api/setup HTTP/1.1\r\nHost: localhost:{https_port}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n\
             Content-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    )
    .await
    .unwrap();
    assert!(setup.starts_with("HTTP/1.1 200"), "{setup}");
    // The session cookie (a device cookie is set beside it).
    let cookie = setup
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim())
        .find(|v| v.starts_with("tessera_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    // Plain HTTP on the redirect port goes to the same path on HTTPS (308 keeps a POST).
    let mut plain = tokio::net::TcpStream::connect(&redirect).await.unwrap();
    plain
        .write_all(
            format!("GET /groups?page=2 HTTP/1.1\r\nHost: localhost:{redirect_port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = String::new();
    plain.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 308"), "{raw}");
    assert_eq!(
        header(&raw, "location"),
        Some(format!("https://localhost:{https_port}/groups?page=2").as_str())
    );

    // A renewed certificate (new files) is served after SIGHUP, without a restart.
    let second = make_certificate(&cert, &key);
    assert_ne!(first, second);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let request =
        format!("GET /login HTTP/1.1\r\nHost: localhost:{https_port}\r\nConnection: close\r\n\r\n");
    loop {
        match over_tls(&server.addr, &second, &request).await {
            Ok((shown, page)) => {
                assert_eq!(shown, second);
                assert!(page.starts_with("HTTP/1.1 200"), "{page}");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the new certificate was not served: {e}"),
        }
    }
}
