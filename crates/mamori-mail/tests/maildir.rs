//! Maildir delivery and transport selection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use mail_parser::MessageParser;
use mamori_mail::{
    transport_from_config, MailState, MailTransport, MaildirTransport, MemoryOutbox, OutgoingMail,
    Recipient, TransportConfig, Worker,
};

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test]
async fn a_mail_lands_in_new_as_one_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("maildir");
    let transport = MaildirTransport::new(&root).unwrap();
    let m = OutgoingMail::new(
        Recipient::new("maildir@example.jp").unwrap(),
        "パスワード再設定のご案内 / Password reset",
        "以下のリンクから再設定してください。\nPlease follow the link.\n",
    );
    let prepared = common::composer().compose(&m).unwrap();
    transport.send(&prepared).await.unwrap();

    let new = files(&root.join("new"));
    assert_eq!(new.len(), 1);
    assert!(
        files(&root.join("tmp")).is_empty(),
        "tmp must be empty after the rename"
    );
    assert!(files(&root.join("cur")).is_empty());
    let bytes = std::fs::read(&new[0]).unwrap();
    assert_eq!(bytes, prepared.bytes);
    let parsed = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(parsed.subject(), Some(m.subject.as_str()));
    assert_eq!(parsed.body_text(0).unwrap().replace("\r\n", "\n"), m.text);

    // Delivering the same mail again (a retry after a crash) replaces, not duplicates.
    transport.send(&prepared).await.unwrap();
    assert_eq!(files(&root.join("new")).len(), 1);
}

#[tokio::test]
async fn config_without_smtp_uses_the_maildir_through_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("md");
    let config: TransportConfig = parse_toml(&format!("maildir = {:?}", root.to_str().unwrap()));
    let transport = transport_from_config(&config).unwrap();
    assert!(format!("{transport:?}").contains("MaildirTransport"));

    let store = Arc::new(MemoryOutbox::new());
    let m = OutgoingMail::new(
        Recipient::new("w@example.jp").unwrap(),
        "発送のお知らせ",
        "商品を発送しました。\n",
    );
    store.enqueue(m.clone()).unwrap();
    let worker = Worker::new(
        store.clone(),
        transport,
        Arc::new(common::composer()),
        common::fast_config(),
    );
    let report = worker.run_once().await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(store.status(m.id).unwrap().unwrap().state, MailState::Sent);
    assert_eq!(files(&root.join("new")).len(), 1);

    let smtp: TransportConfig =
        parse_toml("[smtp]\nhost = \"relay.example.jp\"\nport = 2525\nsecurity = \"start_tls\"");
    let t = transport_from_config(&smtp).unwrap();
    assert!(format!("{t:?}").contains("SmtpTransport"));
}

/// Parses the `[mail]` table as the binary would (TOML).
fn parse_toml(toml_text: &str) -> TransportConfig {
    toml::from_str(toml_text).unwrap()
}
