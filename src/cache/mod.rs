//! The Redis handle: the suite's view of the API's auth cache and rate-limit counters.
//! Connects with no retries and short timeouts, so a missing Redis costs milliseconds,
//! not the client's default 10-17 s of backoff.

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::{Duration, Instant};

/// A connected Redis, with the key prefix of the platform instance it belongs to (empty for
/// a live platform; `hv:<id>:` for a stand-in).
#[derive(Clone)]
pub struct Cache {
    conn: ConnectionManager,
    prefix: String,
    /// The URL without credentials, for messages.
    pub display_url: String,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cache({})", self.display_url)
    }
}

use crate::secret::display_url;

impl Cache {
    /// Connects (one attempt, 2 s to connect, 2 s per command: bounded, and wide enough
    /// that a busy 2-core machine running the whole fault catalogue does not read a slow
    /// local connect as Redis down).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            display_url: display_url(url),
        })
    }

    /// The full Redis key for a platform key name (adds the instance prefix).
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub async fn ping(&self) -> redis::RedisResult<String> {
        redis::cmd("PING").query_async(&mut self.conn.clone()).await
    }

    /// SET a unique key with a TTL, GET it back, DEL it: proves reads and writes work.
    /// Returns the round-trip time.
    pub async fn round_trip(&self) -> Result<Duration, String> {
        let mut c = self.conn.clone();
        let key = self.key(&format!("hokusai-verify:probe:{}", fastrand::u64(..)));
        let value = format!("probe-{}", fastrand::u32(..));
        let t0 = Instant::now();
        let _: () = c
            .set_ex(&key, &value, 30)
            .await
            .map_err(|e| format!("SET failed: {e}"))?;
        let got: Option<String> = c.get(&key).await.map_err(|e| format!("GET failed: {e}"))?;
        let _: () = c.del(&key).await.map_err(|e| format!("DEL failed: {e}"))?;
        let elapsed = t0.elapsed();
        match got {
            Some(v) if v == value => Ok(elapsed),
            other => Err(format!(
                "GET returned {other:?} instead of the value just written"
            )),
        }
    }

    /// TTL of a key in seconds (-2: missing, -1: no expiry). `name` gets the prefix.
    pub async fn ttl(&self, name: &str) -> redis::RedisResult<i64> {
        self.conn.clone().ttl(self.key(name)).await
    }

    /// TTL of a key in milliseconds (-2: missing, -1: no expiry). `name` gets the prefix.
    pub async fn pttl(&self, name: &str) -> redis::RedisResult<i64> {
        self.conn.clone().pttl(self.key(name)).await
    }

    pub async fn get(&self, name: &str) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(self.key(name)).await
    }

    pub async fn del(&self, name: &str) -> redis::RedisResult<()> {
        self.conn.clone().del(self.key(name)).await
    }

    /// Names (without the instance prefix) of at most `limit` keys whose name contains
    /// `needle`: a bounded `SCAN` (at most 64 cursor steps of 1,000 keys), never `KEYS`.
    pub async fn names_containing(
        &self,
        needle: &str,
        limit: usize,
    ) -> redis::RedisResult<Vec<String>> {
        let escaped: String = needle
            .chars()
            .flat_map(|c| {
                let special = matches!(c, '*' | '?' | '[' | ']' | '\\');
                special
                    .then_some('\\')
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect();
        let pattern = format!("{}*{escaped}*", self.prefix);
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        for _ in 0..64 {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            found.extend(
                keys.into_iter()
                    .map(|k| k.strip_prefix(&self.prefix).unwrap_or(&k).to_owned()),
            );
            cursor = next;
            if cursor == 0 || found.len() >= limit {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }
}
