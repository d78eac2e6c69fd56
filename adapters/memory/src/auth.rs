//! Tokens that are their own principals, for tests of the API.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use dd0c_ports::auth::{Auth, Principal};
use dd0c_ports::{PortError, PortResult};

use crate::lock;

/// Bearer tokens issued in process (the embedded default's ingest tokens, tests).
#[derive(Debug, Default)]
pub struct MemoryAuth {
    tokens: Mutex<HashMap<String, Principal>>,
}

impl MemoryAuth {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `token` verify to `principal`.
    pub fn issue(&self, token: &str, principal: Principal) {
        lock(&self.tokens).insert(token.to_owned(), principal);
    }
}

#[async_trait]
impl Auth for MemoryAuth {
    async fn verify(&self, bearer: &str) -> PortResult<Principal> {
        lock(&self.tokens)
            .get(bearer)
            .cloned()
            .ok_or_else(|| PortError::Unauthorized("unknown token".into()))
    }
}
