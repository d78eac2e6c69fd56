use dd0c_ports::PortError;

/// Maps a sqlx error onto the port's: connection trouble is retryable `Unavailable`, the rest a
/// `Backend` error with the context of the call that failed.
pub(crate) fn backend(context: &str, error: sqlx::Error) -> PortError {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => PortError::Unavailable(format!("{context}: {error}")),
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
        {
            // 57P01 admin shutdown, 57P03 cannot connect now, 08xxx connection exceptions.
            PortError::Unavailable(format!("{context}: {db}"))
        }
        other => PortError::Backend(format!("{context}: {other}")),
    }
}

/// Context for JSON (de)serialization of stored payloads.
pub(crate) fn payload(context: &str, error: serde_json::Error) -> PortError {
    PortError::Backend(format!("{context}: stored payload does not match: {error}"))
}
