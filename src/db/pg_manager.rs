//! The PostgreSQL connection pool's manager: diesel's, plus a cheaper health
//! check.
//!
//! Testing every connection as it leaves the pool costs a round trip per
//! request. Instead a connection is tested when it has been idle for a while (a
//! restart of the server may have closed it meanwhile), and a connection on
//! which a query found the server gone is marked suspect and dropped when it
//! comes back to the pool, so that the pool refills with live ones by itself.

use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Error, ManageConnection, R2D2Connection};
use std::time::{Duration, Instant};

/// A connection unused for this long is tested before it is handed out.
const IDLE_BEFORE_TEST: Duration = Duration::from_secs(1);

pub struct PgConn {
    pub conn: PgConnection,
    last_ok: Instant,
    /// A query on it found the server unreachable.
    pub suspect: bool,
}

#[derive(Debug)]
pub struct PgManager(pub ConnectionManager<PgConnection>);

impl ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = Error;

    fn connect(&self) -> Result<PgConn, Error> {
        Ok(PgConn {
            conn: self.0.connect()?,
            last_ok: Instant::now(),
            suspect: false,
        })
    }

    fn is_valid(&self, c: &mut PgConn) -> Result<(), Error> {
        if c.suspect || c.last_ok.elapsed() >= IDLE_BEFORE_TEST {
            c.conn.ping().map_err(Error::QueryError)?;
            c.last_ok = Instant::now();
            c.suspect = false;
        }
        Ok(())
    }

    fn has_broken(&self, c: &mut PgConn) -> bool {
        if c.suspect || self.0.has_broken(&mut c.conn) {
            return true;
        }
        c.last_ok = Instant::now();
        false
    }
}
