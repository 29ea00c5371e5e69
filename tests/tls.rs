//! HTTPS served by the binary itself, with a self-signed certificate made here: pages over
//! TLS carry HSTS, the session cookie is Secure, plain HTTP on the redirect port is sent to
//! HTTPS, and a new certificate is served after SIGHUP without a restart. Clients that offer
//! HTTP/2 as browsers do (curl with its defaults, a client offering `h2` and `http/1.1`) get
//! their pages over HTTP/2.

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

/// A client configuration trusting only `trusted`, offering `alpn` (none when empty).
fn client_config(trusted: &[u8], alpn: &[&[u8]]) -> std::io::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(trusted.to_vec()))
        .map_err(std::io::Error::other)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Sends `request` over TLS to `addr`, trusting only `trusted`; returns the certificate the
/// server showed and the raw response.
async fn over_tls(addr: &str, trusted: &[u8], request: &str) -> std::io::Result<(Vec<u8>, String)> {
    let config = client_config(trusted, &[])?;
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

/// A server with a fresh self-signed certificate; returns it with the certificate's DER.
fn start_https(dir: &Path) -> (process::Server, Vec<u8>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let der = make_certificate(&cert, &key);
    let server = start_with(
        &dir.join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        None,
    );
    (server, der)
}

/// curl with its default ALPN (h2 first, as browsers) gets a page (a fresh server's set-up)
/// over HTTP/2. Before
/// HTTP/2 was served, the server offered h2 but then spoke HTTP/1.1, and curl failed with
/// "HTTP/2 stream 1 was not closed cleanly".
#[test]
fn curl_gets_pages_over_http2() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start_https(dir.path());
    let page = dir.path().join("page.html");
    let out = std::process::Command::new("curl")
        .args(["-k", "-sS", "--max-time", "20", "-o"])
        .arg(&page)
        .args(["-w", "%{http_version} %{response_code}"])
        .arg(format!("https://{}/setup", server.addr))
        .output()
        .expect("curl (the test needs curl with HTTP/2, as Debian's)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 200");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("</html>"), "{html}");
    assert!(html.contains("name=\"password\""), "{html}");

    // Forcing HTTP/1.1 still works.
    let out = std::process::Command::new("curl")
        .args([
            "-k",
            "-sS",
            "--http1.1",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_version} %{response_code}"])
        .arg(format!("https://{}/setup", server.addr))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1 200");
}

/// A client offering h2 and http/1.1 (what browsers offer) negotiates h2 and completes
/// HTTP/2 requests on one connection: a page, then a second request on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_offering_h2_gets_http2() {
    use http_body_util::{BodyExt, Empty};
    let dir = tempfile::tempdir().unwrap();
    let (server, der) = start_https(dir.path());
    let config = client_config(&der, &[b"h2", b"http/1.1"]).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("an HTTP/2 connection");
    tokio::spawn(conn);
    for path in ["/setup", "/setup?again=1"] {
        let req = http::Request::get(format!("https://localhost{path}"))
            .header("accept", "text/html")
            .body(Empty::<hyper::body::Bytes>::new())
            .unwrap();
        let res = tokio::time::timeout(Duration::from_secs(20), sender.send_request(req))
            .await
            .expect("an answer in time")
            .expect("an HTTP/2 response");
        assert_eq!(res.version(), http::Version::HTTP_2);
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000")
        );
        assert_eq!(res.status(), 200, "{path}");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("</html>"), "{path}");
    }
}
