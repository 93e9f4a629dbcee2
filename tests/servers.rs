//! The real servers the integration tests rely on start, work and stop: if this fails, the
//! machine lacks a package or a permission, not backscatter a feature.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use support::{Dns, Dovecot, Postfix};

#[test]
fn postfix_delivers_and_bounces() {
    let postfix = Postfix::start("");
    let send = |to: &str| {
        let mut child = postfix.sendmail().args(["-f", "bob@test.invalid", to]).stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"Subject: hello\n\nhi\n").unwrap();
        assert!(child.wait().unwrap().success());
    };
    send("alice@test.invalid");
    postfix.wait_for_mail("alice", 1, Duration::from_secs(10));
    send("nobody@test.invalid");
    let bob = postfix.wait_for_mail("bob", 1, Duration::from_secs(10));
    let dsn = std::fs::read_to_string(&bob[0]).unwrap();
    assert!(dsn.contains("report-type=delivery-status"), "{dsn}");
}

#[test]
fn dovecot_greets_and_logs_in() {
    let dovecot = Dovecot::start(&[]);
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, dovecot.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    (&stream).write_all(b"a LOGIN alice secret\r\n").unwrap();
    line.clear();
    while !line.starts_with("a ") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    assert!(line.starts_with("a OK"), "{line}");
}

#[test]
fn dnsmasq_answers_the_spf_record() {
    let dns = Dns::start(&[]);
    let answer = support::query_txt(dns.port, "example.test").expect("dnsmasq answers");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("v=spf1 ip4:192.0.2.0/24 -all"), "{text}");
}
