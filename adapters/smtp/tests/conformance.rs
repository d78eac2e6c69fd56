//! SmtpMail against a real SMTP server on loopback: aiosmtpd, which `scripts/test.sh` starts with
//! a Maildir handler and names in `DD0C_TEST_SMTP_URL` and `DD0C_TEST_MAILDIR`.

use std::path::PathBuf;

use async_trait::async_trait;
use dd0c_adapters_smtp::SmtpMail;
use dd0c_ports::conformance::{self, email_from_mime, MailSink};
use dd0c_ports::mail::Email;

/// Reads what the server stored: every message in the Maildir whose `To` includes the address.
struct Maildir(PathBuf);

#[async_trait]
impl MailSink for Maildir {
    async fn delivered_to(&self, to: &str) -> Vec<Email> {
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.0.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some((from, email)) = std::fs::read(entry.path())
                    .ok()
                    .and_then(|raw| email_from_mime(&raw))
                else {
                    continue;
                };
                if !email.to.iter().any(|r| r == to) {
                    continue;
                }
                assert_eq!(
                    from.as_deref(),
                    Some("alerts@dd0c.test"),
                    "the configured sender"
                );
                found.push(email);
            }
        }
        found
    }
}

fn server() -> (String, PathBuf) {
    let url = std::env::var("DD0C_TEST_SMTP_URL").expect(
        "DD0C_TEST_SMTP_URL: run the tests with scripts/test.sh, which starts an SMTP server",
    );
    let dir = std::env::var("DD0C_TEST_MAILDIR").expect("DD0C_TEST_MAILDIR");
    (url, PathBuf::from(dir))
}

#[tokio::test]
async fn smtp_mail_passes_the_mail_suite_against_a_real_server() {
    let (url, dir) = server();
    let mail = SmtpMail::new(&url, "dd0c/cost <alerts@dd0c.test>").expect("configured");
    conformance::mail_suite(&mail, &Maildir(dir)).await;
}

#[tokio::test]
async fn configuration_errors_name_the_setting() {
    let error = SmtpMail::new("smtp://localhost", "not a mailbox")
        .err()
        .expect("refused");
    assert!(error.to_string().contains("DD0C_MAIL_FROM"), "{error}");
    let error = SmtpMail::new("http://localhost", "alerts@dd0c.test")
        .err()
        .expect("refused");
    assert!(error.to_string().contains("DD0C_SMTP_URL"), "{error}");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_backend_error() {
    let mail =
        SmtpMail::new("smtp://127.0.0.1:9?tls=none", "alerts@dd0c.test").expect("configured");
    let email = Email {
        to: vec!["ops@example.com".into()],
        subject: "s".into(),
        text: "t".into(),
        html: "<p>h</p>".into(),
    };
    assert!(matches!(
        dd0c_ports::mail::Mail::send(&mail, &email).await,
        Err(dd0c_ports::PortError::Backend { .. })
    ));
}
