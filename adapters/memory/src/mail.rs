//! Mail kept in memory, for tests and the embedded default.

use std::sync::Mutex;

use async_trait::async_trait;
use dd0c_ports::mail::{Email, Mail};
use dd0c_ports::PortResult;

use crate::lock;

/// Keeps sent mail in memory; `sent()` shows what went out.
#[derive(Debug, Default)]
pub struct MemoryMail {
    sent: Mutex<Vec<Email>>,
}

impl MemoryMail {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent, in order.
    pub fn sent(&self) -> Vec<Email> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl Mail for MemoryMail {
    async fn send(&self, email: &Email) -> PortResult<String> {
        email.validate()?;
        let mut sent = lock(&self.sent);
        sent.push(email.clone());
        Ok(format!("memory-{}", sent.len()))
    }
}
