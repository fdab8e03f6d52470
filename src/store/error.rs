//! What can go wrong in the store.

/// A failure of the store itself (disk, corruption), not of the request.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no, or could not be reached.
    #[error("store: {0}")]
    Postgres(PgError),
    /// A daemon's lease on a delivery lane was taken over by another daemon
    /// (PostgreSQL): what it did under that lease is not recorded.
    #[error("{0}")]
    LeaseLost(String),
    /// The group this request was in failed to commit.
    #[error("store: commit failed: {0}")]
    Commit(String),
    /// The update could not be decided at all (its source left the rules).
    #[error("{0}")]
    Decide(String),
    /// The writer thread has stopped.
    #[error("store: the writer has stopped")]
    Closed,
    /// What an operator named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// What an operator asked cannot be done in the state things are in.
    #[error("{0}")]
    Conflict(String),
    /// What an operator gave is not enough or not valid.
    #[error("{0}")]
    Invalid(String),
    /// The database was migrated by a newer ordersync than this one.
    #[error(
        "store: the database has schema version {found}, newer than this ordersync knows ({known}); run the ordersync that last opened it, or a newer one"
    )]
    Newer {
        /// The database's `user_version`.
        found: i64,
        /// The newest version this binary migrates to.
        known: i64,
    },
}

impl StoreError {
    /// The store cannot be reached (a PostgreSQL server down or restarting):
    /// the request may succeed later, unchanged.
    pub fn unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Postgres(PgError {
                unavailable: true,
                ..
            })
        )
    }
}

/// A PostgreSQL failure, in words, and whether running the transaction
/// again may succeed (a lost race for a row that another daemon inserted,
/// a deadlock, a serialization failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgError {
    /// The server's message (with its detail), or why it could not be reached.
    pub message: String,
    /// The same transaction again may succeed.
    pub retry: bool,
    /// The server could not be reached, or the connection broke: the request
    /// is answered 503 (try again later), never a 2xx.
    pub unavailable: bool,
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "postgres: {}", self.message)
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        use tokio_postgres::error::SqlState;
        let Some(db) = e.as_db_error() else {
            // "error connecting to server" says little without its cause.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            return StoreError::Postgres(PgError {
                message,
                retry: false,
                unavailable: true,
            });
        };
        let mut message = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            message.push_str(" (");
            message.push_str(detail);
            message.push(')');
        }
        let code = db.code();
        let retry = *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE;
        // Class 08 (connection), 57P (the server shutting down), 53 (out of resources).
        let unavailable = ["08", "57P", "53"]
            .iter()
            .any(|class| code.code().starts_with(class));
        StoreError::Postgres(PgError {
            message,
            retry,
            unavailable,
        })
    }
}
