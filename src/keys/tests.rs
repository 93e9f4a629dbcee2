//! Unit tests for the keyring: loading and its refusals, key choice, rotation, pruning, writing.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

fn id(n: u8) -> KeyId {
    KeyId::new(n).unwrap()
}

/// A keyring file with one `[[key]]` per `(id, created, retired)`; secrets `s<id>`.
fn text(keys: &[(u8, &str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (id, created, retired) in keys {
        out.push_str(&format!("[[key]]\nid = {id}\ncreated = \"{created}\"\nsecret = \"s{id}\"\n"));
        if let Some(r) = retired {
            out.push_str(&format!("retired = \"{r}\"\n"));
        }
    }
    out
}

fn ring(keys: &[(u8, &str, Option<&str>)]) -> Keyring {
    Keyring::parse(Path::new("/k/keyring.toml"), &text(keys)).unwrap()
}

fn ids(ring: &Keyring) -> Vec<u8> {
    ring.keys().iter().map(|k| k.id().get()).collect()
}

#[test]
fn parses_the_design_example() {
    let ring = Keyring::parse(
        Path::new("k.toml"),
        "[[key]]\nid = 3\ncreated = \"2025-09-24\"\nsecret = \"secret\"\n# retired = \"2025-10-01\"\n",
    )
    .unwrap();
    let key = ring.signing_key().unwrap();
    assert_eq!((key.id(), key.created(), key.retired(), key.secret()), (id(3), day("2025-09-24"), None, "secret"));
}

#[test]
fn refuses_group_or_other_access_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.toml");
    fs::write(&path, text(&[(0, "2025-09-24", None)])).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let err = Keyring::load(&path).unwrap_err();
        let shown = path.display();
        assert_eq!(
            err.to_string(),
            format!(
                "keyring {shown} is readable or writable by group/other (mode {mode:04o}): run `chmod 600 {shown}`"
            )
        );
    }
    for mode in [0o600, 0o400, 0o700] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        assert!(Keyring::load(&path).is_ok(), "mode {mode:o}");
    }
}

#[test]
fn refuses_a_directory_others_may_write_unless_it_is_sticky() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.toml");
    fs::write(&path, text(&[(0, "2025-09-24", None)])).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let err = Keyring::load(&path).unwrap_err();
    assert!(matches!(err, KeyringError::DirectoryPermissions { mode: 0o777, .. }), "{err}");
    assert!(err.to_string().contains(&format!("chmod go-w {}", dir.path().display())), "{err}");
    // Sticky, as /tmp is: others cannot rename over our file.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(Keyring::load(&path).is_ok());
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(Keyring::load(&path).is_ok());
}

#[test]
fn missing_keyring_says_to_init() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.toml");
    let err = Keyring::load(&path).unwrap_err();
    assert!(matches!(err, KeyringError::Missing { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "no keyring at {} — run `backscatter keys init` to create one (or give --keyring FILE)",
            path.display()
        )
    );
}

#[test]
fn toml_errors_name_the_file_and_line() {
    let bad = "[[key]]\nid = 0\ncreated = \"2025-09-24\"\nsecret = \"unterminated\n";
    let err = Keyring::parse(Path::new("/x/k.toml"), bad).unwrap_err();
    let KeyringError::Syntax { line, .. } = &err else { panic!("{err}") };
    assert_eq!(*line, 4);
    assert!(err.to_string().starts_with("keyring /x/k.toml:4: "), "{err}");

    let unknown = "[[key]]\nid = 0\ncreated = \"2025-09-24\"\nsecret = \"s\"\ncolour = \"red\"\n";
    let err = Keyring::parse(Path::new("/x/k.toml"), unknown).unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn reports_every_invalid_key_with_its_line() {
    let bad = "[[key]]\nid = 12\ncreated = \"2025-09-24\"\nsecret = \"a\"\n\
               [[key]]\nid = 1\ncreated = \"2025-13-01\"\nsecret = \"\"\n\
               [[key]]\nid = 1\ncreated = \"2025-09-24\"\nretired = \"2025-09-01\"\nsecret = \"b\"\n";
    let err = Keyring::parse(Path::new("k.toml"), bad).unwrap_err();
    let KeyringError::Invalid { problems, .. } = &err else { panic!("{err}") };
    let expected = [
        "k.toml:2: key id 12 is not 0–9",
        "k.toml:7: created: `2025-13-01` is not a date of the form YYYY-MM-DD",
        "k.toml:8: key 1 has an empty secret",
        "k.toml:10: key id 1 appears twice; each id may be used once",
        "k.toml:12: key 1 is retired (2025-09-01) before it was created (2025-09-24)",
    ];
    assert_eq!(problems, &expected);
}

#[test]
fn refuses_an_empty_keyring_and_more_than_ten_keys() {
    let err = Keyring::parse(Path::new("k.toml"), "# nothing\n").unwrap_err();
    assert!(err.to_string().contains("no keys"), "{err}");
    let eleven: Vec<_> = (0..11).map(|n| (n % 10, "2025-09-24", None)).collect();
    let err = Keyring::parse(Path::new("k.toml"), &text(&eleven)).unwrap_err();
    assert!(err.to_string().contains("11 keys; at most 10"), "{err}");
}

#[test]
fn signs_with_the_newest_unretired_key() {
    let r = ring(&[(0, "2025-01-01", None), (1, "2025-03-01", None), (2, "2025-02-01", None)]);
    assert_eq!(r.signing_key().map(StoredKey::id), Some(id(1)));
    // Same creation day: the later one in the file wins.
    let r = ring(&[(4, "2025-03-01", None), (3, "2025-03-01", None)]);
    assert_eq!(r.signing_key().map(StoredKey::id), Some(id(3)));
    // Retired keys never sign, however new.
    let r = ring(&[(0, "2025-01-01", None), (1, "2025-03-01", Some("2025-03-02"))]);
    assert_eq!(r.signing_key().map(StoredKey::id), Some(id(0)));
    let r = ring(&[(0, "2025-01-01", Some("2025-01-02"))]);
    assert!(r.signing_key().is_none());
    assert!(r.require_signing_key().unwrap_err().to_string().contains("run `backscatter keys rotate`"));
}

#[test]
fn retired_keys_verify_for_seven_days() {
    let r = ring(&[(0, "2025-01-01", Some("2025-02-01")), (1, "2025-02-01", None)]);
    let verifying = |d: &str| r.verifying_keys(day(d)).iter().map(|k| k.id.get()).collect::<Vec<_>>();
    assert_eq!(verifying("2025-02-01"), [0, 1]);
    assert_eq!(verifying("2025-02-08"), [0, 1]);
    assert_eq!(verifying("2025-02-09"), [1]);
    let old = &r.keys()[0];
    assert_eq!(r.state(old, day("2025-02-08")).to_string(), "verifying until 2025-02-08");
    assert_eq!(r.state(old, day("2025-02-09")), KeyState::Expired);
    assert_eq!(r.state(&r.keys()[1], day("2025-02-09")), KeyState::Signing);
    let two = ring(&[(0, "2025-01-01", None), (1, "2025-02-01", None)]);
    assert_eq!(two.state(&two.keys()[0], day("2025-02-09")), KeyState::Verifying);
}

#[test]
fn rotate_adds_the_next_id_and_retires_the_signer() {
    let mut r = ring(&[(0, "2025-01-01", None)]);
    let today = day("2025-03-01");
    assert_eq!(r.rotate(today, "new".into()).unwrap(), id(1));
    assert_eq!(ids(&r), [0, 1]);
    assert_eq!(r.keys()[0].retired(), Some(today));
    assert_eq!(r.keys()[1].created(), today);
    assert_eq!(r.signing_key().map(StoredKey::id), Some(id(1)));
    // A second rotation the same day retires the key made earlier that day.
    assert_eq!(r.rotate(today, "newer".into()).unwrap(), id(2));
    assert_eq!(r.signing_key().map(|k| k.secret()), Some("newer"));
    assert_eq!(r.keys()[1].retired(), Some(today));
}

#[test]
fn rotate_wraps_and_refuses_an_id_still_held() {
    let mut r = ring(&[(8, "2025-01-01", Some("2025-02-01")), (9, "2025-02-01", None)]);
    assert_eq!(r.rotate(day("2025-02-05"), "x".into()).unwrap(), id(0));
    assert_eq!(ids(&r), [8, 9, 0]);
    assert_eq!(r.keys()[1].retired(), Some(day("2025-02-05")));

    let mut r = ring(&[(0, "2025-01-01", None), (9, "2025-02-01", None)]);
    let err = r.rotate(day("2025-02-05"), "x".into()).unwrap_err();
    let KeyringError::IdInUse { id: taken, prunable_from, .. } = &err else { panic!("{err}") };
    assert_eq!((*taken, *prunable_from), (id(0), None));
    assert!(err.to_string().contains("not retired"), "{err}");
    assert_eq!(ids(&r), [0, 9], "a refused rotation changes nothing");

    let mut r = ring(&[(0, "2025-01-01", Some("2025-02-01")), (9, "2025-02-01", None)]);
    let err = r.rotate(day("2025-02-05"), "x".into()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the next key id, 0, is still held by a retired key in /k/keyring.toml: run `backscatter keys prune` \
         (it removes that key from 2025-02-09 on), then rotate again"
    );
    assert_eq!(r.prune(day("2025-02-09")).len(), 1);
    assert_eq!(r.rotate(day("2025-02-09"), "x".into()).unwrap(), id(0));
}

#[test]
fn never_more_than_ten_keys() {
    let ten: Vec<_> = (0..10).map(|n| (n, "2025-01-01", Some("2025-06-01"))).collect();
    let mut r = ring(&ten);
    r.keys[9].retired = None;
    assert!(matches!(r.rotate(day("2025-06-02"), "x".into()), Err(KeyringError::IdInUse { .. })));
    assert_eq!(r.keys().len(), MAX_KEYS);
}

#[test]
fn prune_deletes_only_keys_retired_over_seven_days_ago() {
    let mut r =
        ring(&[(0, "2025-01-01", Some("2025-02-01")), (1, "2025-02-01", Some("2025-02-02")), (2, "2025-02-02", None)]);
    assert!(r.prune(day("2025-02-08")).is_empty());
    let gone = r.prune(day("2025-02-09"));
    assert_eq!(gone.iter().map(|k| k.id().get()).collect::<Vec<_>>(), [0]);
    assert_eq!(ids(&r), [1, 2]);
    assert_eq!(r.prune(day("2025-02-10")).len(), 1);
    assert_eq!(ids(&r), [2]);
}

#[test]
fn toml_round_trip_keeps_awkward_secrets() {
    let mut r = ring(&[(0, "2025-01-01", None)]);
    r.rotate(day("2025-02-01"), "q\"uote \\ back\tslash 'ü' \u{1F511}".into()).unwrap();
    let again = Keyring::parse(r.path(), &r.to_toml()).unwrap();
    assert_eq!(again.keys(), r.keys());
}

#[test]
fn debug_never_shows_a_secret() {
    let r = ring(&[(0, "2025-01-01", None)]);
    assert!(!format!("{r:?}").contains("s0"));
}

#[test]
fn create_writes_0600_in_a_new_0700_dir_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/keyring.toml");
    let r = Keyring::new(&path, day("2025-09-24"), "secret-secret".into());
    r.create().unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    let loaded = Keyring::load(&path).unwrap();
    assert_eq!(loaded.keys(), r.keys());

    let err = Keyring::new(&path, day("2025-09-25"), "other-other".into()).create().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "keyring {} already exists; refusing to overwrite it — use `backscatter keys rotate` for a new key",
            path.display()
        )
    );
    assert_eq!(Keyring::load(&path).unwrap().keys(), r.keys());
    assert_eq!(fs::read_dir(dir.path().join("a/b")).unwrap().count(), 1, "no temp file left behind");
}

#[test]
fn save_replaces_the_file_and_keeps_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.toml");
    let mut r = Keyring::new(&path, day("2025-09-24"), "secret-secret".into());
    r.create().unwrap();
    r.rotate(day("2025-10-01"), "second-secret".into()).unwrap();
    r.save().unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(Keyring::load(&path).unwrap().keys(), r.keys());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
}

#[test]
fn write_failure_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir/keyring.toml");
    let err = Keyring::new(&path, day("2025-09-24"), "secret-secret".into()).save().unwrap_err();
    assert!(matches!(err, KeyringError::Create { .. }), "{err}");
    assert!(err.to_string().contains("missing-dir"), "{err}");
}

#[test]
fn base64url_matches_rfc_4648() {
    // RFC 4648 §10 test vectors, unpadded.
    for (input, want) in [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64url(input.as_bytes()), want);
    }
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    let secret = random_secret().unwrap();
    assert_eq!(secret.len(), 43);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{secret}");
    assert_ne!(secret, random_secret().unwrap());
}

#[test]
fn passphrases_need_eight_characters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pass");
    fs::write(&file, "1234567\nsecond line is ignored\n").unwrap();
    let err = read_passphrase(&file).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the passphrase in {} has 7 characters; it must have at least 8 (16 or more advised) — \
             or leave out --passphrase-file for a random key",
            file.display()
        )
    );
    // Characters, not bytes: seven umlauts are 14 bytes but still too short.
    fs::write(&file, "üüüüüüü").unwrap();
    assert!(matches!(read_passphrase(&file), Err(KeyringError::PassphraseTooShort { chars: 7, .. })));
    fs::write(&file, "12345678\r\n").unwrap();
    let p = read_passphrase(&file).unwrap();
    assert_eq!((p.secret.as_str(), p.weak), ("12345678", true));
    fs::write(&file, "correct horse battery staple").unwrap();
    assert!(!read_passphrase(&file).unwrap().weak);
    assert!(matches!(read_passphrase(&dir.path().join("none")), Err(KeyringError::PassphraseRead { .. })));
}
