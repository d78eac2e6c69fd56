//! Sign-in throttling, counted in the [`Attempts`] port (Redis when configured), so that every
//! replica sees the same counts. Failed sign-ins are counted three ways within [`WINDOW`]:
//! - per client address and account: [`MAX_FAILURES`] lock that pair (429 until the window
//!   ends) — one person's typos lock neither their colleagues behind the same address nor
//!   their own account from elsewhere;
//! - per address: [`ADDRESS_FAILURES`], across accounts (credential stuffing from one place);
//! - per account: past [`ACCOUNT_FAILURES`] from anywhere the account is under attack, and each
//!   address may then try it once per [`ACCOUNT_SPACING`]: guesses spread over many addresses
//!   slow down, and the owner, from an address of their own, still signs in after that delay.

use std::sync::Arc;
use std::time::Duration;

use dd0c_ports::attempts::Attempts;
use dd0c_ports::PortResult;

/// Failures allowed per address and account within the window.
pub const MAX_FAILURES: u64 = 5;
/// Failures allowed per address, whatever the accounts, within the window.
pub const ADDRESS_FAILURES: u64 = 30;
/// Failures of one account, from anywhere, past which it is under attack.
pub const ACCOUNT_FAILURES: u64 = 20;
/// While an account is under attack, how often one address may try it.
pub const ACCOUNT_SPACING: Duration = Duration::from_secs(30);
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The throttle over shared counts.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Throttle {
    attempts: Arc<dyn Attempts>,
}

/// The keys one sign-in is counted under.
struct Keys {
    pair: String,
    address: String,
    account: String,
    turn: String,
}

impl Keys {
    fn of(email: &str, client: &str) -> Self {
        Keys {
            pair: format!("signin:pair:{client}:{email}"),
            address: format!("signin:address:{client}"),
            account: format!("signin:account:{email}"),
            turn: format!("signin:turn:{client}:{email}"),
        }
    }
}

impl Throttle {
    /// A throttle counting in `attempts`.
    pub fn new(attempts: Arc<dyn Attempts>) -> Self {
        Throttle { attempts }
    }

    /// Seconds until `client` may try to sign in as `email`, if it must wait.
    pub async fn wait(&self, email: &str, client: &str) -> PortResult<Option<u64>> {
        let keys = Keys::of(email, client);
        for (key, most) in [
            (&keys.pair, MAX_FAILURES),
            (&keys.address, ADDRESS_FAILURES),
        ] {
            let tally = self.attempts.tally(key).await?;
            if tally.count >= most {
                return Ok(Some(tally.retry_after.max(1)));
            }
        }
        if self.attempts.tally(&keys.account).await?.count >= ACCOUNT_FAILURES {
            let turn = self.attempts.count(&keys.turn, ACCOUNT_SPACING).await?;
            if turn.count > 1 {
                return Ok(Some(turn.retry_after.max(1)));
            }
        }
        Ok(None)
    }

    /// Counts a failed sign-in as `email` from `client`.
    pub async fn failed(&self, email: &str, client: &str) -> PortResult<()> {
        let keys = Keys::of(email, client);
        for key in [&keys.pair, &keys.address, &keys.account] {
            self.attempts.count(key, WINDOW).await?;
        }
        Ok(())
    }

    /// Forgets the pair's failures after a successful sign-in (the account's and the address's
    /// run out with their windows: a success proves nothing about the other guesses).
    pub async fn succeeded(&self, email: &str, client: &str) -> PortResult<()> {
        self.attempts.forget(&Keys::of(email, client).pair).await
    }
}
