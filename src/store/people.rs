//! People: the `users.info` cache (time zone, name, bot or deleted) and the lookups still owed.

use chrono::{DateTime, Utc};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::{PENDING_LOOKUPS, USERS};
use super::{Reads, Result, Store, Tx, from_json, get_json, ms, to_json};

/// A person as `users.info` described them, and when we asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedUser {
    pub id: String,
    /// The person's name (for exports outside Slack); older records have none.
    #[serde(default)]
    pub name: Option<String>,
    pub tz: Option<String>,
    pub is_bot: bool,
    pub deleted: bool,
    pub fetched_at: DateTime<Utc>,
}

impl CachedUser {
    /// What `users.info` said of a person, looked up at `at`.
    pub fn from_profile(profile: crate::slack::UserProfile, at: DateTime<Utc>) -> Self {
        Self {
            id: profile.id,
            name: profile.name,
            tz: profile.tz,
            is_bot: profile.is_bot,
            deleted: profile.deleted,
            fetched_at: at,
        }
    }
}

/// Reads of the people cache, inside a read or a write transaction.
pub trait PeopleReads: Reads {
    /// A person's time zone from the `users.info` cache.
    fn user_tz(&self, user: &str) -> Result<Option<chrono_tz::Tz>> {
        let cached: Option<CachedUser> = get_json(&self.table(USERS)?, "users", user)?;
        Ok(cached.and_then(|u| u.tz).and_then(|tz| tz.parse().ok()))
    }

    /// A person's name from the `users.info` cache.
    fn user_name(&self, user: &str) -> Result<Option<String>> {
        let cached: Option<CachedUser> = get_json(&self.table(USERS)?, "users", user)?;
        Ok(cached.and_then(|u| u.name))
    }
}

impl<T: Reads + ?Sized> PeopleReads for T {}

impl Store {
    /// Up to `limit` people whose lookup is owed, oldest first.
    pub fn pending_lookups(&self, limit: usize) -> Result<Vec<String>> {
        self.read(|rx| {
            let table = rx.txn.open_table(PENDING_LOOKUPS)?;
            let mut people: Vec<(i64, String)> = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                people.push((v.value(), k.value().to_owned()));
            }
            people.sort();
            Ok(people.into_iter().take(limit).map(|(_, u)| u).collect())
        })
    }

    pub fn cached_user(&self, id: &str) -> Result<Option<CachedUser>> {
        self.read(|rx| {
            let table = rx.txn.open_table(USERS)?;
            match table.get(id)? {
                Some(v) => Ok(Some(from_json(|| format!("users/{id}"), v.value())?)),
                None => Ok(None),
            }
        })
    }

    /// Names of every person looked up so far, by id (for exports outside Slack).
    pub fn user_names(&self) -> Result<std::collections::HashMap<String, String>> {
        self.read(|rx| {
            let table = rx.txn.open_table(USERS)?;
            let mut names = std::collections::HashMap::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                let user: CachedUser = from_json(|| format!("users/{}", k.value()), v.value())?;
                if let Some(name) = user.name {
                    names.insert(user.id, name);
                }
            }
            Ok(names)
        })
    }
}

impl Tx<'_> {
    /// Someone's `users.info` answer is owed: look them up again later.
    pub fn want_lookup(&mut self, user: &str, now: DateTime<Utc>) -> Result<()> {
        let mut table = self.txn.open_table(PENDING_LOOKUPS)?;
        if table.get(user)?.is_none() {
            table.insert(user, ms(now))?;
        }
        Ok(())
    }

    pub fn lookup_done(&mut self, user: &str) -> Result<()> {
        self.txn.open_table(PENDING_LOOKUPS)?.remove(user)?;
        Ok(())
    }

    pub fn cache_user(&mut self, user: &CachedUser) -> Result<()> {
        self.txn
            .open_table(USERS)?
            .insert(user.id.as_str(), to_json(user).as_slice())?;
        Ok(())
    }
}
