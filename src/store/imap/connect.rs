//! Opening an authenticated IMAP session: TCP, TLS (implicit or STARTTLS; rustls with the ring
//! provider), the secret (re-read from its file, variable or command on every connect, STYLE 12)
//! and LOGIN or AUTHENTICATE XOAUTH2.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::ImapError;
use crate::config::{Auth, Imap, Tls};

/// How long a TCP connect, TLS handshake and greeting may take before the attempt is retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection under an IMAP session: plain TCP (`tls = "none"`) or TLS over TCP.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP, loopback only.
    Plain(TcpStream),
    /// TLS, implicit or after STARTTLS.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An authenticated session.
pub type Session = async_imap::Session<Stream>;

/// Connects, secures and logs in to `account`.
pub async fn open(account: &Imap) -> Result<Session, ImapError> {
    let client = tokio::time::timeout(CONNECT_TIMEOUT, secure(account)).await.map_err(|_| {
        ImapError::Network(format!("{}:{}: no greeting within {CONNECT_TIMEOUT:?}", account.host, account.port))
    })??;
    let secret = secret(&account.auth).await?;
    let login = match &account.auth {
        Auth::OAuth2TokenCommand(_) => {
            let xoauth2 = XOAuth2 { user: account.username.clone(), token: secret };
            client.authenticate("XOAUTH2", xoauth2).await
        }
        _ => client.login(&account.username, &secret).await,
    };
    login.map_err(|(e, _)| refused_login(account, e))
}

/// A failed login: a refusal in the server's words is permanent unless RFC 5530 calls it
/// temporary (`[UNAVAILABLE]`: its password backend is down); a lost connection is the network.
fn refused_login(account: &Imap, e: async_imap::error::Error) -> ImapError {
    let who = format!("{} as {}", account.host, account.username);
    match super::answer::Answer::of(&e) {
        Some(said) if !said.temporary() => ImapError::Auth(format!(
            "{who}: the server answered {said} — check imap.username and the password, then send SIGHUP or start again"
        )),
        Some(said) => ImapError::Network(format!("login {who}: the server answered {said}")),
        None => ImapError::protocol(&format!("login {who}"), e),
    }
}

/// TCP, then TLS as configured; returns a client whose greeting was read.
async fn secure(account: &Imap) -> Result<async_imap::Client<Stream>, ImapError> {
    let host = account.host.as_str();
    if account.tls == Tls::None && !is_loopback(host) && !account.allow_plaintext {
        return Err(ImapError::Config(format!(
            "tls = \"none\" would send the password for {host} in clear — use tls = \"starttls\" or \"implicit\" (or allow_plaintext = true)"
        )));
    }
    let tcp = TcpStream::connect((host, account.port))
        .await
        .map_err(|e| ImapError::Network(format!("{host}:{}: {e}", account.port)))?;
    let tcp_nodelay = tcp.set_nodelay(true);
    if let Err(e) = tcp_nodelay {
        tracing::debug!(host, error = %e, "TCP_NODELAY not set");
    }
    match account.tls {
        Tls::None => greeted(Stream::Plain(tcp)).await,
        Tls::Implicit => greeted(Stream::Tls(Box::new(handshake(account, tcp).await?))).await,
        Tls::Starttls => {
            let mut client = greeted(Stream::Plain(tcp)).await?;
            // RFC 3501 §6.2.1: after the tagged OK the next bytes are the TLS handshake.
            client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| {
                ImapError::Tls(format!(
                    "{host}: STARTTLS refused ({e}) — the server may want tls = \"implicit\" on port 993"
                ))
            })?;
            let Stream::Plain(tcp) = client.into_inner() else {
                return Err(ImapError::Tls(format!("{host}: STARTTLS on a TLS connection")));
            };
            // No second greeting after STARTTLS.
            Ok(async_imap::Client::new(Stream::Tls(Box::new(handshake(account, tcp).await?))))
        }
    }
}

/// Wraps `stream` in a client and reads the server's greeting (async-imap does not).
async fn greeted(stream: Stream) -> Result<async_imap::Client<Stream>, ImapError> {
    let mut client = async_imap::Client::new(stream);
    match client.read_response().await {
        Ok(Some(_)) => Ok(client),
        Ok(None) => Err(ImapError::Network("the server closed the connection before its greeting".into())),
        Err(e) => Err(ImapError::Network(format!("reading the greeting: {e}"))),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The TLS handshake, with certificate problems spelled out (name, expiry, CA).
async fn handshake(account: &Imap, tcp: TcpStream) -> Result<TlsStream<TcpStream>, ImapError> {
    let config = client_config(account.ca_file.as_deref())?;
    let name = rustls::pki_types::ServerName::try_from(account.host.clone())
        .map_err(|e| ImapError::Config(format!("imap.host = {:?} is not a TLS server name: {e}", account.host)))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(name, tcp).await.map_err(|e| ImapError::Tls(describe_tls(account, &e)))
}

/// A rustls client config on the ring provider trusting `ca_file`, else the system roots.
fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ImapError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let added = add_pem_file(&mut roots, path)?;
            if added == 0 {
                return Err(ImapError::Config(format!(
                    "ca_file {}: no certificate in it — point it at a PEM file",
                    path.display()
                )));
            }
        }
        None => match system_bundle() {
            Some(path) => {
                add_pem_file(&mut roots, &path)?;
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        },
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The system's CA bundle: `$SSL_CERT_FILE`, else where Debian and Red Hat put it.
fn system_bundle() -> Option<std::path::PathBuf> {
    let env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let known =
        ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"].map(std::path::PathBuf::from);
    env.into_iter().chain(known).find(|p| p.is_file())
}

fn add_pem_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<usize, ImapError> {
    let pem = std::fs::read(path).map_err(|e| ImapError::Config(format!("ca_file {}: {e}", path.display())))?;
    let mut added = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| ImapError::Config(format!("ca_file {}: {e}", path.display())))?;
        if roots.add(cert).is_ok() {
            added += 1;
        }
    }
    Ok(added)
}

/// One line saying what is wrong with the server's certificate and what to do about it.
fn describe_tls(account: &Imap, err: &io::Error) -> String {
    use rustls::CertificateError as C;
    let host = &account.host;
    let trusted = match &account.ca_file {
        Some(p) => format!("ca_file {}", p.display()),
        None => "the system roots".to_owned(),
    };
    let Some(rustls::Error::InvalidCertificate(cert)) = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return format!("{host}:{}: TLS handshake failed: {err}", account.port);
    };
    // rustls's own text names the certificate's names and validity dates where it has them.
    let (what, fix) = match cert {
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            (cert.to_string(), "set imap.host to a name the certificate carries".to_owned())
        }
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            (cert.to_string(), "the server must renew its certificate (or this machine's clock is wrong)".to_owned())
        }
        C::UnknownIssuer => {
            (format!("it is not signed by a CA in {trusted}"), "set imap.ca_file to the CA that signed it".to_owned())
        }
        _ => (cert.to_string(), format!("checked against {trusted}")),
    };
    format!("{host}:{}: the server's certificate was rejected: {what} — {fix}", account.port)
}

/// The password or token, fetched now (commands run on every connect: tokens expire).
async fn secret(auth: &Auth) -> Result<String, ImapError> {
    let auth = auth.clone();
    tokio::task::spawn_blocking(move || read_secret(&auth))
        .await
        .map_err(|e| ImapError::Secret(format!("the secret task failed: {e}")))?
}

fn read_secret(auth: &Auth) -> Result<String, ImapError> {
    let first_line = |text: &str| text.lines().next().unwrap_or("").trim_end_matches('\r').to_owned();
    match auth {
        Auth::Password(p) => Ok(p.clone()),
        Auth::PasswordFile(path) => std::fs::read_to_string(path)
            .map(|t| first_line(&t))
            .map_err(|e| ImapError::Secret(format!("password_file {}: {e}", path.display()))),
        Auth::PasswordEnv(var) => std::env::var(var)
            .map(|t| first_line(&t))
            .map_err(|_| ImapError::Secret(format!("password_env: ${var} is not set (or not UTF-8)"))),
        Auth::PasswordCommand(argv) | Auth::OAuth2TokenCommand(argv) => {
            let (program, args) = argv.split_first().ok_or_else(|| ImapError::Secret("empty command".into()))?;
            let out = std::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| ImapError::Secret(format!("{program}: {e}")))?;
            if !out.status.success() {
                return Err(ImapError::Secret(format!("{program} exited with {}", out.status)));
            }
            let line = first_line(&String::from_utf8_lossy(&out.stdout));
            if line.is_empty() {
                return Err(ImapError::Secret(format!("{program} printed nothing")));
            }
            Ok(line)
        }
    }
}

/// SASL XOAUTH2 (Google, Microsoft): `user=U ^A auth=Bearer T ^A ^A`.
struct XOAuth2 {
    user: String,
    token: String,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_from_each_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "hunter2\nignored\n").unwrap();
        assert_eq!(read_secret(&Auth::PasswordFile(file)).unwrap(), "hunter2");
        let cmd = Auth::PasswordCommand(vec!["printf".into(), "s3cret\\n".into()]);
        assert_eq!(read_secret(&cmd).unwrap(), "s3cret");
        let failing = Auth::OAuth2TokenCommand(vec!["false".into()]);
        assert!(read_secret(&failing).unwrap_err().to_string().contains("false exited"));
        let unset = Auth::PasswordEnv("BACKSCATTER_TEST_UNSET_VARIABLE".into());
        assert!(read_secret(&unset).unwrap_err().to_string().contains("is not set"));
    }

    #[test]
    fn xoauth2_initial_response() {
        use async_imap::Authenticator;
        let mut auth = XOAuth2 { user: "me@example.com".into(), token: "ya29.tok".into() };
        // https://developers.google.com/gmail/imap/xoauth2-protocol
        assert_eq!(auth.process(b""), "user=me@example.com\x01auth=Bearer ya29.tok\x01\x01");
    }

    #[test]
    fn plaintext_only_on_loopback() {
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("localhost"));
        assert!(!is_loopback("imap.example.com") && !is_loopback("192.0.2.1"));
    }
}
